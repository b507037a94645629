//! The `cequence_*` configuration keys (docs/configuration.md), under their `.env` (lower-case)
//! names. Defaults and value rules shared with the template and the forwarder are the
//! contract's (`cq_contract`); the two below are the CLI's alone.
//!
//! One list, so that unknown keys are rejected everywhere the same way and `.env.example`
//! can be checked against it.

use super::suggest::closest;

pub const IS_AWS_ORGANIZATION_DEPLOYMENT: &str = "cequence_is_aws_organization_deployment";
pub const IS_MULTI_ACCOUNT_DEPLOYMENT: &str = "cequence_is_multi_account_deployment";
pub const DEPLOYMENT_TYPE: &str = "cequence_deployment_type";
pub const CFN_AUTO_UPLOAD_TO_S3: &str = "cequence_cfn_auto_upload_to_s3";
pub const CFN_AUTO_DELETE_FROM_S3: &str = "cequence_cfn_auto_delete_from_s3";
pub const AWS_REGIONS: &str = "cequence_aws_regions";
pub const AUTO_INSTALL_DEPENDENCIES: &str = "cequence_auto_install_dependencies";
pub const REST_API_ENABLED: &str = "cequence_rest_api_enabled";
pub const HTTP_API_ENABLED: &str = "cequence_http_api_enabled";
/// Capture HTTP APIs' `$default` stage too (opt-in: the vendor guide captures named stages).
pub const INCLUDE_HTTP_DEFAULT_STAGE: &str = "cequence_include_http_default_stage";
/// REST execution logs: standard (1 KB events), full (1 MB, a log delivery per stage) or auto.
pub const REST_LOG_DELIVERY: &str = "cequence_rest_log_delivery";
pub const CLIENT_ID: &str = "cequence_client_id";
pub const CLIENT_SECRET: &str = "cequence_client_secret";
pub const AUTH_ENDPOINT: &str = "cequence_auth_endpoint";
pub const EDGE_ENDPOINT: &str = "cequence_edge_endpoint";
pub const LAMBDA_LOG_LEVEL: &str = "cequence_lambda_log_level";
pub const SUPPORTED_CONTENT_TYPES_REGEX: &str = "cequence_supported_content_types_regex";
pub const UNSUPPORTED_STATIC_EXTENSIONS_REGEX: &str =
    "cequence_unsupported_static_extensions_regex";
pub const LAMBDA_ROLE_ARN: &str = "cequence_lambda_role_arn";
pub const APIGW_CLOUDWATCH_ROLE_ARN: &str = "cequence_apigw_cloudwatch_role_arn";
pub const SCHEDULER_ROLE_ARN: &str = "cequence_scheduler_role_arn";
pub const STACKSET_NAME: &str = "cequence_stackset_name";
pub const TARGET_ACCOUNTS: &str = "cequence_target_accounts";
pub const TARGET_OUS: &str = "cequence_target_ous";
pub const STACKSET_ADMIN_ROLE_ARN: &str = "cequence_stackset_admin_role_arn";
pub const STACKSET_EXECUTION_ROLE_NAME: &str = "cequence_stackset_execution_role_name";
pub const INGESTION: &str = "cequence_ingestion";
pub const PUSH_DESTINATION: &str = "cequence_push_destination";
pub const KINESIS_SHARD_COUNT: &str = "cequence_kinesis_shard_count";
pub const LAMBDA_MEMORY_MB: &str = "cequence_lambda_memory_mb";
pub const LAMBDA_ARCHITECTURE: &str = "cequence_lambda_architecture";
pub const RESERVED_CONCURRENCY: &str = "cequence_reserved_concurrency";
pub const SPOOL_RETENTION_DAYS: &str = "cequence_spool_retention_days";

