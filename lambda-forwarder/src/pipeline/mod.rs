//! The pure middle of the forwarder: log events in, serialized UAP transactions out.
//!
//! `parse` reads API Gateway's log lines, `assemble` groups REST events into requests as they
//! stream in, `build` turns a request (or an HTTP access-log line) into a transaction,
//! `filters` holds the content-type and static-file rules, `batch` cuts Edge-sized batches and
//! tracks what may be checkpointed. No I/O here.

pub mod assemble;
pub mod batch;
pub mod build;
pub mod filters;
pub mod parse;
pub mod transaction;

use serde::Serialize;

use assemble::Finished;
use build::{build_http, build_rest_request, Built, Outcome};
use filters::Filters;
use parse::{LogEvent, SourceContext};

/// What the pipeline made of the events it saw (the vendor's "stream" counters: a REST
/// request or an HTTP access-log line is one "stream").
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub streams: u64,
    pub complete: u64,
    pub incomplete: u64,
    pub truncated: u64,
    pub failed_to_parse: u64,
    pub dropped_static: u64,
    pub built: u64,
}

impl Counts {
    pub fn add(&mut self, o: &Counts) {
        self.streams += o.streams;
        self.complete += o.complete;
        self.incomplete += o.incomplete;
        self.truncated += o.truncated;
        self.failed_to_parse += o.failed_to_parse;
        self.dropped_static += o.dropped_static;
        self.built += o.built;
    }

    fn record(&mut self, outcome: &Outcome, completed: bool) {
        self.streams += 1;
        if completed {
            self.complete += 1;
        } else {
            self.incomplete += 1;
        }
        match outcome {
            Outcome::Built(b) => {
                self.built += 1;
                if b.truncated {
                    self.truncated += 1;
                }
            }
            Outcome::Static => self.dropped_static += 1,
            Outcome::Unparseable => self.failed_to_parse += 1,
        }
    }
}

/// The transaction of a finished REST request, counted.
pub fn build_finished(
    f: &Finished,
    ctx: &SourceContext,
    filters: &Filters,
    counts: &mut Counts,
) -> Option<Built> {
    let outcome = build_rest_request(&f.request_id, &f.events, ctx, filters);
    counts.record(&outcome, f.completed);
    match outcome {
        Outcome::Built(b) => Some(*b),
        _ => None,
    }
}

/// The transaction of one HTTP API access-log line, counted.
pub fn build_access_line(
    event: &LogEvent,
    ctx: &SourceContext,
    filters: &Filters,
    counts: &mut Counts,
) -> Option<Built> {
    let outcome = build_http(event, ctx, filters);
    counts.record(&outcome, true);
    match outcome {
        Outcome::Built(b) => Some(*b),
        _ => None,
    }
}

/// A transaction as the bytes that go into a batch.
pub fn to_json(built: &Built) -> Vec<u8> {
    thread_local! {
        static SCRATCH: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    // Serialised into a buffer that stays warm, then copied once at its final size: grown
    // from empty, each ~2 KB transaction was reallocated about ten times.
    SCRATCH.with_borrow_mut(|buf| {
        buf.clear();
        // Serialising our own types to a Vec cannot fail.
        match serde_json::to_writer(&mut *buf, &built.transaction) {
            Ok(()) => buf.as_slice().to_vec(),
            Err(_) => Vec::new(),
        }
    })
}
