//! Parsers for single configuration values. Each returns the typed value, or the text that
//! tells the user what is allowed; the caller adds the key and the value to the message.

use std::ops::RangeInclusive;

use super::model::{
    DeploymentType, IngestionMode, LambdaArchitecture, LogLevel, PushDestination, RegionSelection,
    RestDelivery,
};
use super::region_names::{check_region, ALL};

/// Booleans and regexes follow the contract's rules, so what the CLI accepts the forwarder
/// reads the same way.
pub use cq_contract::values::{check_regex, parse_bool};

pub fn parse_deployment_type(s: &str) -> Result<DeploymentType, String> {
    match s.trim().to_ascii_lowercase().as_str() {
        "cloudformation" => Ok(DeploymentType::CloudFormation),
        "terraform" => Ok(DeploymentType::Terraform),
        _ => Err("expected cloudformation or terraform".into()),
    }
}

pub fn parse_log_level(s: &str) -> Result<LogLevel, String> {
    LogLevel::parse(s).ok_or_else(|| "expected one of error, warn, info, debug, trace".into())
}

pub fn parse_ingestion(s: &str) -> Result<IngestionMode, String> {
    s.parse::<IngestionMode>().map_err(|_| {
        "expected poll, push or auto (auto: poll while the region's FilterLogEvents quota \
         keeps up, push the groups it cannot)"
            .into()
    })
}

pub fn parse_push_destination(s: &str) -> Result<PushDestination, String> {
    match s.trim().to_ascii_lowercase().as_str() {
        "lambda" => Ok(PushDestination::Lambda),
        "kinesis" => Ok(PushDestination::Kinesis),
        _ => Err(
            "expected lambda (straight to the function) or kinesis (through a stream \
                  the stack creates)"
                .into(),
        ),
    }
}

pub fn parse_rest_log_delivery(s: &str) -> Result<RestDelivery, String> {
    RestDelivery::parse(s).ok_or_else(|| {
        "expected standard (API Gateway's 1 KB execution-log events), full (events up to 1 MB \
         through a CloudWatch Logs delivery per REST stage) or auto (full where the delivery \
         APIs accept the stage, else standard)"
            .into()
    })
}

pub fn parse_lambda_architecture(s: &str) -> Result<LambdaArchitecture, String> {
    match s.trim().to_ascii_lowercase().as_str() {
        "arm64" | "aarch64" => Ok(LambdaArchitecture::Arm64),
        "x86_64" | "amd64" | "x86-64" => Ok(LambdaArchitecture::X86_64),
        _ => Err("expected arm64 (Graviton, 20% cheaper per GB-s) or x86_64".into()),
    }
}

/// A whole number in `range` (what the template's parameter constraint allows).
pub fn parse_whole_number(s: &str, range: RangeInclusive<u32>) -> Result<u32, String> {
    let err = || {
        format!(
            "expected a whole number from {} to {}",
            range.start(),
            range.end()
        )
    };
    let t = s.trim();
    // No sign, no leading zero: the template's patterns accept neither.
    if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) || (t.len() > 1 && t.starts_with('0'))
    {
        return Err(err());
    }
    match t.parse::<u32>() {
        Ok(n) if range.contains(&n) => Ok(n),
        _ => Err(err()),
    }
}

/// Reserved concurrency: a number, or empty for none. Zero would stop the function entirely.
pub fn parse_reserved_concurrency(s: &str, range: RangeInclusive<u32>) -> Result<u32, String> {
    if s.trim() == "0" {
        return Err(
            "0 would stop the forwarder from running at all; leave it empty to reserve \
                    none, or set a whole number from 1"
                .into(),
        );
    }
    parse_whole_number(s, range).map_err(|e| format!("{e}, or leave it empty to reserve none"))
}

/// The items of a comma list, trimmed, empty items (e.g. a trailing comma) dropped.
pub fn split_list(s: &str) -> Vec<&str> {
    s.split(',')
        .map(str::trim)
        .filter(|i| !i.is_empty())
        .collect()
}

/// Append `items` to `into`, skipping ones already present: order is kept, so the first
/// mention wins.
pub fn push_unique(into: &mut Vec<String>, items: impl IntoIterator<Item = String>) {
    for item in items {
        if !into.contains(&item) {
            into.push(item);
        }
    }
}

