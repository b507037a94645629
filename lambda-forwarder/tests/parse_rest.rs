//! REST execution-log fixture → transactions, end to end through the public API.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use lambda_forwarder::pipeline::assemble::{Fed, RestAssembler};
use lambda_forwarder::pipeline::build::MAX_BODY_BYTES;
use lambda_forwarder::pipeline::filters::Filters;
use lambda_forwarder::pipeline::parse::{LogEvent, SourceContext};
use lambda_forwarder::pipeline::{build_finished, Counts};

use crate::fixture_file;
use fixture_file::{assemble_rest, load, Assembled, Built};

const A: &str = "8f2d6c1e-3b4a-4c5d-9e8f-0a1b2c3d4e5f"; // GET with query
const B: &str = "c47a1f0e-92d3-4b6e-8a57-1e2f3a4b5c6d"; // POST, body over 3 events
const C: &str = "1d9e8f7a-6b5c-4d3e-a2f1-0e9d8c7b6a5f"; // truncated body, browser headers
const D: &str = "5b6a7c8d-9e0f-4a1b-8c2d-3e4f5a6b7c8d"; // static .PNG
const E: &str = "e0f1a2b3-c4d5-4e6f-8a9b-0c1d2e3f4a5b"; // no `Method completed` line

fn ctx() -> SourceContext {
    SourceContext {
        account_id: "123456789012".into(),
        region: "us-east-1".into(),
        api_id: "abc123defg".into(),
        stage: "prod".into(),
        log_group: "API-Gateway-Execution-Logs_abc123defg/prod".into(),
    }
}

fn assembled() -> (Vec<LogEvent>, Assembled) {
    let events = load("rest_execution.log", "rest");
    let out = assemble_rest(&events, &ctx(), &Filters::default(), None);
    (events, out)
}

fn built<'a>(out: &'a Assembled, id: &str) -> &'a Built {
    out.built
        .iter()
        .find(|b| b.transaction.transaction_id == id)
        .unwrap_or_else(|| panic!("no transaction {id}"))
}

fn decode(data: &str) -> String {
    String::from_utf8(STANDARD.decode(data).expect("base64")).expect("utf-8")
}

/// `name:<base64>` → (name, decoded value).
fn headers(list: &[String]) -> Vec<(String, String)> {
    list.iter()
        .map(|h| {
            let (name, value) = h.split_once(':').expect("name:value");
            (name.to_string(), decode(value))
        })
        .collect()
}

fn header(list: &[String], name: &str) -> Option<String> {
    headers(list)
        .into_iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
}

#[test]
fn counts_every_kind_of_request() {
    let (events, out) = assembled();
    let mut ids: Vec<_> = out
        .built
        .iter()
        .map(|b| b.transaction.transaction_id.as_str())
        .collect();
    ids.sort();
    let mut expected = vec![A, B, C];
    expected.sort();
    assert_eq!(ids, expected);
    assert_eq!(out.streams_seen, 5);
    assert_eq!(out.complete_streams, 4);
    assert_eq!(out.incomplete_streams, 1);
    assert_eq!(out.truncated_streams, 1);
    assert_eq!(out.dropped_static, 1);
    assert_eq!(out.failed_to_parse, 0);
    assert_eq!(out.pending.len(), 1);
    assert_eq!(out.pending[0].request_id, E);

    // Every event is accounted for exactly once: built, pending or consumed.
    let mut accounted: Vec<&str> = out
        .built
        .iter()
        .flat_map(|b| b.event_ids.iter())
        .chain(out.pending.iter().flat_map(|p| p.event_ids.iter()))
        .chain(out.consumed_event_ids.iter())
        .map(String::as_str)
        .collect();
    accounted.sort();
    let mut all: Vec<&str> = events.iter().map(|e| e.event_id.as_str()).collect();
    all.sort();
    assert_eq!(accounted, all);
}

