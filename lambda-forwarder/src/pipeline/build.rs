//! Turns the events of one log group into UAP transactions.
//!
//! REST execution logs spread one request over a dozen events, interleaved with other
//! requests and possibly split across pages or ticks; they are grouped by request id and a
//! request is only built once its `Method completed with status` line is in (or it is too old
//! to wait for). HTTP access logs are one JSON line per request.
//!
//! Choices where the logs are silent (documented here because UAP sees the result):
//! * scheme: `X-Forwarded-Proto` when it says `http`/`https`, else `https` (API Gateway
//!   endpoints are HTTPS-only);
//! * http-version: from the first hop of `Via` (`2.0 abc.cloudfront.net` → `HTTP/2.0`), else
//!   `HTTP/1.1`;
//! * client ip: first entry of `X-Forwarded-For`, else empty (API Gateway logs it nowhere
//!   else in execution logs);
//! * connection: `connection-ip` = client ip; `connection-port` = 0 because the client's
//!   source port is never logged (`X-Forwarded-Port` is the port the client connected *to*);
//!   `server-port` = `X-Forwarded-Port`, else 443 for https / 80 for http; `server-ip` empty;
//! * status: `Method completed with status`, else the integration's `Received response`
//!   status (forced incomplete requests), else `0`;
//! * host: the `Host` header, else the API's default `execute-api` host name;
//! * body events after the first are joined with `\n`: API Gateway writes one event per line
//!   of a multi-line body.

use super::filters::Filters;
use super::parse::header_map::{parse_map, ParsedMap};
use super::parse::http::{parse_access_log, AccessLogEntry};
use super::parse::rest::{classify, is_truncated, text_of_request, RestLine};
use super::parse::uri::{encode_path, path_with_query};
use super::parse::{LogEvent, SourceContext};
use super::transaction::{
    encode_header, format_timestamp, Body, Connection, Request, Response, SourceInfo, Transaction,
    TxnMetaData, SOURCE_NAME, TRANSACTION_VERSION,
};

/// Header added to every HTTP API transaction: UAP must not expect headers or bodies.
pub const DISCOVERY_ONLY_HEADER: (&str, &str) = ("cq-discovery-only", "true");

/// A transaction ready to send.
#[derive(Clone, Debug)]
pub struct Built {
    pub transaction: Transaction,
    pub first_timestamp: i64,
    pub last_timestamp: i64,
    /// False when built from a request whose `Method completed` line never arrived (sent after
    /// the bounded wait); the transaction then carries `source_info.incomplete = "true"`.
    pub complete: bool,
    /// True when API Gateway cut a body or header map short (` [TRUNCATED]`).
    pub truncated: bool,
}

/// What one request (or one access-log line) became.
#[derive(Debug)]
pub enum Outcome {
    Built(Box<Built>),
    /// A static-file path (the static-extensions filter): dropped on purpose.
    Static,
    /// No method/path line (or an unreadable access-log line): nothing UAP could use.
    Unparseable,
}

/// Build the transaction of one REST request from its events (in the order API Gateway wrote
/// them). `complete` says whether its `Method completed with status` line arrived.
pub fn build_rest_request(
    request_id: &str,
    events: &[LogEvent],
    ctx: &SourceContext,
    filters: &Filters,
) -> Outcome {
    let Some(first) = events.first() else {
        return Outcome::Unparseable;
    };
    let mut request = RestRequest::new(request_id, first.timestamp);
    for event in events {
        if let Some(text) = text_of_request(&event.message, request_id) {
            request.feed(event, classify(text));
        }
    }
    build_rest(&request, ctx, filters)
}

/// One HTTP API access-log line: one transaction, header `cq-discovery-only: true`.
pub fn build_http(event: &LogEvent, ctx: &SourceContext, filters: &Filters) -> Outcome {
    let Ok(entry) = parse_access_log(&event.message) else {
        return Outcome::Unparseable;
    };
    if filters.is_static(&entry.path) {
        return Outcome::Static;
    }
    Outcome::Built(Box::new(Built {
        transaction: http_transaction(&entry, event.timestamp, ctx),
        first_timestamp: event.timestamp,
        last_timestamp: event.timestamp,
        complete: true,
        truncated: false,
    }))
}

