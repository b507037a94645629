//! Shared by the forwarder's integration tests: realistic log events seeded into moto's
//! CloudWatch Logs, the Secrets Manager secret, and a configuration pointing at the fakes.

#![allow(dead_code)]

use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

use aws_sdk_cloudwatchlogs::types::InputLogEvent;
use cq_test_support::FakeCequence;
use lambda_forwarder::config::{Config, LogGroupSpec};

pub const REST_API: &str = "abc123defg";
pub const REST_STAGE: &str = "prod";
pub const HTTP_API: &str = "xyz789http";
pub const HTTP_STAGE: &str = "live";

pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

pub fn rest_group() -> String {
    LogGroupSpec::rest(REST_API, REST_STAGE).log_group
}

pub fn http_group() -> String {
    format!("/aws/apigateway/cequence/{HTTP_API}/{HTTP_STAGE}")
}

/// The execution-log lines API Gateway writes for one REST request (the formats in docs/forwarder.md).
pub fn rest_request_lines(request_id: &str, n: usize, complete: bool) -> Vec<String> {
    let mut lines = vec![
        format!("Extended Request Id: Ox4b{n:08}="),
        format!("Starting execution for request: {request_id}"),
        format!("HTTP Method: GET, Resource Path: /pets/{n}"),
        format!("Method request path: {{id={n}}}"),
        "Method request query string: {}".to_string(),
        format!(
            "Method request headers: {{Accept=application/json, Host={REST_API}.execute-api.us-east-1.amazonaws.com, User-Agent=curl/8.4.0, X-Forwarded-For=203.0.113.7, 130.176.1.1}}"
        ),
        "Method request body before transformations: ".to_string(),
        format!("Endpoint request URI: http://petstore.example.com/pets/{n}"),
        "Received response. Status: 200, Integration latency: 12 ms".to_string(),
        format!("Method response body after transformations: {{\"id\":{n},\"type\":\"dog\"}}"),
        "Method response headers: {Content-Type=application/json, X-Amzn-Trace-Id=Root=1-abc}"
            .to_string(),
        "Successfully completed execution".to_string(),
    ];
    if complete {
        lines.push("Method completed with status: 200".to_string());
    }
    lines
        .into_iter()
        .map(|l| format!("({request_id}) {l}"))
        .collect()
}

/// One HTTP API access-log line (the stage-logging library's JSON format).
pub fn http_line(n: usize, epoch_ms: i64) -> String {
    serde_json::json!({
        "requestTimeEpoch": epoch_ms.to_string(),
        "requestId": format!("Http{n:08}="),
        "accountId": "123456789012",
        "stage": HTTP_STAGE,
        "ip": "198.51.100.23",
        "host": format!("{HTTP_API}.execute-api.us-east-1.amazonaws.com"),
        "protocol": "HTTP/1.1",
        "httpMethod": "GET",
        "path": format!("/items/{n}"),
        "status": "200",
        "apiId": HTTP_API,
        "routeKey": "GET /items/{id}",
        "responseLength": "17",
        "userAgent": "curl/8.4.0",
        "integrationLatency": "5"
    })
    .to_string()
}

pub async fn ensure_group(logs: &aws_sdk_cloudwatchlogs::Client, group: &str) {
    let _ = logs.create_log_group().log_group_name(group).send().await;
}

/// Put `(timestamp, message)` events into a new stream of `group`.
pub async fn put_events(
    logs: &aws_sdk_cloudwatchlogs::Client,
    group: &str,
    stream: &str,
    events: &[(i64, String)],
) {
    ensure_group(logs, group).await;
    logs.create_log_stream()
        .log_group_name(group)
        .log_stream_name(stream)
        .send()
        .await
        .expect("create stream");
    for chunk in events.chunks(5_000) {
        let batch: Vec<InputLogEvent> = chunk
            .iter()
            .map(|(ts, m)| {
                InputLogEvent::builder()
                    .timestamp(*ts)
                    .message(m)
                    .build()
                    .unwrap()
            })
            .collect();
        logs.put_log_events()
            .log_group_name(group)
            .log_stream_name(stream)
            .set_log_events(Some(batch))
            .send()
            .await
            .expect("put events");
    }
}

/// Seed REST requests `first..first+count` (one stream each, as API Gateway does per
/// request burst) ending `age_ms` ago; returns their paths.
pub async fn seed_rest(
    logs: &aws_sdk_cloudwatchlogs::Client,
    first: usize,
    count: usize,
    age_ms: i64,
) -> Vec<String> {
    let base = now_ms() - age_ms;
    let mut paths = Vec::new();
    for n in first..first + count {
        let id = format!("8f2d6c1e-0000-4000-8000-{n:012}");
        let events: Vec<(i64, String)> = rest_request_lines(&id, n, true)
            .into_iter()
            .enumerate()
            .map(|(i, l)| (base + i as i64, l))
            .collect();
        put_events(logs, &rest_group(), &format!("rest-{n}"), &events).await;
        paths.push(format!("/pets/{n}"));
    }
    paths
}