#[test]
fn get_with_query() {
    let (events, out) = assembled();
    let b = built(&out, A);
    let t = &b.transaction;
    let first = events
        .iter()
        .find(|e| e.message.starts_with(&format!("({A})")))
        .unwrap();
    assert_eq!(b.first_timestamp, first.timestamp);
    assert_eq!(
        t.timestamp,
        format!("{}.{:03}", first.timestamp / 1000, first.timestamp % 1000)
    );
    assert!(b.complete);
    assert!(!b.truncated);
    assert_eq!(t.version, "1.0");
    assert_eq!(t.request.http_method, "GET");
    assert_eq!(t.request.uri_query_fragment, "/pets?type=dog&page=2");
    assert_eq!(
        t.request.host,
        "abc123defg.execute-api.us-east-1.amazonaws.com"
    );
    assert_eq!(t.request.http_scheme, "https");
    assert_eq!(t.request.http_version, "HTTP/2.0");
    assert_eq!(t.request.client_ip, "203.0.113.7");
    assert_eq!(t.request.connection.connection_ip, "203.0.113.7");
    assert_eq!(t.request.connection.server_port, 443);
    assert_eq!(t.request.body.length, 0);
    assert_eq!(t.request.body.data, "");
    assert_eq!(
        header(&t.request.headers, "X-Forwarded-For").as_deref(),
        Some("203.0.113.7, 130.176.1.1")
    );
    assert_eq!(
        header(&t.request.headers, "X-Amzn-Trace-Id").as_deref(),
        Some("Root=1-6553f100-1a2b3c4d5e6f7a8b9c0d1e2f")
    );
    assert_eq!(headers(&t.request.headers).len(), 11);
    assert_eq!(t.response.status_code, "200");
    let body = r#"[{"id":1,"type":"dog","price":249.99}]"#;
    assert_eq!(decode(&t.response.body.data), body);
    assert_eq!(t.response.body.length, body.len());
    assert_eq!(
        header(&t.response.headers, "Content-Type").as_deref(),
        Some("application/json")
    );
    let source = &t.txn_meta_data.source_info;
    assert_eq!(source.source, "aws-apigateway");
    assert_eq!(source.account_id, "123456789012");
    assert_eq!(source.api_id, "abc123defg");
    assert_eq!(source.stage, "prod");
    assert_eq!(
        source.log_group,
        "API-Gateway-Execution-Logs_abc123defg/prod"
    );
}

#[test]
fn post_body_over_three_events_is_joined() {
    let (_, out) = assembled();
    let t = &built(&out, B).transaction;
    assert_eq!(t.request.http_method, "POST");
    assert_eq!(t.request.uri_query_fragment, "/pets");
    let body = "{\n  \"type\": \"cat\",\n  \"price\": 124.5}";
    assert_eq!(decode(&t.request.body.data), body);
    assert_eq!(t.request.body.length, body.len());
    assert_eq!(t.response.status_code, "201");
    // The integration's own response body (also multi-event) must not leak in.
    assert_eq!(
        decode(&t.response.body.data),
        r#"{"id":7,"type":"cat","price":124.5}"#
    );
}

#[test]
fn truncated_body_and_tricky_headers() {
    let (_, out) = assembled();
    let b = built(&out, C);
    let t = &b.transaction;
    assert!(b.truncated);
    assert_eq!(
        decode(&t.request.body.data),
        r#"{"cq_body_truncated":"true"}"#
    );
    assert_eq!(t.request.body.length, 28);
    assert_eq!(
        t.request.uri_query_fragment,
        "/orders/42/lines?note=rush%20order&deliver=at%20noon"
    );
    assert_eq!(t.request.http_version, "HTTP/1.1");
    assert_eq!(t.request.client_ip, "198.51.100.23");
    let h = &t.request.headers;
    assert_eq!(
        header(h, "Accept").as_deref(),
        Some("text/html,application/xhtml+xml, application/xml;q=0.9, */*;q=0.8")
    );
    assert_eq!(
        header(h, "Accept-Language").as_deref(),
        Some("en-GB, en;q=0.5")
    );
    assert_eq!(
        header(h, "Cookie").as_deref(),
        Some("session=Zm9vYmFy; theme=dark; consent=a=1&b=2")
    );
    assert_eq!(
        header(h, "User-Agent").as_deref(),
        Some("Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0")
    );
    // image/svg+xml is not a supported content type: response sent without body.
    assert_eq!(t.response.body.length, 0);
    assert_eq!(t.response.body.data, "");
    assert_eq!(
        header(&t.response.headers, "Cache-Control").as_deref(),
        Some("no-cache, no-store")
    );
}