/// `all`, or a comma list of known region codes (deduplicated, in order).
pub fn parse_regions(s: &str) -> Result<RegionSelection, String> {
    let items = split_list(s);
    if items.is_empty() {
        return Err("expected `all` or a comma list of regions like us-east-1,eu-west-1".into());
    }
    if items.iter().any(|i| i.eq_ignore_ascii_case(ALL)) {
        return if items.len() == 1 {
            Ok(RegionSelection::All)
        } else {
            Err("`all` cannot be combined with a list of regions".into())
        };
    }
    let mut regions = Vec::new();
    for item in items {
        check_region(item)?;
        push_unique(&mut regions, [item.to_string()]);
    }
    Ok(RegionSelection::List(regions))
}

/// A 12-digit AWS account id.
pub fn check_account_id(s: &str) -> Result<(), String> {
    if s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        Err(format!("`{s}` is not an AWS account id (12 digits)"))
    }
}

/// A comma list of account ids, deduplicated.
pub fn parse_accounts(s: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    for item in split_list(s) {
        check_account_id(item)?;
        push_unique(&mut out, [item.to_string()]);
    }
    Ok(out)
}

/// An Organizations OU id (`ou-` root part `-` 8–32 chars) or root id (`r-` 4–32 chars),
/// the patterns the Organizations API documents.
pub fn check_org_target(s: &str) -> Result<(), String> {
    let lower_alnum = |p: &str| {
        p.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    };
    let ok = if let Some(rest) = s.strip_prefix("ou-") {
        match rest.split_once('-') {
            Some((root, ou)) => {
                (4..=32).contains(&root.len())
                    && (8..=32).contains(&ou.len())
                    && lower_alnum(root)
                    && lower_alnum(ou)
            }
            None => false,
        }
    } else if let Some(root) = s.strip_prefix("r-") {
        (4..=32).contains(&root.len()) && lower_alnum(root)
    } else {
        false
    };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "`{s}` is not an organizational unit id (ou-xxxx-yyyyyyyy) or root id (r-xxxx)"
        ))
    }
}

pub fn parse_org_targets(s: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    for item in split_list(s) {
        check_org_target(item)?;
        push_unique(&mut out, [item.to_string()]);
    }
    Ok(out)
}

/// An https URL with a host, under the contract's policy (`cq_contract::values::
/// check_endpoint`: plain http only to this machine, no embedded credentials), which the
/// forwarder applies again to the same value.
pub fn parse_endpoint(s: &str) -> Result<String, String> {
    let s = s.trim();
    url::Url::parse(s).map_err(|e| format!("not a valid URL ({e}); expected https://host/path"))?;
    cq_contract::values::check_endpoint(s)?;
    Ok(s.to_string())
}

/// An IAM role ARN, in any partition: `arn:<partition>:iam::<12 digits>:role/<path/name>`.
pub fn check_role_arn(s: &str) -> Result<(), String> {
    let err = || format!("`{s}` is not an IAM role ARN (arn:aws:iam::123456789012:role/Name)");
    let parts: Vec<&str> = s.splitn(6, ':').collect();
    let [arn, partition, service, region, account, resource] = parts[..] else {
        return Err(err());
    };
    let partition_ok = partition == "aws"
        || partition.strip_prefix("aws-").is_some_and(|p| {
            !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase() || b == b'-')
        });
    let name_ok = resource.strip_prefix("role/").is_some_and(|n| {
        !n.is_empty()
            && !n.ends_with('/')
            && n.len() <= 512
            && n.chars()
                .all(|c| c.is_ascii_alphanumeric() || "_+=,.@-/".contains(c))
    });
    if arn == "arn"
        && partition_ok
        && service == "iam"
        && region.is_empty()
        && check_account_id(account).is_ok()
        && name_ok
    {
        Ok(())
    } else {
        Err(err())
    }
}

