//! The three SDK clients, built from one SdkConfig with a retry policy fit for API Gateway.

use std::time::Duration;

use aws_smithy_types::retry::RetryConfig;
use aws_types::SdkConfig;

/// API Gateway's control plane allows few requests per second per account (UpdateStage is
/// ~1 req/s): the SDK's standard mode classifies TooManyRequestsException as throttling, so more
/// attempts with exponential backoff ride out bursts instead of failing a stage.
pub const MAX_ATTEMPTS: u32 = 8;
const INITIAL_BACKOFF: Duration = Duration::from_millis(500);
const MAX_BACKOFF: Duration = Duration::from_secs(20);

/// Clients for one account and region.
#[derive(Clone, Debug)]
pub struct Clients {
    pub apigateway: aws_sdk_apigateway::Client,
    pub apigatewayv2: aws_sdk_apigatewayv2::Client,
    pub logs: aws_sdk_cloudwatchlogs::Client,
}

impl Clients {
    /// Clients for the region of `config`, with the throttling-tolerant retry policy.
    pub fn new(config: &SdkConfig) -> Self {
        let retry = retry_config();
        Self {
            apigateway: aws_sdk_apigateway::Client::from_conf(
                aws_sdk_apigateway::config::Builder::from(config)
                    .retry_config(retry.clone())
                    .build(),
            ),
            apigatewayv2: aws_sdk_apigatewayv2::Client::from_conf(
                aws_sdk_apigatewayv2::config::Builder::from(config)
                    .retry_config(retry.clone())
                    .build(),
            ),
            logs: aws_sdk_cloudwatchlogs::Client::from_conf(
                aws_sdk_cloudwatchlogs::config::Builder::from(config)
                    .retry_config(retry)
                    .build(),
            ),
        }
    }

    /// Clients built elsewhere (tests with mocked clients, or custom configs).
    pub fn from_parts(
        apigateway: aws_sdk_apigateway::Client,
        apigatewayv2: aws_sdk_apigatewayv2::Client,
        logs: aws_sdk_cloudwatchlogs::Client,
    ) -> Self {
        Self {
            apigateway,
            apigatewayv2,
            logs,
        }
    }

    /// The region the clients talk to (needed for stage ARNs).
    pub(crate) fn region(&self) -> String {
        self.apigateway
            .config()
            .region()
            .map(|r| r.to_string())
            .unwrap_or_else(|| "us-east-1".to_string())
    }
}

/// The retry policy `Clients::new` applies; public so callers building their own clients match it.
pub fn retry_config() -> RetryConfig {
    RetryConfig::standard()
        .with_max_attempts(MAX_ATTEMPTS)
        .with_initial_backoff(INITIAL_BACKOFF)
        .with_max_backoff(MAX_BACKOFF)
}