/// Which body later events without a known prefix continue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum OpenBody {
    None,
    Request,
    Response,
    /// An integration-side body we do not send: its continuations are skipped.
    Ignored,
}

/// What has been read so far of one REST request (borrowing from the events).
struct RestRequest<'a> {
    request_id: &'a str,
    first_timestamp: i64,
    last_timestamp: i64,
    method: Option<&'a str>,
    path: Option<&'a str>,
    query: Option<&'a str>,
    request_headers: Option<&'a str>,
    response_headers: Option<&'a str>,
    request_body: Option<Vec<&'a str>>,
    response_body: Option<Vec<&'a str>>,
    received_status: Option<u16>,
    completed_status: Option<u16>,
    open: OpenBody,
}

impl<'a> RestRequest<'a> {
    fn new(request_id: &'a str, timestamp: i64) -> Self {
        RestRequest {
            request_id,
            first_timestamp: timestamp,
            last_timestamp: timestamp,
            method: None,
            path: None,
            query: None,
            request_headers: None,
            response_headers: None,
            request_body: None,
            response_body: None,
            received_status: None,
            completed_status: None,
            open: OpenBody::None,
        }
    }

    fn feed(&mut self, event: &'a LogEvent, line: RestLine<'a>) {
        self.first_timestamp = self.first_timestamp.min(event.timestamp);
        self.last_timestamp = self.last_timestamp.max(event.timestamp);
        let mut open = OpenBody::None;
        match line {
            RestLine::MethodAndPath { method, path } => {
                self.method = Some(method);
                self.path = Some(path);
            }
            RestLine::QueryString(map) => self.query = Some(map),
            RestLine::RequestHeaders(map) => self.request_headers = Some(map),
            RestLine::ResponseHeaders(map) => self.response_headers = Some(map),
            RestLine::RequestBody(first) => {
                self.request_body = Some(vec![first]);
                open = OpenBody::Request;
            }
            RestLine::ResponseBody(first) => {
                self.response_body = Some(vec![first]);
                open = OpenBody::Response;
            }
            RestLine::ReceivedResponse { status } => self.received_status = Some(status),
            RestLine::MethodCompleted { status } => self.completed_status = Some(status),
            RestLine::OtherMultiLine => open = OpenBody::Ignored,
            RestLine::Continuation(text) => {
                open = self.open;
                let body = match self.open {
                    OpenBody::Request => self.request_body.as_mut(),
                    OpenBody::Response => self.response_body.as_mut(),
                    OpenBody::None | OpenBody::Ignored => None,
                };
                if let Some(body) = body {
                    body.push(text);
                }
            }
            RestLine::StartingExecution
            | RestLine::ExtendedRequestId(_)
            | RestLine::PathParameters(_)
            | RestLine::SuccessfullyCompleted
            | RestLine::Other => {}
        }
        self.open = open;
    }
}

