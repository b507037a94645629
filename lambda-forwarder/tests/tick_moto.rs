//! Ticks against moto (CloudWatch Logs, SSM, Secrets Manager, DynamoDB, S3) and the fake
//! Cequence server: every seeded request arrives exactly once, across runs, an Edge outage
//! (spooled, then replayed) and a token expiry. Throttling is the one path moto cannot
//! produce; that test mocks CloudWatch Logs with aws-smithy-mocks (and still uses moto for
//! the rest).

use crate::support;

use std::collections::BTreeSet;
use std::io::Write;

use base64::Engine as _;
use cq_test_support::fake_cequence::FakeConfig;
use cq_test_support::{FakeCequence, MotoServer};
use lambda_forwarder::app::{App, AwsClients};
use lambda_forwarder::invocation::{self as handler, InvocationMeta};
use lambda_forwarder::stats::{self, lock, Stats};
use lambda_forwarder::tick::{self, RunContext, TickError};
use support::*;

struct Bed {
    moto: MotoServer,
    fake: FakeCequence,
    sdk: aws_config::SdkConfig,
    logs: aws_sdk_cloudwatchlogs::Client,
    env: std::collections::HashMap<String, String>,
}

async fn bed() -> Bed {
    bed_with(FakeConfig::default()).await
}

async fn bed_with(fake_config: FakeConfig) -> Bed {
    let moto = MotoServer::start();
    let fake = FakeCequence::start_with(fake_config, 0);
    let sdk = moto.sdk_config("us-east-1").await;
    let logs = aws_sdk_cloudwatchlogs::Client::new(&sdk);
    let arn = create_secret(&sdk, "test-secret").await;
    create_state(&sdk).await;
    let env = env(&fake, &arn);
    Bed {
        moto,
        fake,
        sdk,
        logs,
        env,
    }
}

impl Bed {
    /// A fresh container: new clients, no in-memory token.
    fn container(&self) -> App {
        App::new(AwsClients::new(&self.sdk), Ok(config(&self.env)))
    }
}

async fn tick(app: &App) -> (Result<serde_json::Value, TickError>, Stats) {
    let stats = stats::shared("tick");
    let run = RunContext {
        account_id: "123456789012".into(),
        region: "us-east-1".into(),
        now_ms: now_ms(),
        deadline: None,
        request_id: "test-tick".into(),
        function_arn: String::new(),
    };
    let fwd = app.forwarding.as_ref().expect("configured");
    let result = tick::run_tick(&app.aws, fwd, &run, &stats).await;
    let mut s = lock(&stats).clone();
    s.finish(0);
    (result, s)
}

/// New events become readable once they are older than the settle lag (1 s in tests).
async fn settle() {
    tokio::time::sleep(std::time::Duration::from_millis(1_500)).await;
}

fn sorted(v: Vec<String>) -> Vec<String> {
    let mut v = v;
    v.sort();
    v
}

