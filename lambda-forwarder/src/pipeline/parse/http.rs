//! HTTP API access-log lines: one JSON object per request, in the format the stage-logging
//! library sets (`cq_stage_logging` `FORMAT_FIELDS`) or a compatible customer format.
//!
//! API Gateway renders every `$context` variable as a string (`"status":"200"`) and writes `-`
//! for a value it does not have; a customer's format may leave quotes off numbers. Both are
//! accepted: a field is read as text whatever its JSON type.

use serde_json::{Map, Value};

/// The fields the forwarder uses from one access-log line.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AccessLogEntry {
    pub request_id: String,
    /// `requestTimeEpoch` in epoch milliseconds, when logged.
    pub request_time_ms: Option<i64>,
    pub account_id: Option<String>,
    pub stage: Option<String>,
    pub api_id: Option<String>,
    pub ip: Option<String>,
    pub host: Option<String>,
    /// e.g. `HTTP/1.1`.
    pub protocol: Option<String>,
    pub http_method: String,
    /// Path as logged; may carry `?query` in customer formats.
    pub path: String,
    pub status: Option<u16>,
    pub route_key: Option<String>,
    pub response_length: Option<u64>,
    pub user_agent: Option<String>,
}

/// Why a line was not an access-log entry (counted as failed to parse, never fatal).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AccessLogError {
    #[error("not a JSON object")]
    NotJsonObject,
    #[error("missing field {0}")]
    MissingField(&'static str),
}

/// Parses one access-log message.
pub fn parse_access_log(message: &str) -> Result<AccessLogEntry, AccessLogError> {
    let value: Value =
        serde_json::from_str(message.trim()).map_err(|_| AccessLogError::NotJsonObject)?;
    let Value::Object(map) = value else {
        return Err(AccessLogError::NotJsonObject);
    };
    Ok(AccessLogEntry {
        request_id: required(&map, "requestId")?,
        request_time_ms: text(&map, "requestTimeEpoch")
            .and_then(|t| t.parse::<i64>().ok())
            .map(epoch_to_ms),
        account_id: text(&map, "accountId"),
        stage: text(&map, "stage"),
        api_id: text(&map, "apiId"),
        ip: text(&map, "ip"),
        host: text(&map, "host"),
        protocol: text(&map, "protocol"),
        http_method: required(&map, "httpMethod")?,
        path: required(&map, "path")?,
        status: text(&map, "status").and_then(|s| s.parse().ok()),
        route_key: text(&map, "routeKey"),
        response_length: text(&map, "responseLength").and_then(|s| s.parse().ok()),
        user_agent: text(&map, "userAgent"),
    })
}

/// `requestTimeEpoch` is milliseconds for HTTP APIs; a value that is plainly seconds (before
/// the year 5138 in ms terms, i.e. under 10^11) is scaled so a customer format using
/// `$context.requestTimeEpoch` from another source still lands at the right time.
fn epoch_to_ms(value: i64) -> i64 {
    if value.abs() < 100_000_000_000 {
        value.saturating_mul(1000)
    } else {
        value
    }
}

fn required(map: &Map<String, Value>, key: &'static str) -> Result<String, AccessLogError> {
    text(map, key).ok_or(AccessLogError::MissingField(key))
}

/// A field as text; absent, null, empty and API Gateway's `-` all mean "not logged".
fn text(map: &Map<String, Value>, key: &str) -> Option<String> {
    let s = match map.get(key)? {
        Value::String(s) => s.trim().to_string(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        _ => return None,
    };
    (!s.is_empty() && s != "-").then_some(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LINE: &str = r#"{"requestTimeEpoch":"1700000000123","requestId":"Kx2bQFh9IAMEbXw=","accountId":"123456789012","stage":"$default","ip":"203.0.113.7","host":"abc123.execute-api.us-east-1.amazonaws.com","protocol":"HTTP/1.1","httpMethod":"GET","path":"/items","status":"200","apiId":"abc123","routeKey":"GET /items","responseLength":"42","userAgent":"curl/8.4.0","integrationLatency":"5"}"#;

    #[test]
    fn parses_the_stage_logging_format() {
        let e = parse_access_log(LINE).unwrap();
        assert_eq!(e.request_id, "Kx2bQFh9IAMEbXw=");
        assert_eq!(e.request_time_ms, Some(1_700_000_000_123));
        assert_eq!(e.account_id.as_deref(), Some("123456789012"));
        assert_eq!(e.stage.as_deref(), Some("$default"));
        assert_eq!(e.api_id.as_deref(), Some("abc123"));
        assert_eq!(e.ip.as_deref(), Some("203.0.113.7"));
        assert_eq!(
            e.host.as_deref(),
            Some("abc123.execute-api.us-east-1.amazonaws.com")
        );
        assert_eq!(e.protocol.as_deref(), Some("HTTP/1.1"));
        assert_eq!(e.http_method, "GET");
        assert_eq!(e.path, "/items");
        assert_eq!(e.status, Some(200));
        assert_eq!(e.route_key.as_deref(), Some("GET /items"));
        assert_eq!(e.response_length, Some(42));
        assert_eq!(e.user_agent.as_deref(), Some("curl/8.4.0"));
    }

    #[test]
    fn accepts_unquoted_numbers_and_dashes() {
        let e = parse_access_log(
            r#"{"requestTimeEpoch":1700000000,"requestId":"r1","httpMethod":"POST","path":"/a?b=c","status":201,"responseLength":"-","ip":"-"}"#,
        )
        .unwrap();
        assert_eq!(e.request_time_ms, Some(1_700_000_000_000));
        assert_eq!(e.status, Some(201));
        assert_eq!(e.response_length, None);
        assert_eq!(e.ip, None);
        assert_eq!(e.path, "/a?b=c");
    }

    #[test]
    fn rejects_malformed_lines() {
        assert_eq!(
            parse_access_log("{\"requestId\":"),
            Err(AccessLogError::NotJsonObject)
        );
        assert_eq!(
            parse_access_log("[1,2]"),
            Err(AccessLogError::NotJsonObject)
        );
        assert_eq!(parse_access_log(""), Err(AccessLogError::NotJsonObject));
        assert_eq!(
            parse_access_log(r#"{"httpMethod":"GET","path":"/"}"#),
            Err(AccessLogError::MissingField("requestId"))
        );
        assert_eq!(
            parse_access_log(r#"{"requestId":"r","httpMethod":"-","path":"/"}"#),
            Err(AccessLogError::MissingField("httpMethod"))
        );
    }
}
