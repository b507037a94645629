//! The text API Gateway writes for one request: the line texts in the exact forms of
//! `lambda-forwarder/src/parse/rest.rs` and `tests/fixtures`, with realistic header maps
//! (values holding `, ` and `=`), bodies up to 1 KB, cut bodies ending in ` [TRUNCATED]`,
//! and HTTP API access-log JSON in the stage-logging library's format.

use crate::rng::Rng;

use super::shape::{LineKind, Shape, Truncated};

/// API Gateway cuts a log event's text at this many bytes and appends the marker.
pub const EVENT_TEXT_LIMIT: usize = 1024;
pub const TRUNCATED_MARKER: &str = " [TRUNCATED]";

/// Where a request was served: what the texts name.
#[derive(Clone, Debug)]
pub struct Served<'a> {
    pub api_id: &'a str,
    pub stage: &'a str,
    pub region: &'a str,
    pub account_id: &'a str,
}

/// The message text of every line of one request, in `shape.lines` order.
#[derive(Clone, Debug)]
pub struct RequestText {
    pub messages: Vec<String>,
}

const RESOURCES: &[&str] = &[
    "/v1/orders/{n}",
    "/v1/orders/{n}/lines",
    "/v1/users/{n}/profile",
    "/v1/carts/{n}/items",
    "/v2/catalog/products/{n}",
    "/v2/search",
    "/pets/{n}",
    "/payments/{n}/capture",
    "/inventory/skus/{n}",
    "/auth/session",
];
const STATIC_FILES: &[&str] = &[
    "/static/img/logo-{n}.png",
    "/static/css/site.{n}.css",
    "/static/js/app.{n}.js",
    "/assets/fonts/inter-{n}.woff2",
    "/favicon.ico",
    "/static/img/banner-{n}.svg",
];
const USER_AGENTS: &[&str] = &[
    "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Safari/605.1.15",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/119.0.0.0 Safari/537.36",
    "okhttp/4.12.0",
    "curl/8.4.0",
    "python-requests/2.31.0",
    "Dalvik/2.1.0 (Linux; U; Android 14; Pixel 8 Build/UD1A.231105.004)",
];
const ACCEPTS: &[&str] = &[
    "application/json",
    "*/*",
    "application/json, text/plain, */*",
    "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8",
];
const RESPONSE_TYPES: &[(u32, &str)] = &[
    (86, "application/json"),
    (4, "text/html; charset=utf-8"),
    (3, "application/xml"),
    (3, "text/plain"),
    (2, "application/octet-stream"),
    (2, "image/png"),
];
const WORDS: &[&str] = &[
    "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet",
    "kilo", "lima", "mike", "november", "oscar", "papa", "quebec", "romeo", "sierra", "tango",
];

fn ip(rng: &mut Rng) -> String {
    format!(
        "{}.{}.{}.{}",
        rng.pick(&[203u64, 198, 192, 100, 45, 81]),
        rng.range(0, 255),
        rng.range(0, 255),
        rng.range(1, 254)
    )
}

/// An HTTP API request id (`$context.requestId`, e.g. `Ox4bMGdGIAMEbXw=`).
pub fn http_request_id(rng: &mut Rng) -> String {
    format!("{}=", b64ish(rng, 15))
}

fn b64ish(rng: &mut Rng, n: usize) -> String {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    (0..n)
        .map(|_| A[(rng.next_u64() % 64) as usize] as char)
        .collect()
}

fn resource(rng: &mut Rng, shape: &Shape) -> String {
    let n = rng.range(1, 99_999);
    let template = if shape.is_static {
        rng.pick(STATIC_FILES)
    } else {
        rng.pick(RESOURCES)
    };
    template.replace("{n}", &n.to_string())
}

fn query(rng: &mut Rng) -> Vec<(String, String)> {
    match rng.range(0, 9) {
        0..=4 => vec![],
        5 => vec![("page".into(), rng.range(1, 40).to_string())],
        6 => vec![
            (
                "q".into(),
                format!("{} {}", rng.pick(WORDS), rng.pick(WORDS)),
            ),
            ("limit".into(), "20".into()),
        ],
        7 => vec![("filter".into(), "status=open, owner=me".into())],
        _ => vec![
            ("sort".into(), "created_at".into()),
            ("order".into(), "desc".into()),
        ],
    }
}

fn map_text(pairs: &[(String, String)]) -> String {
    let inner: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!("{{{}}}", inner.join(", "))
}

fn trace_id(rng: &mut Rng) -> String {
    format!("Root=1-{}-{}", rng.hex(8), rng.hex(24))
}