/// Seed HTTP access-log lines `first..first+count` in one stream; returns their paths.
pub async fn seed_http(
    logs: &aws_sdk_cloudwatchlogs::Client,
    first: usize,
    count: usize,
    age_ms: i64,
) -> Vec<String> {
    let base = now_ms() - age_ms;
    let events: Vec<(i64, String)> = (first..first + count)
        .map(|n| (base + (n - first) as i64, http_line(n, base)))
        .collect();
    put_events(logs, &http_group(), &format!("http-{first}"), &events).await;
    (first..first + count)
        .map(|n| format!("/items/{n}"))
        .collect()
}

/// Create the client secret in (moto's) Secrets Manager; returns its ARN.
pub async fn create_secret(sdk: &aws_config::SdkConfig, value: &str) -> String {
    let sm = aws_sdk_secretsmanager::Client::new(sdk);
    sm.create_secret()
        .name("cequence-client-secret")
        .secret_string(value)
        .send()
        .await
        .expect("create secret")
        .arn()
        .expect("secret arn")
        .to_string()
}

/// The function's environment for a run against `fake`, reading the two seeded groups.
pub fn env(fake: &FakeCequence, secret_arn: &str) -> HashMap<String, String> {
    [
        ("CEQUENCE_AUTH_ENDPOINT", fake.auth_endpoint()),
        ("CEQUENCE_EDGE_ENDPOINT", fake.edge_endpoint()),
        ("CEQUENCE_CLIENT_ID", "test-client".to_string()),
        ("CEQUENCE_CLIENT_SECRET_ARN", secret_arn.to_string()),
        (
            "CEQUENCE_TOKEN_PARAMETER",
            "/cequence/apigw/test/token".to_string(),
        ),
        ("CEQUENCE_STATE_TABLE", STATE_TABLE.to_string()),
        ("CEQUENCE_SPOOL_BUCKET", SPOOL_BUCKET.to_string()),
        // The seeded events are seconds old; production waits two minutes for late ones.
        ("CEQUENCE_SETTLE_LAG_MS", "1000".to_string()),
        (
            "CEQUENCE_LOG_GROUPS",
            format!("{REST_API}/{REST_STAGE},{}", http_group()),
        ),
        ("LOG_LEVEL", "debug".to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

pub fn config(env: &HashMap<String, String>) -> Config {
    Config::from_lookup(|k| env.get(k).cloned(), false).expect("valid test configuration")
}

pub const STATE_TABLE: &str = "cequence-forwarder-state";
pub const SPOOL_BUCKET: &str = "cequence-forwarder-spool";

/// The state table and spool bucket the stack creates, in moto.
pub async fn create_state(sdk: &aws_config::SdkConfig) {
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
    };
    let ddb = aws_sdk_dynamodb::Client::new(sdk);
    let attr = |n: &str| {
        AttributeDefinition::builder()
            .attribute_name(n)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .unwrap()
    };
    let key = |n: &str, t: KeyType| {
        KeySchemaElement::builder()
            .attribute_name(n)
            .key_type(t)
            .build()
            .unwrap()
    };
    ddb.create_table()
        .table_name(STATE_TABLE)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attr("pk"))
        .attribute_definitions(attr("sk"))
        .key_schema(key("pk", KeyType::Hash))
        .key_schema(key("sk", KeyType::Range))
        .send()
        .await
        .expect("create state table");
    let s3 = s3(sdk);
    s3.create_bucket()
        .bucket(SPOOL_BUCKET)
        .send()
        .await
        .expect("create spool bucket");
}

/// S3 on moto (path-style: moto on 127.0.0.1 cannot serve virtual-hosted bucket names).
pub fn s3(sdk: &aws_config::SdkConfig) -> aws_sdk_s3::Client {
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(sdk)
            .force_path_style(true)
            .build(),
    )
}

/// Keys in the spool bucket under `prefix`.
pub async fn spool_keys(sdk: &aws_config::SdkConfig, prefix: &str) -> Vec<String> {
    let s3 = s3(sdk);
    s3.list_objects_v2()
        .bucket(SPOOL_BUCKET)
        .prefix(prefix)
        .send()
        .await
        .expect("list spool")
        .contents()
        .iter()
        .filter_map(|o| o.key().map(str::to_string))
        .collect()
}

/// The `uri-query-fragment` of every received transaction.
pub fn received_paths(fake: &FakeCequence) -> Vec<String> {
    fake.received()
        .iter()
        .map(|t| {
            t["request"]["uri-query-fragment"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect()
}