fn assert_exactly(fake: &FakeCequence, expected: &[String]) {
    let got = received_paths(fake);
    assert!(
        fake.duplicate_ids().is_empty(),
        "duplicates: {:?}",
        fake.duplicate_ids()
    );
    assert_eq!(
        got.len(),
        expected.len(),
        "received {} of {}",
        got.len(),
        expected.len()
    );
    assert_eq!(sorted(got), sorted(expected.to_vec()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_event_is_delivered_once_and_the_token_is_shared_via_ssm() {
    let b = bed().await;
    let mut expected = seed_rest(&b.logs, 0, 3, 30_000).await;
    expected.extend(seed_http(&b.logs, 100, 5, 20_000).await);

    let first = b.container();
    let (r, s) = tick(&first).await;
    r.expect("first tick");
    assert_exactly(&b.fake, &expected);
    assert_eq!(s.log_group_count, 2);
    assert_eq!(s.total_transactions_parsed_from_streams, 8);
    // One batch per log group.
    assert_eq!(s.successful_batches, 2);
    assert_eq!(s.total_events_fetched, 3 * 13 + 5);
    assert_eq!(s.token_source, "auth");
    assert!(s.state_saves >= 2, "{}", s.state_saves);
    // Each save is measured: at least the key, version and cursor of the group.
    assert!(
        s.state_write_bytes >= s.state_saves * 50,
        "{} bytes for {} saves",
        s.state_write_bytes,
        s.state_saves
    );
    assert_eq!(s.state_spilled_bytes, 0);
    assert_eq!(
        b.fake.counters().gzip_requests,
        2,
        "both batches are sent gzip-compressed"
    );

    // The token is cached as a SecureString with its expiry.
    let ssm = aws_sdk_ssm::Client::new(&b.sdk);
    let p = ssm
        .get_parameter()
        .name("/cequence/apigw/test/token")
        .with_decryption(true)
        .send()
        .await
        .unwrap();
    let p = p.parameter().unwrap();
    assert_eq!(
        p.r#type(),
        Some(&aws_sdk_ssm::types::ParameterType::SecureString)
    );
    let cached: serde_json::Value = serde_json::from_str(p.value().unwrap()).unwrap();
    assert!(cached["expires_at"].as_i64().unwrap() > now_ms() / 1000 + 1_000);

    // Same container, nothing new: windows do not overlap, so nothing is read again.
    let (r, s) = tick(&first).await;
    r.expect("second tick");
    assert_exactly(&b.fake, &expected);
    assert_eq!(s.total_events_fetched, 0);
    assert_eq!(s.total_batches, 0);

    // A new container delivers new events with the token from SSM, not a new one.
    expected.extend(seed_http(&b.logs, 200, 4, 0).await);
    settle().await;
    let second = b.container();
    let (r, s) = tick(&second).await;
    r.expect("tick in a new container");
    assert_exactly(&b.fake, &expected);
    assert_eq!(s.token_source, "ssm");
    assert_eq!(b.fake.counters().token_requests, 1);
    drop(b.moto);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edge_outage_delays_data_but_loses_and_duplicates_nothing() {
    let b = bed().await;
    let app = b.container();
    let mut expected = seed_rest(&b.logs, 0, 5, 40_000).await;
    expected.extend(seed_http(&b.logs, 1_000, 300, 40_000).await);
    let (r, s) = tick(&app).await;
    r.expect("tick before the outage");
    // REST: 5; HTTP: 250 + 50.
    assert_eq!(s.successful_batches, 3);
    assert_exactly(&b.fake, &expected);

    // Outage: every post answers 500; new traffic keeps arriving. It is spooled, the
    // tick succeeds (a failed invocation would only be retried from scratch).
    b.fake.fail_next(u32::MAX);
    let during: Vec<String> = [
        seed_rest(&b.logs, 5, 5, 0).await,
        seed_http(&b.logs, 2_000, 300, 0).await,
    ]
    .concat();
    settle().await;
    let (r, s) = tick(&app).await;
    r.expect("a tick during an outage still succeeds");
    assert_eq!(s.transactions_spooled, during.len() as u64);
    assert!(
        s.total_cequence_edge_retries >= 3,
        "{}",
        s.total_cequence_edge_retries
    );
    assert!(s.state_saves > 0);
    assert_exactly(&b.fake, &expected);
    assert!(!spool_keys(&b.sdk, "spool/").await.is_empty());

    // Recovery, with more traffic: the spool is replayed, everything arrives once.
    b.fake.fail_next(0);
    expected.extend(during.clone());
    expected.extend(seed_http(&b.logs, 3_000, 50, 0).await);
    settle().await;
    let (r, s) = tick(&app).await;
    r.expect("tick after the outage");
    assert_exactly(&b.fake, &expected);
    assert_eq!(s.transactions_replayed, during.len() as u64);
    assert!(spool_keys(&b.sdk, "spool/").await.is_empty());
    println!(
        "edge outage run: seeded {} requests, fake edge received {} transactions ({} unique, {} duplicates)",
        expected.len(),
        b.fake.received_ids().len(),
        b.fake.received_ids().iter().collect::<BTreeSet<_>>().len(),
        b.fake.duplicate_ids().len()
    );
}

/// The Edge down and the spool unwritable too (its bucket gone): nothing is acknowledged. The
/// run counts the transactions as undelivered and leaves the checkpoint where it was, so the
/// next run, with both back, delivers every one of them, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_edge_down_and_the_spool_unwritable_nothing_is_lost_or_sent_twice() {
    let b = bed().await;
    let app = b.container();
    let mut expected = seed_http(&b.logs, 0, 20, 40_000).await;
    tick(&app).await.0.expect("tick before the outage");
    assert_exactly(&b.fake, &expected);

    let s3 = s3(&b.sdk);
    for key in spool_keys(&b.sdk, "").await {
        s3.delete_object()
            .bucket(SPOOL_BUCKET)
            .key(key)
            .send()
            .await
            .unwrap();
    }
    s3.delete_bucket()
        .bucket(SPOOL_BUCKET)
        .send()
        .await
        .unwrap();
    b.fake.fail_next(u32::MAX);
    let during = seed_http(&b.logs, 2_000, 30, 0).await;
    settle().await;
    let (r, s) = tick(&app).await;
    println!(
        "tick with the edge down and no spool: {:?}",
        r.as_ref().err()
    );
    assert_eq!(
        s.transactions_undelivered,
        during.len() as u64,
        "{:?}",
        s.errors
    );
    assert_eq!(s.transactions_spooled, 0);
    assert_eq!(s.transactions_delivered, 0);
    assert_exactly(&b.fake, &expected);

    s3.create_bucket()
        .bucket(SPOOL_BUCKET)
        .send()
        .await
        .unwrap();
    b.fake.fail_next(0);
    expected.extend(during);
    settle().await;
    let (r, s) = tick(&app).await;
    r.expect("tick after the outage");
    assert_eq!(s.transactions_undelivered, 0);
    assert_exactly(&b.fake, &expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edge_without_gzip_gets_plain_json_after_one_415() {
    let b = bed_with(FakeConfig {
        reject_gzip: true,
        ..FakeConfig::default()
    })
    .await;
    let app = b.container();
    let mut expected = seed_http(&b.logs, 0, 3, 30_000).await;
    tick(&app).await.0.expect("first tick");
    expected.extend(seed_http(&b.logs, 10, 3, 0).await);
    settle().await;
    tick(&app).await.0.expect("second tick");
    assert_exactly(&b.fake, &expected);
    let c = b.fake.counters();
    // One refused gzip post; the container remembers and sends plain JSON from then on.
    assert_eq!((c.gzip_requests, c.gzip_rejected), (1, 1));
    assert_eq!(c.edge_accepted, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_token_is_refreshed_once_on_401() {
    let b = bed().await;
    let app = b.container();
    let mut expected = seed_http(&b.logs, 0, 3, 30_000).await;
    tick(&app).await.0.expect("first tick");
    assert_eq!(b.fake.counters().tokens_issued, 1);

    // The server now considers the token expired although its `exp` says otherwise.
    b.fake.expire_tokens();
    expected.extend(seed_http(&b.logs, 10, 3, 0).await);
    settle().await;
    let (r, s) = tick(&app).await;
    r.expect("tick with an expired token");
    let c = b.fake.counters();
    assert_eq!(c.edge_unauthorized, 1);
    assert_eq!(c.tokens_issued, 2);
    assert_eq!(s.successful_batches, 1);
    assert_exactly(&b.fake, &expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rest_request_split_across_ticks_is_held_until_complete() {
    let b = bed().await;
    let app = b.container();
    let id = "5a1b2c3d-0000-4000-8000-000000000042";
    let base = now_ms() - 3_000;
    let lines = rest_request_lines(id, 42, true);
    let (head, tail) = lines.split_at(lines.len() - 1);
    let head: Vec<(i64, String)> = head
        .iter()
        .enumerate()
        .map(|(i, l)| (base + i as i64, l.clone()))
        .collect();
    put_events(&b.logs, &rest_group(), "part-1", &head).await;
    let (r, s) = tick(&app).await;
    r.expect("tick with an incomplete request");
    assert_eq!(s.pending_requests, 1);
    assert!(b.fake.received().is_empty());

    // The last line is logged later (after the first window), read by the next tick from a
    // new container: the open request came back from the state table.
    let later = now_ms();
    put_events(
        &b.logs,
        &rest_group(),
        "part-2",
        &[(later, tail[0].clone())],
    )
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(1_200)).await;
    let (r, s) = tick(&b.container()).await;
    r.expect("tick completing the request");
    assert_eq!(s.pending_requests, 0);
    assert_exactly(&b.fake, &["/pets/42".to_string()]);
    let t = &b.fake.received()[0];
    assert!(t["txn-meta-data"]["source_info"]
        .get("incomplete")
        .is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscription_payload_goes_through_the_same_pipeline() {
    let b = bed().await;
    let app = b.container();
    let ts = now_ms();
    let payload = serde_json::json!({
        "messageType": "DATA_MESSAGE",
        "owner": "123456789012",
        "logGroup": http_group(),
        "logStream": "s",
        "subscriptionFilters": ["cequence"],
        "logEvents": (0..4).map(|n| serde_json::json!({
            "id": format!("sub-{n}"), "timestamp": ts + n, "message": http_line(500 + n as usize, ts)
        })).collect::<Vec<_>>()
    });
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(payload.to_string().as_bytes()).unwrap();
    let data = base64::engine::general_purpose::STANDARD.encode(gz.finish().unwrap());
    let event = serde_json::json!({"awslogs": {"data": data}}).to_string();
    let out = handler::handle(&app, &event, InvocationMeta::default())
        .await
        .expect("subscription invocation");
    assert_eq!(out["delivered"], 4);
    let expected: Vec<String> = (500..504).map(|n| format!("/items/{n}")).collect();
    assert_exactly(&b.fake, &expected);
    // Delivered again (CloudWatch Logs delivers at least once): not sent again.
    let out = handler::handle(&app, &event, InvocationMeta::default())
        .await
        .expect("repeated subscription invocation");
    assert_eq!(out["duplicate"], true);
    assert_exactly(&b.fake, &expected);
}

/// moto never throttles, so CloudWatch Logs is mocked here (aws-smithy-mocks): two
/// ThrottlingExceptions, a page with a nextToken, a 503, then the last page.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttled_and_failing_filter_log_events_calls_are_retried_and_counted() {
    use aws_sdk_cloudwatchlogs::error::ErrorMetadata;
    use aws_sdk_cloudwatchlogs::operation::filter_log_events::{
        FilterLogEventsError, FilterLogEventsOutput,
    };
    use aws_sdk_cloudwatchlogs::types::FilteredLogEvent;
    use aws_smithy_mocks::{mock, mock_client, RuleMode};

    let b = bed().await;
    let ts = now_ms() - 10_000;
    let page = move |range: std::ops::Range<usize>, token: Option<&str>| {
        let events: Vec<FilteredLogEvent> = range
            .map(|n| {
                FilteredLogEvent::builder()
                    .event_id(format!("ev-{n}"))
                    .timestamp(ts + n as i64)
                    .log_stream_name("s")
                    .message(http_line(n, ts))
                    .build()
            })
            .collect();
        FilterLogEventsOutput::builder()
            .set_events(Some(events))
            .set_next_token(token.map(str::to_string))
            .build()
    };
    let throttled = || {
        FilterLogEventsError::generic(
            ErrorMetadata::builder()
                .code("ThrottlingException")
                .message("Rate exceeded")
                .build(),
        )
    };
    let rule = mock!(aws_sdk_cloudwatchlogs::Client::filter_log_events)
        .sequence()
        .error(throttled)
        .times(2)
        .output(move || page(0..3, Some("page-2")))
        .http_status(503, None)
        .output(move || page(3..5, None))
        .build();
    let logs = mock_client!(
        aws_sdk_cloudwatchlogs,
        RuleMode::Sequential,
        &[&rule],
        |c| c.retry_config(aws_sdk_cloudwatchlogs::config::retry::RetryConfig::disabled())
    );

    let mut env = b.env.clone();
    env.insert("CEQUENCE_LOG_GROUPS".into(), http_group());
    let app = App::new(AwsClients::with_logs_client(&b.sdk, logs), Ok(config(&env)));
    let (r, s) = tick(&app).await;
    r.expect("tick with throttling");
    assert_eq!(rule.num_calls(), 5);
    assert_eq!(s.total_cloudwatch_fetch_attempts, 5);
    assert_eq!(s.total_cloudwatch_retries, 3);
    assert_eq!(s.total_cloudwatch_successes, 2);
    assert_eq!(s.total_cloudwatch_failures, 0);
    assert_eq!(s.total_pages, 2);
    assert_eq!(s.additional_pages_fetched, 1);
    assert_eq!(s.cloudwatch_statuses.get("200"), Some(&2));
    assert_eq!(s.cloudwatch_statuses.get("503"), Some(&1));
    assert_eq!(s.cloudwatch_statuses.get("ThrottlingException"), Some(&2));
    assert_eq!(s.total_events_fetched, 5);
    let expected: Vec<String> = (0..5).map(|n| format!("/items/{n}")).collect();
    assert_exactly(&b.fake, &expected);
}

/// Without `CEQUENCE_LOG_GROUPS` the tick asks the stage-logging library: a REST stage
/// deployed after the stack is captured on the next tick, and its execution logs are read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tick_discovers_and_captures_rest_stages() {
    let b = bed().await;
    let apigw = aws_sdk_apigateway::Client::new(&b.sdk);
    let api_id = cq_test_support::seed::rest_api(&apigw, "pets", &["prod"]).await;

    let group = cq_stage_logging::rest_execution_log_group(&api_id, "prod");
    let base = now_ms() - 20_000;
    let events: Vec<(i64, String)> = rest_request_lines("d15c0-0001", 7, true)
        .into_iter()
        .enumerate()
        .map(|(i, l)| (base + i as i64, l))
        .collect();
    put_events(&b.logs, &group, "s1", &events).await;

    let mut env = b.env.clone();
    env.remove("CEQUENCE_LOG_GROUPS");
    // REST execution logging needs the account's API Gateway CloudWatch role (the template's).
    env.insert(
        "CEQUENCE_APIGW_CLOUDWATCH_ROLE_ARN".into(),
        "arn:aws:iam::123456789012:role/cequence-apigw-cloudwatch".into(),
    );
    let app = App::new(AwsClients::new(&b.sdk), Ok(config(&env)));
    let (r, s) = tick(&app).await;
    r.expect("tick with discovery");
    assert_eq!(s.log_group_count, 1, "{s:?}");
    assert_exactly(&b.fake, &["/pets/7".to_string()]);

    let stages = cq_stage_logging::discover(&app.aws.stage).await.unwrap();
    assert!(stages.iter().all(|st| st.captured), "{stages:?}");
}

/// Issue 9: 500 captured stages in one region. Every group's checkpoint is its own item, so
/// the state never hits a size limit; each is loaded (batches of 100) and saved.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_hundred_stages_keep_their_state_without_error() {
    let b = bed().await;
    let mut expected = seed_rest(&b.logs, 0, 3, 30_000).await;
    expected.extend(seed_http(&b.logs, 100, 5, 20_000).await);
    let mut groups: Vec<String> = (0..498).map(|n| format!("api{n:05}/prod")).collect();
    groups.push(format!("{REST_API}/{REST_STAGE}"));
    groups.push(http_group());
    let mut env = b.env.clone();
    env.insert("CEQUENCE_LOG_GROUPS".into(), groups.join(","));
    // moto answers at once; the real quota would make this tick take 20 s.
    env.insert("CEQUENCE_FILTER_LOG_EVENTS_TPS".into(), "100".into());
    let app = App::new(AwsClients::new(&b.sdk), Ok(config(&env)));
    let (r, s) = tick(&app).await;
    r.expect("tick over 500 groups");
    assert!(s.errors.is_empty(), "{:?}", s.errors);
    assert_eq!(s.log_group_count, 500);
    assert!(s.state_saves >= 500, "{}", s.state_saves);
    assert_exactly(&b.fake, &expected);

    let ddb = aws_sdk_dynamodb::Client::new(&b.sdk);
    let items = ddb
        .scan()
        .table_name(STATE_TABLE)
        .select(aws_sdk_dynamodb::types::Select::Count)
        .send()
        .await
        .unwrap();
    // 500 group states (the lease is released).
    assert_eq!(items.count(), 500);
    // A second tick loads all 500 and finds nothing new.
    let (r, s) = tick(&app).await;
    r.expect("second tick over 500 groups");
    assert!(s.errors.is_empty(), "{:?}", s.errors);
    assert_eq!(s.total_batches, 0);
}

/// Issue 9, push through Kinesis on moto (moto stores subscription filters but invokes
/// nothing, so the test hands the function the batch the event source mapping would).
/// With `CEQUENCE_INGESTION=push` the tick polls what was logged before, subscribes the group
/// and from the filter's creation on the group's events come through Kinesis. A request
/// logged before the switch but delivered through Kinesis too (CloudWatch Logs delivers what
/// it ingests after the filter exists) is sent once, by the poll.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_through_kinesis_hands_over_from_polling_without_doubles() {
    let b = bed().await;
    let kinesis = aws_sdk_kinesis::Client::new(&b.sdk);
    kinesis
        .create_stream()
        .stream_name("cequence-push")
        .shard_count(1)
        .send()
        .await
        .expect("create stream");
    let stream_arn = kinesis
        .describe_stream_summary()
        .stream_name("cequence-push")
        .send()
        .await
        .unwrap()
        .stream_description_summary()
        .unwrap()
        .stream_arn()
        .to_string();
    let mut env = b.env.clone();
    env.insert(
        "CEQUENCE_LOG_GROUPS".into(),
        format!("{REST_API}/{REST_STAGE}"),
    );
    env.insert("CEQUENCE_INGESTION".into(), "push".into());
    env.insert("CEQUENCE_PUSH_DESTINATION".into(), stream_arn.clone());
    env.insert(
        "CEQUENCE_PUSH_ROLE_ARN".into(),
        "arn:aws:iam::123456789012:role/cequence-push".into(),
    );
    let app = App::new(AwsClients::new(&b.sdk), Ok(config(&env)));

    // Before the switch: polled.
    let mut expected = seed_rest(&b.logs, 0, 3, 30_000).await;
    let (r, s) = tick(&app).await;
    r.expect("tick that subscribes");
    assert_exactly(&b.fake, &expected);
    assert_eq!(s.pushed_groups, 1, "{s:?}");
    let logs = aws_sdk_cloudwatchlogs::Client::new(&b.sdk);
    let filters = logs
        .describe_subscription_filters()
        .log_group_name(rest_group())
        .send()
        .await
        .unwrap();
    let ours = &filters.subscription_filters()[0];
    assert_eq!(
        ours.filter_name(),
        Some(cq_stage_logging::SUBSCRIPTION_FILTER_NAME)
    );
    assert_eq!(ours.destination_arn(), Some(stream_arn.as_str()));
    let at = ours.creation_time().unwrap();

    // After it: a request logged after the filter's creation arrives through Kinesis; one
    // logged just before it (ingested late) arrives through Kinesis as well and in the poll.
    let lines = |id: &str, n: usize, base: i64| -> Vec<(i64, String)> {
        rest_request_lines(id, n, true)
            .into_iter()
            .enumerate()
            .map(|(i, l)| (base + i as i64, l))
            .collect()
    };
    let before = lines("0b1f0000-0000-4000-8000-000000000050", 50, at - 500);
    let after = lines("0a1f0000-0000-4000-8000-000000000051", 51, at + 50);
    put_events(&b.logs, &rest_group(), "late", &before).await;
    let payload = |stream: &str, events: &[(i64, String)]| {
        let json = serde_json::json!({
            "messageType": "DATA_MESSAGE",
            "owner": "123456789012",
            "logGroup": rest_group(),
            "logStream": stream,
            "subscriptionFilters": [cq_stage_logging::SUBSCRIPTION_FILTER_NAME],
            "logEvents": events.iter().enumerate().map(|(i, (ts, m))| serde_json::json!({
                "id": format!("{stream}-{i}"), "timestamp": ts, "message": m
            })).collect::<Vec<_>>()
        });
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(json.to_string().as_bytes()).unwrap();
        base64::engine::general_purpose::STANDARD.encode(gz.finish().unwrap())
    };
    let record = |seq: u64, data: String| {
        serde_json::json!({
            "kinesis": {"kinesisSchemaVersion": "1.0", "partitionKey": "p",
                        "sequenceNumber": format!("4959033827149025660855969253836157109592157598913658{seq:04}"),
                        "data": data, "approximateArrivalTimestamp": 1545084650.987},
            "eventSource": "aws:kinesis", "eventVersion": "1.0",
            "eventID": format!("shardId-000000000000:{seq}"), "eventName": "aws:kinesis:record",
            "invokeIdentityArn": "arn:aws:iam::123456789012:role/x", "awsRegion": "us-east-1",
            "eventSourceARN": stream_arn.clone()
        })
    };
    let batch = serde_json::json!({"Records": [
        record(1, payload("late", &before)),
        record(2, payload("s2", &after)),
    ]})
    .to_string();
    let meta = InvocationMeta {
        request_id: "kinesis-1".into(),
        invoked_function_arn: "arn:aws:lambda:us-east-1:123456789012:function:f".into(),
        deadline: None,
    };
    let out = handler::handle(&app, &batch, meta.clone())
        .await
        .expect("kinesis batch");
    assert_eq!(out["batchItemFailures"], serde_json::json!([]));
    // The mapping delivers the batch again (a retry): nothing is sent twice.
    handler::handle(&app, &batch, meta)
        .await
        .expect("kinesis batch again");
    expected.push("/pets/51".into());
    assert_exactly(&b.fake, &expected);

    // The poll reads up to the switch (and a little past it, for its own open requests).
    tokio::time::sleep(std::time::Duration::from_millis(1_500)).await;
    let (r, _) = tick(&app).await;
    r.expect("tick after the switch");
    expected.push("/pets/50".into());
    assert_exactly(&b.fake, &expected);
}

/// A JSON document of at least `bytes` bytes.
fn json_body_of(bytes: usize) -> String {
    let mut items = Vec::new();
    let mut size = 0;
    while size < bytes {
        let item = serde_json::json!({
            "sku": format!("sku-{:06}", items.len()),
            "note": "a \"quoted\" note",
        });
        size += item.to_string().len() + 1;
        items.push(item);
    }
    serde_json::json!({ "items": items }).to_string()
}

/// The `<text>` of each line API Gateway logs for `POST /orders/{n}` with `body`.
fn post_texts(request_id: &str, n: usize, body: &str) -> Vec<String> {
    vec![
        format!("Extended Request Id: Dl1v{n:08}="),
        format!("Starting execution for request: {request_id}"),
        format!("HTTP Method: POST, Resource Path: /orders/{n}"),
        format!(
            "Method request headers: {{Content-Type=application/json, Host={REST_API}.execute-api.us-east-1.amazonaws.com, X-Forwarded-For=203.0.113.7}}"
        ),
        format!("Method request body before transformations: {body}"),
        format!("Endpoint request body after transformations: {body}"),
        "Received response. Status: 201, Integration latency: 9 ms".to_string(),
        format!("Method response body after transformations: {{\"order\":{n}}}"),
        "Method response headers: {Content-Type=application/json}".to_string(),
        "Successfully completed execution".to_string(),
        "Method completed with status: 201".to_string(),
    ]
}

/// One event as a CloudWatch Logs delivery of REST execution logs writes it: `json` with the
/// whole line, `json` with the text and the request id apart, or `plain`.
fn delivered_record(format: &str, request_id: &str, text: &str) -> String {
    match format {
        "json-line" => serde_json::json!({
            "message": format!("({request_id}) {text}"),
            "timestamp": now_ms(),
        })
        .to_string(),
        "json-text" => serde_json::json!({
            "requestId": request_id,
            "message": text,
            "level": "INFO",
        })
        .to_string(),
        _ => format!("({request_id}) {text}"),
    }
}

fn body_of(t: &serde_json::Value, side: &str) -> Vec<u8> {
    let body = &t[side]["body"];
    let data = base64::engine::general_purpose::STANDARD
        .decode(body["data"].as_str().expect("data"))
        .expect("base64");
    assert_eq!(body["length"].as_u64(), Some(data.len() as u64), "{side}");
    data
}

/// REST execution logs delivered by a CloudWatch Logs delivery (events up to 1 MB) into the
/// stage's usual group, beside standard logging's streams: the tick polls them and the Edge
/// gets the 50 KB bodies whole, from `json` records and `plain` lines alike.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delivered_execution_logs_reach_the_edge_with_their_bodies_whole() {
    let b = bed().await;
    let app = b.container();
    let body = json_body_of(50 * 1024);
    assert!(body.len() >= 50 * 1024);
    let mut expected = seed_rest(&b.logs, 0, 1, 30_000).await;
    expected.extend(seed_http(&b.logs, 100, 2, 30_000).await);
    let base = now_ms() - 20_000;
    let formats = ["json-line", "json-text", "plain"];
    let mut ids = Vec::new();
    for (k, format) in formats.iter().enumerate() {
        let n = 700 + k;
        let id = format!("de11e7ed-0000-4000-8000-{n:012}");
        let events: Vec<(i64, String)> = post_texts(&id, n, &body)
            .iter()
            .enumerate()
            .map(|(i, text)| {
                (
                    base + (k * 100 + i) as i64,
                    delivered_record(format, &id, text),
                )
            })
            .collect();
        // Each event is one record, well over standard logging's 1 KB.
        assert!(events[4].1.len() > 50 * 1024, "{format}");
        put_events(
            &b.logs,
            &rest_group(),
            &format!("delivery-{format}"),
            &events,
        )
        .await;
        expected.push(format!("/orders/{n}"));
        ids.push((id, n));
    }

    let (r, s) = tick(&app).await;
    r.expect("tick over delivered records");
    assert!(s.errors.is_empty(), "{:?}", s.errors);
    assert_exactly(&b.fake, &expected);
    assert!(
        b.fake.schema_errors().is_empty(),
        "{:?}",
        b.fake.schema_errors()
    );
    let received = b.fake.received();
    for ((id, n), format) in ids.iter().zip(formats) {
        let t = received
            .iter()
            .find(|t| t["transaction-id"] == id.as_str())
            .unwrap_or_else(|| panic!("no transaction for the {format} request"));
        assert_eq!(body_of(t, "request"), body.as_bytes(), "{format}");
        assert_eq!(t["request"]["http-method"], "POST");
        assert_eq!(t["response"]["status-code"], "201");
        assert_eq!(
            body_of(t, "response"),
            format!("{{\"order\":{n}}}").as_bytes(),
            "{format}"
        );
    }
}

/// The same records pushed by a subscription (straight to the function) go through the
/// same unwrapping.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delivered_json_records_pushed_by_a_subscription_keep_their_bodies_whole() {
    let b = bed().await;
    let app = b.container();
    // A group of its own: the push path caches each group's channel for the process, and
    // the Kinesis handoff test switches `rest_group()` while this one may run.
    let group = lambda_forwarder::config::LogGroupSpec::rest("de11veredjs", "prod").log_group;
    let body = json_body_of(50 * 1024);
    let id = "de11e7ed-0000-4000-8000-000000000800";
    let ts = now_ms();
    let events = post_texts(id, 800, &body)
        .iter()
        .enumerate()
        .map(|(i, text)| {
            let format = if i % 2 == 0 { "json-text" } else { "json-line" };
            serde_json::json!({
                "id": format!("sub-{i}"),
                "timestamp": ts + i as i64,
                "message": delivered_record(format, id, text),
            })
        })
        .collect();
    let event = subscription_event(&group, "delivery-json", events);
    let out = handler::handle(&app, &event, InvocationMeta::default())
        .await
        .expect("subscription invocation");
    assert_eq!(out["delivered"], 1, "{out}");
    assert_exactly(&b.fake, &["/orders/800".to_string()]);
    let t = &b.fake.received()[0];
    assert_eq!(body_of(t, "request"), body.as_bytes());
    assert_eq!(body_of(t, "response"), br#"{"order":800}"#);
}

/// A body that does not compress (a fragment item would otherwise hold it easily).
fn incompressible_body(bytes: usize) -> String {
    let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
    let raw: Vec<u8> = (0..bytes * 3 / 4)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed as u8
        })
        .collect();
    format!(
        "{{\"blob\":\"{}\"}}",
        base64::engine::general_purpose::STANDARD.encode(raw)
    )
}

fn subscription_event(group: &str, stream: &str, events: Vec<serde_json::Value>) -> String {
    let payload = serde_json::json!({
        "messageType": "DATA_MESSAGE",
        "owner": "123456789012",
        "logGroup": group,
        "logStream": stream,
        "subscriptionFilters": ["cequence"],
        "logEvents": events,
    });
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(payload.to_string().as_bytes()).unwrap();
    let data = base64::engine::general_purpose::STANDARD.encode(gz.finish().unwrap());
    serde_json::json!({"awslogs": {"data": data}}).to_string()
}

/// A pushed request split across two payloads whose first half carries a 600 KB body that
/// does not compress: the fragment is kept in the spool bucket (a DynamoDB item holds at most
/// 400 KB), the second half completes it, and the Edge gets the body whole, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_split_pushed_request_with_a_body_larger_than_an_item_arrives_whole() {
    let b = bed().await;
    let app = b.container();
    let group = lambda_forwarder::config::LogGroupSpec::rest("b1gfragmnt", "prod").log_group;
    let body = incompressible_body(600 * 1024);
    let id = "b16f7a90-0000-4000-8000-000000000900";
    let ts = now_ms();
    let texts = post_texts(id, 900, &body);
    let events: Vec<serde_json::Value> = texts
        .iter()
        .enumerate()
        .map(|(i, text)| {
            serde_json::json!({
                "id": format!("big-{i}"),
                "timestamp": ts + i as i64,
                "message": format!("({id}) {text}"),
            })
        })
        .collect();
    // The request body and the lines before it, then the rest (as two streams' payloads).
    let (first, second) = events.split_at(6);
    let out = handler::handle(
        &app,
        &subscription_event(&group, "delivery-a", first.to_vec()),
        InvocationMeta::default(),
    )
    .await
    .expect("first half");
    assert_eq!(out["delivered"], 0, "{out}");
    let kept = spool_keys(&b.sdk, "state/fragments/").await;
    assert_eq!(
        kept.len(),
        1,
        "the big fragment is in the spool bucket: {kept:?}"
    );

    let out = handler::handle(
        &app,
        &subscription_event(&group, "delivery-b", second.to_vec()),
        InvocationMeta::default(),
    )
    .await
    .expect("second half");
    assert_eq!(out["delivered"], 1, "{out}");
    assert_exactly(&b.fake, &["/orders/900".to_string()]);
    let t = &b.fake.received()[0];
    assert_eq!(body_of(t, "request"), body.as_bytes());
}
