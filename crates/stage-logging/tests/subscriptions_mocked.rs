//! Retries of PutSubscriptionFilter, which moto cannot show (it never throttles and answers at
//! once): the SDK classifies `LimitExceededException` as throttling, but on this call it means
//! the group's filter quota is used up, so it must be answered with one call, not retried for
//! half a minute; real throttling is still retried. Nor can moto show a destination that is
//! not usable yet (a role CloudWatch Logs cannot assume moments after it was created): AWS
//! answers InvalidParameterException "Could not deliver test message", and the call is tried
//! again for a bounded time.

use aws_sdk_cloudwatchlogs::operation::describe_subscription_filters::DescribeSubscriptionFiltersOutput;
use aws_sdk_cloudwatchlogs::operation::put_subscription_filter::PutSubscriptionFilterOutput;
use aws_sdk_cloudwatchlogs::types::SubscriptionFilter;
use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};
use aws_smithy_runtime_api::http::{Response, StatusCode};
use aws_smithy_types::body::SdkBody;
use std::time::{Duration, Instant};

use cq_stage_logging::{retry_config, subscribe, Clients, PushDestination, SubscribeOutcome};

const GROUP: &str = "API-Gateway-Execution-Logs_r1/prod";

/// The wait the callers give a destination (the custom resource's, at most).
const PATIENCE: Duration = Duration::from_secs(60);
const NOT_READY: &str = "Could not deliver test message to specified Kinesis stream. Check if the given kinesis stream is in ACTIVE state.";

fn error(code: &'static str) -> Response {
    error_with(code, code)
}