fn build_rest(request: &RestRequest<'_>, ctx: &SourceContext, filters: &Filters) -> Outcome {
    let (Some(method), Some(path)) = (request.method, request.path) else {
        return Outcome::Unparseable;
    };
    if filters.is_static(path) {
        return Outcome::Static;
    }
    let request_headers = parse_map(request.request_headers.unwrap_or(""));
    let response_headers = parse_map(request.response_headers.unwrap_or(""));
    let query = parse_map(request.query.unwrap_or(""));
    let mut truncated = request_headers.truncated || response_headers.truncated || query.truncated;

    let scheme = scheme(&request_headers);
    let client_ip = client_ip(&request_headers);
    let server_port = request_headers
        .get("X-Forwarded-Port")
        .and_then(|p| p.trim().parse().ok())
        .unwrap_or(if scheme == "http" { 80 } else { 443 });

    let (request_body, request_cut) = logged_body(request.request_body.as_deref());
    truncated |= request_cut;
    let keep_response = filters.keeps_response_body(response_headers.get("Content-Type"));
    let (response_body, response_cut) = logged_body(request.response_body.as_deref());
    truncated |= response_cut;
    let response_body = if keep_response {
        response_body
    } else {
        Body::empty()
    };

    let status = request
        .completed_status
        .or(request.received_status)
        .unwrap_or(0);
    let transaction = Transaction {
        timestamp: format_timestamp(request.first_timestamp),
        version: TRANSACTION_VERSION.to_string(),
        transaction_id: request.request_id.to_string(),
        request: Request {
            client_ip: client_ip.clone(),
            http_scheme: scheme.to_string(),
            http_version: http_version(&request_headers),
            http_method: method.to_string(),
            uri_query_fragment: path_with_query(path, &query.pairs),
            host: request_headers
                .get("Host")
                .map(str::to_string)
                .unwrap_or_else(|| default_host(ctx)),
            headers: encode_headers(&request_headers.pairs),
            body: request_body,
            connection: Connection {
                connection_ip: client_ip,
                connection_port: 0,
                server_ip: String::new(),
                server_port,
            },
        },
        response: Response {
            status_code: status.to_string(),
            headers: encode_headers(&response_headers.pairs),
            body: response_body,
        },
        txn_meta_data: meta_data(ctx),
    };
    let mut transaction = transaction;
    if request.completed_status.is_none() {
        transaction.txn_meta_data.source_info.incomplete = Some("true".into());
    }
    Outcome::Built(Box::new(Built {
        transaction,
        first_timestamp: request.first_timestamp,
        last_timestamp: request.last_timestamp,
        complete: request.completed_status.is_some(),
        truncated,
    }))
}

/// The largest body sent whole (bytes, as logged): the largest event a CloudWatch Logs
/// delivery of REST execution logs writes (1 MB; standard execution logging cuts events at
/// 1 KB). Well under the Edge batch limit (`batch::MAX_BATCH_BYTES`, 5 MB): a request and a
/// response body both at this size, base64-encoded, make a transaction of about 2.7 MB.
pub const MAX_BODY_BYTES: usize = 1_048_576;

/// The body as logged, and whether it was cut. A body API Gateway cut (` [TRUNCATED]`) or
/// one over `MAX_BODY_BYTES` is replaced by the marker UAP understands, since half a JSON
/// document would be misread.
fn logged_body(parts: Option<&[&str]>) -> (Body, bool) {
    let Some(parts) = parts else {
        return (Body::empty(), false);
    };
    if parts.iter().any(|p| is_truncated(p)) {
        return (Body::truncated_marker(), true);
    }
    // Measured before joining: a body past the limit is never copied.
    let len = parts.iter().map(|p| p.len()).sum::<usize>() + parts.len().saturating_sub(1);
    if len > MAX_BODY_BYTES {
        return (Body::truncated_marker(), true);
    }
    match parts {
        // One event (every delivered body, most standard ones): encoded where it lies.
        [one] => (Body::from_bytes(one.as_bytes()), false),
        _ => (Body::from_bytes(parts.join("\n").as_bytes()), false),
    }
}

fn encode_headers(pairs: &[(&str, &str)]) -> Vec<String> {
    pairs.iter().map(|(k, v)| encode_header(k, v)).collect()
}

