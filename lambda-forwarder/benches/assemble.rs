//! Cost of assembling 10,000 REST execution-log events (500 requests × 20 events, two
//! requests interleaved), reported as a ratio to a baseline measured in the same run:
//! serde_json-serialising the resulting transactions as the Edge batch the forwarder posts.
//! A ratio near 1 means parsing costs about as much as the unavoidable serialisation.
//!
//! `cargo bench -p lambda-forwarder --bench assemble` (plain binary, no harness).

use std::hint::black_box;
use std::time::{Duration, Instant};

use lambda_forwarder::pipeline::assemble::{Fed, RestAssembler};
use lambda_forwarder::pipeline::build::Built;
use lambda_forwarder::pipeline::filters::Filters;
use lambda_forwarder::pipeline::parse::{LogEvent, SourceContext};
use lambda_forwarder::pipeline::transaction::Batch;
use lambda_forwarder::pipeline::{build_finished, Counts};

const REQUESTS: usize = 500;

fn request_lines(id: &str, n: usize) -> Vec<String> {
    let host = "abc123defg.execute-api.us-east-1.amazonaws.com";
    vec![
        format!("({id}) Extended Request Id: Ox4bMGdGIAMF{n:04}="),
        format!("({id}) Verifying Usage Plan for request: {id}. API Key:  API Stage: abc123defg/prod"),
        format!("({id}) Starting execution for request: {id}"),
        format!("({id}) HTTP Method: POST, Resource Path: /orders/{n}"),
        format!("({id}) Method request path: {{id={n}}}"),
        format!("({id}) Method request query string: {{page={n}, q=red shoes}}"),
        format!(
            "({id}) Method request headers: {{Accept=text/html, application/json;q=0.9, \
             Content-Type=application/json, Cookie=session=abc{n}; theme=dark, Host={host}, \
             User-Agent=Mozilla/5.0 (X11; Linux x86_64), Via=2.0 abc.cloudfront.net (CloudFront), \
             X-Forwarded-For=203.0.113.{}, 130.176.1.1, X-Forwarded-Port=443, X-Forwarded-Proto=https}}",
            n % 250
        ),
        format!("({id}) Method request body before transformations: {{"),
        format!("({id})   \"sku\": \"SKU-{n:05}\","),
        format!("({id})   \"qty\": {}}}", n % 7 + 1),
        format!("({id}) Endpoint request URI: http://orders.internal/orders/{n}"),
        format!("({id}) Endpoint request headers: {{Accept=application/json, User-Agent=AmazonAPIGateway_abc123defg}}"),
        format!("({id}) Endpoint request body after transformations: {{\"sku\":\"SKU-{n:05}\"}}"),
        format!("({id}) Sending request to http://orders.internal/orders/{n}"),
        format!("({id}) Received response. Status: 201, Integration latency: {} ms", n % 90),
        format!("({id}) Endpoint response headers: {{Content-Type=application/json}}"),
        format!("({id}) Method response body after transformations: {{\"order\":{n},\"status\":\"created\"}}"),
        format!("({id}) Method response headers: {{Content-Type=application/json, X-Amzn-Trace-Id=Root=1-{n:08x};Sampled=0}}"),
        format!("({id}) Successfully completed execution"),
        format!("({id}) Method completed with status: 201"),
    ]
}

fn events() -> Vec<LogEvent> {
    let mut messages = Vec::new();
    for pair in (0..REQUESTS).step_by(2) {
        let a = request_lines(&format!("{pair:08}-aaaa-4bbb-8ccc-000000000000"), pair);
        let b = request_lines(
            &format!("{:08}-aaaa-4bbb-8ccc-000000000000", pair + 1),
            pair + 1,
        );
        for (x, y) in a.into_iter().zip(b) {
            messages.push(x);
            messages.push(y);
        }
    }
    messages
        .into_iter()
        .enumerate()
        .map(|(i, message)| LogEvent {
            event_id: format!("{i:056}"),
            timestamp: 1_700_000_000_000 + (i / 3) as i64,
            message,
        })
        .collect()
}

/// The tick's path: events stream into the assembler (owned, as pages are), each finished
/// request is built. The events are cloned per run since the assembler consumes them.
fn assemble_rest(events: &[LogEvent], ctx: &SourceContext, filters: &Filters) -> Vec<Built> {
    let mut asm = RestAssembler::default();
    let mut counts = Counts::default();
    let mut out = Vec::new();
    for e in events.iter().cloned() {
        if let Fed::Finished(f) = asm.feed(e) {
            out.extend(build_finished(&f, ctx, filters, &mut counts));
        }
    }
    out
}

/// Runs `f` repeatedly for about `budget` and returns the median of per-run times.
fn measure<T>(budget: Duration, mut f: impl FnMut() -> T) -> Duration {
    black_box(f()); // warm-up
    let mut samples = Vec::new();
    let start = Instant::now();
    while start.elapsed() < budget || samples.len() < 5 {
        let t = Instant::now();
        black_box(f());
        samples.push(t.elapsed());
    }
    samples.sort();
    samples[samples.len() / 2]
}

fn main() {
    let events = events();
    let ctx = SourceContext {
        account_id: "123456789012".into(),
        region: "us-east-1".into(),
        api_id: "abc123defg".into(),
        stage: "prod".into(),
        log_group: "API-Gateway-Execution-Logs_abc123defg/prod".into(),
    };
    let filters = Filters::default();
    let assembled = assemble_rest(&events, &ctx, &filters);
    assert_eq!(assembled.len(), REQUESTS, "every generated request builds");
    let batch = Batch {
        data: assembled.into_iter().map(|b| b.transaction).collect(),
    };

    let budget = Duration::from_secs(3);
    let assemble = measure(budget, || assemble_rest(&events, &ctx, &filters));
    let serialise = measure(budget, || serde_json::to_vec(&batch).expect("serialises"));
    println!(
        "assemble_rest: {} events -> {} transactions: {:.2?} per run ({:.0} events/s)",
        events.len(),
        REQUESTS,
        assemble,
        events.len() as f64 / assemble.as_secs_f64()
    );
    println!("baseline serde_json::to_vec of the same {REQUESTS} transactions: {serialise:.2?}");
    println!(
        "ratio assemble / serialise: {:.2}",
        assemble.as_secs_f64() / serialise.as_secs_f64()
    );
}
