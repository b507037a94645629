//! The StackSet template's parameters: what the CLI fills in and `templates/template.yaml`
//! declares. The template test checks the template declares exactly [`ALL`], in groups and
//! with labels, and the CLI builds its parameter list from these names.

pub const LAMBDA_LOG_LEVEL: &str = "LambdaLogLevel";
pub const S3_BUCKET_NAME: &str = "S3BucketName";
pub const S3_BUCKET_REGION: &str = "S3BucketRegion";
pub const S3_KEY: &str = "S3Key";
pub const CLIENT_ID: &str = "CequenceClientId";
/// The NoEcho parameter: CloudFormation masks it when read back.
pub const CLIENT_SECRET: &str = "CequenceClientSecret";
pub const AUTH_ENDPOINT: &str = "CequenceAuthEndpoint";
pub const EDGE_ENDPOINT: &str = "CequenceEdgeEndpoint";
pub const SUPPORTED_CONTENT_TYPES_REGEX: &str = "SupportedContentTypesRegex";
pub const UNSUPPORTED_STATIC_EXTENSIONS_REGEX: &str = "UnsupportedStaticExtensionsRegex";
pub const LAMBDA_ROLE_ARN: &str = "CequenceLambdaRoleArn";
pub const APIGW_CLOUDWATCH_ROLE_ARN: &str = "ApiGatewayCloudWatchRoleArn";
pub const SCHEDULER_ROLE_ARN: &str = "EventBridgeSchedulerRoleArn";
/// `disable` overrides this and [`HTTP_API_ENABLED`] per stack instance.
pub const REST_API_ENABLED: &str = "CequenceRestApiEnabled";
pub const HTTP_API_ENABLED: &str = "CequenceHttpApiEnabled";
pub const INCLUDE_HTTP_DEFAULT_STAGE: &str = "CequenceIncludeHttpDefaultStage";
pub const REST_LOG_DELIVERY: &str = "CequenceRestLogDelivery";
/// poll, push or auto; `status` reads it back to say why a group is polled.
pub const INGESTION: &str = "CequenceIngestion";
pub const PUSH_DESTINATION: &str = "PushDestination";
pub const KINESIS_SHARD_COUNT: &str = "KinesisShardCount";
pub const LAMBDA_MEMORY_SIZE: &str = "LambdaMemorySize";
pub const LAMBDA_ARCHITECTURE: &str = "LambdaArchitecture";
pub const RESERVED_CONCURRENCY: &str = "ReservedConcurrency";
pub const SPOOL_RETENTION_DAYS: &str = "SpoolRetentionDays";

/// Every parameter, in the template's order (the CLI sends them in this order too).
pub const ALL: [&str; 24] = [
    LAMBDA_LOG_LEVEL,
    S3_BUCKET_NAME,
    S3_BUCKET_REGION,
    S3_KEY,
    CLIENT_ID,
    CLIENT_SECRET,
    AUTH_ENDPOINT,
    EDGE_ENDPOINT,
    SUPPORTED_CONTENT_TYPES_REGEX,
    UNSUPPORTED_STATIC_EXTENSIONS_REGEX,
    LAMBDA_ROLE_ARN,
    APIGW_CLOUDWATCH_ROLE_ARN,
    SCHEDULER_ROLE_ARN,
    REST_API_ENABLED,
    HTTP_API_ENABLED,
    INCLUDE_HTTP_DEFAULT_STAGE,
    REST_LOG_DELIVERY,
    INGESTION,
    PUSH_DESTINATION,
    KINESIS_SHARD_COUNT,
    LAMBDA_MEMORY_SIZE,
    LAMBDA_ARCHITECTURE,
    RESERVED_CONCURRENCY,
    SPOOL_RETENTION_DAYS,
];

/// The parameters of CloudFormation type `Number`; every other one is a `String`.
pub const NUMBERS: [&str; 3] = [
    KINESIS_SHARD_COUNT,
    LAMBDA_MEMORY_SIZE,
    SPOOL_RETENTION_DAYS,
];

/// Whether `name`'s value must be masked wherever it is shown.
pub fn is_secret(name: &str) -> bool {
    name == CLIENT_SECRET
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_numbers_are_parameters() {
        let mut sorted = ALL.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), ALL.len());
        assert!(NUMBERS.iter().all(|n| ALL.contains(n)));
        assert!(is_secret(CLIENT_SECRET) && !is_secret(CLIENT_ID));
    }
}
