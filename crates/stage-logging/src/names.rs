//! Names, tags and ARNs derived from API ids. The log group names the forwarder reads back are
//! the contract's (`cq_contract::log_groups`); the tags and ARNs only this library uses.

pub use cq_contract::log_groups::{
    http_access_log_group, partition_of, rest_execution_log_group, HTTP_ACCESS_LOG_GROUP_PREFIX,
};

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
