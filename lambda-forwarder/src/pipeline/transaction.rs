//! The Cequence UAP Edge transaction document (docs/contract.md), as serde types.
//!
//! Field names are the Edge's kebab-case names; the Rust names are their snake-case twins so a
//! reader can grep either.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde::{Deserialize, Serialize};

/// Version of the transaction format we emit.
pub const TRANSACTION_VERSION: &str = "1.0";

/// Value of `txn-meta-data.source_info.source` for everything this forwarder sends.
pub const SOURCE_NAME: &str = "aws-apigateway";

/// What the Edge receives in one POST: `{"data":[transaction, ...]}`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Batch {
    pub data: Vec<Transaction>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "kebab-case")]
pub struct Transaction {
    /// Epoch seconds with milliseconds as decimals, e.g. `"1700000000.123"`.
    pub timestamp: String,
    pub version: String,
    pub transaction_id: String,
    pub request: Request,
    pub response: Response,
    pub txn_meta_data: TxnMetaData,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "kebab-case")]
pub struct Request {
    pub client_ip: String,
    pub http_scheme: String,
    pub http_version: String,
    pub http_method: String,
    pub uri_query_fragment: String,
    pub host: String,
    /// `name:<base64 value>` strings.
    pub headers: Vec<String>,
    pub body: Body,
    pub connection: Connection,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "kebab-case")]
pub struct Response {
    pub status_code: String,
    /// `name:<base64 value>` strings.
    pub headers: Vec<String>,
    pub body: Body,
}

/// A body: `length` is the decoded byte length of `data` (base64).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
pub struct Body {
    pub length: usize,
    pub data: String,
}

/// Network endpoints of the request. API Gateway logs only what the client sent, so the client
/// side comes from `X-Forwarded-For`/`X-Forwarded-Port` and the server side is the API's
/// public endpoint (no IP is logged, hence empty), port from the scheme.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "kebab-case")]
pub struct Connection {
    pub connection_ip: String,
    pub connection_port: u16,
    pub server_ip: String,
    pub server_port: u16,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct TxnMetaData {
    pub source_info: SourceInfo,
}

/// Where the transaction was read from, so UAP can tell APIs, stages and accounts apart.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct SourceInfo {
    pub source: String,
    pub account_id: String,
    pub region: String,
    pub api_id: String,
    pub stage: String,
    pub log_group: String,
    /// `"true"` when the request's last line (`Method completed with status`) never arrived
    /// within the bounded wait, so what UAP gets is what was logged until then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incomplete: Option<String>,
}

impl Body {
    /// A body holding `bytes`, base64-encoded.
    pub fn from_bytes(bytes: &[u8]) -> Self {
        Body {
            length: bytes.len(),
            data: STANDARD.encode(bytes),
        }
    }

    /// The body the Edge expects when API Gateway cut the logged body short.
    pub fn truncated_marker() -> Self {
        Body::from_bytes(br#"{"cq_body_truncated":"true"}"#)
    }

    /// No body: length 0, empty data.
    pub fn empty() -> Self {
        Body::default()
    }
}

/// Encodes one header as the Edge wants it: `name:<base64 value>`.
pub fn encode_header(name: &str, value: &str) -> String {
    // One allocation of the final size: this runs for every header of every transaction.
    let mut s = String::with_capacity(name.len() + 1 + value.len().div_ceil(3) * 4);
    s.push_str(name);
    s.push(':');
    STANDARD.encode_string(value.as_bytes(), &mut s);
    s
}

/// Formats epoch milliseconds as epoch seconds with three decimals (`"1700000000.123"`).
/// Negative inputs (never produced by CloudWatch) are clamped to 0 rather than rendered oddly.
pub fn format_timestamp(epoch_ms: i64) -> String {
    let ms = epoch_ms.max(0);
    format!("{}.{:03}", ms / 1000, ms % 1000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamp_has_millisecond_decimals() {
        assert_eq!(format_timestamp(1_700_000_000_123), "1700000000.123");
        assert_eq!(format_timestamp(1_700_000_000_005), "1700000000.005");
        assert_eq!(format_timestamp(0), "0.000");
        assert_eq!(format_timestamp(-5), "0.000");
    }

    #[test]
    fn bodies_carry_decoded_length() {
        let body = Body::from_bytes("héllo".as_bytes());
        assert_eq!(body.length, 6);
        assert_eq!(STANDARD.decode(&body.data).unwrap(), "héllo".as_bytes());
        let marker = Body::truncated_marker();
        assert_eq!(
            STANDARD.decode(&marker.data).unwrap(),
            br#"{"cq_body_truncated":"true"}"#
        );
        assert_eq!(marker.length, 28);
        assert_eq!(
            Body::empty(),
            Body {
                length: 0,
                data: String::new()
            }
        );
    }

    #[test]
    fn header_is_name_colon_base64() {
        assert_eq!(encode_header("Host", "a.b"), "Host:YS5i");
        assert_eq!(encode_header("X-Empty", ""), "X-Empty:");
    }

    #[test]
    fn serde_round_trip_uses_kebab_case() {
        let txn = Transaction {
            timestamp: "1.000".into(),
            version: TRANSACTION_VERSION.into(),
            transaction_id: "id".into(),
            request: Request {
                client_ip: "1.2.3.4".into(),
                http_scheme: "https".into(),
                http_version: "HTTP/1.1".into(),
                http_method: "GET".into(),
                uri_query_fragment: "/".into(),
                host: "h".into(),
                headers: vec![encode_header("a", "b")],
                body: Body::empty(),
                connection: Connection {
                    connection_ip: "1.2.3.4".into(),
                    connection_port: 0,
                    server_ip: String::new(),
                    server_port: 443,
                },
            },
            response: Response {
                status_code: "200".into(),
                headers: vec![],
                body: Body::from_bytes(b"{}"),
            },
            txn_meta_data: TxnMetaData {
                source_info: SourceInfo {
                    source: SOURCE_NAME.into(),
                    account_id: "1".into(),
                    region: "r".into(),
                    api_id: "a".into(),
                    stage: "s".into(),
                    log_group: "g".into(),
                    incomplete: None,
                },
            },
        };
        let json = serde_json::to_string(&Batch {
            data: vec![txn.clone()],
        })
        .unwrap();
        assert!(json
            .starts_with(r#"{"data":[{"timestamp":"1.000","version":"1.0","transaction-id":"id""#));
        assert!(json.contains(r#""connection":{"connection-ip":"1.2.3.4","connection-port":0,"server-ip":"","server-port":443}"#));
        assert!(json.contains(r#""response":{"status-code":"200""#));
        assert!(json.contains(
            r#""txn-meta-data":{"source_info":{"source":"aws-apigateway","account_id":"1""#
        ));
        let back: Batch = serde_json::from_str(&json).unwrap();
        assert_eq!(back.data, vec![txn]);
    }
}
