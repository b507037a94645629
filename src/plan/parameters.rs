//! The StackSet template parameters (names: `cq_contract::parameters`) and the digest that
//! detects a changed configuration.
//!
//! CloudFormation returns a NoEcho parameter masked, so a changed client secret cannot be seen
//! by reading the StackSet back. Instead a SHA-256 digest of the template key and every
//! parameter (secret included) is stored in a StackSet tag and compared on the next run; the
//! digest reveals nothing about the secret.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::config::model::Config;

/// Tag holding [`config_digest`] of the deployed configuration.
pub const DIGEST_TAG: &str = "cequence-config-digest";
/// Tag holding the deployed template's S3 key (DescribeStackSet returns the body, not the URL).
pub const TEMPLATE_KEY_TAG: &str = "cequence-template-key";
use cq_contract::parameters as name;
/// Parameters that `disable` overrides per stack instance, the NoEcho one, and the one
/// `status` reads back: the contract's names.
pub use cq_contract::parameters::{
    CLIENT_SECRET, HTTP_API_ENABLED as HTTP_ENABLED, INGESTION, REST_API_ENABLED as REST_ENABLED,
};

/// One template parameter. `Debug` hides the value of the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct Parameter {
    pub key: &'static str,
    pub value: String,
}

impl Parameter {
    pub fn is_secret(&self) -> bool {
        name::is_secret(self.key)
    }

    /// The value as shown to people: the secret is `****`.
    pub fn display_value(&self) -> &str {
        if self.is_secret() {
            "****"
        } else {
            &self.value
        }
    }
}

impl std::fmt::Debug for Parameter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}={}", self.key, self.display_value())
    }
}

/// Where the forwarder code lives (the home-region bucket).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeLocation {
    pub bucket: String,
    pub region: String,
    pub zip_key: String,
}

fn flag(b: bool) -> String {
    if b { "true" } else { "false" }.to_string()
}

/// Every parameter of the template, in the template's order.
pub fn template_parameters(config: &Config, code: &CodeLocation) -> Vec<Parameter> {
    let p = |key: &'static str, value: String| Parameter { key, value };
    vec![
        p(
            name::LAMBDA_LOG_LEVEL,
            config.lambda_log_level.as_str().to_string(),
        ),
        p(name::S3_BUCKET_NAME, code.bucket.clone()),
        p(name::S3_BUCKET_REGION, code.region.clone()),
        p(name::S3_KEY, code.zip_key.clone()),
        p(name::CLIENT_ID, config.client_id.clone()),
        p(CLIENT_SECRET, config.client_secret.expose().to_string()),
        p(name::AUTH_ENDPOINT, config.auth_endpoint.clone()),
        p(name::EDGE_ENDPOINT, config.edge_endpoint.clone()),
        p(
            name::SUPPORTED_CONTENT_TYPES_REGEX,
            config.supported_content_types_regex.clone(),
        ),
        p(
            name::UNSUPPORTED_STATIC_EXTENSIONS_REGEX,
            config.unsupported_static_extensions_regex.clone(),
        ),
        p(
            name::LAMBDA_ROLE_ARN,
            config.lambda_role_arn.clone().unwrap_or_default(),
        ),
        p(
            name::APIGW_CLOUDWATCH_ROLE_ARN,
            config.apigw_cloudwatch_role_arn.clone().unwrap_or_default(),
        ),
        p(
            name::SCHEDULER_ROLE_ARN,
            config.scheduler_role_arn.clone().unwrap_or_default(),
        ),
        p(REST_ENABLED, flag(config.rest_api_enabled)),
        p(HTTP_ENABLED, flag(config.http_api_enabled)),
        p(
            name::INCLUDE_HTTP_DEFAULT_STAGE,
            flag(config.include_http_default_stage),
        ),
        p(
            name::REST_LOG_DELIVERY,
            config.rest_log_delivery.as_str().to_string(),
        ),
        p(INGESTION, config.ingestion.as_str().to_string()),
        p(
            name::PUSH_DESTINATION,
            config.push_destination.as_str().to_string(),
        ),
        p(
            name::KINESIS_SHARD_COUNT,
            config.kinesis_shard_count.to_string(),
        ),
        p(
            name::LAMBDA_MEMORY_SIZE,
            config.lambda_memory_mb.to_string(),
        ),
        p(
            name::LAMBDA_ARCHITECTURE,
            config.lambda_architecture.as_str().to_string(),
        ),
        p(
            name::RESERVED_CONCURRENCY,
            config
                .reserved_concurrency
                .map(|n| n.to_string())
                .unwrap_or_default(),
        ),
        p(
            name::SPOOL_RETENTION_DAYS,
            config.spool_retention_days.to_string(),
        ),
    ]
}

