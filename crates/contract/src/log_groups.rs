//! Where each stage's logs land, and how a group's name is read back: stage-logging names the
//! groups it points stages at, the forwarder derives a transaction's API and stage from the
//! group it read, and the CLI prints them. One rule for all three.

/// HTTP APIs' catch-all stage. Opt-in for capture; written `_default` in group names.
pub const DEFAULT_STAGE: &str = "$default";

/// The prefix of the execution log groups API Gateway writes REST stage logs to (fixed by AWS).
pub const REST_EXECUTION_LOG_GROUP_PREFIX: &str = "API-Gateway-Execution-Logs_";

/// Prefix shared by every group from [`http_access_log_group`], for the forwarder's discovery.
pub const HTTP_ACCESS_LOG_GROUP_PREFIX: &str = "/aws/apigateway/cequence/";

/// The execution log group of a REST stage.
pub fn rest_execution_log_group(rest_api_id: &str, stage: &str) -> String {
    format!("{REST_EXECUTION_LOG_GROUP_PREFIX}{rest_api_id}/{stage}")
}

/// The access log group stage-logging creates for an HTTP stage. Log group names allow only
/// `[.-_/#A-Za-z0-9]`, so the `$` of `$default` is written as `_`.
pub fn http_access_log_group(api_id: &str, stage: &str) -> String {
    let stage = stage.replace('$', "_");
    format!("{HTTP_ACCESS_LOG_GROUP_PREFIX}{api_id}/{stage}")
}

/// What a log group holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GroupKind {
    /// REST API execution logs (`API-Gateway-Execution-Logs_{id}/{stage}`).
    RestExecution,
    /// HTTP API access logs (one JSON object per line).
    HttpAccess,
}

/// The stage a log group belongs to, read from its name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupStage {
    pub kind: GroupKind,
    pub api_id: String,
    pub stage: String,
}

/// Classify a log group by name: execution-log groups by their fixed prefix; anything else is
/// an HTTP access-log group whose last two path segments are `api_id/stage` (the form
/// [`http_access_log_group`] makes, where `_default` is read back as `$default`).
pub fn stage_of_group(name: &str) -> GroupStage {
    if let Some(rest) = name.strip_prefix(REST_EXECUTION_LOG_GROUP_PREFIX) {
        let (api_id, stage) = rest.split_once('/').unwrap_or((rest, ""));
        return GroupStage {
            kind: GroupKind::RestExecution,
            api_id: api_id.to_string(),
            stage: stage.to_string(),
        };
    }
    let mut parts = name.trim_end_matches('/').rsplit('/');
    let mut stage = parts.next().unwrap_or_default().to_string();
    let api_id = parts.next().unwrap_or_default().to_string();
    if stage == "_default" && name.starts_with(HTTP_ACCESS_LOG_GROUP_PREFIX) {
        stage = DEFAULT_STAGE.into();
    }
    GroupStage {
        kind: GroupKind::HttpAccess,
        api_id,
        stage,
    }
}

/// The AWS partition of a region, from its name (for ARNs built without a call).
pub fn partition_of(region: &str) -> &'static str {
    const BY_PREFIX: [(&str, &str); 6] = [
        ("cn-", "aws-cn"),
        ("us-gov-", "aws-us-gov"),
        ("us-isob-", "aws-iso-b"),
        ("us-isof-", "aws-iso-f"),
        ("eu-isoe-", "aws-iso-e"),
        ("us-iso-", "aws-iso"),
    ];
    BY_PREFIX
        .iter()
        .find(|(prefix, _)| region.starts_with(prefix))
        .map_or("aws", |(_, partition)| partition)
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
            http_access_log_group("h1", DEFAULT_STAGE),
            "/aws/apigateway/cequence/h1/_default"
        );
    }

    #[test]
    fn names_read_back_as_their_stage() {
        for (kind, api, stage) in [
            (GroupKind::RestExecution, "abc123", "prod"),
            (GroupKind::HttpAccess, "h1", "prod"),
            (GroupKind::HttpAccess, "h1", DEFAULT_STAGE),
        ] {
            let name = match kind {
                GroupKind::RestExecution => rest_execution_log_group(api, stage),
                GroupKind::HttpAccess => http_access_log_group(api, stage),
            };
            let got = stage_of_group(&name);
            assert_eq!(
                (got.kind, got.api_id.as_str(), got.stage.as_str()),
                (kind, api, stage)
            );
        }
        // A customer's own access-log group: the last two segments, `_default` kept as is.
        let own = stage_of_group("/my/logs/h9/_default/");
        assert_eq!(
            (own.api_id.as_str(), own.stage.as_str()),
            ("h9", "_default")
        );
    }

    #[test]
    fn partitions_from_region_names() {
        for (region, partition) in [
            ("us-east-1", "aws"),
            ("eu-central-1", "aws"),
            ("cn-north-1", "aws-cn"),
            ("us-gov-west-1", "aws-us-gov"),
            ("us-iso-east-1", "aws-iso"),
            ("us-isob-east-1", "aws-iso-b"),
            ("us-isof-south-1", "aws-iso-f"),
            ("eu-isoe-west-1", "aws-iso-e"),
        ] {
            assert_eq!(partition_of(region), partition, "{region}");
        }
    }
}
