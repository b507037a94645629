//! The properties of the template's `Custom::CequenceStageLogging` resource, which the
//! forwarder's custom-resource handler reads. Each is a `!Ref` of the parameter beside it; the
//! template test checks the pairs.

use crate::parameters as p;

/// The resource's type in the template.
pub const RESOURCE_TYPE: &str = "Custom::CequenceStageLogging";
pub const REST_API_ENABLED: &str = "RestApiEnabled";
pub const HTTP_API_ENABLED: &str = "HttpApiEnabled";
pub const INCLUDE_HTTP_DEFAULT_STAGE: &str = "IncludeHttpDefaultStage";
pub const REST_LOG_DELIVERY: &str = "RestLogDelivery";
pub const INGESTION: &str = "Ingestion";
/// The API Gateway account's CloudWatch role (a condition picks the created or given one).
pub const CLOUDWATCH_ROLE_ARN: &str = "CloudWatchRoleArn";

/// Properties that carry a template parameter unchanged.
pub const FROM_PARAMETER: [(&str, &str); 5] = [
    (REST_API_ENABLED, p::REST_API_ENABLED),
    (HTTP_API_ENABLED, p::HTTP_API_ENABLED),
    (INCLUDE_HTTP_DEFAULT_STAGE, p::INCLUDE_HTTP_DEFAULT_STAGE),
    (REST_LOG_DELIVERY, p::REST_LOG_DELIVERY),
    (INGESTION, p::INGESTION),
];