fn scheme(headers: &ParsedMap<'_>) -> &'static str {
    match headers.get("X-Forwarded-Proto").map(str::trim) {
        Some(p) if p.eq_ignore_ascii_case("http") => "http",
        _ => "https",
    }
}

fn client_ip(headers: &ParsedMap<'_>) -> String {
    headers
        .get("X-Forwarded-For")
        .and_then(|v| v.split(',').next())
        .map(|ip| ip.trim().to_string())
        .unwrap_or_default()
}

/// `Via: 2.0 abc.cloudfront.net (CloudFront), 1.1 proxy` → `HTTP/2.0` (first hop = client's).
fn http_version(headers: &ParsedMap<'_>) -> String {
    let first_hop = headers
        .get("Via")
        .and_then(|via| via.split(',').next())
        .and_then(|hop| hop.split_whitespace().next());
    let Some(protocol) = first_hop else {
        return "HTTP/1.1".to_string();
    };
    let version = protocol
        .strip_prefix("HTTP/")
        .or_else(|| protocol.strip_prefix("http/"))
        .unwrap_or(protocol);
    let valid = !version.is_empty()
        && version.len() <= 3
        && version.bytes().all(|b| b.is_ascii_digit() || b == b'.');
    if valid {
        format!("HTTP/{version}")
    } else {
        "HTTP/1.1".to_string()
    }
}

fn default_host(ctx: &SourceContext) -> String {
    if ctx.api_id.is_empty() || ctx.region.is_empty() {
        String::new()
    } else {
        format!("{}.execute-api.{}.amazonaws.com", ctx.api_id, ctx.region)
    }
}

fn meta_data(ctx: &SourceContext) -> TxnMetaData {
    TxnMetaData {
        source_info: SourceInfo {
            source: SOURCE_NAME.to_string(),
            account_id: ctx.account_id.clone(),
            region: ctx.region.clone(),
            api_id: ctx.api_id.clone(),
            stage: ctx.stage.clone(),
            log_group: ctx.log_group.clone(),
            incomplete: None,
        },
    }
}

fn http_transaction(
    entry: &AccessLogEntry,
    event_timestamp: i64,
    ctx: &SourceContext,
) -> Transaction {
    let mut headers = vec![encode_header(
        DISCOVERY_ONLY_HEADER.0,
        DISCOVERY_ONLY_HEADER.1,
    )];
    let host = entry.host.clone().unwrap_or_else(|| default_host(ctx));
    if !host.is_empty() {
        headers.push(encode_header("host", &host));
    }
    if let Some(user_agent) = &entry.user_agent {
        headers.push(encode_header("user-agent", user_agent));
    }
    let response_headers = entry
        .response_length
        .map(|len| vec![encode_header("content-length", &len.to_string())])
        .unwrap_or_default();
    let client_ip = entry.ip.clone().unwrap_or_default();
    let mut meta = meta_data(ctx);
    let fill = |field: &mut String, logged: &Option<String>| {
        if field.is_empty() {
            *field = logged.clone().unwrap_or_default();
        }
    };
    fill(&mut meta.source_info.account_id, &entry.account_id);
    fill(&mut meta.source_info.api_id, &entry.api_id);
    fill(&mut meta.source_info.stage, &entry.stage);
    Transaction {
        timestamp: format_timestamp(entry.request_time_ms.unwrap_or(event_timestamp)),
        version: TRANSACTION_VERSION.to_string(),
        transaction_id: entry.request_id.clone(),
        request: Request {
            client_ip: client_ip.clone(),
            http_scheme: "https".to_string(),
            http_version: entry
                .protocol
                .clone()
                .unwrap_or_else(|| "HTTP/1.1".to_string()),
            http_method: entry.http_method.clone(),
            uri_query_fragment: encode_path(&entry.path),
            host,
            headers,
            body: Body::empty(),
            connection: Connection {
                connection_ip: client_ip,
                connection_port: 0,
                server_ip: String::new(),
                server_port: 443,
            },
        },
        response: Response {
            status_code: entry.status.unwrap_or(0).to_string(),
            headers: response_headers,
            body: Body::empty(),
        },
        txn_meta_data: meta,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::assemble::{Fed, RestAssembler};
    use crate::pipeline::{build_finished, Counts};
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine as _;

    fn events(lines: &[&str]) -> Vec<LogEvent> {
        lines
            .iter()
            .enumerate()
            .map(|(i, m)| LogEvent {
                event_id: format!("e{i}"),
                timestamp: 1_700_000_000_000 + i as i64,
                message: m.to_string(),
            })
            .collect()
    }

    fn ctx() -> SourceContext {
        SourceContext {
            account_id: "111122223333".into(),
            region: "eu-west-1".into(),
            api_id: "a1b2c3".into(),
            stage: "dev".into(),
            log_group: "API-Gateway-Execution-Logs_a1b2c3/dev".into(),
        }
    }

    fn decode(data: &str) -> String {
        String::from_utf8(STANDARD.decode(data).unwrap()).unwrap()
    }

    /// What the incremental assembler and the builder make of a list of events.
    #[derive(Default)]
    struct Out {
        built: Vec<Built>,
        counts: Counts,
        /// Every event id seen, by where it ended (finished request, open, not a request,
        /// duplicate): each must be accounted for exactly once.
        accounted: Vec<String>,
    }

    fn run_rest(evs: &[LogEvent], force: bool) -> Out {
        let mut out = Out::default();
        let mut asm = RestAssembler::default();
        let mut finished = Vec::new();
        for e in evs.iter().cloned() {
            let id = e.event_id.clone();
            match asm.feed(e) {
                Fed::Finished(f) => finished.push(f),
                Fed::Open => {}
                Fed::NotARequest | Fed::Duplicate | Fed::NotOurs | Fed::Elided => {
                    out.accounted.push(id)
                }
            }
        }
        let filters = test_filters();
        if force {
            finished.extend(asm.take_all());
        } else {
            for r in asm.open_requests() {
                out.accounted
                    .extend(r.events.iter().map(|e| e.event_id.clone()));
            }
        }
        for f in finished {
            out.accounted
                .extend(f.events.iter().map(|e| e.event_id.clone()));
            out.built
                .extend(build_finished(&f, &ctx(), filters, &mut out.counts));
        }
        out
    }

    /// Compiled once: the default regexes are large and tests build many requests.
    fn test_filters() -> &'static Filters {
        static F: std::sync::OnceLock<Filters> = std::sync::OnceLock::new();
        F.get_or_init(Filters::default)
    }

    fn rest(lines: &[&str]) -> Out {
        run_rest(&events(lines), false)
    }

    #[test]
    fn builds_minimal_request_with_fallbacks() {
        let out = rest(&[
            "(r1) HTTP Method: DELETE, Resource Path: /pets/9",
            "(r1) Method completed with status: 204",
        ]);
        assert_eq!(out.built.len(), 1);
        let b = &out.built[0];
        assert_eq!(
            (b.first_timestamp, b.last_timestamp),
            (1_700_000_000_000, 1_700_000_000_001)
        );
        let t = &b.transaction;
        assert_eq!(t.timestamp, "1700000000.000");
        assert_eq!(t.transaction_id, "r1");
        assert_eq!(t.request.http_method, "DELETE");
        assert_eq!(t.request.uri_query_fragment, "/pets/9");
        assert_eq!(t.request.host, "a1b2c3.execute-api.eu-west-1.amazonaws.com");
        assert_eq!(t.request.http_scheme, "https");
        assert_eq!(t.request.http_version, "HTTP/1.1");
        assert_eq!(t.request.client_ip, "");
        assert!(t.request.headers.is_empty());
        assert_eq!(t.request.connection.connection_port, 0);
        assert_eq!(t.request.connection.server_port, 443);
        assert_eq!(t.response.status_code, "204");
        assert_eq!(t.response.body, Body::empty());
        assert_eq!(out.counts.complete, 1);
        assert_eq!(t.txn_meta_data.source_info.incomplete, None);
    }

    #[test]
    fn headers_drive_scheme_version_ip_and_ports() {
        let out = rest(&[
            "(r1) HTTP Method: GET, Resource Path: /x",
            "(r1) Method request headers: {Host=api.example.com, Via=HTTP/1.0 proxy, \
             X-Forwarded-For=10.0.0.1 , 10.0.0.2, X-Forwarded-Port=8080, X-Forwarded-Proto=http}",
            "(r1) Method completed with status: 200",
        ]);
        let r = &out.built[0].transaction.request;
        assert_eq!(r.host, "api.example.com");
        assert_eq!(r.http_scheme, "http");
        assert_eq!(r.http_version, "HTTP/1.0");
        assert_eq!(r.client_ip, "10.0.0.1");
        assert_eq!(r.connection.connection_ip, "10.0.0.1");
        assert_eq!(r.connection.server_port, 8080);
        assert_eq!(
            r.headers[0],
            format!("Host:{}", STANDARD.encode("api.example.com"))
        );
    }

    #[test]
    fn response_body_follows_content_type_filter() {
        let lines = |ct: &str| {
            vec![
                "(r1) HTTP Method: GET, Resource Path: /x".to_string(),
                "(r1) Method response body after transformations: {\"ok\":true}".to_string(),
                format!("(r1) Method response headers: {{Content-Type={ct}}}"),
                "(r1) Method completed with status: 200".to_string(),
            ]
        };
        let run = |ct: &str| {
            let l = lines(ct);
            let refs: Vec<&str> = l.iter().map(String::as_str).collect();
            rest(&refs).built.remove(0).transaction.response.body
        };
        let kept = run("application/json; charset=utf-8");
        assert_eq!(decode(&kept.data), "{\"ok\":true}");
        assert_eq!(kept.length, 11);
        assert_eq!(run("application/octet-stream"), Body::empty());
    }

    #[test]
    fn truncated_response_body_is_replaced_by_marker() {
        let out = rest(&[
            "(r1) HTTP Method: GET, Resource Path: /x",
            "(r1) Method response body after transformations: {\"items\":[1,2,3 [TRUNCATED]",
            "(r1) Method response headers: {Content-Type=application/json}",
            "(r1) Method completed with status: 200",
        ]);
        let b = &out.built[0];
        assert!(b.truncated);
        assert_eq!(
            decode(&b.transaction.response.body.data),
            r#"{"cq_body_truncated":"true"}"#
        );
        assert_eq!(out.counts.truncated, 1);
    }

    #[test]
    fn bodies_are_sent_whole_up_to_max_body_bytes() {
        let request = |body: &str| {
            let lines = [
                "(r1) HTTP Method: POST, Resource Path: /x".to_string(),
                format!("(r1) Method request body before transformations: {body}"),
                "(r1) Method completed with status: 200".to_string(),
            ];
            let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
            rest(&refs)
        };
        let at_limit = "a".repeat(MAX_BODY_BYTES);
        let out = request(&at_limit);
        let b = &out.built[0];
        assert!(!b.truncated);
        assert_eq!(b.transaction.request.body.length, MAX_BODY_BYTES);
        assert_eq!(decode(&b.transaction.request.body.data), at_limit);
        assert_eq!(out.counts.truncated, 0);

        let out = request(&"a".repeat(MAX_BODY_BYTES + 1));
        let b = &out.built[0];
        assert!(b.truncated);
        assert_eq!(b.transaction.request.body, Body::truncated_marker());
        assert_eq!(out.counts.truncated, 1);

        // Joined continuation events count with their separators.
        let half = "b".repeat(MAX_BODY_BYTES / 2);
        let lines = [
            "(r1) HTTP Method: POST, Resource Path: /x".to_string(),
            format!("(r1) Method request body before transformations: {half}"),
            format!("(r1) {half}"),
            "(r1) Method completed with status: 200".to_string(),
        ];
        let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
        let out = rest(&refs);
        assert!(
            out.built[0].truncated,
            "{} bytes joined",
            2 * half.len() + 1
        );
        assert_eq!(
            out.built[0].transaction.request.body,
            Body::truncated_marker()
        );
    }

    #[test]
    fn truncated_header_map_marks_request_truncated() {
        let out = rest(&[
            "(r1) HTTP Method: GET, Resource Path: /x",
            "(r1) Method request headers: {Host=h, User-Agent=Mozilla/5.0 (X11; Lin [TRUNCATED]",
            "(r1) Method completed with status: 200",
        ]);
        let b = &out.built[0];
        assert!(b.truncated);
        assert_eq!(
            b.transaction.request.headers,
            vec![encode_header("Host", "h")]
        );
    }

    #[test]
    fn missing_method_line_is_failed_to_parse_and_consumed() {
        let out = rest(&[
            "(r1) Starting execution for request: r1",
            "(r1) Method completed with status: 500",
            "not a request line",
        ]);
        assert!(out.built.is_empty());
        assert_eq!(out.counts.failed_to_parse, 1);
        let mut accounted = out.accounted.clone();
        accounted.sort();
        assert_eq!(accounted, vec!["e0", "e1", "e2"]);
    }

    #[test]
    fn received_status_is_used_when_forced() {
        let evs = events(&[
            "(r1) HTTP Method: GET, Resource Path: /x",
            "(r1) Received response. Status: 502, Integration latency: 29000 ms",
        ]);
        let out = run_rest(&evs, true);
        assert_eq!(out.built[0].transaction.response.status_code, "502");
        assert!(!out.built[0].complete);
        assert_eq!(
            out.built[0]
                .transaction
                .txn_meta_data
                .source_info
                .incomplete
                .as_deref(),
            Some("true")
        );
        assert_eq!(out.counts.incomplete, 1);
    }

    #[test]
    fn duplicate_events_are_read_once() {
        let mut evs = events(&[
            "(r1) HTTP Method: POST, Resource Path: /x",
            "(r1) Method request body before transformations: a",
            "(r1) b",
            "(r1) Method completed with status: 200",
        ]);
        evs.insert(3, evs[2].clone());
        let out = run_rest(&evs, false);
        assert_eq!(decode(&out.built[0].transaction.request.body.data), "a\nb");
        assert_eq!(out.accounted.len(), 5);
    }

    #[test]
    fn http_entry_without_host_uses_api_default() {
        let evs = events(&[r#"{"requestId":"q","httpMethod":"GET","path":"/p","status":"200"}"#]);
        let Outcome::Built(b) = build_http(&evs[0], &ctx(), &Filters::default()) else {
            panic!("built")
        };
        let t = &b.transaction;
        assert_eq!(t.request.host, "a1b2c3.execute-api.eu-west-1.amazonaws.com");
        assert_eq!(t.timestamp, "1700000000.000");
        assert_eq!(t.request.client_ip, "");
        assert_eq!(t.txn_meta_data.source_info.stage, "dev");
    }

    /// Deterministic xorshift, so a failure reproduces.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
            items[(self.next() % items.len() as u64) as usize]
        }
    }

    /// Fuzz-like: thousands of messages glued from log-line fragments, braces, markers,
    /// multi-byte characters and random bytes. Nothing may panic, and every event must be
    /// accounted for exactly once.
    #[test]
    fn never_panics_on_garbage() {
        let fragments = [
            "(",
            ")",
            "(r1) ",
            "(r2) ",
            "(r1)",
            "HTTP Method: ",
            ", Resource Path: ",
            "GET",
            "/a.png",
            "/p?x=1",
            "Method request headers: ",
            "Method request query string: ",
            "Method response headers: ",
            "Method request body before transformations: ",
            "Method response body after transformations: ",
            "Method completed with status: ",
            "Received response. Status: ",
            "{",
            "}",
            "=",
            ", ",
            "Host=",
            "Content-Type=",
            "application/json",
            " [TRUNCATED]",
            "[TRUNCATED]",
            "é",
            "💥",
            "\u{0}",
            "\n",
            "%",
            "999999999999",
            "-1",
            "200",
            "X-Forwarded-For=",
            "Via=",
            "2.0 ",
            "HTTP/",
            "\"",
            "?",
            "#",
            ";",
            " ",
        ];
        let mut rng = Rng(0x2545_f491_4f6c_dd1d);
        let filters = test_filters();
        for round in 0..400 {
            let count = 1 + rng.next() % 30;
            let evs: Vec<LogEvent> = (0..count)
                .map(|i| {
                    let mut message = String::new();
                    for _ in 0..rng.next() % 12 {
                        message.push_str(rng.pick(&fragments));
                    }
                    if rng.next() % 10 == 0 {
                        let bytes: Vec<u8> =
                            (0..rng.next() % 40).map(|_| rng.next() as u8).collect();
                        message.push_str(&String::from_utf8_lossy(&bytes));
                    }
                    LogEvent {
                        event_id: format!("{round}-{i}"),
                        timestamp: (rng.next() % 5) as i64 - 2
                            + i64::from(round % 2 == 0) * i64::MAX / 2,
                        message,
                    }
                })
                .collect();
            let force = rng.next() % 2 == 0;
            let out = run_rest(&evs, force);
            let mut accounted = out.accounted.clone();
            accounted.sort();
            let mut all: Vec<String> = evs.iter().map(|e| e.event_id.clone()).collect();
            all.sort();
            assert_eq!(accounted, all);
            let http: Vec<Built> = evs
                .iter()
                .filter_map(|e| match build_http(e, &ctx(), filters) {
                    Outcome::Built(b) => Some(*b),
                    _ => None,
                })
                .collect();
            {
                for b in out.built.iter().chain(&http) {
                    serde_json::to_string(&b.transaction).unwrap();
                    assert_eq!(
                        STANDARD
                            .decode(&b.transaction.request.body.data)
                            .unwrap()
                            .len(),
                        b.transaction.request.body.length
                    );
                }
            }
        }
    }

    /// What the assembler keeps of a request (method lines whole; integration lines as their
    /// prefix; continuations only where a method body is open) must build the very
    /// transaction that all of its events build.
    #[test]
    fn what_the_assembler_keeps_builds_the_same_transaction() {
        let lines = [
            "Extended Request Id: X1",
            "Starting execution for request: R",
            "HTTP Method: POST, Resource Path: /pets/1",
            "Method request path: {id=1}",
            "Method request query string: {q=a, r=b}",
            "Method request headers: {Host=a.example, X-Forwarded-For=1.2.3.4, Content-Type=application/json}",
            "Method request body before transformations: {\"a\":",
            "Method response body after transformations: [1,",
            "Method response headers: {Content-Type=application/json}",
            "Endpoint request URI: https://lambda.example/x",
            "Endpoint request headers: {Accept=*/*}",
            "Endpoint request body after transformations: {\"integration\":",
            "Endpoint response body before transformations: {\"raw\":",
            "Endpoint response headers: {Date=now}",
            "Sending request to https://lambda.example/x",
            "Received response. Status: 201, Integration latency: 5 ms",
            "Execution failed due to a timeout",
            "Successfully completed execution",
            "Method completed with status: 201",
            "  \"continued\": 1}",
            "2]",
            "",
        ];
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let filters = test_filters();
        let (mut shortened, mut elided) = (0, 0);
        for round in 0..500 {
            let requests = 1 + rng.next() % 3;
            // Each request's lines in order, its last line (when it has one) at the end.
            let mut per_request: Vec<Vec<LogEvent>> = Vec::new();
            let mut n = 0;
            for r in 0..requests {
                let mut v = Vec::new();
                let count = 1 + rng.next() % 25;
                for j in 0..=count {
                    let line = if j == count {
                        if rng.next() % 2 == 0 {
                            break;
                        }
                        "Method completed with status: 201"
                    } else if rng.next() % 3 == 0 {
                        // Continuations come in runs, as multi-line bodies do.
                        rng.pick(&lines[19..])
                    } else {
                        rng.pick(&lines[..18])
                    };
                    n += 1;
                    v.push(LogEvent {
                        event_id: format!("{round}-{n}"),
                        timestamp: 1_700_000_000_000 + n as i64,
                        message: format!("(r{round}-{r}) {line}"),
                    });
                }
                per_request.push(v);
            }
            // Interleaved, each request's order kept.
            let mut cursors = vec![0usize; per_request.len()];
            let mut evs = Vec::new();
            while cursors.iter().zip(&per_request).any(|(c, v)| *c < v.len()) {
                let r = (rng.next() % requests) as usize;
                if cursors[r] < per_request[r].len() {
                    evs.push(per_request[r][cursors[r]].clone());
                    cursors[r] += 1;
                }
            }
            let mut asm = RestAssembler::default();
            let mut finished = Vec::new();
            for e in evs {
                if let Fed::Finished(f) = asm.feed(e) {
                    finished.push(f);
                }
            }
            finished.extend(asm.take_all());
            for f in finished {
                let r: usize = f.request_id.rsplit('-').next().unwrap().parse().unwrap();
                let all = &per_request[r];
                elided += all.len() - f.events.len();
                shortened += f
                    .events
                    .iter()
                    .zip(all)
                    .filter(|(k, a)| k.message.len() < a.message.len())
                    .count();
                let kept = build_rest_request(&f.request_id, &f.events, &ctx(), filters);
                let whole = build_rest_request(&f.request_id, all, &ctx(), filters);
                let json = |o: &Outcome| match o {
                    Outcome::Built(b) => Some((
                        serde_json::to_value(&b.transaction).unwrap(),
                        b.first_timestamp,
                        b.truncated,
                    )),
                    _ => None,
                };
                assert_eq!(
                    json(&kept),
                    json(&whole),
                    "round {round}, request {r}: {all:#?}\nkept: {:#?}",
                    f.events
                );
            }
        }
        assert!(
            elided > 500 && shortened > 500,
            "elided {elided}, shortened {shortened}"
        );
    }
}
