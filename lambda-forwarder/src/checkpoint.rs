//! Per-log-group checkpoints, so a failed or late run resumes where delivery stopped.
//!
//! A group's checkpoint is the start of its next window plus the events at or after that start
//! which were already handled. Each window re-reads an overlap (CloudWatch may ingest an event
//! minutes after its timestamp); events seen before are dropped by id. The start never moves
//! past an event that was not delivered (a failed batch, a request still waiting for its last
//! line), so those are read again next run: an outage delays data, it does not drop it.
//!
//! Stored as one SSM String parameter (JSON). To fit SSM's 8 KB limit, handled events are kept
//! as 64-bit hashes of their ids with a timestamp offset, packed and base64-encoded.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde::{Deserialize, Serialize};

use crate::parse::LogEvent;

/// Re-read this much before the end of the last window, for CloudWatch's ingestion delay.
pub const OVERLAP_MS: i64 = 120_000;
/// A REST request still incomplete after this long is sent as incomplete.
pub const PENDING_BOUND_MS: i64 = 300_000;
/// SSM's largest parameter value (advanced tier), with room for the JSON around the data.
pub const MAX_STORED_CHARS: usize = 8_000;
/// Forget groups not seen for a week (a deleted stage).
const FORGET_AFTER_MS: i64 = 7 * 86_400_000;

