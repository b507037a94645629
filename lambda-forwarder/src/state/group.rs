//! The state of one log group between invocations: where reading stands, the requests still
//! open there, how the group is ingested, and how heavy it is.
//!
//! The checkpoint stays small whatever the volume: a timestamp plus the ids of the events
//! already consumed at exactly that millisecond (reading stops between pages, and a page can
//! end inside a millisecond), and the open requests (in flight when reading stopped). Windows
//! never overlap, so no list of delivered ids is kept.

use std::collections::HashMap;

use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
use serde::{Deserialize, Serialize};

use crate::compress::{gunzip, gzip};
use crate::pipeline::assemble::{OpenRequest, ORPHAN_WINDOW_MS};

/// Where the next read of a group starts.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Cursor {
    /// Every event with a smaller timestamp is consumed.
    pub ts: i64,
    /// Events at exactly `ts` already consumed.
    pub ids: Vec<String>,
}

impl Cursor {
    pub fn at(ts: i64) -> Self {
        Self {
            ts,
            ids: Vec::new(),
        }
    }

    /// Was this event consumed before?
    pub fn consumed(&self, ts: i64, id: &str) -> bool {
        ts < self.ts || (ts == self.ts && self.ids.iter().any(|i| i == id))
    }

    /// Record that the event `(ts, id)` is consumed (events come in timestamp order).
    pub fn advance(&mut self, ts: i64, id: &str) {
        if ts > self.ts {
            self.ts = ts;
            self.ids.clear();
        }
        if ts == self.ts {
            self.ids.push(id.to_string());
        }
    }

    /// Everything before `end` is consumed (a window was read to its end).
    pub fn finish_window(&mut self, end: i64) {
        if end > self.ts {
            *self = Cursor::at(end);
        }
    }
}

/// How a group's events reach the forwarder. A switch has a time `at`: events before it
/// belong to the old channel, events from it on to the new one, so no event is read twice.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Channel {
    #[default]
    Poll,
    /// Our subscription filter exists since `at`: poll until `at`, push from `at` on.
    ToPush { at: i64 },
    /// Pushed only (polling caught up with `at`).
    Push { since: i64 },
    /// Going back to polling: push until `at`, poll from `at`; the filter is removed once
    /// late deliveries are over.
    ToPoll { at: i64 },
}

impl Channel {
    /// The end (exclusive) of what polling may read, if polling has an end. Past the switch
    /// polling reads on for a short while, only to finish the requests it has open.
    pub fn poll_until(&self) -> Option<i64> {
        match *self {
            Channel::Poll | Channel::ToPoll { .. } => None,
            Channel::ToPush { at } | Channel::Push { since: at } => Some(at + ORPHAN_WINDOW_MS),
        }
    }

    /// Polling has nothing left to do for this group.
    pub fn poll_done(&self, cursor: &Cursor, open: usize) -> bool {
        match *self {
            Channel::Push { .. } => true,
            Channel::ToPush { at } => {
                cursor.ts >= at + ORPHAN_WINDOW_MS || (cursor.ts >= at && open == 0)
            }
            _ => false,
        }
    }
}

/// How heavy a group is, for the auto mode (see `ingestion`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Load {
    /// FilterLogEvents pages per minute of log time (moving average).
    pub pages_per_minute: f64,
    /// How far behind the settle-lag window end reading was when the last tick stopped (ms).
    pub lag_ms: i64,
    /// Consecutive ticks that stopped before reaching the window end.
    pub behind_ticks: u32,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct GroupState {
    /// None until the group was read once.
    pub cursor: Option<Cursor>,
    pub open: Vec<OpenRequest>,
    pub channel: Channel,
    pub load: Load,
    /// Why the group is polled although the mode asks for push (no free subscription filter
    /// slot), and until when not to try again (ms).
    pub push_refused: Option<(String, i64)>,
    /// Version of the stored item (optimistic concurrency); 0 = not stored yet.
    pub version: u64,
}

/// Persisted open requests above this size go to S3 (a DynamoDB item holds at most 400 KB).
pub const MAX_INLINE_OPEN_BYTES: usize = 300 * 1024;

#[derive(Serialize, Deserialize)]
struct Meta {
    channel: Channel,
    load: Load,
    #[serde(default)]
    push_refused: Option<(String, i64)>,
}

/// Where the compressed open requests of an item are.
pub enum OpenBlob {
    Inline(Vec<u8>),
    /// S3 key in the spool bucket.
    External(String),
}

pub fn encode_open(open: &[OpenRequest]) -> Vec<u8> {
    gzip(&serde_json::to_vec(open).unwrap_or_default())
}

pub fn decode_open(bytes: &[u8]) -> Result<Vec<OpenRequest>, String> {
    let json = gunzip(bytes).map_err(|e| format!("open requests are not gzip: {e}"))?;
    serde_json::from_slice(&json).map_err(|e| format!("open requests are not readable: {e}"))
}

