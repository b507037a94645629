//! Groups REST execution-log events into requests as they stream in, page by page or payload
//! by payload, and says when a request is finished.
//!
//! API Gateway writes one request as ~20 events interleaved with other requests; a request
//! may straddle two pages, two ticks or two subscription payloads. The assembler keeps only
//! the requests still open (their events, owned) and hands a request out as soon as its last
//! line (`Method completed with status`) arrives, so memory follows the number of requests in
//! flight, never the size of the window. The open requests are what the state layer persists
//! between invocations.

use std::borrow::Cow;
use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::parse::delivered::unwrap_record;
use super::parse::rest::{classify, content_free_prefix, split_request_id, RestLine};
use super::parse::LogEvent;

/// A request whose last line has not arrived yet.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenRequest {
    #[serde(rename = "r")]
    pub request_id: String,
    #[serde(rename = "f")]
    pub first_timestamp: i64,
    /// The request's first line (`Extended Request Id` or `Starting execution`) was seen here.
    #[serde(rename = "s", default)]
    pub started: bool,
    #[serde(rename = "e")]
    pub events: Vec<StoredEvent>,
    /// The log group, where one checkpoint holds several groups' requests (a Kinesis shard).
    #[serde(rename = "g", default, skip_serializing_if = "String::is_empty")]
    pub log_group: String,
}

/// An event as kept in an open request (short field names: it is persisted).
pub type StoredEvent = LogEvent;

/// A request handed out by the assembler, with its events in the order they were written.
#[derive(Clone, Debug)]
pub struct Finished {
    pub request_id: String,
    pub events: Vec<LogEvent>,
    /// Its `Method completed with status` line arrived (else it was forced out by the wait).
    pub completed: bool,
    pub started: bool,
}

/// What feeding one event did.
#[derive(Debug)]
pub enum Fed {
    /// The event joined an open request (or opened one).
    Open,
    /// The event closed its request.
    Finished(Finished),
    /// Not a request line (no `(<requestId>)` prefix, nor a delivered record holding one):
    /// nothing to build from it.
    NotARequest,
    /// The same event (by id) was already part of its request.
    Duplicate,
    /// A body continuation where no method body is open: the transaction would skip it, so
    /// its request does not keep it.
    Elided,
    /// The event belongs to a request another channel owns (push/poll handoff).
    NotOurs,
}

/// Which requests this assembler may open; the others belong to the other ingestion channel
/// during a switch between polling and pushing (see `ingestion`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Ownership {
    /// Every request.
    #[default]
    All,
    /// Only requests whose first event is before this time (ms): the channel being left. Its
    /// open requests are finished, new ones belong to the other channel.
    StartedBefore(i64),
    /// Only requests first seen at or after this time (ms), and of those first seen within
    /// `ORPHAN_WINDOW_MS` of it only the ones whose first line is here: the channel being
    /// joined. A fragment of a request that began before the switch is the other channel's.
    StartedFrom(i64),
}

/// A request lasting longer than this is not expected (API Gateway's integration timeout is
/// 29 s by default): fragments without a first line seen this soon after a switch belong to
/// the channel that saw the first line.
pub const ORPHAN_WINDOW_MS: i64 = 30_000;

#[derive(Debug, Default)]
pub struct RestAssembler {
    open: HashMap<String, OpenRequest>,
    ownership: Ownership,
}

impl RestAssembler {
    pub fn new(ownership: Ownership) -> Self {
        Self {
            open: HashMap::new(),
            ownership,
        }
    }

    /// Continue with requests left open by an earlier invocation.
    pub fn restore(ownership: Ownership, open: Vec<OpenRequest>) -> Self {
        Self {
            open: open
                .into_iter()
                .map(|r| (r.request_id.clone(), r))
                .collect(),
            ownership,
        }
    }

    /// Add one request left open by an earlier invocation.
    pub fn restore_one(&mut self, request: OpenRequest) {
        self.open.insert(request.request_id.clone(), request);
    }

    pub fn set_ownership(&mut self, ownership: Ownership) {
        self.ownership = ownership;
    }

    pub fn open_count(&self) -> usize {
        self.open.len()
    }

    /// The open requests, oldest first (what is persisted).
    pub fn open_requests(&self) -> Vec<OpenRequest> {
        let mut v: Vec<OpenRequest> = self.open.values().cloned().collect();
        v.sort_by(|a, b| {
            (a.first_timestamp, &a.request_id).cmp(&(b.first_timestamp, &b.request_id))
        });
        v
    }