/// 64-bit FNV-1a: stable across releases (unlike `DefaultHasher`), which a stored checkpoint
/// needs; collisions among a few thousand ids are negligible.
pub fn id_hash(event_id: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in event_id.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupCheckpoint {
    /// Start (ms) of the next window.
    pub start: i64,
    /// (timestamp, id hash) of handled events with timestamp >= start.
    pub seen: BTreeSet<(i64, u64)>,
}

impl GroupCheckpoint {
    /// The events not handled before, and how many were dropped as duplicates.
    pub fn unseen(&self, events: Vec<LogEvent>) -> (Vec<LogEvent>, usize) {
        let hashes: HashSet<u64> = self.seen.iter().map(|(_, h)| *h).collect();
        let before = events.len();
        let fresh: Vec<LogEvent> = events
            .into_iter()
            .filter(|e| !hashes.contains(&id_hash(&e.event_id)))
            .collect();
        let dropped = before - fresh.len();
        (fresh, dropped)
    }

    /// The checkpoint after a window ending at `window_end`: `handled` events (delivered, or
    /// consumed without a transaction) are remembered; the next start is the overlap before
    /// `window_end`, or the earliest `held` (undelivered) timestamp if that is earlier.
    pub fn advance(
        &self,
        handled: impl IntoIterator<Item = (i64, u64)>,
        earliest_held: Option<i64>,
        window_end: i64,
    ) -> GroupCheckpoint {
        let mut start = window_end - OVERLAP_MS;
        if let Some(held) = earliest_held {
            start = start.min(held);
        }
        let start = start.max(self.start);
        let seen = self
            .seen
            .iter()
            .copied()
            .chain(handled)
            .filter(|(ts, _)| *ts >= start)
            .collect();
        GroupCheckpoint { start, seen }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Checkpoints {
    pub groups: BTreeMap<String, GroupCheckpoint>,
}

#[derive(Serialize, Deserialize)]
struct Wire {
    v: u32,
    groups: BTreeMap<String, WireGroup>,
}

#[derive(Serialize, Deserialize)]
struct WireGroup {
    start: i64,
    /// base64 of (u32 BE ms after `start`, u64 BE id hash) records.
    #[serde(default)]
    seen: String,
}

#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    #[error("checkpoint parameter is not valid JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("checkpoint parameter has a bad seen list for {0}")]
    Seen(String),
    #[error("SSM {op} {name}: {message}")]
    Ssm {
        op: &'static str,
        name: String,
        message: String,
    },
}

impl Checkpoints {
    pub fn decode(text: &str) -> Result<Self, CheckpointError> {
        let wire: Wire = serde_json::from_str(text)?;
        let mut groups = BTreeMap::new();
        for (name, g) in wire.groups {
            let bytes = STANDARD
                .decode(g.seen.as_bytes())
                .map_err(|_| CheckpointError::Seen(name.clone()))?;
            if bytes.len() % 12 != 0 {
                return Err(CheckpointError::Seen(name));
            }
            let seen = bytes
                .chunks_exact(12)
                .map(|c| {
                    let off = u32::from_be_bytes([c[0], c[1], c[2], c[3]]);
                    let h = u64::from_be_bytes([c[4], c[5], c[6], c[7], c[8], c[9], c[10], c[11]]);
                    (g.start + i64::from(off), h)
                })
                .collect();
            groups.insert(
                name,
                GroupCheckpoint {
                    start: g.start,
                    seen,
                },
            );
        }
        Ok(Self { groups })
    }

    pub fn encode(&self) -> String {
        let groups = self
            .groups
            .iter()
            .map(|(name, g)| {
                let mut bytes = Vec::with_capacity(g.seen.len() * 12);
                for (ts, h) in &g.seen {
                    let off = u32::try_from((ts - g.start).max(0)).unwrap_or(u32::MAX);
                    bytes.extend_from_slice(&off.to_be_bytes());
                    bytes.extend_from_slice(&h.to_be_bytes());
                }
                (
                    name.clone(),
                    WireGroup {
                        start: g.start,
                        seen: STANDARD.encode(bytes),
                    },
                )
            })
            .collect();
        serde_json::to_string(&Wire { v: 1, groups }).unwrap_or_default()
    }

    /// Forget groups neither in this run nor moved for a week.
    pub fn prune(&mut self, active: &HashSet<String>, now: i64) {
        self.groups
            .retain(|name, g| active.contains(name) || now - g.start < FORGET_AFTER_MS);
    }

    /// Shrink until the encoded form fits `max_chars`: drop the oldest remembered events of
    /// the largest group, moving its start up to the oldest one kept — but never past
    /// `holds[group]` (its earliest undelivered event). Returns how many remembered events
    /// had to be dropped while still inside their window (they may be sent again: a rare
    /// duplicate is preferred to a loss).
    pub fn fit(&mut self, max_chars: usize, holds: &BTreeMap<String, i64>) -> usize {
        let mut forced = 0;
        while self.encode().len() > max_chars {
            let Some((name, g)) = self
                .groups
                .iter_mut()
                .filter(|(_, g)| !g.seen.is_empty())
                .max_by_key(|(_, g)| g.seen.len())
            else {
                break;
            };
            let drop_n = g.seen.len().div_ceil(4);
            let mut dropped = Vec::new();
            for _ in 0..drop_n {
                if let Some(first) = g.seen.pop_first() {
                    dropped.push(first);
                }
            }
            let oldest_kept = g.seen.first().map(|(ts, _)| *ts).unwrap_or(i64::MAX);
            let limit = holds.get(name).copied().unwrap_or(i64::MAX);
            let new_start = oldest_kept.min(limit).max(g.start);
            forced += dropped.iter().filter(|(ts, _)| *ts >= new_start).count();
            g.start = new_start;
        }
        forced
    }
}

/// The stored text of the checkpoint parameter, or `None` when it does not exist yet.
pub async fn load_text(
    ssm: &aws_sdk_ssm::Client,
    name: &str,
) -> Result<Option<String>, CheckpointError> {
    match ssm.get_parameter().name(name).send().await {
        Ok(out) => Ok(out.parameter().and_then(|p| p.value()).map(str::to_string)),
        Err(e)
            if e.as_service_error()
                .is_some_and(|se| se.is_parameter_not_found()) =>
        {
            Ok(None)
        }
        Err(e) => Err(CheckpointError::Ssm {
            op: "GetParameter",
            name: name.to_string(),
            message: cq_stage_logging::error_chain(&e),
        }),
    }
}

pub async fn save(
    ssm: &aws_sdk_ssm::Client,
    name: &str,
    checkpoints: &Checkpoints,
) -> Result<(), CheckpointError> {
    let text = checkpoints.encode();
    // Intelligent tiering: standard while under 4 KB, advanced (8 KB) only when needed.
    ssm.put_parameter()
        .name(name)
        .value(text)
        .r#type(aws_sdk_ssm::types::ParameterType::String)
        .tier(aws_sdk_ssm::types::ParameterTier::IntelligentTiering)
        .overwrite(true)
        .send()
        .await
        .map_err(|e| CheckpointError::Ssm {
            op: "PutParameter",
            name: name.to_string(),
            message: cq_stage_logging::error_chain(&e),
        })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(id: &str, ts: i64) -> LogEvent {
        LogEvent {
            event_id: id.into(),
            timestamp: ts,
            message: String::new(),
        }
    }

    #[test]
    fn round_trips_through_the_stored_form() {
        let mut cp = Checkpoints::default();
        cp.groups.insert(
            "g".into(),
            GroupCheckpoint {
                start: 1_000,
                seen: [(1_000, 7), (1_500, u64::MAX)].into_iter().collect(),
            },
        );
        cp.groups.insert("empty".into(), GroupCheckpoint::default());
        assert_eq!(Checkpoints::decode(&cp.encode()).unwrap(), cp);
        assert!(Checkpoints::decode("{nope").is_err());
    }

    #[test]
    fn seen_events_are_dropped_as_duplicates() {
        let cp = GroupCheckpoint {
            start: 0,
            seen: [(5, id_hash("a"))].into_iter().collect(),
        };
        let (fresh, dropped) = cp.unseen(vec![ev("a", 5), ev("b", 6)]);
        assert_eq!(dropped, 1);
        assert_eq!(fresh, vec![ev("b", 6)]);
    }

    #[test]
    fn advance_keeps_an_overlap_and_never_passes_a_held_event() {
        let cp = GroupCheckpoint {
            start: 0,
            seen: [(10, 1)].into_iter().collect(),
        };
        let end = 1_000_000;
        // Everything delivered: next start is the overlap before the end.
        let next = cp.advance([(end - 60_000, 2), (end - 500_000, 3)], None, end);
        assert_eq!(next.start, end - OVERLAP_MS);
        assert_eq!(next.seen, [(end - 60_000, 2)].into_iter().collect());
        // A held event pins the start; handled events after it are remembered.
        let next = cp.advance([(400_000, 4), (900_000, 5)], Some(300_000), end);
        assert_eq!(next.start, 300_000);
        assert_eq!(next.seen.len(), 2);
        // The start never moves backwards.
        let later = GroupCheckpoint {
            start: end,
            seen: BTreeSet::new(),
        };
        assert_eq!(later.advance([], None, end).start, end);
    }

    #[test]
    fn id_hash_is_stable() {
        // Pinned: a change would re-send every event in the overlap after an upgrade.
        assert_eq!(id_hash(""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(id_hash("a"), 0xaf63_dc4c_8601_ec8c);
    }

    #[test]
    fn fit_shrinks_the_largest_group_but_respects_holds() {
        let mut cp = Checkpoints::default();
        let seen: BTreeSet<(i64, u64)> = (0..2_000).map(|i| (1_000 + i, i as u64)).collect();
        cp.groups.insert(
            "big".into(),
            GroupCheckpoint {
                start: 1_000,
                seen: seen.clone(),
            },
        );
        cp.groups
            .insert("held".into(), GroupCheckpoint { start: 1_000, seen });
        let holds = BTreeMap::from([("held".to_string(), 1_100)]);
        let forced = cp.fit(MAX_STORED_CHARS, &holds);
        assert!(cp.encode().len() <= MAX_STORED_CHARS);
        let big = &cp.groups["big"];
        // The start moved up with the dropped events, so none of them will be re-read.
        assert_eq!(big.start, big.seen.first().unwrap().0);
        // The held group could not move past 1_100: what it dropped after that is "forced".
        assert!(cp.groups["held"].start <= 1_100);
        assert!(forced > 0);
    }

    #[test]
    fn prune_forgets_only_idle_inactive_groups() {
        let mut cp = Checkpoints::default();
        let now = 10 * 86_400_000;
        for (name, start) in [("active", 0), ("recent", now - 1_000), ("idle", 0)] {
            cp.groups.insert(
                name.into(),
                GroupCheckpoint {
                    start,
                    seen: BTreeSet::new(),
                },
            );
        }
        cp.prune(&HashSet::from(["active".to_string()]), now);
        assert_eq!(
            cp.groups.keys().collect::<Vec<_>>(),
            vec!["active", "recent"]
        );
    }
}
