//! Bounded exponential backoff with jitter for the errors that only mean "not now".
//!
//! The SDK's own retry covers a few quick throttling retries; StackSet calls additionally fail
//! with `OperationInProgressException` while another operation runs, which can last minutes,
//! so those calls are wrapped here with a longer, bounded schedule.

use std::future::Future;

use aws_smithy_types::error::metadata::ProvideErrorMetadata;

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

/// The contract's retry schedule (`cq_contract::backoff`), the forwarder's too.
pub use cq_contract::Backoff;

/// For StackSet calls: 2 s doubling to 30 s, 13 retries (14 attempts, about 5 minutes in all).
pub const STACKSET: Backoff = Backoff::new(2_000, 30_000, 13);

/// Run `op` until it succeeds, fails with a non-retryable error, or attempts run out.
pub async fn retry<T, E, F, Fut>(backoff: Backoff, what: &str, mut op: F) -> Result<T, E>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
    E: ProvideErrorMetadata,
{
    let mut retries = 0;
    loop {
        match op().await {
            Ok(v) => return Ok(v),
            Err(e) if retries < backoff.max_retries && is_retryable(e.code()) => {
                retries += 1;
                let delay = backoff.delay(retries);
                tracing::info!(
                    "{what}: {} — retrying in {} ms",
                    e.code().unwrap_or_default(),
                    delay.as_millis()
                );
                tokio::time::sleep(delay).await;
            }
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    //! moto cannot produce `OperationInProgressException` or throttling on demand, so these
    //! tests use aws-smithy-mocks to return those errors and then success (docs/developing.md,
    //! "The local AWS").

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
    use std::time::Duration;

    /// Modeled errors carry their code in the metadata, as the SDK's deserializer sets it.
    fn meta(code: &str) -> aws_smithy_types::error::ErrorMetadata {
        aws_smithy_types::error::ErrorMetadata::builder()
            .code(code)
            .build()
    }

    const FAST: Backoff = Backoff::new(1, 4, 4);

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
        assert_eq!(busy.num_calls(), FAST.max_retries as usize + 1);
    }

    #[test]
    fn the_stackset_schedule_waits_about_five_minutes_at_most() {
        let total: Duration = (1..=STACKSET.max_retries)
            .map(|r| STACKSET.ceiling(r))
            .sum();
        assert_eq!(STACKSET.ceiling(1), Duration::from_secs(2));
        assert_eq!(total, Duration::from_secs(2 + 4 + 8 + 16 + 30 * 9));
    }
}
