//! The forwarder's environment: the variables the template sets on the function and the
//! forwarder reads (`lambda-forwarder/src/config.rs`), plus the tuning variables only a local
//! run or an operator sets. The template test checks the function's `Environment` names
//! exactly [`SET_BY_TEMPLATE`], and that each of [`FROM_PARAMETER`] is a `!Ref` of its
//! parameter.

use crate::parameters as p;

pub const AUTH_ENDPOINT: &str = "CEQUENCE_AUTH_ENDPOINT";
pub const EDGE_ENDPOINT: &str = "CEQUENCE_EDGE_ENDPOINT";
pub const CLIENT_ID: &str = "CEQUENCE_CLIENT_ID";
/// The Secrets Manager secret holding the client secret (the deployed form).
pub const CLIENT_SECRET_ARN: &str = "CEQUENCE_CLIENT_SECRET_ARN";
/// The plain client secret: accepted by `bootstrap invoke` (local runs) only.
pub const CLIENT_SECRET: &str = "CEQUENCE_CLIENT_SECRET";
pub const TOKEN_PARAMETER: &str = "CEQUENCE_TOKEN_PARAMETER";
pub const STATE_TABLE: &str = "CEQUENCE_STATE_TABLE";
pub const SPOOL_BUCKET: &str = "CEQUENCE_SPOOL_BUCKET";
pub const INGESTION: &str = "CEQUENCE_INGESTION";
pub const PUSH_DESTINATION: &str = "CEQUENCE_PUSH_DESTINATION";
pub const PUSH_ROLE_ARN: &str = "CEQUENCE_PUSH_ROLE_ARN";
pub const REST_API_ENABLED: &str = "CEQUENCE_REST_API_ENABLED";
pub const HTTP_API_ENABLED: &str = "CEQUENCE_HTTP_API_ENABLED";
pub const INCLUDE_HTTP_DEFAULT_STAGE: &str = "CEQUENCE_INCLUDE_HTTP_DEFAULT_STAGE";
pub const REST_LOG_DELIVERY: &str = "CEQUENCE_REST_LOG_DELIVERY";
pub const SUPPORTED_CONTENT_TYPES_REGEX: &str = "CEQUENCE_SUPPORTED_CONTENT_TYPES_REGEX";
pub const UNSUPPORTED_STATIC_EXTENSIONS_REGEX: &str =
    "CEQUENCE_UNSUPPORTED_STATIC_EXTENSIONS_REGEX";
pub const APIGW_CLOUDWATCH_ROLE_ARN: &str = "CEQUENCE_APIGW_CLOUDWATCH_ROLE_ARN";
pub const FETCH_INTERVAL_MS: &str = "CEQUENCE_FETCH_INTERVAL_MS";
pub const LOG_LEVEL: &str = "LOG_LEVEL";

/// Tuning and local-run variables the template leaves unset (the forwarder's defaults follow
/// the region's quota and the Lambda deadline).
pub const LOG_GROUPS: &str = "CEQUENCE_LOG_GROUPS";
pub const SETTLE_LAG_MS: &str = "CEQUENCE_SETTLE_LAG_MS";
pub const PENDING_WAIT_MS: &str = "CEQUENCE_PENDING_WAIT_MS";
pub const DEADLINE_MARGIN_MS: &str = "CEQUENCE_DEADLINE_MARGIN_MS";
pub const FILTER_LOG_EVENTS_TPS: &str = "CEQUENCE_FILTER_LOG_EVENTS_TPS";

/// Every variable the template sets on the function.
pub const SET_BY_TEMPLATE: [&str; 19] = [
    AUTH_ENDPOINT,
    EDGE_ENDPOINT,
    CLIENT_ID,
    CLIENT_SECRET_ARN,
    TOKEN_PARAMETER,
    STATE_TABLE,
    SPOOL_BUCKET,
    INGESTION,
    PUSH_DESTINATION,
    PUSH_ROLE_ARN,
    REST_API_ENABLED,
    HTTP_API_ENABLED,
    INCLUDE_HTTP_DEFAULT_STAGE,
    REST_LOG_DELIVERY,
    SUPPORTED_CONTENT_TYPES_REGEX,
    UNSUPPORTED_STATIC_EXTENSIONS_REGEX,
    APIGW_CLOUDWATCH_ROLE_ARN,
    FETCH_INTERVAL_MS,
    LOG_LEVEL,
];

/// Variables that carry a template parameter's value unchanged (`!Ref Parameter`), so the
/// forwarder must accept every value the CLI and the parameter's constraint accept.
pub const FROM_PARAMETER: [(&str, &str); 11] = [
    (AUTH_ENDPOINT, p::AUTH_ENDPOINT),
    (EDGE_ENDPOINT, p::EDGE_ENDPOINT),
    (CLIENT_ID, p::CLIENT_ID),
    (INGESTION, p::INGESTION),
    (REST_API_ENABLED, p::REST_API_ENABLED),
    (HTTP_API_ENABLED, p::HTTP_API_ENABLED),
    (INCLUDE_HTTP_DEFAULT_STAGE, p::INCLUDE_HTTP_DEFAULT_STAGE),
    (REST_LOG_DELIVERY, p::REST_LOG_DELIVERY),
    (
        SUPPORTED_CONTENT_TYPES_REGEX,
        p::SUPPORTED_CONTENT_TYPES_REGEX,
    ),
    (
        UNSUPPORTED_STATIC_EXTENSIONS_REGEX,
        p::UNSUPPORTED_STATIC_EXTENSIONS_REGEX,
    ),
    (LOG_LEVEL, p::LAMBDA_LOG_LEVEL),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_parameter_variable_is_set_by_the_template() {
        for (var, param) in FROM_PARAMETER {
            assert!(SET_BY_TEMPLATE.contains(&var), "{var}");
            assert!(crate::parameters::ALL.contains(&param), "{param}");
        }
    }
}