#[test]
fn pending_request_is_built_when_forced() {
    let events = load("rest_execution.log", "rest");
    let e_first = events
        .iter()
        .find(|e| e.message.starts_with(&format!("({E})")))
        .unwrap()
        .timestamp;
    let out = assemble_rest(&events, &ctx(), &Filters::default(), Some(e_first + 1));
    assert!(out.pending.is_empty());
    let b = built(&out, E);
    assert!(!b.complete);
    assert_eq!(b.transaction.request.http_method, "PUT");
    assert_eq!(b.transaction.response.status_code, "0");
    assert_eq!(decode(&b.transaction.request.body.data), r#"{"price":99}"#);
    assert_eq!(out.incomplete_streams, 1);

    // Not old enough: still pending.
    let out = assemble_rest(&events, &ctx(), &Filters::default(), Some(e_first));
    assert_eq!(out.pending.len(), 1);
}

#[test]
fn static_request_events_are_consumed() {
    let (events, out) = assembled();
    let d_ids: Vec<&str> = events
        .iter()
        .filter(|e| e.message.starts_with(&format!("({D})")))
        .map(|e| e.event_id.as_str())
        .collect();
    assert!(!d_ids.is_empty());
    for id in d_ids {
        assert!(out.consumed_event_ids.iter().any(|c| c == id), "{id}");
    }
    assert!(out.built.iter().all(|b| b.transaction.transaction_id != D));
}

#[test]
fn order_of_input_does_not_matter_across_timestamps() {
    let events = load("rest_execution.log", "rest");
    let mut reversed_pages = events.clone();
    // Two pages fetched out of order: the second half first.
    reversed_pages.rotate_left(events.len() / 2);
    let a = assemble_rest(&events, &ctx(), &Filters::default(), None);
    let b = assemble_rest(&reversed_pages, &ctx(), &Filters::default(), None);
    let txns = |x: &Assembled| {
        let mut v: Vec<_> = x.built.iter().map(|b| b.transaction.clone()).collect();
        v.sort_by(|p, q| p.transaction_id.cmp(&q.transaction_id));
        v
    };
    assert_eq!(txns(&a), txns(&b));
}

#[test]
fn serialises_with_edge_field_names() {
    let (_, out) = assembled();
    let json = serde_json::to_value(&built(&out, A).transaction).unwrap();
    for key in [
        "timestamp",
        "version",
        "transaction-id",
        "request",
        "response",
        "txn-meta-data",
    ] {
        assert!(json.get(key).is_some(), "{key}");
    }
    let req = &json["request"];
    for key in [
        "client-ip",
        "http-scheme",
        "http-version",
        "http-method",
        "uri-query-fragment",
        "host",
        "headers",
        "body",
        "connection",
    ] {
        assert!(req.get(key).is_some(), "request.{key}");
    }
    assert_eq!(json["response"]["status-code"], "200");
    assert!(req["connection"]["connection-ip"].is_string());
    assert!(req["connection"]["server-port"].is_u64());
    assert_eq!(
        json["txn-meta-data"]["source_info"]["source"],
        "aws-apigateway"
    );
}

#[test]
fn request_straddling_two_fetches_is_pending_then_built() {
    let events = load("rest_execution.log", "rest");
    let b_last = events
        .iter()
        .rposition(|e| e.message.starts_with(&format!("({B})")))
        .unwrap();
    // First tick sees everything up to (not including) B's `Method completed` line.
    let first = assemble_rest(&events[..b_last], &ctx(), &Filters::default(), None);
    let pending = first
        .pending
        .iter()
        .find(|p| p.request_id == B)
        .expect("B waits for its last line");
    assert!(first
        .built
        .iter()
        .all(|b| b.transaction.transaction_id != B));

    // Next tick re-reads from the pending request's first event and gets the rest.
    let second = assemble_rest(&events, &ctx(), &Filters::default(), None);
    let b = built(&second, B);
    assert!(b.complete);
    assert_eq!(b.first_timestamp, pending.first_timestamp);
    assert!(pending.event_ids.iter().all(|id| b.event_ids.contains(id)));
    assert_eq!(b.event_ids.len(), pending.event_ids.len() + 1);
}

// REST execution logs written by a CloudWatch Logs delivery (up to 1 MB an event) into the
// stage's usual group, as `plain` lines or as `json` records.

const DELIVERED: &str = "7e3a9b1c-5d2f-4e6a-8b9c-0d1e2f3a4b5c";

/// A JSON document of at least `bytes` bytes (pretty-printed: its newlines travel inside
/// the one event a delivery writes).
fn json_body(bytes: usize, pretty: bool) -> String {
    let mut items = Vec::new();
    let mut size = 0;
    while size < bytes {
        let item = serde_json::json!({
            "id": items.len(),
            "name": format!("item-{:05}", items.len()),
            "note": "quoted \"text\", a backslash \\ and é",
        });
        // Compact, with its comma: the document is at least this long.
        size += item.to_string().len() + 1;
        items.push(item);
    }
    let doc = serde_json::json!({ "items": items });
    let text = if pretty {
        serde_json::to_string_pretty(&doc).unwrap()
    } else {
        serde_json::to_string(&doc).unwrap()
    };
    assert!(text.len() >= bytes);
    text
}

/// The `<text>` of each line API Gateway logs for a POST with these bodies.
fn delivered_texts(request_body: &str, response_body: &str) -> Vec<String> {
    vec![
        "Extended Request Id: Kx2bQFh9IAMEbXw=".to_string(),
        format!("Starting execution for request: {DELIVERED}"),
        "HTTP Method: POST, Resource Path: /orders".to_string(),
        "Method request headers: {Host=abc123defg.execute-api.us-east-1.amazonaws.com, Content-Type=application/json, X-Forwarded-For=203.0.113.7}".to_string(),
        format!("Method request body before transformations: {request_body}"),
        "Endpoint request URI: https://lambda.us-east-1.amazonaws.com/orders".to_string(),
        format!("Endpoint request body after transformations: {request_body}"),
        format!("Endpoint response body before transformations: {response_body}"),
        "Received response. Status: 201, Integration latency: 40 ms".to_string(),
        format!("Method response body after transformations: {response_body}"),
        "Method response headers: {Content-Type=application/json}".to_string(),
        "Successfully completed execution".to_string(),
        "Method completed with status: 201".to_string(),
    ]
}

/// How a delivery writes one line.
#[derive(Clone, Copy, Debug)]
enum Format {
    /// `plain`: the standard line, not cut.
    Plain,
    /// `json`, the whole line in `message`.
    JsonLine,
    /// `json`, the text in `msg` and the id in `requestId`.
    JsonTextAndId,
}

fn delivered_events(format: Format, texts: &[String]) -> Vec<LogEvent> {
    texts
        .iter()
        .enumerate()
        .map(|(i, text)| {
            let line = format!("({DELIVERED}) {text}");
            let message = match format {
                Format::Plain => line,
                Format::JsonLine => serde_json::json!({
                    "timestamp": 1_700_000_000_000_i64 + i as i64,
                    "message": line,
                })
                .to_string(),
                Format::JsonTextAndId => serde_json::json!({
                    "level": "INFO",
                    "requestId": DELIVERED,
                    "msg": text,
                })
                .to_string(),
            };
            LogEvent {
                event_id: format!("d-{i}"),
                timestamp: 1_700_000_000_000 + i as i64,
                message,
            }
        })
        .collect()
}

/// The events through the pipeline as a tick feeds them: exactly one transaction, built at
/// the last event.
fn build_delivered(events: Vec<LogEvent>) -> (lambda_forwarder::pipeline::build::Built, Counts) {
    let filters = Filters::default();
    let mut asm = RestAssembler::default();
    let mut counts = Counts::default();
    let mut built = Vec::new();
    let last = events.len() - 1;
    for (i, e) in events.into_iter().enumerate() {
        match asm.feed(e) {
            Fed::Finished(f) => {
                assert_eq!(i, last, "finished early");
                built.extend(build_finished(&f, &ctx(), &filters, &mut counts));
            }
            Fed::Open => assert!(i < last),
            other => panic!("event {i}: {other:?}"),
        }
    }
    assert_eq!(asm.open_count(), 0);
    assert_eq!(built.len(), 1);
    (built.remove(0), counts)
}

fn decoded_bytes(body: &lambda_forwarder::pipeline::transaction::Body) -> Vec<u8> {
    STANDARD.decode(&body.data).expect("base64")
}

#[test]
fn delivered_records_carry_50_kb_bodies_whole() {
    let request_body = json_body(50 * 1024, true);
    let response_body = json_body(50 * 1024, false);
    assert!(request_body.contains('\n') && request_body.len() > 50 * 1024);
    let texts = delivered_texts(&request_body, &response_body);
    for format in [Format::Plain, Format::JsonLine, Format::JsonTextAndId] {
        let (b, counts) = build_delivered(delivered_events(format, &texts));
        let t = &b.transaction;
        assert_eq!(t.transaction_id, DELIVERED, "{format:?}");
        assert_eq!(t.request.http_method, "POST");
        assert_eq!(t.request.uri_query_fragment, "/orders");
        assert_eq!(t.response.status_code, "201");
        assert!(b.complete && !b.truncated, "{format:?}");
        assert_eq!(
            decoded_bytes(&t.request.body),
            request_body.as_bytes(),
            "{format:?}"
        );
        assert_eq!(t.request.body.length, request_body.len());
        assert_eq!(
            decoded_bytes(&t.response.body),
            response_body.as_bytes(),
            "{format:?}"
        );
        assert_eq!(t.response.body.length, response_body.len());
        assert_eq!(
            header(&t.request.headers, "Content-Type").as_deref(),
            Some("application/json")
        );
        assert_eq!(t.request.client_ip, "203.0.113.7");
        assert_eq!((counts.built, counts.truncated), (1, 0), "{format:?}");
        assert_eq!(counts.complete, 1);
    }
}

#[test]
fn a_delivered_body_over_max_body_bytes_becomes_the_marker() {
    let marker = br#"{"cq_body_truncated":"true"}"#;
    let over = json_body(MAX_BODY_BYTES + 1, false);
    let small = r#"{"ok":true}"#;
    for format in [Format::Plain, Format::JsonLine, Format::JsonTextAndId] {
        let (b, counts) = build_delivered(delivered_events(format, &delivered_texts(&over, small)));
        let t = &b.transaction;
        assert!(b.truncated, "{format:?}");
        assert_eq!(decoded_bytes(&t.request.body), marker);
        assert_eq!(t.request.body.length, marker.len());
        assert_eq!(decoded_bytes(&t.response.body), small.as_bytes());
        assert_eq!(counts.truncated, 1, "{format:?}");
    }
    // A body API Gateway cut itself is the marker whatever its size.
    let cut = format!("{} [TRUNCATED]", &over[..4096]);
    let (b, counts) = build_delivered(delivered_events(
        Format::JsonLine,
        &delivered_texts(small, &cut),
    ));
    assert_eq!(decoded_bytes(&b.transaction.response.body), marker);
    assert_eq!(counts.truncated, 1);
}
