//! Bounded exponential backoff with jitter for the errors that only mean "not now".
//!
//! The SDK's own retry covers a few quick throttling retries; StackSet calls additionally fail
//! with `OperationInProgressException` while another operation runs, which can last minutes,
//! so those calls are wrapped here with a longer, bounded schedule.

use std::future::Future;
use std::time::Duration;

use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use rand::Rng;

/// Error codes worth waiting out.
const RETRYABLE: &[&str] = &[
    "OperationInProgressException",
    "Throttling",
    "ThrottlingException",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "SlowDown",
];

pub fn is_retryable(code: Option<&str>) -> bool {
    code.is_some_and(|c| RETRYABLE.contains(&c))
}

/// How long to keep trying.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    pub first: Duration,
    pub max: Duration,
    /// Total attempts, the first included.
    pub attempts: u32,
}

impl Backoff {
    /// For StackSet calls: 2 s doubling to 30 s, 14 attempts (about 5 minutes in all).
    pub const STACKSET: Backoff = Backoff {
        first: Duration::from_secs(2),
        max: Duration::from_secs(30),
        attempts: 14,
    };

    /// The delay before retry number `retry` (0-based): exponential, capped, with jitter in
    /// [half, full] so concurrent callers spread out.
    pub fn delay(&self, retry: u32) -> Duration {
        let exp = self
            .first
            .saturating_mul(2u32.saturating_pow(retry.min(16)))
            .min(self.max);
        let half = exp / 2;
        let jitter_ms = rand::rng().random_range(0..=half.as_millis() as u64);
        half + Duration::from_millis(jitter_ms)
    }
}

/// Run `op` until it succeeds, fails with a non-retryable error, or attempts run out.
pub async fn retry<T, E, F, Fut>(backoff: Backoff, what: &str, mut op: F) -> Result<T, E>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
    E: ProvideErrorMetadata,
{
    let mut attempt = 0;
    loop {
        match op().await {
            Ok(v) => return Ok(v),
            Err(e) if attempt + 1 < backoff.attempts && is_retryable(e.code()) => {
                let delay = backoff.delay(attempt);
                tracing::info!(
                    "{what}: {} — retrying in {} ms",
                    e.code().unwrap_or_default(),
                    delay.as_millis()
                );
                tokio::time::sleep(delay).await;
                attempt += 1;
            }
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    //! moto cannot produce `OperationInProgressException` or throttling on demand, so these
    //! tests use aws-smithy-mocks (SPEC §7) to return those errors and then success.

    use super::*;
    use aws_sdk_cloudformation::operation::describe_stack_set::DescribeStackSetOutput;
    use aws_sdk_cloudformation::operation::update_stack_set::{
        UpdateStackSetError, UpdateStackSetOutput,
    };
    use aws_sdk_cloudformation::types::error::{
        OperationInProgressException, StackSetNotFoundException,
    };
    use aws_sdk_cloudformation::Client;
    use aws_smithy_mocks::{mock, mock_client, RuleMode};

    /// Modeled errors carry their code in the metadata, as the SDK's deserializer sets it.
    fn meta(code: &str) -> aws_smithy_types::error::ErrorMetadata {
        aws_smithy_types::error::ErrorMetadata::builder()
            .code(code)
            .build()
    }

    const FAST: Backoff = Backoff {
        first: Duration::from_millis(1),
        max: Duration::from_millis(4),
        attempts: 5,
    };

    #[tokio::test]
    async fn operation_in_progress_is_retried_until_success() {
        let rule = mock!(Client::update_stack_set)
            .sequence()
            .error(|| {
                UpdateStackSetError::OperationInProgressException(
                    OperationInProgressException::builder()
                        .message("another operation is running")
                        .meta(meta("OperationInProgressException"))
                        .build(),
                )
            })
            .times(2)
            .output(|| UpdateStackSetOutput::builder().operation_id("op-1").build())
            .build();
        let cfn = mock_client!(aws_sdk_cloudformation, RuleMode::Sequential, [&rule]);
        let out = retry(FAST, "update", || {
            cfn.update_stack_set().stack_set_name("s").send()
        })
        .await
        .expect("succeeds after two OperationInProgressException");
        assert_eq!(out.operation_id(), Some("op-1"));
        assert_eq!(rule.num_calls(), 3);
    }

    #[tokio::test]
    async fn throttling_is_retried_with_backoff_then_succeeds() {
        let rule = mock!(Client::describe_stack_set)
            .sequence()
            .http_status(
                400,
                Some(
                    r#"<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error></ErrorResponse>"#
                        .into(),
                ),
            )
            .times(2)
            .output(|| DescribeStackSetOutput::builder().build())
            .build();
        let cfn = mock_client!(aws_sdk_cloudformation, RuleMode::Sequential, [&rule]);
        retry(FAST, "describe", || {
            cfn.describe_stack_set().stack_set_name("s").send()
        })
        .await
        .expect("succeeds after throttling");
        assert_eq!(rule.num_calls(), 3);
    }

    #[tokio::test]
    async fn other_errors_and_exhausted_attempts_are_returned() {
        let not_found = mock!(Client::update_stack_set).then_error(|| {
            UpdateStackSetError::StackSetNotFoundException(
                StackSetNotFoundException::builder()
                    .meta(meta("StackSetNotFoundException"))
                    .build(),
            )
        });
        let cfn = mock_client!(aws_sdk_cloudformation, [&not_found]);
        let err = retry(FAST, "update", || {
            cfn.update_stack_set().stack_set_name("s").send()
        })
        .await
        .unwrap_err();
        assert_eq!(err.code(), Some("StackSetNotFoundException"));
        assert_eq!(not_found.num_calls(), 1);

        let busy = mock!(Client::update_stack_set)
            .sequence()
            .error(|| {
                UpdateStackSetError::OperationInProgressException(
                    OperationInProgressException::builder()
                        .meta(meta("OperationInProgressException"))
                        .build(),
                )
            })
            .repeatedly()
            .build();
        let cfn = mock_client!(aws_sdk_cloudformation, [&busy]);
        let err = retry(FAST, "update", || {
            cfn.update_stack_set().stack_set_name("s").send()
        })
        .await
        .unwrap_err();
        assert_eq!(err.code(), Some("OperationInProgressException"));
        assert_eq!(busy.num_calls(), FAST.attempts as usize);
    }

    #[test]
    fn delays_grow_and_stay_bounded() {
        let b = Backoff {
            first: Duration::from_secs(2),
            max: Duration::from_secs(30),
            attempts: 10,
        };
        for retry in 0..10 {
            let d = b.delay(retry);
            let cap = Duration::from_secs(2u64.saturating_mul(1 << retry).min(30));
            assert!(d <= cap && d >= cap / 2, "retry {retry}: {d:?}");
        }
    }
}
