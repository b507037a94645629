//! The invocation queue: FIFO, with entries that may wait (an async retry's delay) and lanes
//! (a Kinesis shard: one batch in flight at a time, in order, a retry before anything after).

use std::collections::{HashSet, VecDeque};
use std::time::Instant;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub invocation: u64,
    pub not_before: Instant,
    pub lane: Option<String>,
}

#[derive(Default, Debug)]
pub struct Queue {
    entries: VecDeque<Entry>,
    busy_lanes: HashSet<String>,
}

impl Queue {
    pub fn push_back(&mut self, e: Entry) {
        self.entries.push_back(e);
    }

    /// A lane's retry: before every later entry of that lane.
    pub fn push_front(&mut self, e: Entry) {
        self.entries.push_front(e);
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Whether anything could start at `now` (for sizing the pool).
    pub fn ready_count(&self, now: Instant) -> usize {
        let mut seen: HashSet<&str> = HashSet::new();
        self.entries
            .iter()
            .filter(|e| match &e.lane {
                None => e.not_before <= now,
                Some(l) => {
                    let first = seen.insert(l.as_str());
                    first && !self.busy_lanes.contains(l) && e.not_before <= now
                }
            })
            .count()
    }

    /// The first entry that may start at `now`; its lane becomes busy until released.
    pub fn pop_ready(&mut self, now: Instant) -> Option<Entry> {
        let mut seen: HashSet<&str> = HashSet::new();
        let mut found = None;
        for (i, e) in self.entries.iter().enumerate() {
            let ready = match &e.lane {
                None => e.not_before <= now,
                Some(l) => {
                    let first = seen.insert(l.as_str());
                    first && !self.busy_lanes.contains(l) && e.not_before <= now
                }
            };
            if ready {
                found = Some(i);
                break;
            }
        }
        let e = self.entries.remove(found?)?;
        if let Some(l) = &e.lane {
            self.busy_lanes.insert(l.clone());
        }
        Some(e)
    }

    pub fn release_lane(&mut self, lane: &str) {
        self.busy_lanes.remove(lane);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn e(i: u64, lane: Option<&str>, at: Instant) -> Entry {
        Entry {
            invocation: i,
            not_before: at,
            lane: lane.map(str::to_string),
        }
    }

    #[test]
    fn lanes_run_one_at_a_time_in_order_and_waiting_entries_are_skipped() {
        let now = Instant::now();
        let later = now + Duration::from_secs(60);
        let mut q = Queue::default();
        q.push_back(e(1, Some("s0"), now));
        q.push_back(e(2, Some("s0"), now));
        q.push_back(e(3, None, later));
        q.push_back(e(4, Some("s1"), now));
        assert_eq!(q.ready_count(now), 2);
        assert_eq!(q.pop_ready(now).unwrap().invocation, 1);
        // s0 is busy: 2 waits; 3 is not due; 4 runs.
        assert_eq!(q.pop_ready(now).unwrap().invocation, 4);
        assert_eq!(q.pop_ready(now), None);
        // 1 failed: its retry goes before 2.
        q.push_front(e(1, Some("s0"), now));
        q.release_lane("s0");
        assert_eq!(q.pop_ready(now).unwrap().invocation, 1);
        q.release_lane("s0");
        assert_eq!(q.pop_ready(later).unwrap().invocation, 2);
        assert_eq!(q.pop_ready(later).unwrap().invocation, 3);
        assert!(q.is_empty());
    }
}
