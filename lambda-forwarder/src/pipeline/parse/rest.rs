//! REST API execution-log lines (`dataTrace` on, level INFO). CloudWatch message =
//! `(<requestId>) <text>`; this module splits off the id and says what kind of line the text
//! is. Grouping lines into requests is `assemble`'s job.

use super::header_map::TRUNCATED_MARKER;

/// What one execution-log line says. Borrowed slices of the message: assembling 10,000 events
/// should not copy them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RestLine<'a> {
    /// `Starting execution for request: <id>`.
    StartingExecution,
    /// `Extended Request Id: <id>`.
    ExtendedRequestId(&'a str),
    /// `HTTP Method: GET, Resource Path: /pets/1` (the concrete path).
    MethodAndPath { method: &'a str, path: &'a str },
    /// `Method request path: {id=1}`.
    PathParameters(&'a str),
    /// `Method request query string: {q=a}` (map text).
    QueryString(&'a str),
    /// `Method request headers: {...}` (map text).
    RequestHeaders(&'a str),
    /// `Method request body before transformations: <first part of body>`.
    RequestBody(&'a str),
    /// `Received response. Status: 200, Integration latency: 12 ms`.
    ReceivedResponse { status: u16 },
    /// `Method response body after transformations: <first part of body>`.
    ResponseBody(&'a str),
    /// `Method response headers: {...}` (map text).
    ResponseHeaders(&'a str),
    /// `Successfully completed execution`.
    SuccessfullyCompleted,
    /// `Method completed with status: 200` — the last line of every request.
    MethodCompleted { status: u16 },
    /// A line API Gateway writes that we do not use, but whose text may continue on the next
    /// events (integration bodies): continuations after it must not join a method body.
    OtherMultiLine,
    /// A line API Gateway writes that we do not use (`Endpoint request URI: ...`,
    /// `Verifying Usage Plan ...`, `Execution failed ...`).
    Other,
    /// No known prefix: the continuation of the body logged by a previous event.
    Continuation(&'a str),
}

/// Splits `(<requestId>) <text>`. The id must be non-empty and free of whitespace and
/// parentheses; anything else is not a request line.
pub fn split_request_id(message: &str) -> Option<(&str, &str)> {
    // Every event goes through here (more than four million a minute at the vendor's
    // volume): the closing parenthesis is found with one scan, and the id's bytes are then
    // checked without a branch per byte; non-ASCII ids take the char-wise path.
    let bytes = message.as_bytes();
    if bytes.first() != Some(&b'(') {
        return None;
    }
    let window = &bytes[1..bytes.len().min(130)];
    let close = memchr::memchr(b')', window)? + 1;
    if close == 1 {
        return None;
    }
    let id_bytes = &bytes[1..close];
    // OR-folds (no early exit) so the loop vectorises: is any byte non-ASCII, and is any
    // byte whitespace or an opening parenthesis?
    let (high, bad) = id_bytes.iter().fold((0u8, false), |(high, bad), &b| {
        (
            high | (b & 0x80),
            bad | b.is_ascii_whitespace() | (b == 0x0b) | (b == b'('),
        )
    });
    if high != 0 {
        return split_request_id_chars(message);
    }
    if bad {
        return None;
    }
    let id = &message[1..close];
    let after = &message[close + 1..];
    let text = match after.strip_prefix(' ') {
        Some(text) => text,
        None if after.is_empty() => after,
        None => return None,
    };
    Some((id, text))
}

/// `split_request_id` for a message already known to belong to `id` (an event an assembler
/// kept for that request): a prefix comparison instead of a scan, falling back to the scan
/// when the message is not in that form.
pub fn text_of_request<'a>(message: &'a str, id: &str) -> Option<&'a str> {
    let fast = message
        .strip_prefix('(')
        .and_then(|m| m.strip_prefix(id))
        .and_then(|m| m.strip_prefix(')'))
        .and_then(|after| match after.strip_prefix(' ') {
            Some(text) => Some(text),
            None if after.is_empty() => Some(after),
            None => None,
        });
    match fast {
        Some(text) => Some(text),
        None => split_request_id(message).map(|(_, text)| text),
    }
}

fn split_request_id_chars(message: &str) -> Option<(&str, &str)> {
    let rest = message.strip_prefix('(')?;
    let close = rest.find(')')?;
    let id = &rest[..close];
    if id.is_empty() || id.len() > 128 || id.chars().any(|c| c.is_whitespace() || c == '(') {
        return None;
    }
    let after = &rest[close + 1..];
    let text = match after.strip_prefix(' ') {
        Some(text) => text,
        None if after.is_empty() => after,
        None => return None,
    };
    Some((id, text))
}

/// Classifies the text of one line (after the request id).
pub fn classify(text: &str) -> RestLine<'_> {
    // Trailing newline characters are CloudWatch framing, not content.
    let text = text.trim_end_matches(['\n', '\r']);
    if let Some(body) = text.strip_prefix("Method request body before transformations:") {
        return RestLine::RequestBody(strip_one_space(body));
    }
    if let Some(body) = text.strip_prefix("Method response body after transformations:") {
        return RestLine::ResponseBody(strip_one_space(body));
    }
    if let Some(map) = text.strip_prefix("Method request headers:") {
        return RestLine::RequestHeaders(map.trim());
    }
    if let Some(map) = text.strip_prefix("Method response headers:") {
        return RestLine::ResponseHeaders(map.trim());
    }
    if let Some(map) = text.strip_prefix("Method request query string:") {
        return RestLine::QueryString(map.trim());
    }
    if let Some(map) = text.strip_prefix(PATH_PARAMETERS) {
        return RestLine::PathParameters(map.trim());
    }
    if let Some(rest) = text.strip_prefix("HTTP Method:") {
        if let Some((method, path)) = rest.split_once(", Resource Path:") {
            let method = method.trim();
            let path = path.trim();
            if !method.is_empty() && !path.is_empty() && !method.contains(' ') {
                return RestLine::MethodAndPath { method, path };
            }
        }
        return RestLine::Other;
    }
    if let Some(rest) = text.strip_prefix("Method completed with status:") {
        return match parse_status(rest) {
            Some(status) => RestLine::MethodCompleted { status },
            None => RestLine::Other,
        };
    }
    if let Some(rest) = text.strip_prefix("Received response. Status:") {
        let status = rest.split(',').next().and_then(parse_status);
        return match status {
            Some(status) => RestLine::ReceivedResponse { status },
            None => RestLine::Other,
        };
    }
    if text.starts_with("Starting execution for request:") {
        return RestLine::StartingExecution;
    }
    if text == "Successfully completed execution" {
        return RestLine::SuccessfullyCompleted;
    }
    if let Some(id) = text.strip_prefix("Extended Request Id:") {
        return RestLine::ExtendedRequestId(id.trim());
    }
    if MULTI_LINE_PREFIXES.iter().any(|p| text.starts_with(p)) {
        return RestLine::OtherMultiLine;
    }
    if OTHER_PREFIXES.iter().any(|p| text.starts_with(p)) {
        return RestLine::Other;
    }
    RestLine::Continuation(text)
}

/// For a line the transaction takes nothing from (integration-side lines, path parameters),
/// the prefix that classifies the same way: an open request may keep `(<id>) <prefix>` instead
/// of the whole line. The line still ends a body spread over several events (what the builder
/// needs of it), while its content (integration headers and bodies, often half of a
/// request's bytes) is neither copied nor persisted. `None` for lines that must stay whole.
pub fn content_free_prefix(line: &RestLine<'_>, text: &str) -> Option<&'static str> {
    let text = text.trim_end_matches(['\n', '\r']);
    match line {
        RestLine::PathParameters(_) => Some(PATH_PARAMETERS),
        // Same order as `classify`: the multi-line prefixes are more specific.
        RestLine::OtherMultiLine => MULTI_LINE_PREFIXES
            .iter()
            .find(|p| text.starts_with(**p))
            .copied(),
        RestLine::Other => OTHER_PREFIXES
            .iter()
            .find(|p| text.starts_with(**p))
            .copied(),
        _ => None,
    }
}

const PATH_PARAMETERS: &str = "Method request path:";

/// True when a body fragment ends with API Gateway's truncation marker.
pub fn is_truncated(fragment: &str) -> bool {
    fragment.trim_end().ends_with(TRUNCATED_MARKER.trim_start())
}

/// Integration-side lines that carry a body, which may continue on later events.
const MULTI_LINE_PREFIXES: &[&str] = &[
    "Endpoint request body after transformations:",
    "Endpoint response body before transformations:",
    "Lambda execution failed with status",
    "Execution failed due to",
    "Transformation failed",
];

/// Other lines API Gateway writes for a request: recognised so they end a body that was
/// spread over several events instead of being appended to it.
const OTHER_PREFIXES: &[&str] = &[
    "Endpoint request URI:",
    "Endpoint request headers:",
    "Endpoint response headers:",
    "Sending request to",
    "Verifying Usage Plan for request:",
    "API Key ",
    "Usage Plan check succeeded",
    "Method response status",
    "Authorizer",
    "Using valid authorizer policy",
    "Using cached",
    "Incoming identity",
    "Client request",
    "Endpoint response body",
    "Endpoint request timed out",
    "Received response.",
    "AWS Integration Endpoint RequestId",
    "Successfully completed",
    "Method completed",
    "Gateway response",
    "Throttled",
    "Request validation",
    "Request body does not match",
    "Execution failed",
    "HTTP Method:",
];

fn strip_one_space(s: &str) -> &str {
    s.strip_prefix(' ').unwrap_or(s)
}

fn parse_status(s: &str) -> Option<u16> {
    s.trim()
        .parse::<u16>()
        .ok()
        .filter(|s| (100..=999).contains(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The known-id shortcut the builder uses gives the scan's text wherever the message
    /// belongs to that id (ids near the length limit, vertical tabs and non-ASCII included;
    /// the scan is checked against the char rules again on these inputs).
    #[test]
    fn the_known_id_shortcut_agrees_with_the_scan() {
        let alphabet = [
            'a', '0', '-', ')', '(', ' ', '\t', '\u{b}', 'é', '\u{a0}', 'x',
        ];
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..20_000 {
            let mut m = String::from("(");
            let len = match next() % 4 {
                0 => 127 + (next() % 4) as usize,
                _ => (next() % 40) as usize,
            };
            for _ in 0..len {
                // Mostly id-like bytes, so a closing parenthesis is often found.
                let c = if next() % 5 == 0 {
                    alphabet[(next() % alphabet.len() as u64) as usize]
                } else {
                    'b'
                };
                m.push(c);
            }
            if next() % 2 == 0 {
                m.push_str(") Method completed with status: 200");
            }
            assert_eq!(split_request_id(&m), split_request_id_chars(&m), "{m:?}");
            if let Some((id, text)) = split_request_id(&m) {
                assert_eq!(text_of_request(&m, id), Some(text), "{m:?}");
            }
        }
    }

    #[test]
    fn splits_request_id() {
        assert_eq!(
            split_request_id(
                "(3f1c7e9a-0d4b-4b39-9a8e-1f2d3c4b5a69) Starting execution for request: 3f1c"
            ),
            Some((
                "3f1c7e9a-0d4b-4b39-9a8e-1f2d3c4b5a69",
                "Starting execution for request: 3f1c"
            ))
        );
        assert_eq!(split_request_id("(abc)"), Some(("abc", "")));
        assert_eq!(split_request_id("(abc) "), Some(("abc", "")));
    }

    #[test]
    fn the_byte_scan_agrees_with_the_char_rules() {
        let pieces = [
            "(",
            ")",
            "a",
            "-",
            " ",
            "\t",
            "é",
            "\u{a0}",
            "x".repeat(127).leak(),
            "1",
            "z",
        ];
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..20_000 {
            let mut line = String::new();
            for _ in 0..(state % 7) {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                line.push_str(pieces[(state % pieces.len() as u64) as usize]);
            }
            assert_eq!(
                split_request_id(&line),
                split_request_id_chars(&line),
                "{line:?}"
            );
        }
        let long = format!("({}) t", "x".repeat(128));
        assert!(split_request_id(&long).is_some());
        let too_long = format!("({}) t", "x".repeat(129));
        assert_eq!(split_request_id(&too_long), None);
    }

    #[test]
    fn rejects_lines_without_request_id() {
        for line in [
            "",
            "no prefix",
            "() empty id",
            "(a b) spaced id",
            "(abc)no space",
            "(unclosed",
            "((nested) x",
            " (abc) leading space",
        ] {
            assert_eq!(split_request_id(line), None, "{line:?}");
        }
    }

    #[test]
    fn classifies_every_documented_line() {
        let cases = [
            (
                "Starting execution for request: abc",
                RestLine::StartingExecution,
            ),
            (
                "Extended Request Id: Kx2bQFh9IAMEbXw=",
                RestLine::ExtendedRequestId("Kx2bQFh9IAMEbXw="),
            ),
            (
                "HTTP Method: GET, Resource Path: /pets/1",
                RestLine::MethodAndPath {
                    method: "GET",
                    path: "/pets/1",
                },
            ),
            (
                "Method request path: {id=1}",
                RestLine::PathParameters("{id=1}"),
            ),
            (
                "Method request query string: {q=a}",
                RestLine::QueryString("{q=a}"),
            ),
            (
                "Method request headers: {Host=h}",
                RestLine::RequestHeaders("{Host=h}"),
            ),
            (
                "Method request body before transformations: {\"a\":1}",
                RestLine::RequestBody("{\"a\":1}"),
            ),
            (
                "Method request body before transformations: ",
                RestLine::RequestBody(""),
            ),
            (
                "Endpoint request URI: https://backend/pets/1",
                RestLine::Other,
            ),
            (
                "Received response. Status: 200, Integration latency: 12 ms",
                RestLine::ReceivedResponse { status: 200 },
            ),
            (
                "Method response body after transformations: [1, 2]",
                RestLine::ResponseBody("[1, 2]"),
            ),
            (
                "Method response headers: {Content-Type=application/json}",
                RestLine::ResponseHeaders("{Content-Type=application/json}"),
            ),
            (
                "Successfully completed execution",
                RestLine::SuccessfullyCompleted,
            ),
            (
                "Method completed with status: 404",
                RestLine::MethodCompleted { status: 404 },
            ),
            (
                "Endpoint response body before transformations: {\"x\":",
                RestLine::OtherMultiLine,
            ),
            (
                "Verifying Usage Plan for request: abc. API Key:  API Stage: a/b",
                RestLine::Other,
            ),
            (
                "  \"name\": \"rex\"",
                RestLine::Continuation("  \"name\": \"rex\""),
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(classify(text), expected, "{text:?}");
        }
    }

    #[test]
    fn malformed_known_lines_are_not_misread() {
        assert_eq!(
            classify("Method completed with status: abc"),
            RestLine::Other
        );
        assert_eq!(
            classify("Method completed with status: 99999"),
            RestLine::Other
        );
        assert_eq!(classify("HTTP Method: GET"), RestLine::Other);
        assert_eq!(
            classify("HTTP Method: , Resource Path: /x"),
            RestLine::Other
        );
        assert_eq!(classify("Received response. Status: x"), RestLine::Other);
    }

    #[test]
    fn detects_truncation() {
        assert!(is_truncated("{\"a\":\"bbbb [TRUNCATED]"));
        assert!(is_truncated("abc [TRUNCATED]\n"));
        assert!(!is_truncated("{\"a\":1}"));
    }

    #[test]
    fn content_free_prefixes_classify_like_their_lines() {
        use std::mem::discriminant;
        let lines = [
            "Endpoint request URI: https://lambda.us-east-1.amazonaws.com/x",
            "Endpoint request headers: {x-amzn-apigateway-api-id=abc, Accept=*/*}",
            "Endpoint request body after transformations: {\"a\":1}",
            "Endpoint response headers: {Date=Mon, Connection=keep-alive}",
            "Endpoint response body before transformations: {\"ok\":true}",
            "Sending request to https://lambda.us-east-1.amazonaws.com/x",
            "Verifying Usage Plan for request: r1. API Key:  API Stage: abc/prod",
            "API Key  authorized because method 'GET /pets' does not require API Key.",
            "Method request path: {id=1}",
            "Execution failed due to configuration error: x",
            "Received response. Status: oops",
        ];
        for text in lines {
            let line = classify(text);
            let prefix = content_free_prefix(&line, text)
                .unwrap_or_else(|| panic!("no content-free prefix for {text:?}"));
            assert!(text.starts_with(prefix));
            assert_eq!(
                discriminant(&classify(prefix)),
                discriminant(&line),
                "{prefix:?} must classify like {text:?}"
            );
        }
        for p in MULTI_LINE_PREFIXES.iter().chain(OTHER_PREFIXES) {
            let line = classify(p);
            assert_eq!(content_free_prefix(&line, p), Some(*p), "{p:?}");
        }
        // Lines the transaction reads stay whole.
        for text in [
            "Method request headers: {Host=a}",
            "Method request body before transformations: x",
            "Method completed with status: 200",
            "HTTP Method: GET, Resource Path: /pets",
            "continued body text",
        ] {
            assert_eq!(content_free_prefix(&classify(text), text), None, "{text:?}");
        }
    }
}