/// A JSON document of about `size` bytes, as `lines` non-empty lines (the first carries the
/// opening brace, as a pretty-printer would split it); the lines concatenate to the document.
fn json_body(rng: &mut Rng, size: usize, lines: u8) -> Vec<String> {
    let lines = usize::from(lines.max(1));
    let mut fields = Vec::new();
    let mut total = 2;
    let mut i = 0;
    while total < size || fields.len() < lines {
        let value = match rng.range(0, 3) {
            0 => rng.range(0, 1_000_000).to_string(),
            1 => format!("\"{} {}\"", rng.pick(WORDS), rng.pick(WORDS)),
            2 => format!("\"{}\"", rng.uuid()),
            _ => (if rng.chance(0.5) { "true" } else { "false" }).to_string(),
        };
        let f = format!("\"{}_{i}\":{value}", rng.pick(WORDS));
        total += f.len() + 1;
        fields.push(f);
        i += 1;
    }
    let n = fields.len();
    let mut out: Vec<String> = (0..lines)
        .map(|j| fields[j * n / lines..(j + 1) * n / lines].join(","))
        .collect();
    let last = lines - 1;
    out[0] = format!("{{{}", out[0]);
    for line in out.iter_mut().take(last) {
        line.push(',');
    }
    out[last].push('}');
    out
}

fn text_body(rng: &mut Rng, content_type: &str, size: usize) -> String {
    let mut words = String::new();
    while words.len() < size {
        let word: &&str = rng.pick(WORDS);
        words.push_str(word);
        words.push(' ');
    }
    if content_type.starts_with("text/html") {
        format!("<html><body><p>{}</p></body></html>", words.trim_end())
    } else if content_type.contains("xml") {
        format!("<result><note>{}</note></result>", words.trim_end())
    } else if content_type.starts_with("image/") || content_type.contains("octet") {
        b64ish(rng, size)
    } else {
        words.trim_end().to_string()
    }
}

/// `prefix` + `body`, cut to the event limit with the marker if it is longer.
fn cut(prefix: &str, body: &str) -> String {
    let mut text = format!("{prefix}{body}");
    if text.len() > EVENT_TEXT_LIMIT {
        let mut end = EVENT_TEXT_LIMIT;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text.push_str(TRUNCATED_MARKER);
    }
    text
}

/// A body size: mostly a few hundred bytes, up to 1 KB.
fn body_size(rng: &mut Rng) -> usize {
    let u = rng.unit();
    (40.0 + u * u * 900.0) as usize
}

