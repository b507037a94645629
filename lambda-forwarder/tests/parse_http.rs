//! HTTP API access-log fixture → discovery-only transactions.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use lambda_forwarder::pipeline::filters::Filters;
use lambda_forwarder::pipeline::parse::SourceContext;

use crate::fixture_file;
use fixture_file::{assemble_http, load};

fn decoded_headers(list: &[String]) -> Vec<(String, String)> {
    list.iter()
        .map(|h| {
            let (name, value) = h.split_once(':').expect("name:value");
            let value = String::from_utf8(STANDARD.decode(value).unwrap()).unwrap();
            (name.to_string(), value)
        })
        .collect()
}

fn ctx() -> SourceContext {
    SourceContext {
        account_id: "123456789012".into(),
        region: "eu-west-1".into(),
        api_id: "xyz789http".into(),
        stage: "$default".into(),
        log_group: "/aws/vendedlogs/apigateway/cequence/xyz789http/$default".into(),
    }
}

#[test]
fn access_log_fixture() {
    let events = load("http_access.log", "http");
    let out = assemble_http(&events, &ctx(), &Filters::default());

    assert_eq!(out.streams_seen, 5);
    assert_eq!(out.failed_to_parse, 1); // the line cut mid-JSON
    assert_eq!(out.dropped_static, 1); // /assets/app.js
    assert_eq!(out.built.len(), 3);
    assert!(out.pending.is_empty());
    assert_eq!(out.consumed_event_ids, vec!["http-5", "http-6"]);

    let first = &out.built[0];
    assert!(first.complete && !first.truncated);
    assert_eq!(first.event_ids, vec!["http-3"]);
    let t = &first.transaction;
    assert_eq!(t.transaction_id, "Ox4bMGdGIAMEbXw=");
    assert_eq!(t.timestamp, "1700000100.123");
    assert_eq!(t.request.http_method, "GET");
    assert_eq!(t.request.uri_query_fragment, "/items");
    assert_eq!(
        t.request.host,
        "xyz789http.execute-api.eu-west-1.amazonaws.com"
    );
    assert_eq!(t.request.client_ip, "203.0.113.7");
    assert_eq!(t.request.http_version, "HTTP/1.1");
    assert_eq!(
        decoded_headers(&t.request.headers),
        vec![
            ("cq-discovery-only".to_string(), "true".to_string()),
            (
                "host".to_string(),
                "xyz789http.execute-api.eu-west-1.amazonaws.com".to_string()
            ),
            ("user-agent".to_string(), "curl/8.4.0".to_string()),
        ]
    );
    assert_eq!(t.request.body.length, 0);
    assert_eq!(t.response.status_code, "200");
    assert_eq!(t.response.body.length, 0);
    assert_eq!(
        decoded_headers(&t.response.headers),
        vec![("content-length".to_string(), "58".to_string())]
    );

    let with_query = &out.built[1].transaction;
    assert_eq!(
        with_query.request.uri_query_fragment,
        "/items/search?q=red%20shoes&page=2"
    );
    assert_eq!(with_query.request.http_version, "HTTP/2.0");
    assert_eq!(with_query.response.status_code, "404");
    assert_eq!(with_query.request.host, "api.example.com");

    let post = &out.built[2].transaction;
    assert_eq!(post.request.http_method, "POST");
    assert_eq!(post.response.status_code, "201");
    assert!(out
        .built
        .iter()
        .all(|b| b.transaction.request.headers[0] == "cq-discovery-only:dHJ1ZQ=="));
}
