//! Subscription filters (push ingestion) against moto: subscribe to a Kinesis stream,
//! idempotence, an update in place, a customer's filters left alone, no free slot, unsubscribe,
//! restore removing ours, and the status view (pushed or polled, and why).
//!
//! moto stores subscription filters but cannot invoke a Lambda for them, so only the filter
//! lifecycle is tested here; the Lambda destination is covered by the CLI's status test
//! (`tests/cli_status.rs`), which can create a function. moto 5.2.5's quota check refused an
//! update of an existing filter on a full group: `scripts/moto_server.py` makes it update in
//! place, as AWS does. moto also reports every filter as `ByLogStream` whatever was asked.

use aws_sdk_cloudwatchlogs::types::{Distribution, SubscriptionFilter};
use std::time::Duration;

use aws_types::SdkConfig;
use cq_stage_logging::{
    discover_ingestion, reconcile, rest_execution_log_group, restore_all, subscribe, subscriptions,
    unsubscribe, Action, CaptureSettings, Clients, Ingestion, IngestionMode, OurFilter, PollReason,
    PushDestination, SubscribeOutcome, SUBSCRIPTION_FILTER_NAME,
};
use cq_test_support::MotoServer;

const REGION: &str = "us-east-1";
/// moto's destinations are usable at once; waiting for one that is not is tested with mocks
/// (`subscriptions_mocked.rs`).
const NO_WAIT: Duration = Duration::ZERO;
const PUSH_ROLE: &str = "arn:aws:iam::123456789012:role/cequence-logs-to-kinesis";
const CLOUDWATCH_ROLE: &str = "arn:aws:iam::123456789012:role/cequence-apigw-cloudwatch";

async fn stream(config: &SdkConfig, name: &str) -> String {
    let kinesis = aws_sdk_kinesis::Client::new(config);
    kinesis
        .create_stream()
        .stream_name(name)
        .shard_count(1)
        .send()
        .await
        .unwrap();
    kinesis
        .describe_stream_summary()
        .stream_name(name)
        .send()
        .await
        .unwrap()
        .stream_description_summary()
        .unwrap()
        .stream_arn()
        .to_string()
}

async fn group(logs: &aws_sdk_cloudwatchlogs::Client, name: &str) {
    logs.create_log_group()
        .log_group_name(name)
        .send()
        .await
        .unwrap();
}

/// A customer's own filter, as they would create it.
async fn customer_filter(
    logs: &aws_sdk_cloudwatchlogs::Client,
    group: &str,
    name: &str,
    dest: &str,
) {
    logs.put_subscription_filter()
        .log_group_name(group)
        .filter_name(name)
        .filter_pattern("ERROR")
        .destination_arn(dest)
        .role_arn("arn:aws:iam::123456789012:role/customer-siem")
        .send()
        .await
        .unwrap();
}

async fn filters(logs: &aws_sdk_cloudwatchlogs::Client, group: &str) -> Vec<SubscriptionFilter> {
    logs.describe_subscription_filters()
        .log_group_name(group)
        .send()
        .await
        .unwrap()
        .subscription_filters()
        .to_vec()
}

fn kinesis(arn: &str) -> PushDestination {
    PushDestination {
        arn: arn.to_string(),
        role_arn: Some(PUSH_ROLE.to_string()),
    }
}

