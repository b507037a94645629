//! Names and ARNs derived from API ids: one place, so the CLI, the forwarder and the tests agree.

/// The execution log group API Gateway itself writes REST stage logs to (its name is fixed by AWS).
pub fn rest_execution_log_group(rest_api_id: &str, stage: &str) -> String {
    format!("API-Gateway-Execution-Logs_{rest_api_id}/{stage}")
}

/// The access log group this library creates for an HTTP stage. Log group names allow only
/// `[.-_/#A-Za-z0-9]`, so the `$` of `$default` is written as `_`.
pub fn http_access_log_group(api_id: &str, stage: &str) -> String {
    let stage = stage.replace('$', "_");
    format!("/aws/apigateway/cequence/{api_id}/{stage}")
}

/// Prefix shared by every group from `http_access_log_group`, for the forwarder's discovery.
pub const HTTP_ACCESS_LOG_GROUP_PREFIX: &str = "/aws/apigateway/cequence/";

/// The tag that records a stage's logging settings before this library changed them.
pub const PREVIOUS_LOGGING_TAG: &str = "cequence:previous-logging";

/// The tag that fingerprints the `*/*` method setting this library added to a REST stage that
/// had none (every field but logging, as API Gateway filled them in). A separate key so that
/// versions which do not know it still read `PREVIOUS_LOGGING_TAG`.
pub const ADDED_SETTING_TAG: &str = "cequence:added-method-setting";

/// Taggable ARN of a REST API stage (API Gateway ARNs have no account id).
pub fn rest_stage_arn(partition: &str, region: &str, rest_api_id: &str, stage: &str) -> String {
    format!("arn:{partition}:apigateway:{region}::/restapis/{rest_api_id}/stages/{stage}")
}

/// Taggable ARN of an HTTP API stage.
pub fn http_stage_arn(partition: &str, region: &str, api_id: &str, stage: &str) -> String {
    format!("arn:{partition}:apigateway:{region}::/apis/{api_id}/stages/{stage}")
}

/// The partition of a region, for ARNs (`aws-cn`, `aws-us-gov`, else `aws`).
pub fn partition_of(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    }
}

/// A log group ARN as AccessLogSettings.DestinationArn wants it: without the trailing `:*`
/// that DescribeLogGroups returns.
pub fn destination_arn(log_group_arn: &str) -> &str {
    log_group_arn.strip_suffix(":*").unwrap_or(log_group_arn)
}

/// The log group name inside a `arn:...:logs:region:account:log-group:NAME[:*]` ARN.
pub fn log_group_name_from_arn(arn: &str) -> Option<&str> {
    let rest = arn.split_once(":log-group:")?.1;
    let name = rest.strip_suffix(":*").unwrap_or(rest);
    (!name.is_empty()).then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_names() {
        assert_eq!(
            rest_execution_log_group("abc123", "prod"),
            "API-Gateway-Execution-Logs_abc123/prod"
        );
        assert_eq!(
            http_access_log_group("h1", "prod"),
            "/aws/apigateway/cequence/h1/prod"
        );
        assert_eq!(
            http_access_log_group("h1", "$default"),
            "/aws/apigateway/cequence/h1/_default"
        );
        assert!(http_access_log_group("x", "y").starts_with(HTTP_ACCESS_LOG_GROUP_PREFIX));
    }

    #[test]
    fn arns() {
        assert_eq!(
            rest_stage_arn("aws", "eu-west-1", "abc", "prod"),
            "arn:aws:apigateway:eu-west-1::/restapis/abc/stages/prod"
        );
        assert_eq!(
            http_stage_arn(partition_of("cn-north-1"), "cn-north-1", "h", "s"),
            "arn:aws-cn:apigateway:cn-north-1::/apis/h/stages/s"
        );
        assert_eq!(partition_of("us-gov-west-1"), "aws-us-gov");
        assert_eq!(partition_of("us-east-1"), "aws");
    }

    #[test]
    fn log_group_arns() {
        let arn = "arn:aws:logs:us-east-1:123456789012:log-group:/my/group:*";
        assert_eq!(
            destination_arn(arn),
            "arn:aws:logs:us-east-1:123456789012:log-group:/my/group"
        );
        assert_eq!(log_group_name_from_arn(arn), Some("/my/group"));
        assert_eq!(
            log_group_name_from_arn("arn:aws:logs:us-east-1:1:log-group:g"),
            Some("g")
        );
        assert_eq!(log_group_name_from_arn("arn:aws:s3:::bucket"), None);
    }
}