/// Texts of a REST request's lines (`(id) ` is prepended by the caller).
pub fn rest_texts(
    rng: &mut Rng,
    shape: &Shape,
    served: &Served<'_>,
    request_id: &str,
    start_epoch_ms: i64,
) -> Vec<String> {
    let path = resource(rng, shape);
    let query = query(rng);
    let client = ip(rng);
    let edge_ip = format!("130.176.{}.{}", rng.range(0, 255), rng.range(1, 254));
    let ua = *rng.pick(USER_AGENTS);
    let accept = *rng.pick(ACCEPTS);
    let trace = trace_id(rng);
    let host = format!(
        "{}.execute-api.{}.amazonaws.com",
        served.api_id, served.region
    );
    let extended = format!("{}=", b64ish(rng, 15));
    let request_type = if rng.chance(0.9) {
        "application/json"
    } else {
        "application/x-www-form-urlencoded"
    };
    let response_type = if shape.is_static {
        "image/png"
    } else {
        *rng.weighted(RESPONSE_TYPES)
    };

    let mut headers: Vec<(String, String)> = vec![("Accept".into(), accept.into())];
    if rng.chance(0.6) {
        headers.push(("Accept-Encoding".into(), "gzip, deflate, br".into()));
    }
    if rng.chance(0.4) {
        headers.push(("Accept-Language".into(), "en-GB, en;q=0.5".into()));
    }
    if rng.chance(0.5) {
        headers.push(("Authorization".into(), {
            let n = rng.range(32, 64) as usize;
            format!("Bearer {}", b64ish(rng, n))
        }));
    }
    headers.push(("CloudFront-Forwarded-Proto".into(), "https".into()));
    headers.push(("CloudFront-Is-Desktop-Viewer".into(), "true".into()));
    headers.push(("CloudFront-Viewer-Country".into(), "GB".into()));
    if shape.request_body_lines > 0 {
        headers.push(("Content-Type".into(), request_type.into()));
    }
    if rng.chance(0.3) {
        headers.push((
            "Cookie".into(),
            format!("session={}; theme=dark; consent=a=1&b=2", b64ish(rng, 16)),
        ));
    }
    headers.push(("Host".into(), host.clone()));
    headers.push(("User-Agent".into(), ua.into()));
    headers.push((
        "Via".into(),
        format!(
            "{} {}.cloudfront.net (CloudFront)",
            if rng.chance(0.7) { "2.0" } else { "1.1" },
            rng.hex(16)
        ),
    ));
    headers.push(("X-Amz-Cf-Id".into(), format!("{}==", b64ish(rng, 54))));
    headers.push(("X-Amzn-Trace-Id".into(), trace.clone()));
    headers.push(("X-Forwarded-For".into(), format!("{client}, {edge_ip}")));
    headers.push(("X-Forwarded-Port".into(), "443".into()));
    headers.push(("X-Forwarded-Proto".into(), "https".into()));

    let request_body: Vec<String> = if shape.request_body_lines == 0 {
        vec![String::new()]
    } else if shape.truncated == Truncated::RequestBody {
        json_body(rng, 1_400, 1)
    } else {
        let size = body_size(rng);
        json_body(rng, size, shape.request_body_lines)
    };
    let response_body: Vec<String> = if shape.response_body_lines == 0 {
        Vec::new()
    } else if shape.truncated == Truncated::ResponseBody {
        json_body(rng, 1_400, 1)
    } else if response_type.starts_with("application/json") {
        let size = body_size(rng);
        json_body(rng, size, shape.response_body_lines)
    } else {
        let size = body_size(rng);
        let text = text_body(rng, response_type, size);
        if shape.response_body_lines > 1 {
            let mut mid = text.len() / 2;
            while !text.is_char_boundary(mid) {
                mid -= 1;
            }
            vec![text[..mid].to_string(), text[mid..].to_string()]
        } else {
            vec![text]
        }
    };
    let backend = format!(
        "https://{}.internal.example.com{}",
        rng.pick(&["orders", "users", "catalog", "payments", "legacy"]),
        path
    );
    let query_string: Vec<String> = query.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let endpoint_uri = if query.is_empty() {
        backend.clone()
    } else {
        format!("{backend}?{}", query_string.join("&").replace(' ', "%20"))
    };
    let date = http_date(start_epoch_ms);
    let response_length = response_body.iter().map(String::len).sum::<usize>();
    let api_key_line = format!(
        "API Key  authorized because method '{} {}' does not require API Key. Request will not contribute to throttle or quota limits",
        shape.method, path
    );

    shape
        .lines
        .iter()
        .map(|(kind, part, _)| {
            let part = usize::from(*part);
            match kind {
                LineKind::ExtendedRequestId => format!("Extended Request Id: {extended}"),
                LineKind::VerifyingUsagePlan => format!(
                    "Verifying Usage Plan for request: {request_id}. API Key:  API Stage: {}/{}",
                    served.api_id, served.stage
                ),
                LineKind::ApiKeyAuthorized => api_key_line.clone(),
                LineKind::UsagePlanCheck => format!(
                    "Usage Plan check succeeded for API Key  and API Stage {}/{}",
                    served.api_id, served.stage
                ),
                LineKind::StartingExecution => {
                    format!("Starting execution for request: {request_id}")
                }
                LineKind::MethodAndPath => {
                    format!("HTTP Method: {}, Resource Path: {path}", shape.method)
                }
                LineKind::MethodRequestPath => "Method request path: {}".to_string(),
                LineKind::MethodRequestQuery => {
                    format!("Method request query string: {}", map_text(&query))
                }
                LineKind::MethodRequestHeaders => {
                    cut("Method request headers: ", &map_text(&headers))
                }
                LineKind::MethodRequestBody if part == 0 => cut(
                    "Method request body before transformations: ",
                    &request_body[0],
                ),
                LineKind::MethodRequestBody => request_body.get(part).cloned().unwrap_or_default(),
                LineKind::EndpointRequestUri => format!("Endpoint request URI: {endpoint_uri}"),
                LineKind::EndpointRequestHeaders => format!(
                    "Endpoint request headers: {{x-amzn-apigateway-api-id={}, Accept={accept}, User-Agent=AmazonAPIGateway_{}, X-Amzn-Trace-Id={trace}}}",
                    served.api_id, served.api_id
                ),
                LineKind::EndpointRequestBody => cut(
                    "Endpoint request body after transformations: ",
                    &request_body.concat(),
                ),
                LineKind::SendingRequest => format!("Sending request to {endpoint_uri}"),
                LineKind::ReceivedResponse => format!(
                    "Received response. Status: {}, Integration latency: {} ms",
                    shape.status, shape.latency_ms
                ),
                LineKind::EndpointResponseHeaders => format!(
                    "Endpoint response headers: {{Date={date}, Content-Type={response_type}, Content-Length={response_length}, Connection=keep-alive, x-amzn-RequestId={}}}",
                    request_id
                ),
                LineKind::EndpointResponseBody => cut(
                    "Endpoint response body before transformations: ",
                    &response_body.concat(),
                ),
                LineKind::MethodResponseBody if part == 0 => cut(
                    "Method response body after transformations: ",
                    &response_body[0],
                ),
                LineKind::MethodResponseBody => {
                    response_body.get(part).cloned().unwrap_or_default()
                }
                LineKind::MethodResponseHeaders => format!(
                    "Method response headers: {{Content-Type={response_type}, X-Amzn-Trace-Id={trace};Sampled=0, Cache-Control=no-cache, no-store}}"
                ),
                LineKind::SuccessfullyCompleted => "Successfully completed execution".to_string(),
                LineKind::MethodCompleted => {
                    format!("Method completed with status: {}", shape.status)
                }
                LineKind::HttpAccess => String::new(),
            }
        })
        .collect()
}

