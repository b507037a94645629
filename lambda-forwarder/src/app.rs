//! Everything built once per container (SDK clients, HTTP client, token cache, rate limiter,
//! the Edge's remembered preferences) and shared by every invocation: warm invocations then
//! reuse connections and the token.

use std::sync::Arc;
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::SdkConfig;

use crate::config::{Config, ConfigError};
use crate::sinks::deliver::Deliverer;
use crate::sinks::edge::EdgeClient;
use crate::sinks::spool::Spool;
use crate::sources::poll::RateLimiter;
use crate::state::StateStore;
use crate::token::TokenProvider;

pub struct AwsClients {
    /// Retries off: `sources::poll` retries itself so each attempt is rate-limited and counted.
    pub logs: aws_sdk_cloudwatchlogs::Client,
    pub ssm: aws_sdk_ssm::Client,
    pub secrets: aws_sdk_secretsmanager::Client,
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub s3: aws_sdk_s3::Client,
    pub stage: cq_stage_logging::Clients,
    /// Only to continue a custom-resource request in a new invocation of this function.
    pub lambda: aws_sdk_lambda::Client,
    pub region: String,
}

impl AwsClients {
    pub fn new(sdk: &SdkConfig) -> Self {
        Self::with_logs_client(sdk, logs_client(sdk))
    }

    /// With a given CloudWatch Logs client (tests use a mocked one).
    pub fn with_logs_client(sdk: &SdkConfig, logs: aws_sdk_cloudwatchlogs::Client) -> Self {
        let timeouts = TimeoutConfig::builder()
            .operation_attempt_timeout(Duration::from_secs(10))
            .build();
        let dynamodb = aws_sdk_dynamodb::Client::from_conf(
            aws_sdk_dynamodb::config::Builder::from(sdk)
                .timeout_config(timeouts.clone())
                .build(),
        );
        // A local endpoint (moto, a proxy) serves buckets by path, as AWS does not need.
        let local_endpoint = sdk.endpoint_url().is_some()
            || ["AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"]
                .iter()
                .any(|v| std::env::var(v).is_ok_and(|s| !s.is_empty()));
        let s3 = aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(sdk)
                .timeout_config(timeouts)
                .force_path_style(local_endpoint)
                .build(),
        );
        Self {
            logs,
            ssm: aws_sdk_ssm::Client::new(sdk),
            secrets: aws_sdk_secretsmanager::Client::new(sdk),
            dynamodb,
            s3,
            stage: cq_stage_logging::Clients::new(sdk),
            lambda: aws_sdk_lambda::Client::new(sdk),
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
    pub tokens: Arc<TokenProvider>,
    pub deliverer: Deliverer,
    pub store: Option<Arc<StateStore>>,
    pub spool: Option<Spool>,
    pub limiter: RateLimiter,
}

impl Forwarding {
    pub fn new(config: Config, aws: &AwsClients, http: reqwest::Client) -> Self {
        let tokens = Arc::new(TokenProvider::new(
            http.clone(),
            aws.ssm.clone(),
            aws.secrets.clone(),
            config.auth_endpoint.clone(),
            config.client_id.clone(),
            config.client_secret.clone(),
            config.token_parameter.clone(),
        ));
        let spool = config
            .spool_bucket
            .clone()
            .map(|b| Spool::new(aws.s3.clone(), b));
        let store = config
            .state_table
            .clone()
            .map(|t| Arc::new(StateStore::new(aws.dynamodb.clone(), t, spool.clone())));
        let deliverer = Deliverer::new(
            EdgeClient::new(http, config.edge_endpoint.clone()),
            tokens.clone(),
            spool.clone(),
            store.clone(),
        );
        let limiter = RateLimiter::filter_log_events(config.filter_log_events_tps);
        Self {
            config,
            tokens,
            deliverer,
            store,
            spool,
            limiter,
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

/// The AWS SDK's HTTPS client: rustls on ring, the crypto library the Edge client already
/// links (the SDK's default would link aws-lc as well, about 2 MB of the binary). Trust roots
/// are the system's, as with the default client.
pub fn sdk_https_client() -> aws_smithy_runtime_api::client::http::SharedHttpClient {
    use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider};
    aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https()
}

/// One HTTP client for the Edge, the token endpoint and CloudFormation answers. Redirects
/// are never followed: a bearer token or a client secret must reach only the configured URL.
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(5))
        .pool_idle_timeout(Duration::from_secs(50))
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!(
            "cequence-apigw-forwarder/",
            env!("CARGO_PKG_VERSION")
        ))
        .build()
        .unwrap_or_default()
}