    /// The first timestamp of the oldest open request.
    pub fn oldest_open(&self) -> Option<i64> {
        self.open.values().map(|r| r.first_timestamp).min()
    }

    /// Feed one event. Events of one request must come in the order API Gateway wrote them
    /// (FilterLogEvents and a subscription payload both give that order).
    pub fn feed(&mut self, event: LogEvent) -> Fed {
        self.feed_parts(
            Cow::Owned(event.event_id),
            event.timestamp,
            Cow::Owned(event.message),
        )
    }

    /// `feed` for an event still borrowed from the payload it was read from: only what the
    /// request keeps is copied (see `content_free_prefix`).
    ///
    /// Every event of a REST execution-log group enters the pipeline here, polled or pushed,
    /// so this is where a record of a CloudWatch Logs delivery in `json` format is unwrapped
    /// into its `(<requestId>) <text>` line (`parse::delivered`): from here on, including
    /// what an open request keeps and persists, every event is a standard line. A standard
    /// (or `plain`) line passes through as it came, without a copy.
    pub fn feed_parts(
        &mut self,
        event_id: Cow<'_, str>,
        timestamp: i64,
        message: Cow<'_, str>,
    ) -> Fed {
        let message = unwrap_record(message);
        let Some((id, text)) = split_request_id(&message) else {
            return Fed::NotARequest;
        };
        let line = classify(text);
        let starts = is_first_line(&line);
        let completes = matches!(line, RestLine::MethodCompleted { .. });
        let is_continuation = matches!(line, RestLine::Continuation(_));
        let prefix = content_free_prefix(&line, text);
        if let Some(open) = self.open.get_mut(id) {
            // A duplicate has the same timestamp: comparing that first skips most id compares
            // (CloudWatch ids share long prefixes).
            if open
                .events
                .iter()
                .any(|e| e.timestamp == timestamp && e.event_id == event_id)
            {
                return Fed::Duplicate;
            }
            open.started |= starts;
            open.first_timestamp = open.first_timestamp.min(timestamp);
            // A continuation joins a body only right after a method body line (or its other
            // continuations); anywhere else the builder skips it, so it is not kept.
            if is_continuation && !continues_a_body(open.events.last()) {
                return Fed::Elided;
            }
            let message = kept_message(id, prefix).unwrap_or(message);
            open.events.push(StoredEvent {
                event_id: event_id.into_owned(),
                timestamp,
                message: message.into_owned(),
            });
            if completes {
                let id = open.request_id.clone();
                let done = self.open.remove(&id).expect("present");
                return Fed::Finished(finished(done, true));
            }
            return Fed::Open;
        }
        if !self.may_open(timestamp, starts) {
            return Fed::NotOurs;
        }
        let request_id = id.to_string();
        let message = kept_message(id, prefix).unwrap_or(message);
        // A REST request is about twenty events: one allocation instead of five.
        let mut events = Vec::with_capacity(24);
        events.push(StoredEvent {
            event_id: event_id.into_owned(),
            timestamp,
            message: message.into_owned(),
        });
        let request = OpenRequest {
            request_id,
            first_timestamp: timestamp,
            started: starts,
            events,
            log_group: String::new(),
        };
        if completes {
            return Fed::Finished(finished(request, true));
        }
        self.open.insert(request.request_id.clone(), request);
        Fed::Open
    }

    fn may_open(&self, timestamp: i64, starts: bool) -> bool {
        match self.ownership {
            Ownership::All => true,
            Ownership::StartedBefore(h) => timestamp < h,
            Ownership::StartedFrom(h) => {
                timestamp >= h && (starts || timestamp >= h + ORPHAN_WINDOW_MS)
            }
        }
    }

    /// Hand out, unfinished, every open request whose first event is older than `limit` (ms):
    /// the bounded wait is over for them.
    pub fn take_older_than(&mut self, limit: i64) -> Vec<Finished> {
        let old: Vec<String> = self
            .open
            .values()
            .filter(|r| r.first_timestamp < limit)
            .map(|r| r.request_id.clone())
            .collect();
        let mut out: Vec<Finished> = old
            .into_iter()
            .filter_map(|id| self.open.remove(&id))
            .map(|r| finished(r, false))
            .collect();
        out.sort_by_key(|f| f.events.first().map(|e| e.timestamp));
        out
    }

    /// Every open request, unfinished (the last invocation of a stage's logs, e.g. a handoff).
    pub fn take_all(&mut self) -> Vec<Finished> {
        self.take_older_than(i64::MAX)
    }
}