/// The access-log line of an HTTP API request (`requestId` is also its transaction id).
pub fn http_access_text(
    rng: &mut Rng,
    shape: &Shape,
    served: &Served<'_>,
    request_id: &str,
    start_epoch_ms: i64,
) -> String {
    let path = resource(rng, shape);
    let route = path
        .rsplit_once('/')
        .map(|(p, _)| format!("{} {p}/{{id}}", shape.method))
        .unwrap_or_else(|| "$default".into());
    serde_json::json!({
        "requestTimeEpoch": start_epoch_ms.to_string(),
        "requestId": request_id,
        "accountId": served.account_id,
        "stage": served.stage,
        "ip": ip(rng),
        "host": format!("{}.execute-api.{}.amazonaws.com", served.api_id, served.region),
        "protocol": if rng.chance(0.5) { "HTTP/1.1" } else { "HTTP/2.0" },
        "httpMethod": shape.method,
        "path": path,
        "status": shape.status.to_string(),
        "apiId": served.api_id,
        "routeKey": route,
        "responseLength": rng.range(0, 4_000).to_string(),
        "userAgent": rng.pick(USER_AGENTS),
        "integrationLatency": shape.latency_ms.to_string(),
    })
    .to_string()
}

/// (year, month, day, seconds of the day) of an epoch-ms time (Howard Hinnant's
/// civil-from-days algorithm).
fn civil(epoch_ms: i64) -> (i64, i64, i64, i64, i64) {
    let secs = epoch_ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day, rem, days)
}

/// `Tue, 14 Nov 2023 22:13:20 GMT` (the Date header API Gateway logs).
pub fn http_date(epoch_ms: i64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let (year, month, day, rem, days) = civil(epoch_ms);
    format!(
        "{}, {:02} {} {} {:02}:{:02}:{:02} GMT",
        DAYS[days.rem_euclid(7) as usize],
        day,
        MONTHS[(month - 1) as usize],
        year,
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// `2023-11-14T22:13:20Z` (EventBridge's `time`).
pub fn iso8601(epoch_ms: i64) -> String {
    let (year, month, day, rem, _) = civil(epoch_ms);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_rendered_as_api_gateway_logs_them() {
        assert_eq!(
            http_date(1_700_000_000_000),
            "Tue, 14 Nov 2023 22:13:20 GMT"
        );
        assert_eq!(http_date(0), "Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(iso8601(1_700_000_000_000), "2023-11-14T22:13:20Z");
    }

    #[test]
    fn long_texts_are_cut_at_1024_bytes_with_the_marker() {
        let t = cut(
            "Method request body before transformations: ",
            &"x".repeat(2_000),
        );
        assert_eq!(t.len(), EVENT_TEXT_LIMIT + TRUNCATED_MARKER.len());
        assert!(t.ends_with(" [TRUNCATED]"));
        assert_eq!(cut("a: ", "b"), "a: b");
    }

    #[test]
    fn json_bodies_split_into_the_asked_lines_and_join_back_to_json() {
        let mut rng = Rng::new(3);
        for lines in 1..=3 {
            let parts = json_body(&mut rng, 300, lines);
            assert_eq!(parts.len(), usize::from(lines));
            let joined = parts.concat();
            let v: serde_json::Value = serde_json::from_str(&joined).unwrap();
            assert!(v.is_object());
        }
    }
}