#[tokio::test]
async fn subscribe_is_idempotent_updates_in_place_and_leaves_customer_filters_alone() {
    let moto = MotoServer::start();
    let config = moto.sdk_config(REGION).await;
    let logs = aws_sdk_cloudwatchlogs::Client::new(&config);
    let clients = Clients::new(&config);
    let push = stream(&config, "cequence-push").await;
    let other = stream(&config, "cequence-push-2").await;
    let siem = stream(&config, "customer-siem").await;
    let g = rest_execution_log_group("abc123", "prod");
    group(&logs, &g).await;
    customer_filter(&logs, &g, "customer-siem", &siem).await;
    let theirs_before = filters(&logs, &g).await;

    let before = subscriptions(&clients, &g).await.unwrap();
    assert_eq!(before.ours, None);
    assert_eq!(before.others, ["customer-siem"]);

    let SubscribeOutcome::Subscribed { creation_time_ms } =
        subscribe(&clients, &g, &kinesis(&push), NO_WAIT)
            .await
            .unwrap()
    else {
        panic!("must subscribe");
    };
    assert!(creation_time_ms > 0);
    let now = filters(&logs, &g).await;
    assert_eq!(now.len(), 2);
    let ours = now
        .iter()
        .find(|f| f.filter_name() == Some(SUBSCRIPTION_FILTER_NAME))
        .expect("our filter");
    assert_eq!(ours.filter_pattern(), Some(""));
    assert_eq!(ours.destination_arn(), Some(push.as_str()));
    assert_eq!(ours.role_arn(), Some(PUSH_ROLE));
    assert_eq!(ours.distribution(), Some(&Distribution::ByLogStream));
    let theirs = now
        .iter()
        .find(|f| f.filter_name() == Some("customer-siem"))
        .unwrap();
    assert_eq!(
        theirs, &theirs_before[0],
        "the customer's filter is untouched"
    );

    // Again: nothing to do, same creation time.
    assert_eq!(
        subscribe(&clients, &g, &kinesis(&push), NO_WAIT)
            .await
            .unwrap(),
        SubscribeOutcome::AlreadySubscribed { creation_time_ms }
    );
    assert_eq!(
        subscriptions(&clients, &g).await.unwrap().ours,
        Some(OurFilter {
            creation_time_ms,
            destination_arn: push.clone()
        })
    );

    // A new destination on a full group (2 of 2 slots): ours is updated in place.
    let outcome = subscribe(&clients, &g, &kinesis(&other), NO_WAIT)
        .await
        .unwrap();
    assert!(
        matches!(outcome, SubscribeOutcome::Subscribed { .. }),
        "{outcome:?}"
    );
    let now = filters(&logs, &g).await;
    assert_eq!(now.len(), 2);
    let ours = now
        .iter()
        .find(|f| f.filter_name() == Some(SUBSCRIPTION_FILTER_NAME))
        .unwrap();
    assert_eq!(ours.destination_arn(), Some(other.as_str()));
    assert!(now.iter().any(|f| f == &theirs_before[0]));
}

#[tokio::test]
async fn no_free_slot_when_the_account_quota_refuses_and_nothing_changes() {
    let moto = MotoServer::start();
    let config = moto.sdk_config(REGION).await;
    let logs = aws_sdk_cloudwatchlogs::Client::new(&config);
    let clients = Clients::new(&config);
    let push = stream(&config, "cequence-push").await;
    let siem = stream(&config, "customer-siem").await;
    let g = "/aws/apigateway/cequence/h1/prod";
    group(&logs, g).await;
    customer_filter(&logs, g, "datadog", &siem).await;
    customer_filter(&logs, g, "siem", &siem).await;
    let before = filters(&logs, g).await;

    assert_eq!(
        subscribe(&clients, g, &kinesis(&push), NO_WAIT)
            .await
            .unwrap(),
        SubscribeOutcome::NoFreeSlot {
            others: vec!["datadog".into(), "siem".into()]
        }
    );
    assert_eq!(filters(&logs, g).await, before);

    // The status view says why the group is polled.
    let subs = subscriptions(&clients, g).await.unwrap();
    assert_eq!(
        cq_stage_logging::ingestion_of(IngestionMode::Push, &subs),
        Ingestion::Polled {
            reason: PollReason::NoFreeSlot {
                others: vec!["datadog".into(), "siem".into()]
            }
        }
    );

    // A group that does not exist: an error naming the call, not a slot question.
    let err = subscribe(&clients, "/no/such/group", &kinesis(&push), NO_WAIT)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("PutSubscriptionFilter"), "{err}");
}

#[tokio::test]
async fn unsubscribe_removes_only_ours() {
    let moto = MotoServer::start();
    let config = moto.sdk_config(REGION).await;
    let logs = aws_sdk_cloudwatchlogs::Client::new(&config);
    let clients = Clients::new(&config);
    let push = stream(&config, "cequence-push").await;
    let siem = stream(&config, "customer-siem").await;
    let g = rest_execution_log_group("abc123", "prod");
    group(&logs, &g).await;
    customer_filter(&logs, &g, "customer-siem", &siem).await;
    subscribe(&clients, &g, &kinesis(&push), NO_WAIT)
        .await
        .unwrap();
    assert_eq!(filters(&logs, &g).await.len(), 2);

    assert!(unsubscribe(&clients, &g).await.unwrap());
    let left = filters(&logs, &g).await;
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].filter_name(), Some("customer-siem"));
    assert_eq!(left[0].filter_pattern(), Some("ERROR"));
    // Nothing of ours left: false, and the customer's filter stays.
    assert!(!unsubscribe(&clients, &g).await.unwrap());
    assert_eq!(filters(&logs, &g).await.len(), 1);
    assert!(!unsubscribe(&clients, "/no/such/group").await.unwrap());
}