/// The first line API Gateway writes for a request.
fn is_first_line(line: &RestLine<'_>) -> bool {
    matches!(
        line,
        RestLine::ExtendedRequestId(_) | RestLine::StartingExecution
    )
}

/// `(<id>) <prefix>` for a line kept without its content.
fn kept_message(id: &str, prefix: Option<&'static str>) -> Option<Cow<'static, str>> {
    // Built by hand: `format!` grows the string several times, and this runs for about half
    // of all events.
    prefix.map(|p| {
        let mut s = String::with_capacity(id.len() + 3 + p.len());
        s.push('(');
        s.push_str(id);
        s.push_str(") ");
        s.push_str(p);
        Cow::Owned(s)
    })
}

/// Does a continuation after this event extend a method body? Only after the body's first
/// line or one of its continuations (what the builder appends); the last kept event stands
/// for the builder's state, since the continuations not kept change nothing there.
fn continues_a_body(last: Option<&StoredEvent>) -> bool {
    let Some((_, text)) = last.and_then(|e| split_request_id(&e.message)) else {
        return true;
    };
    matches!(
        classify(text),
        RestLine::RequestBody(_) | RestLine::ResponseBody(_) | RestLine::Continuation(_)
    )
}

fn finished(request: OpenRequest, completed: bool) -> Finished {
    let mut events = request.events;
    // Fragments merged from several payloads may be out of order; equal timestamps keep their
    // arrival order (a body's continuation events share its millisecond).
    if !events.windows(2).all(|w| w[0].timestamp <= w[1].timestamp) {
        events.sort_by_key(|e| e.timestamp);
    }
    Finished {
        request_id: request.request_id,
        events,
        completed,
        started: request.started,
    }
}

/// Merge fragments of one request kept by different invocations (push deliveries processed
/// apart): the union of their events, without duplicates.
pub fn merge_fragments(fragments: Vec<OpenRequest>) -> Option<OpenRequest> {
    let mut iter = fragments.into_iter();
    let mut merged = iter.next()?;
    for f in iter {
        merged.started |= f.started;
        merged.first_timestamp = merged.first_timestamp.min(f.first_timestamp);
        for e in f.events {
            if !merged.events.iter().any(|x| x.event_id == e.event_id) {
                merged.events.push(e);
            }
        }
    }
    Some(merged)
}

/// Does this request hold its last line?
pub fn has_completed_line(request: &OpenRequest) -> bool {
    request.events.iter().any(|e| {
        split_request_id(&e.message)
            .is_some_and(|(_, t)| matches!(classify(t), RestLine::MethodCompleted { .. }))
    })
}

/// Turn a merged request into a finished one.
pub fn into_finished(request: OpenRequest, completed: bool) -> Finished {
    finished(request, completed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(id: &str, ts: i64, msg: &str) -> LogEvent {
        LogEvent {
            event_id: id.into(),
            timestamp: ts,
            message: msg.into(),
        }
    }

    #[test]
    fn a_request_finishes_at_its_last_line_and_interleaving_is_kept_apart() {
        let mut a = RestAssembler::default();
        assert!(matches!(
            a.feed(ev("1", 10, "(r1) Extended Request Id: x")),
            Fed::Open
        ));
        assert!(matches!(
            a.feed(ev("2", 11, "(r2) Starting execution for request: r2")),
            Fed::Open
        ));
        assert!(matches!(
            a.feed(ev("3", 12, "(r1) HTTP Method: GET, Resource Path: /a")),
            Fed::Open
        ));
        assert!(matches!(
            a.feed(ev("3", 12, "(r1) HTTP Method: GET, Resource Path: /a")),
            Fed::Duplicate
        ));
        assert!(matches!(a.feed(ev("4", 13, "garbage")), Fed::NotARequest));
        let Fed::Finished(f) = a.feed(ev("5", 14, "(r1) Method completed with status: 200")) else {
            panic!("r1 should finish");
        };
        assert_eq!(f.request_id, "r1");
        assert!(f.completed && f.started);
        assert_eq!(f.events.len(), 3);
        assert_eq!(a.open_count(), 1);
        assert_eq!(a.oldest_open(), Some(11));
    }

    #[test]
    fn open_requests_survive_a_restore_and_the_wait_forces_them_out() {
        let mut a = RestAssembler::default();
        a.feed(ev("1", 100, "(r1) Starting execution for request: r1"));
        a.feed(ev("2", 500, "(r2) Starting execution for request: r2"));
        let saved = a.open_requests();
        assert_eq!(saved[0].request_id, "r1");
        let json = serde_json::to_string(&saved).unwrap();
        let mut b = RestAssembler::restore(Ownership::All, serde_json::from_str(&json).unwrap());
        let forced = b.take_older_than(200);
        assert_eq!(forced.len(), 1);
        assert!(!forced[0].completed);
        let Fed::Finished(f) = b.feed(ev("3", 600, "(r2) Method completed with status: 201"))
        else {
            panic!()
        };
        assert_eq!(f.events.len(), 2);
    }

    #[test]
    fn ownership_splits_requests_at_the_switch() {
        let h = 1_000_000;
        // The channel being left keeps its open request past the switch, opens no new one.
        let mut old = RestAssembler::new(Ownership::StartedBefore(h));
        old.feed(ev("1", h - 5, "(a) Starting execution for request: a"));
        assert!(matches!(
            old.feed(ev("2", h + 1, "(b) Starting execution for request: b")),
            Fed::NotOurs
        ));
        assert!(matches!(
            old.feed(ev("3", h + 2, "(a) Method completed with status: 200")),
            Fed::Finished(_)
        ));
        // The channel being joined ignores a's tail and anything before the switch.
        let mut new = RestAssembler::new(Ownership::StartedFrom(h));
        assert!(matches!(
            new.feed(ev("3", h + 2, "(a) Method completed with status: 200")),
            Fed::NotOurs
        ));
        assert!(matches!(
            new.feed(ev("0", h - 1, "(z) Starting execution for request: z")),
            Fed::NotOurs
        ));
        assert!(matches!(
            new.feed(ev("2", h + 1, "(b) Starting execution for request: b")),
            Fed::Open
        ));
        // Long after the switch a fragment without a first line is a split request: kept.
        assert!(matches!(
            new.feed(ev(
                "9",
                h + ORPHAN_WINDOW_MS,
                "(c) Method response headers: {}"
            )),
            Fed::Open
        ));
    }

    /// A delivery's `json` records (a Kinesis payload's events come borrowed) are kept as
    /// the standard lines they carry, shortened like those; a brace event that is not such a
    /// record is not a request line.
    #[test]
    fn delivered_records_are_kept_as_their_lines() {
        let record =
            |text: &str| serde_json::json!({"message": text, "requestId": "r1"}).to_string();
        let mut a = RestAssembler::default();
        let start = record("Starting execution for request: r1");
        assert!(matches!(
            a.feed_parts(Cow::Borrowed("1"), 10, Cow::Borrowed(&start)),
            Fed::Open
        ));
        let endpoint = record("Endpoint request body after transformations: {\"big\":1}");
        assert!(matches!(
            a.feed_parts(Cow::Borrowed("2"), 11, Cow::Borrowed(&endpoint)),
            Fed::Open
        ));
        assert!(matches!(
            a.feed(ev("3", 12, "{\"message\":\"hi\"}")),
            Fed::NotARequest
        ));
        let whole = serde_json::json!({"message": "(r1) Method completed with status: 200"});
        let Fed::Finished(f) = a.feed(ev("4", 13, &whole.to_string())) else {
            panic!("r1 should finish");
        };
        let kept: Vec<&str> = f.events.iter().map(|e| e.message.as_str()).collect();
        assert_eq!(
            kept,
            [
                "(r1) Starting execution for request: r1",
                "(r1) Endpoint request body after transformations:",
                "(r1) Method completed with status: 200",
            ]
        );
        assert!(f.completed && f.started);
    }

    #[test]
    fn fragments_merge_without_duplicates_in_time_order() {
        let mut a = RestAssembler::default();
        a.feed(ev("2", 20, "(r) Method response headers: {}"));
        let late = a.open_requests().remove(0);
        let mut b = RestAssembler::default();
        b.feed(ev("1", 10, "(r) Starting execution for request: r"));
        b.feed(ev("2", 20, "(r) Method response headers: {}"));
        let early = b.open_requests().remove(0);
        let merged = merge_fragments(vec![late, early]).unwrap();
        assert!(merged.started);
        assert_eq!(merged.first_timestamp, 10);
        assert_eq!(merged.events.len(), 2);
        assert!(!has_completed_line(&merged));
        let f = into_finished(merged, false);
        assert_eq!(f.events[0].event_id, "1");
    }
}
