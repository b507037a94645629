//! Who is calling: account and partition, from STS GetCallerIdentity.

use crate::error::{Error, Result};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub account: String,
    pub arn: String,
    /// `aws`, `aws-cn`, `aws-us-gov`, … (second field of the ARN).
    pub partition: String,
}

/// The partition of an ARN (`arn:<partition>:...`).
pub fn partition_of_arn(arn: &str) -> Option<&str> {
    let mut parts = arn.split(':');
    (parts.next() == Some("arn")).then_some(())?;
    parts.next().filter(|p| !p.is_empty())
}

pub async fn caller(sts: &aws_sdk_sts::Client) -> Result<Caller> {
    let out =
        sts.get_caller_identity().send().await.map_err(|e| {
            Error::aws("STS GetCallerIdentity (are AWS credentials configured?)", e)
        })?;
    let account = out.account().unwrap_or_default().to_string();
    let arn = out.arn().unwrap_or_default().to_string();
    let partition = partition_of_arn(&arn).unwrap_or("aws").to_string();
    if account.is_empty() {
        return Err(Error::Aws {
            context: "STS GetCallerIdentity".into(),
            message: "the response carried no account id".into(),
        });
    }
    Ok(Caller {
        account,
        arn,
        partition,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partition_is_the_second_arn_field() {
        assert_eq!(
            partition_of_arn("arn:aws:iam::123456789012:user/x"),
            Some("aws")
        );
        assert_eq!(
            partition_of_arn("arn:aws-cn:sts::1:assumed-role/r/s"),
            Some("aws-cn")
        );
        assert_eq!(partition_of_arn("not-an-arn"), None);
        assert_eq!(partition_of_arn("arn::x"), None);
    }
}