pub const KNOWN_KEYS: &[&str] = &[
    IS_AWS_ORGANIZATION_DEPLOYMENT,
    IS_MULTI_ACCOUNT_DEPLOYMENT,
    DEPLOYMENT_TYPE,
    CFN_AUTO_UPLOAD_TO_S3,
    CFN_AUTO_DELETE_FROM_S3,
    AWS_REGIONS,
    AUTO_INSTALL_DEPENDENCIES,
    REST_API_ENABLED,
    HTTP_API_ENABLED,
    INCLUDE_HTTP_DEFAULT_STAGE,
    REST_LOG_DELIVERY,
    CLIENT_ID,
    CLIENT_SECRET,
    AUTH_ENDPOINT,
    EDGE_ENDPOINT,
    LAMBDA_LOG_LEVEL,
    SUPPORTED_CONTENT_TYPES_REGEX,
    UNSUPPORTED_STATIC_EXTENSIONS_REGEX,
    LAMBDA_ROLE_ARN,
    APIGW_CLOUDWATCH_ROLE_ARN,
    SCHEDULER_ROLE_ARN,
    STACKSET_NAME,
    TARGET_ACCOUNTS,
    TARGET_OUS,
    STACKSET_ADMIN_ROLE_ARN,
    STACKSET_EXECUTION_ROLE_NAME,
    INGESTION,
    PUSH_DESTINATION,
    KINESIS_SHARD_COUNT,
    LAMBDA_MEMORY_MB,
    LAMBDA_ARCHITECTURE,
    RESERVED_CONCURRENCY,
    SPOOL_RETENTION_DAYS,
];

/// The prefix that marks a key as ours; anything else in `.env` or the environment is ignored.
pub const PREFIX: &str = "cequence_";

pub const DEFAULT_STACKSET_NAME: &str = "aws-cequence-apigw-integration";
pub const DEFAULT_STACKSET_EXECUTION_ROLE_NAME: &str = "AWSCloudFormationStackSetExecutionRole";

/// The canonical name for `key` if it is one of ours, in any case.
pub fn canonical(key: &str) -> Option<&'static str> {
    KNOWN_KEYS
        .iter()
        .copied()
        .find(|k| k.eq_ignore_ascii_case(key))
}

/// Whether `key` claims to be a Cequence setting (so an unknown one is a typo, not noise).
pub fn has_prefix(key: &str) -> bool {
    key.len() >= PREFIX.len() && key[..PREFIX.len()].eq_ignore_ascii_case(PREFIX)
}

/// Whether an (unknown, probably misspelled) key likely holds a secret, so its value must not
/// be echoed in the error either.
pub fn looks_secret(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    ["secret", "password", "token"]
        .iter()
        .any(|w| k.contains(w))
        || closest(key, KNOWN_KEYS.iter().copied()).is_some_and(crate::error::is_secret_key)
}

/// The fix text for an unknown key, spelled the way the user spelled it (env keys upper-case).
pub fn unknown_key_fix(key: &str) -> String {
    let upper = key.chars().any(|c| c.is_ascii_uppercase());
    match closest(key, KNOWN_KEYS.iter().copied()) {
        Some(k) if upper => format!("unknown key; did you mean {}?", k.to_ascii_uppercase()),
        Some(k) => format!("unknown key; did you mean {k}?"),
        None => "unknown key; see .env.example for the supported cequence_* variables".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_is_case_insensitive() {
        assert_eq!(canonical("CEQUENCE_AWS_REGIONS"), Some(AWS_REGIONS));
        assert_eq!(canonical("cequence_aws_regions"), Some(AWS_REGIONS));
        assert_eq!(canonical("cequence_aws_region"), None);
    }

    #[test]
    fn prefix_detection() {
        assert!(has_prefix("CEQUENCE_X"));
        assert!(has_prefix("cequence_x"));
        assert!(!has_prefix("AWS_PROFILE"));
        assert!(!has_prefix("ceq"));
    }

    #[test]
    fn unknown_key_fix_suggests_in_the_users_spelling() {
        assert_eq!(
            unknown_key_fix("cequence_aws_region"),
            "unknown key; did you mean cequence_aws_regions?"
        );
        assert_eq!(
            unknown_key_fix("CEQUENCE_AWS_REGION"),
            "unknown key; did you mean CEQUENCE_AWS_REGIONS?"
        );
        assert!(unknown_key_fix("cequence_zzz_qqq_www").contains(".env.example"));
    }

    #[test]
    fn secret_looking_keys() {
        assert!(looks_secret("CEQUENCE_CLIENT_SECRE"));
        assert!(looks_secret("cequence_api_token"));
        assert!(!looks_secret("cequence_aws_region"));
    }
}