/// An IAM role name (what CloudFormation expects for the StackSet execution role).
pub fn check_role_name(s: &str) -> Result<(), String> {
    if !s.is_empty()
        && s.len() <= 64
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c))
    {
        Ok(())
    } else {
        Err("expected an IAM role name: 1-64 of A-Z a-z 0-9 _+=,.@-".into())
    }
}

/// A StackSet name as CloudFormation accepts it.
pub fn check_stackset_name(s: &str) -> Result<(), String> {
    let mut chars = s.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic());
    if first_ok && s.len() <= 128 && chars.all(|c| c.is_ascii_alphanumeric() || c == '-') {
        Ok(())
    } else {
        Err("expected a letter then letters, digits and hyphens (at most 128)".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deployment_types_and_log_levels() {
        assert_eq!(
            parse_deployment_type("CloudFormation"),
            Ok(DeploymentType::CloudFormation)
        );
        assert_eq!(
            parse_deployment_type("terraform"),
            Ok(DeploymentType::Terraform)
        );
        assert!(parse_deployment_type("cdk").is_err());
        assert_eq!(parse_log_level("INFO"), Ok(LogLevel::Info));
        assert_eq!(parse_log_level("warning"), Ok(LogLevel::Warn));
        assert!(parse_log_level("verbose")
            .unwrap_err()
            .contains("error, warn"));
    }

    #[test]
    fn regions() {
        assert_eq!(parse_regions("all"), Ok(RegionSelection::All));
        assert_eq!(parse_regions(" ALL "), Ok(RegionSelection::All));
        assert_eq!(
            parse_regions("us-east-1, eu-west-1,us-east-1,"),
            Ok(RegionSelection::List(vec![
                "us-east-1".into(),
                "eu-west-1".into()
            ]))
        );
        assert!(parse_regions("all,us-east-1")
            .unwrap_err()
            .contains("cannot be combined"));
        assert!(parse_regions("us-east-1,us-easst-1")
            .unwrap_err()
            .contains("`us-easst-1`"));
        assert!(parse_regions(" , ").is_err());
    }

    #[test]
    fn accounts() {
        assert_eq!(
            parse_accounts("111111111111, 222222222222,111111111111"),
            Ok(vec!["111111111111".to_string(), "222222222222".to_string()])
        );
        for bad in [
            "11111111111",
            "1111111111111",
            "11111111111a",
            "-11111111111",
        ] {
            assert!(
                check_account_id(bad).unwrap_err().contains("12 digits"),
                "{bad}"
            );
        }
    }

    #[test]
    fn org_targets() {
        for ok in ["ou-ab12-abcdefgh", "ou-abcd-1234567890ab", "r-ab12"] {
            assert_eq!(check_org_target(ok), Ok(()), "{ok}");
        }
        for bad in [
            "ou-ab12",
            "ou-AB12-abcdefgh",
            "ou-ab1-abcdefgh",
            "r-ab",
            "root",
            "ou-ab12-abc",
        ] {
            assert!(
                check_org_target(bad)
                    .unwrap_err()
                    .contains("ou-xxxx-yyyyyyyy"),
                "{bad}"
            );
        }
        assert_eq!(
            parse_org_targets("r-ab12,ou-ab12-abcdefgh,r-ab12"),
            Ok(vec!["r-ab12".to_string(), "ou-ab12-abcdefgh".to_string()])
        );
    }

    #[test]
    fn endpoints() {
        let ok = [
            "https://auth.example.com/auth/realms/cequence/protocol/openid-connect/token",
            "https://edge.example.com/api-transactions",
            "http://127.0.0.1:8080/token",
            "http://localhost/edge",
        ];
        for u in ok {
            assert_eq!(parse_endpoint(u).as_deref(), Ok(u));
        }
        assert!(parse_endpoint("http://edge.example.com/x")
            .unwrap_err()
            .contains("https://"));
        assert!(parse_endpoint("edge.example.com")
            .unwrap_err()
            .contains("not a valid URL"));
        assert!(parse_endpoint("https://user:pw@edge.example.com/")
            .unwrap_err()
            .contains("credentials"));
        assert!(parse_endpoint("ftp://edge.example.com/").is_err());
    }

    #[test]
    fn ingestion_and_push_destination() {
        assert_eq!(parse_ingestion("PUSH"), Ok(IngestionMode::Push));
        assert_eq!(parse_ingestion(" poll "), Ok(IngestionMode::Poll));
        assert!(parse_ingestion("pull")
            .unwrap_err()
            .contains("poll, push or auto"));
        assert_eq!(
            parse_push_destination("Kinesis"),
            Ok(PushDestination::Kinesis)
        );
        assert_eq!(
            parse_push_destination("lambda"),
            Ok(PushDestination::Lambda)
        );
        assert!(parse_push_destination("firehose")
            .unwrap_err()
            .contains("lambda"));
    }

    #[test]
    fn lambda_architecture_takes_lambdas_names_and_the_usual_aliases() {
        for s in ["arm64", " ARM64 ", "aarch64"] {
            assert_eq!(
                parse_lambda_architecture(s),
                Ok(LambdaArchitecture::Arm64),
                "{s}"
            );
        }
        for s in ["x86_64", "amd64", "X86-64"] {
            assert_eq!(
                parse_lambda_architecture(s),
                Ok(LambdaArchitecture::X86_64),
                "{s}"
            );
        }
        let err = parse_lambda_architecture("graviton").unwrap_err();
        assert!(err.contains("arm64") && err.contains("x86_64"), "{err}");
    }

    #[test]
    fn rest_log_delivery_takes_the_three_kinds() {
        assert_eq!(parse_rest_log_delivery("full"), Ok(RestDelivery::Full));
        assert_eq!(
            parse_rest_log_delivery(" Standard "),
            Ok(RestDelivery::Standard)
        );
        assert_eq!(parse_rest_log_delivery("auto"), Ok(RestDelivery::Auto));
        let err = parse_rest_log_delivery("1mb").unwrap_err();
        assert!(
            err.contains("standard") && err.contains("full") && err.contains("auto"),
            "{err}"
        );
    }

    #[test]
    fn whole_numbers_in_range() {
        assert_eq!(parse_whole_number("1", 1..=64), Ok(1));
        assert_eq!(parse_whole_number(" 64 ", 1..=64), Ok(64));
        for bad in ["0", "65", "-1", "+3", "1.5", "01", "two", "", "99999999999"] {
            assert_eq!(
                parse_whole_number(bad, 1..=64),
                Err("expected a whole number from 1 to 64".into()),
                "{bad:?}"
            );
        }
        assert_eq!(parse_reserved_concurrency("5", 1..=9999), Ok(5));
        assert!(parse_reserved_concurrency("0", 1..=9999)
            .unwrap_err()
            .contains("leave it empty"));
        assert!(parse_reserved_concurrency("10000", 1..=9999)
            .unwrap_err()
            .contains("from 1 to 9999, or leave it empty"));
    }

    #[test]
    fn role_arns() {
        for ok in [
            "arn:aws:iam::123456789012:role/MyRole",
            "arn:aws-cn:iam::123456789012:role/path/to/MyRole",
            "arn:aws-us-gov:iam::123456789012:role/a+b=c,d.e@f-g_h",
        ] {
            assert_eq!(check_role_arn(ok), Ok(()), "{ok}");
        }
        for bad in [
            "MyRole",
            "arn:aws:iam::123456789012:user/bob",
            "arn:aws:iam:us-east-1:123456789012:role/MyRole",
            "arn:aws:s3:::bucket",
            "arn:aws:iam::12345:role/MyRole",
            "arn:aws:iam::123456789012:role/",
            "arn:gcp:iam::123456789012:role/MyRole",
        ] {
            assert!(
                check_role_arn(bad).unwrap_err().contains("IAM role ARN"),
                "{bad}"
            );
        }
    }

    #[test]
    fn names() {
        assert_eq!(
            check_role_name("AWSCloudFormationStackSetExecutionRole"),
            Ok(())
        );
        assert!(check_role_name("has space").is_err());
        assert!(check_role_name(&"a".repeat(65)).is_err());
        assert_eq!(
            check_stackset_name("aws-cequence-apigw-integration"),
            Ok(())
        );
        assert!(check_stackset_name("1abc").is_err());
        assert!(check_stackset_name("a_b").is_err());
        assert!(check_stackset_name("").is_err());
    }
}