#[tokio::test]
async fn restore_removes_our_filter_and_status_shows_pushed_and_polled_groups() {
    let moto = MotoServer::start();
    let config = moto.sdk_config(REGION).await;
    let logs = aws_sdk_cloudwatchlogs::Client::new(&config);
    let gw = aws_sdk_apigateway::Client::new(&config);
    let clients = Clients::new(&config);
    let push = stream(&config, "cequence-push").await;
    let siem = stream(&config, "customer-siem").await;
    let api = cq_test_support::seed::rest_api(&gw, "pets", &["dev", "prod", "qa"]).await;
    let settings = CaptureSettings {
        cloudwatch_role_arn: Some(CLOUDWATCH_ROLE.into()),
        ..CaptureSettings::default()
    };
    let report = reconcile(&clients, &settings).await;
    assert_eq!(report.changed(), 3, "{report:#?}");
    let dev = rest_execution_log_group(&api, "dev");
    let prod = rest_execution_log_group(&api, "prod");
    let qa = rest_execution_log_group(&api, "qa");

    // dev: pushed; prod: both slots held by the customer; qa: a customer filter, one slot free.
    subscribe(&clients, &dev, &kinesis(&push), NO_WAIT)
        .await
        .unwrap();
    customer_filter(&logs, &prod, "datadog", &siem).await;
    customer_filter(&logs, &prod, "siem", &siem).await;
    assert!(matches!(
        subscribe(&clients, &prod, &kinesis(&push), NO_WAIT)
            .await
            .unwrap(),
        SubscribeOutcome::NoFreeSlot { .. }
    ));
    customer_filter(&logs, &qa, "siem", &siem).await;

    let by_stage = |stages: &[cq_stage_logging::StageIngestion], name: &str| {
        stages
            .iter()
            .find(|s| s.stage.stage == name)
            .and_then(|s| s.ingestion.clone())
            .unwrap_or_else(|| panic!("{name} has no ingestion"))
    };
    let stages = discover_ingestion(&clients, IngestionMode::Push)
        .await
        .unwrap();
    assert_eq!(stages.len(), 3);
    let Ingestion::Pushed {
        destination_arn,
        since_ms,
    } = by_stage(&stages, "dev")
    else {
        panic!("dev must be pushed");
    };
    assert_eq!(destination_arn, push);
    assert!(since_ms > 0);
    assert_eq!(
        by_stage(&stages, "prod"),
        Ingestion::Polled {
            reason: PollReason::NoFreeSlot {
                others: vec!["datadog".into(), "siem".into()]
            }
        }
    );
    assert!(by_stage(&stages, "prod")
        .summary()
        .contains("held by datadog, siem"));
    let polled = discover_ingestion(&clients, IngestionMode::Poll)
        .await
        .unwrap();
    assert!(
        by_stage(&polled, "dev").is_pushed(),
        "our filter is where events go"
    );
    assert_eq!(
        by_stage(&polled, "qa"),
        Ingestion::Polled {
            reason: PollReason::IngestionPoll
        }
    );
    let auto = discover_ingestion(&clients, IngestionMode::Auto)
        .await
        .unwrap();
    assert_eq!(
        by_stage(&auto, "qa"),
        Ingestion::Polled {
            reason: PollReason::AutoPolling {
                others: vec!["siem".into()]
            }
        }
    );

    // Restore: stages restored, our filter gone, every customer filter still there.
    let report = restore_all(&clients).await;
    assert_eq!(report.failed(), 0, "{report:#?}");
    assert_eq!(report.changed(), 3);
    let dev_outcome = report
        .outcomes
        .iter()
        .find(|o| o.stage.stage == "dev")
        .unwrap();
    assert!(
        dev_outcome
            .calls
            .iter()
            .any(|c| c.starts_with("logs:DeleteSubscriptionFilter")),
        "{:?}",
        dev_outcome.calls
    );
    assert_eq!(
        report
            .mutating_calls()
            .iter()
            .filter(|c| c.starts_with("logs:DeleteSubscriptionFilter"))
            .count(),
        1,
        "only our one filter is deleted"
    );
    assert!(filters(&logs, &dev).await.is_empty());
    assert_eq!(filters(&logs, &prod).await.len(), 2);
    assert_eq!(filters(&logs, &qa).await.len(), 1);
    let again = restore_all(&clients).await;
    assert!(
        again.mutating_calls().is_empty(),
        "{:?}",
        again.mutating_calls()
    );

    // REST capture turned off: the restore that follows also takes our filter away.
    assert_eq!(reconcile(&clients, &settings).await.changed(), 3);
    subscribe(&clients, &qa, &kinesis(&push), NO_WAIT)
        .await
        .unwrap();
    let off = CaptureSettings {
        rest_enabled: false,
        ..settings
    };
    let report = reconcile(&clients, &off).await;
    assert_eq!(report.failed(), 0, "{report:#?}");
    assert!(report.outcomes.iter().all(|o| o.action == Action::Restored));
    let left = filters(&logs, &qa).await;
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].filter_name(), Some("siem"));
}
