//! Everything built once per container (SDK clients, HTTP client, token cache, rate limiter)
//! and shared by every invocation: warm invocations then reuse connections and the token.

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::SdkConfig;

use crate::config::{Config, ConfigError};
use crate::edge::EdgeClient;
use crate::fetch::RateLimiter;
use crate::token::TokenProvider;

pub struct AwsClients {
    /// Retries off: `fetch` retries itself so each attempt is rate-limited and counted.
    pub logs: aws_sdk_cloudwatchlogs::Client,
    pub ssm: aws_sdk_ssm::Client,
    pub secrets: aws_sdk_secretsmanager::Client,
    pub stage: cq_stage_logging::Clients,
    pub limiter: RateLimiter,
    pub region: String,
}

impl AwsClients {
    pub fn new(sdk: &SdkConfig) -> Self {
        Self::with_logs_client(sdk, logs_client(sdk))
    }

    /// With a given CloudWatch Logs client (tests use a mocked one).
    pub fn with_logs_client(sdk: &SdkConfig, logs: aws_sdk_cloudwatchlogs::Client) -> Self {
        Self {
            logs,
            ssm: aws_sdk_ssm::Client::new(sdk),
            secrets: aws_sdk_secretsmanager::Client::new(sdk),
            stage: cq_stage_logging::Clients::new(sdk),
            limiter: RateLimiter::filter_log_events(),
            region: sdk
                .region()
                .map(|r| r.to_string())
                .unwrap_or_else(|| "us-east-1".into()),
        }
    }
}

pub fn logs_client(sdk: &SdkConfig) -> aws_sdk_cloudwatchlogs::Client {
    let conf = aws_sdk_cloudwatchlogs::config::Builder::from(sdk)
        .retry_config(RetryConfig::disabled())
        .timeout_config(
            TimeoutConfig::builder()
                .operation_attempt_timeout(Duration::from_secs(20))
                .build(),
        )
        .build();
    aws_sdk_cloudwatchlogs::Client::from_conf(conf)
}

/// What forwarding needs beyond AWS; absent when the configuration is invalid (the custom
/// resource must still answer CloudFormation then).
pub struct Forwarding {
    pub config: Config,
    pub tokens: TokenProvider,
    pub edge: EdgeClient,
}

impl Forwarding {
    pub fn new(config: Config, aws: &AwsClients, http: reqwest::Client) -> Self {
        let tokens = TokenProvider::new(
            http.clone(),
            aws.ssm.clone(),
            aws.secrets.clone(),
            config.auth_endpoint.clone(),
            config.client_id.clone(),
            config.client_secret.clone(),
            config.token_parameter.clone(),
        );
        let edge = EdgeClient::new(http, config.edge_endpoint.clone());
        Self {
            config,
            tokens,
            edge,
        }
    }
}

pub struct App {
    pub aws: AwsClients,
    pub http: reqwest::Client,
    pub forwarding: Result<Forwarding, ConfigError>,
}

impl App {
    pub fn new(aws: AwsClients, config: Result<Config, ConfigError>) -> Self {
        let http = http_client();
        let forwarding = config.map(|c| Forwarding::new(c, &aws, http.clone()));
        Self {
            aws,
            http,
            forwarding,
        }
    }
}

pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(5))
        .pool_idle_timeout(Duration::from_secs(50))
        .user_agent(concat!(
            "cequence-apigw-forwarder/",
            env!("CARGO_PKG_VERSION")
        ))
        .build()
        .unwrap_or_default()
}