/// Hex HMAC-SHA256 over the template key and every `key=value`, each length-prefixed so no
/// two different sets hash the same input. The digest covers the client secret and is a tag
/// anyone with DescribeStackSet reads; keyed with `key` (kept in the caller's account, see
/// `artifact_keys::DIGEST_KEY_OBJECT`) it cannot be used to check a guessed secret offline.
pub fn config_digest(key: &[u8], template_key: &str, params: &[Parameter]) -> String {
    let mut h = <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("HMAC takes any key length");
    let mut feed = |s: &str| {
        h.update(&(s.len() as u64).to_be_bytes());
        h.update(s.as_bytes());
    };
    feed(template_key);
    for p in params {
        feed(p.key);
        feed(&p.value);
    }
    hex::encode(h.finalize().into_bytes())
}

/// The overrides `disable` applies to a stack instance: capture off for both API kinds.
pub fn disable_overrides() -> Vec<Parameter> {
    vec![
        Parameter {
            key: REST_ENABLED,
            value: flag(false),
        },
        Parameter {
            key: HTTP_ENABLED,
            value: flag(false),
        },
    ]
}

/// Mask a parameter read back from AWS for display (the secret may come back unmasked from
/// emulators; never show it).
pub fn mask(key: &str, value: &str) -> String {
    if name::is_secret(key) {
        "****".to_string()
    } else {
        value.to_string()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::config::model::{
        DeploymentType, LambdaArchitecture, LogLevel, RegionSelection, RestDelivery, Secret,
    };

    pub(crate) fn sample_config() -> Config {
        Config {
            is_organization_deployment: false,
            is_multi_account_deployment: true,
            deployment_type: DeploymentType::CloudFormation,
            auto_upload_to_s3: true,
            auto_delete_from_s3: false,
            regions: RegionSelection::All,
            auto_install_dependencies: true,
            rest_api_enabled: true,
            http_api_enabled: false,
            include_http_default_stage: false,
            rest_log_delivery: RestDelivery::Auto,
            client_id: "client".into(),
            client_secret: Secret::new("s3cr3t"),
            auth_endpoint: "https://auth.example/token".into(),
            edge_endpoint: "https://edge.example/api-transactions".into(),
            lambda_log_level: LogLevel::Info,
            supported_content_types_regex: "^application/json$".into(),
            unsupported_static_extensions_regex: "(?i)\\.css$".into(),
            lambda_role_arn: None,
            apigw_cloudwatch_role_arn: Some("arn:aws:iam::1:role/cw".into()),
            scheduler_role_arn: None,
            stackset_name: "aws-cequence-apigw-integration".into(),
            target_accounts: vec!["111111111111".into()],
            target_ous: vec![],
            stackset_admin_role_arn: None,
            stackset_execution_role_name: "AWSCloudFormationStackSetExecutionRole".into(),
            ingestion: crate::config::model::IngestionMode::Auto,
            push_destination: crate::config::model::PushDestination::Lambda,
            kinesis_shard_count: 1,
            lambda_memory_mb: 1536,
            lambda_architecture: LambdaArchitecture::Arm64,
            reserved_concurrency: None,
            spool_retention_days: 7,
        }
    }

    fn code() -> CodeLocation {
        CodeLocation {
            bucket: "bkt".into(),
            region: "us-east-1".into(),
            zip_key: "lambda/abc/cequence-apigw-forwarder.zip".into(),
        }
    }

    #[test]
    fn every_contract_parameter_is_present_once() {
        let params = template_parameters(&sample_config(), &code());
        let keys: Vec<&str> = params.iter().map(|p| p.key).collect();
        assert_eq!(keys, cq_contract::parameters::ALL);
        let get = |k: &str| params.iter().find(|p| p.key == k).unwrap().value.clone();
        assert_eq!(get("CequenceLambdaRoleArn"), "");
        assert_eq!(get("ApiGatewayCloudWatchRoleArn"), "arn:aws:iam::1:role/cw");
        assert_eq!(get("CequenceRestApiEnabled"), "true");
        assert_eq!(get("CequenceHttpApiEnabled"), "false");
        assert_eq!(get("S3Key"), "lambda/abc/cequence-apigw-forwarder.zip");
        assert_eq!(get("LambdaLogLevel"), "info");
        // The issue-9 parameters at their defaults: reserved concurrency off (empty).
        assert_eq!(get("CequenceIngestion"), "auto");
        assert_eq!(get("PushDestination"), "lambda");
        assert_eq!(get("KinesisShardCount"), "1");
        assert_eq!(get("LambdaMemorySize"), "1536");
        assert_eq!(get("LambdaArchitecture"), "arm64");
        assert_eq!(get("ReservedConcurrency"), "");
        assert_eq!(get("SpoolRetentionDays"), "7");
        let mut pushed = sample_config();
        pushed.ingestion = crate::config::model::IngestionMode::Push;
        pushed.push_destination = crate::config::model::PushDestination::Kinesis;
        pushed.kinesis_shard_count = 4;
        pushed.reserved_concurrency = Some(6);
        pushed.spool_retention_days = 30;
        let params = template_parameters(&pushed, &code());
        let get = |k: &str| params.iter().find(|p| p.key == k).unwrap().value.clone();
        assert_eq!(
            [
                get("CequenceIngestion"),
                get("PushDestination"),
                get("KinesisShardCount"),
                get("ReservedConcurrency"),
                get("SpoolRetentionDays")
            ],
            ["push", "kinesis", "4", "6", "30"]
        );
    }

    #[test]
    fn secret_never_shows_in_debug_or_display_value() {
        let params = template_parameters(&sample_config(), &code());
        let dbg = format!("{params:?}");
        assert!(!dbg.contains("s3cr3t"));
        assert!(dbg.contains("CequenceClientSecret=****"));
        assert_eq!(mask(CLIENT_SECRET, "s3cr3t"), "****");
        assert_eq!(mask("S3Key", "k"), "k");
    }

    #[test]
    fn digest_changes_with_the_secret_and_the_template_only() {
        let cfg = sample_config();
        let base = config_digest(b"k1", "t1", &template_parameters(&cfg, &code()));
        assert_eq!(
            base,
            config_digest(b"k1", "t1", &template_parameters(&cfg, &code()))
        );
        assert_ne!(
            base,
            config_digest(b"k1", "t2", &template_parameters(&cfg, &code()))
        );
        let mut other = cfg.clone();
        other.client_secret = crate::config::model::Secret::new("rotated");
        assert_ne!(
            base,
            config_digest(b"k1", "t1", &template_parameters(&other, &code()))
        );
        assert!(!base.contains("s3cr3t"));
        assert_eq!(base.len(), 64);
        // Keyed: without the caller's key the tag cannot be recomputed for a guessed secret.
        assert_ne!(
            base,
            config_digest(b"k2", "t1", &template_parameters(&cfg, &code()))
        );
        // Each new setting is in the digest, so changing it updates the StackSet.
        let changes: [fn(&mut Config); 5] = [
            |c| c.ingestion = crate::config::model::IngestionMode::Poll,
            |c| c.push_destination = crate::config::model::PushDestination::Kinesis,
            |c| c.kinesis_shard_count = 2,
            |c| c.reserved_concurrency = Some(3),
            |c| c.spool_retention_days = 8,
        ];
        for change in changes {
            let mut other = cfg.clone();
            change(&mut other);
            assert_ne!(
                base,
                config_digest(b"k1", "t1", &template_parameters(&other, &code()))
            );
        }
    }
}
