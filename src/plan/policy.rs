//! The artifact bucket policy: TLS only, and read access to the artifacts (templates, forwarder
//! zips) for exactly the principals that deploy the StackSet (the organization, or the listed
//! accounts).

use serde_json::{json, Value};

/// Who may read the artifacts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Readers {
    /// Every principal of this AWS Organizations organization (`aws:PrincipalOrgID`).
    Organization(String),
    /// These accounts' root principals (the account then delegates to its roles).
    Accounts(Vec<String>),
}

/// The policy document for `bucket`.
pub fn bucket_policy(bucket: &str, partition: &str, readers: &Readers) -> Value {
    let bucket_arn = format!("arn:{partition}:s3:::{bucket}");
    let objects_arn = format!("{bucket_arn}/*");
    // Other accounts read the artifacts only, not the rest of the bucket (the digest key).
    let shared: Vec<String> = super::artifact_keys::SHARED_PREFIXES
        .iter()
        .map(|p| format!("{bucket_arn}/{p}*"))
        .collect();
    let tls_only = json!({
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [bucket_arn, objects_arn],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}}
    });
    let read = match readers {
        Readers::Organization(org_id) => json!({
            "Sid": "AllowOrganizationRead",
            "Effect": "Allow",
            "Principal": "*",
            "Action": ["s3:GetObject", "s3:GetObjectVersion"],
            "Resource": shared,
            "Condition": {"StringEquals": {"aws:PrincipalOrgID": org_id}}
        }),
        Readers::Accounts(accounts) => {
            let principals: Vec<String> = accounts
                .iter()
                .map(|a| format!("arn:{partition}:iam::{a}:root"))
                .collect();
            json!({
                "Sid": "AllowAccountsRead",
                "Effect": "Allow",
                "Principal": {"AWS": principals},
                "Action": ["s3:GetObject", "s3:GetObjectVersion"],
                "Resource": shared
            })
        }
    };
    json!({"Version": "2012-10-17", "Statement": [tls_only, read]})
}

/// Whether the policy S3 returned means the same as `desired`.
///
/// S3 may hand a policy back reformatted (a one-element list as a scalar, lists reordered), so
/// the two are compared after normalising; an unparsable current policy differs.
pub fn same_policy(current: &str, desired: &Value) -> bool {
    match serde_json::from_str::<Value>(current) {
        Ok(v) => normalise(&v) == normalise(desired),
        Err(_) => false,
    }
}

fn normalise(v: &Value) -> Value {
    match v {
        Value::Array(items) => {
            let mut items: Vec<Value> = items.iter().map(normalise).collect();
            if items.len() == 1 {
                return items.remove(0);
            }
            items.sort_by_key(|i| i.to_string());
            Value::Array(items)
        }
        Value::Object(map) => {
            Value::Object(map.iter().map(|(k, v)| (k.clone(), normalise(v))).collect())
        }
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn organization_policy_denies_plain_http_and_lets_the_org_read() {
        let p = bucket_policy("b", "aws", &Readers::Organization("o-abc".into()));
        let st = p["Statement"].as_array().unwrap();
        assert_eq!(st[0]["Effect"], "Deny");
        assert_eq!(st[0]["Action"], "s3:*");
        assert_eq!(
            st[0]["Resource"],
            json!(["arn:aws:s3:::b", "arn:aws:s3:::b/*"])
        );
        assert_eq!(st[0]["Condition"]["Bool"]["aws:SecureTransport"], "false");
        assert_eq!(st[1]["Effect"], "Allow");
        // The artifacts only: the digest key (`state/`) is not readable by other accounts.
        assert_eq!(
            st[1]["Resource"],
            json!(["arn:aws:s3:::b/cloudformation/*", "arn:aws:s3:::b/lambda/*"])
        );
        assert_eq!(
            st[1]["Condition"]["StringEquals"]["aws:PrincipalOrgID"],
            "o-abc"
        );
        assert_eq!(
            st[1]["Action"],
            json!(["s3:GetObject", "s3:GetObjectVersion"])
        );
    }

    #[test]
    fn account_policy_names_each_root_in_the_partition() {
        let p = bucket_policy(
            "b",
            "aws-cn",
            &Readers::Accounts(vec!["111111111111".into(), "222222222222".into()]),
        );
        assert_eq!(
            p["Statement"][1]["Principal"]["AWS"],
            json!([
                "arn:aws-cn:iam::111111111111:root",
                "arn:aws-cn:iam::222222222222:root"
            ])
        );
        assert!(p["Statement"][1].get("Condition").is_none());
    }

    #[test]
    fn reformatted_policy_is_the_same_and_other_readers_differ() {
        let desired = bucket_policy("b", "aws", &Readers::Accounts(vec!["1".into()]));
        let mut returned = desired.clone();
        returned["Statement"][1]["Principal"]["AWS"] = json!("arn:aws:iam::1:root");
        returned["Statement"][1]["Action"] = json!(["s3:GetObjectVersion", "s3:GetObject"]);
        assert!(same_policy(&returned.to_string(), &desired));
        let other = bucket_policy("b", "aws", &Readers::Accounts(vec!["2".into()]));
        assert!(!same_policy(&other.to_string(), &desired));
        assert!(!same_policy("not json", &desired));
    }
}