fn error_with(code: &'static str, message: &str) -> Response {
    let mut r = Response::new(
        StatusCode::try_from(400).unwrap(),
        SdkBody::from(format!(r#"{{"__type":"{code}","message":"{message}"}}"#)),
    );
    r.headers_mut().insert("x-amzn-ErrorType", code);
    r.headers_mut()
        .insert("Content-Type", "application/x-amz-json-1.1");
    r
}

fn two_customer_filters() -> Rule {
    mock!(aws_sdk_cloudwatchlogs::Client::describe_subscription_filters).then_output(|| {
        DescribeSubscriptionFiltersOutput::builder()
            .subscription_filters(SubscriptionFilter::builder().filter_name("siem").build())
            .subscription_filters(SubscriptionFilter::builder().filter_name("datadog").build())
            .build()
    })
}

/// Clients with the crate's retry policy (8 attempts, exponential backoff) on the logs client.
fn clients(logs: &[&Rule]) -> Clients {
    Clients::from_parts(
        mock_client!(aws_sdk_apigateway, RuleMode::MatchAny, &[]),
        mock_client!(aws_sdk_apigatewayv2, RuleMode::MatchAny, &[]),
        mock_client!(aws_sdk_cloudwatchlogs, RuleMode::MatchAny, logs, |c| c
            .retry_config(retry_config())),
    )
}

fn dest() -> PushDestination {
    PushDestination {
        arn: "arn:aws:lambda:us-east-1:123456789012:function:fwd".into(),
        role_arn: None,
    }
}

#[tokio::test]
async fn a_full_group_is_answered_with_one_put_not_retried() {
    let describe = two_customer_filters();
    let put = mock!(aws_sdk_cloudwatchlogs::Client::put_subscription_filter)
        .sequence()
        .http_response(|| error("LimitExceededException"))
        .times(8)
        .build();
    let started = std::time::Instant::now();
    let outcome = subscribe(&clients(&[&describe, &put]), GROUP, &dest(), PATIENCE)
        .await
        .unwrap();
    assert_eq!(
        outcome,
        SubscribeOutcome::NoFreeSlot {
            others: vec!["datadog".into(), "siem".into()]
        }
    );
    assert_eq!(put.num_calls(), 1);
    assert!(started.elapsed() < std::time::Duration::from_secs(2));
}

#[tokio::test]
async fn throttling_is_still_retried() {
    let describe = two_customer_filters();
    let put = mock!(aws_sdk_cloudwatchlogs::Client::put_subscription_filter)
        .sequence()
        .http_response(|| error("ThrottlingException"))
        .output(|| PutSubscriptionFilterOutput::builder().build())
        .build();
    let outcome = subscribe(&clients(&[&describe, &put]), GROUP, &dest(), PATIENCE)
        .await
        .unwrap();
    // The describe after the put still shows only the two others here, so the creation time
    // falls back to now.
    assert!(
        matches!(outcome, SubscribeOutcome::Subscribed { creation_time_ms } if creation_time_ms > 0),
        "{outcome:?}"
    );
    assert_eq!(put.num_calls(), 2, "one throttled attempt, then success");
}

fn kinesis() -> PushDestination {
    PushDestination {
        arn: "arn:aws:kinesis:us-east-1:123456789012:stream/cequence-push".into(),
        role_arn: Some("arn:aws:iam::123456789012:role/cequence-logs-to-kinesis".into()),
    }
}

fn no_filters() -> Rule {
    mock!(aws_sdk_cloudwatchlogs::Client::describe_subscription_filters)
        .then_output(|| DescribeSubscriptionFiltersOutput::builder().build())
}

#[tokio::test]
async fn a_role_still_propagating_is_waited_for() {
    let describe = no_filters();
    let put = mock!(aws_sdk_cloudwatchlogs::Client::put_subscription_filter)
        .sequence()
        .http_response(|| error_with("InvalidParameterException", NOT_READY))
        .times(2)
        .output(|| PutSubscriptionFilterOutput::builder().build())
        .build();
    let started = Instant::now();
    let outcome = subscribe(&clients(&[&describe, &put]), GROUP, &kinesis(), PATIENCE)
        .await
        .unwrap();
    assert!(
        matches!(outcome, SubscribeOutcome::Subscribed { .. }),
        "{outcome:?}"
    );
    assert_eq!(put.num_calls(), 3, "two refusals, then the filter");
    // Waits of 1 s and 2 s: the first attempts are quick, as propagation usually is.
    let took = started.elapsed();
    assert!(
        took >= Duration::from_secs(3) && took < Duration::from_secs(10),
        "{took:?}"
    );
}

#[tokio::test]
async fn a_destination_never_ready_fails_within_the_patience_and_says_why() {
    let describe = no_filters();
    let put = mock!(aws_sdk_cloudwatchlogs::Client::put_subscription_filter)
        .sequence()
        .http_response(|| error_with("InvalidParameterException", NOT_READY))
        .times(10)
        .build();
    let started = Instant::now();
    let err = subscribe(
        &clients(&[&describe, &put]),
        GROUP,
        &kinesis(),
        Duration::from_secs(3),
    )
    .await
    .unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(6));
    assert_eq!(put.num_calls(), 3, "waits of 1 s and 2 s fit in 3 s");
    assert!(err.destination_not_ready(), "{err}");
    let text = err.to_string();
    assert!(text.contains("PutSubscriptionFilter"), "{text}");
    assert!(text.contains("Could not deliver test message"), "{text}");
    assert!(text.contains("still not ready after 3 s"), "{text}");
}

#[tokio::test]
async fn a_bad_destination_is_not_waited_for() {
    let describe = no_filters();
    let put = mock!(aws_sdk_cloudwatchlogs::Client::put_subscription_filter)
        .sequence()
        .http_response(|| {
            error_with(
                "InvalidParameterException",
                "destinationArn for vendor kinesis cannot be used without roleArn",
            )
        })
        .times(10)
        .build();
    let err = subscribe(&clients(&[&describe, &put]), GROUP, &kinesis(), PATIENCE)
        .await
        .unwrap_err();
    assert_eq!(put.num_calls(), 1);
    assert!(!err.destination_not_ready(), "{err}");
}
