//! Parsers for what API Gateway writes to CloudWatch Logs: REST execution-log lines
//! (`rest`), the same lines wrapped in the JSON records of a CloudWatch Logs delivery
//! (`delivered`), the `{K=V, ...}` maps inside them (`header_map`) and HTTP API access-log
//! JSON (`http`). Everything here is pure: text in, values out, never a panic.

pub mod delivered;
pub mod header_map;
pub mod http;
pub mod rest;
pub mod uri;

/// One CloudWatch Logs event, as FilterLogEvents (or a subscription payload) returns it.
/// It is also how an open request keeps its events (`assemble::StoredEvent`), so handing a
/// finished request to the builder moves no event; the short names are the persisted form.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LogEvent {
    #[serde(rename = "i")]
    pub event_id: String,
    /// Event time, epoch milliseconds.
    #[serde(rename = "t")]
    pub timestamp: i64,
    #[serde(rename = "m")]
    pub message: String,
}

/// Where a batch of events came from; copied into every transaction's `source_info` and used
/// for fallbacks (e.g. the API's default host name when no Host header was logged).
#[derive(Clone, Debug, Default)]
pub struct SourceContext {
    pub account_id: String,
    pub region: String,
    pub api_id: String,
    pub stage: String,
    pub log_group: String,
}