/// The item attributes of a group state (without key and version, added by the store).
pub fn to_attributes(state: &GroupState, open: OpenBlob) -> HashMap<String, AttributeValue> {
    let mut item = HashMap::new();
    if let Some(c) = &state.cursor {
        item.insert("cursor_ts".into(), AttributeValue::N(c.ts.to_string()));
        item.insert(
            "cursor_ids".into(),
            AttributeValue::L(c.ids.iter().cloned().map(AttributeValue::S).collect()),
        );
    }
    match open {
        OpenBlob::Inline(b) => item.insert("open".into(), AttributeValue::B(Blob::new(b))),
        OpenBlob::External(key) => item.insert("open_ref".into(), AttributeValue::S(key)),
    };
    item.insert(
        "open_count".into(),
        AttributeValue::N(state.open.len().to_string()),
    );
    let meta = Meta {
        channel: state.channel,
        load: state.load,
        push_refused: state.push_refused.clone(),
    };
    item.insert(
        "meta".into(),
        AttributeValue::S(serde_json::to_string(&meta).unwrap_or_default()),
    );
    item
}

/// What an item holds; the open requests may still have to be fetched from S3.
pub struct Decoded {
    pub state: GroupState,
    pub open_ref: Option<String>,
}

pub fn from_attributes(item: &HashMap<String, AttributeValue>) -> Result<Decoded, String> {
    let num = |k: &str| -> Option<i64> { item.get(k)?.as_n().ok()?.parse().ok() };
    let cursor = num("cursor_ts").map(|ts| Cursor {
        ts,
        ids: item
            .get("cursor_ids")
            .and_then(|v| v.as_l().ok())
            .map(|l| l.iter().filter_map(|v| v.as_s().ok().cloned()).collect())
            .unwrap_or_default(),
    });
    let open = match item.get("open").and_then(|v| v.as_b().ok()) {
        Some(b) => decode_open(b.as_ref())?,
        None => Vec::new(),
    };
    let meta: Option<Meta> = item
        .get("meta")
        .and_then(|v| v.as_s().ok())
        .and_then(|s| serde_json::from_str(s).ok());
    let (channel, load, push_refused) = meta
        .map(|m| (m.channel, m.load, m.push_refused))
        .unwrap_or_default();
    Ok(Decoded {
        state: GroupState {
            cursor,
            open,
            channel,
            load,
            push_refused,
            version: num("version").unwrap_or(0).max(0) as u64,
        },
        open_ref: item.get("open_ref").and_then(|v| v.as_s().ok()).cloned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::assemble::StoredEvent;

    #[test]
    fn the_cursor_skips_exactly_what_was_consumed() {
        let mut c = Cursor::at(100);
        assert!(c.consumed(99, "x"));
        assert!(!c.consumed(100, "a"));
        c.advance(100, "a");
        c.advance(100, "b");
        assert!(c.consumed(100, "a") && c.consumed(100, "b") && !c.consumed(100, "c"));
        c.advance(105, "c");
        assert_eq!(
            c,
            Cursor {
                ts: 105,
                ids: vec!["c".into()]
            }
        );
        c.finish_window(200);
        assert_eq!(c, Cursor::at(200));
        c.finish_window(150);
        assert_eq!(c.ts, 200);
    }

    #[test]
    fn a_state_round_trips_through_its_item() {
        let state = GroupState {
            cursor: Some(Cursor {
                ts: 7,
                ids: vec!["e1".into()],
            }),
            open: vec![OpenRequest {
                request_id: "r".into(),
                first_timestamp: 5,
                started: true,
                events: vec![StoredEvent {
                    event_id: "e0".into(),
                    timestamp: 5,
                    message: "(r) Starting execution for request: r".into(),
                }],
                log_group: String::new(),
            }],
            channel: Channel::ToPush { at: 9 },
            load: Load {
                pages_per_minute: 3.5,
                lag_ms: 10,
                behind_ticks: 2,
            },
            push_refused: Some(("no free slot".into(), 99)),
            version: 0,
        };
        let item = to_attributes(&state, OpenBlob::Inline(encode_open(&state.open)));
        let back = from_attributes(&item).unwrap();
        assert_eq!(back.state, state);
        assert!(back.open_ref.is_none());
        // An empty item is a group never read.
        let fresh = from_attributes(&HashMap::new()).unwrap().state;
        assert_eq!(fresh, GroupState::default());
    }

    #[test]
    fn channels_say_where_polling_ends() {
        let c = Cursor::at(50);
        assert_eq!(Channel::Poll.poll_until(), None);
        assert_eq!(
            Channel::ToPush { at: 60 }.poll_until(),
            Some(60 + ORPHAN_WINDOW_MS)
        );
        assert!(!Channel::ToPush { at: 60 }.poll_done(&c, 0));
        assert!(Channel::ToPush { at: 50 }.poll_done(&c, 0));
        assert!(!Channel::ToPush { at: 50 }.poll_done(&c, 1));
        assert!(Channel::ToPush {
            at: 50 - ORPHAN_WINDOW_MS
        }
        .poll_done(&c, 1));
        assert!(Channel::Push { since: 1 }.poll_done(&c, 3));
        assert_eq!(Channel::ToPoll { at: 60 }.poll_until(), None);
    }
}
