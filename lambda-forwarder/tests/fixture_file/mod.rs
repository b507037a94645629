//! Shared by the parser tests: the fixture format (one log event a line) and a window of
//! events run through the incremental pipeline the way a tick runs it, keeping which events
//! each transaction came from, so every event can be accounted for.

#![allow(dead_code)]

use lambda_forwarder::pipeline::assemble::{Fed, RestAssembler};
use lambda_forwarder::pipeline::build::{build_http, build_rest_request, Outcome};
use lambda_forwarder::pipeline::filters::Filters;
use lambda_forwarder::pipeline::parse::{LogEvent, SourceContext};
use lambda_forwarder::pipeline::transaction::Transaction;

/// Reads `<timestamp ms>\t<message>` lines; event id = `<prefix>-<line number>`.
pub fn load(name: &str, prefix: &str) -> Vec<LogEvent> {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.is_empty() && !line.starts_with("# "))
        .map(|(n, line)| {
            let (ts, message) = line.split_once('\t').expect("timestamp<TAB>message");
            LogEvent {
                event_id: format!("{prefix}-{}", n + 1),
                timestamp: ts.parse().expect("timestamp"),
                message: message.to_string(),
            }
        })
        .collect()
}

pub struct Built {
    pub transaction: Transaction,
    pub event_ids: Vec<String>,
    pub first_timestamp: i64,
    pub complete: bool,
    pub truncated: bool,
}

pub struct Pending {
    pub request_id: String,
    pub first_timestamp: i64,
    pub event_ids: Vec<String>,
}

#[derive(Default)]
pub struct Assembled {
    pub built: Vec<Built>,
    pub pending: Vec<Pending>,
    pub consumed_event_ids: Vec<String>,
    pub streams_seen: usize,
    pub complete_streams: usize,
    pub incomplete_streams: usize,
    pub truncated_streams: usize,
    pub failed_to_parse: usize,
    pub dropped_static: usize,
}

fn time_ordered(events: &[LogEvent]) -> Vec<LogEvent> {
    let mut v = events.to_vec();
    v.sort_by_key(|e| e.timestamp);
    v
}

/// REST events of one window; requests first seen before `force_before` are sent even
/// without their last line.
pub fn assemble_rest(
    events: &[LogEvent],
    ctx: &SourceContext,
    filters: &Filters,
    force_before: Option<i64>,
) -> Assembled {
    let mut out = Assembled::default();
    let mut asm = RestAssembler::default();
    let mut finished = Vec::new();
    for e in time_ordered(events) {
        let id = e.event_id.clone();
        match asm.feed(e) {
            Fed::Finished(f) => finished.push(f),
            Fed::Open => {}
            Fed::NotARequest | Fed::Duplicate | Fed::NotOurs | Fed::Elided => {
                out.consumed_event_ids.push(id)
            }
        }
    }
    if let Some(limit) = force_before {
        finished.extend(asm.take_older_than(limit));
    }
    for r in asm.open_requests() {
        out.streams_seen += 1;
        out.incomplete_streams += 1;
        out.pending.push(Pending {
            request_id: r.request_id.clone(),
            first_timestamp: r.first_timestamp,
            event_ids: r.events.iter().map(|e| e.event_id.clone()).collect(),
        });
    }
    for f in finished {
        out.streams_seen += 1;
        if f.completed {
            out.complete_streams += 1;
        } else {
            out.incomplete_streams += 1;
        }
        let ids: Vec<String> = f.events.iter().map(|e| e.event_id.clone()).collect();
        match build_rest_request(&f.request_id, &f.events, ctx, filters) {
            Outcome::Built(b) => {
                if b.truncated {
                    out.truncated_streams += 1;
                }
                out.built.push(Built {
                    transaction: b.transaction,
                    event_ids: ids,
                    first_timestamp: b.first_timestamp,
                    complete: b.complete,
                    truncated: b.truncated,
                });
            }
            Outcome::Static => {
                out.dropped_static += 1;
                out.consumed_event_ids.extend(ids);
            }
            Outcome::Unparseable => {
                out.failed_to_parse += 1;
                out.consumed_event_ids.extend(ids);
            }
        }
    }
    out
}

/// HTTP access-log lines of one window.
pub fn assemble_http(events: &[LogEvent], ctx: &SourceContext, filters: &Filters) -> Assembled {
    let mut out = Assembled::default();
    for e in time_ordered(events) {
        out.streams_seen += 1;
        match build_http(&e, ctx, filters) {
            Outcome::Built(b) => {
                out.complete_streams += 1;
                out.built.push(Built {
                    transaction: b.transaction,
                    event_ids: vec![e.event_id.clone()],
                    first_timestamp: b.first_timestamp,
                    complete: true,
                    truncated: false,
                });
            }
            Outcome::Static => {
                out.complete_streams += 1;
                out.dropped_static += 1;
                out.consumed_event_ids.push(e.event_id.clone());
            }
            Outcome::Unparseable => {
                out.failed_to_parse += 1;
                out.consumed_event_ids.push(e.event_id.clone());
            }
        }
    }
    out
}
