//! Serialized transactions in Edge-sized batches, and the bookkeeping that says how far the
//! state may move once some batches are delivered.
//!
//! Transactions are numbered in the order they are built. A batch is a contiguous run of
//! them. Checkpoints ("snapshots" of where reading stands and which requests are still open)
//! are taken between transactions; a snapshot may be saved once every transaction built
//! before it is delivered or durably spooled. That keeps delivery parallel while the saved
//! state never claims more than what is safe.

use std::collections::{BTreeMap, VecDeque};

/// The Edge's limit (docs/contract.md).
pub const MAX_BATCH_TRANSACTIONS: usize = 250;
/// Well under the Edge's 10 MB limit, measured before compression.
pub const MAX_BATCH_BYTES: usize = 5 * 1024 * 1024;

/// One transaction as JSON, with its id (for logs and the rejected spool) and its number.
#[derive(Clone, Debug)]
pub struct Serialized {
    pub seq: u64,
    pub id: String,
    pub json: Vec<u8>,
}

/// `{"data":[t1,t2,...]}` from already-serialized transactions.
pub fn batch_body<'a>(transactions: impl Iterator<Item = &'a [u8]> + Clone) -> Vec<u8> {
    // Sized once: grown by doubling, a 5 MB body is copied a dozen times.
    let size = ENVELOPE + transactions.clone().map(|t| t.len() + 1).sum::<usize>();
    let mut body = Vec::with_capacity(size);
    body.extend_from_slice(b"{\"data\":[");
    for (i, t) in transactions.enumerate() {
        if i > 0 {
            body.push(b',');
        }
        body.extend_from_slice(t);
    }
    body.extend_from_slice(b"]}");
    body
}

const ENVELOPE: usize = r#"{"data":[]}"#.len();

/// Collects transactions and seals a batch when the next one would break a limit.
#[derive(Debug)]
pub struct Batcher {
    max_count: usize,
    max_bytes: usize,
    current: Vec<Serialized>,
    bytes: usize,
}

impl Default for Batcher {
    fn default() -> Self {
        Self::new(MAX_BATCH_TRANSACTIONS, MAX_BATCH_BYTES)
    }
}

impl Batcher {
    pub fn new(max_count: usize, max_bytes: usize) -> Self {
        Self {
            max_count,
            max_bytes,
            current: Vec::new(),
            bytes: ENVELOPE,
        }
    }

    /// Add one transaction; returns the batch it sealed, if any. A transaction larger than
    /// the byte limit travels alone (the Edge's 413 then isolates it).
    pub fn push(&mut self, t: Serialized) -> Option<Vec<Serialized>> {
        let add = t.json.len() + usize::from(!self.current.is_empty());
        let sealed = if !self.current.is_empty()
            && (self.current.len() == self.max_count || self.bytes + add > self.max_bytes)
        {
            self.bytes = ENVELOPE;
            Some(std::mem::take(&mut self.current))
        } else {
            None
        };
        self.bytes += t.json.len() + usize::from(!self.current.is_empty());
        self.current.push(t);
        if sealed.is_none() && self.current.len() == self.max_count {
            self.bytes = ENVELOPE;
            return Some(std::mem::take(&mut self.current));
        }
        sealed
    }

    /// The partial batch, if any.
    pub fn flush(&mut self) -> Option<Vec<Serialized>> {
        self.bytes = ENVELOPE;
        (!self.current.is_empty()).then(|| std::mem::take(&mut self.current))
    }

    pub fn is_empty(&self) -> bool {
        self.current.is_empty()
    }
}

/// Which transactions are handled (delivered or durably spooled), and the latest snapshot
/// that this makes safe to save.
#[derive(Debug)]
pub struct Progress<S> {
    /// Transactions numbered so far.
    next_seq: u64,
    /// Every transaction below this is handled.
    watermark: u64,
    /// Handled ranges above the watermark: start -> end (exclusive).
    handled: BTreeMap<u64, u64>,
    /// Snapshots not saved yet, with the number of transactions built before each.
    snapshots: VecDeque<(u64, S)>,
}

impl<S> Default for Progress<S> {
    fn default() -> Self {
        Self {
            next_seq: 0,
            watermark: 0,
            handled: BTreeMap::new(),
            snapshots: VecDeque::new(),
        }
    }
}

impl<S> Progress<S> {
    /// The number for the next transaction.
    pub fn number(&mut self) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        seq
    }

    /// A snapshot of the state as it is now (after every transaction numbered so far).
    pub fn snapshot(&mut self, s: S) {
        // A newer snapshot at the same point replaces the older one.
        if self
            .snapshots
            .back()
            .is_some_and(|(at, _)| *at == self.next_seq)
        {
            self.snapshots.pop_back();
        }
        self.snapshots.push_back((self.next_seq, s));
    }

    /// Transactions `seqs` are handled.
    pub fn handled(&mut self, seqs: impl IntoIterator<Item = u64>) {
        for seq in seqs {
            if seq >= self.watermark {
                self.handled.insert(seq, seq + 1);
            }
        }
        while let Some(end) = self.handled.remove(&self.watermark) {
            self.watermark = end;
        }
    }

    /// The newest snapshot whose transactions are all handled (older ones are dropped).
    pub fn take_saveable(&mut self) -> Option<S> {
        let mut found = None;
        while self
            .snapshots
            .front()
            .is_some_and(|(at, _)| *at <= self.watermark)
        {
            found = self.snapshots.pop_front().map(|(_, s)| s);
        }
        found
    }

    /// Transactions numbered but not handled.
    pub fn outstanding(&self) -> u64 {
        self.next_seq - self.watermark - self.handled.len() as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(seq: u64, n: usize) -> Serialized {
        Serialized {
            seq,
            id: seq.to_string(),
            json: vec![b'1'; n],
        }
    }

    #[test]
    fn batches_respect_both_limits_and_oversize_goes_alone() {
        let mut b = Batcher::new(3, 100);
        let mut sealed = Vec::new();
        for (i, n) in [40, 40, 40, 500, 10, 10, 10, 10].iter().enumerate() {
            if let Some(batch) = b.push(t(i as u64, *n)) {
                sealed.push(batch.iter().map(|t| t.seq).collect::<Vec<_>>());
            }
        }
        if let Some(batch) = b.flush() {
            sealed.push(batch.iter().map(|t| t.seq).collect());
        }
        assert_eq!(
            sealed,
            vec![vec![0, 1], vec![2], vec![3], vec![4, 5, 6], vec![7]]
        );
        assert!(b.flush().is_none());
    }

    #[test]
    fn planned_bytes_match_the_real_body() {
        let mut b = Batcher::new(250, 60);
        let mut all = Vec::new();
        for i in 0..9 {
            if let Some(batch) = b.push(t(i, 10 + i as usize)) {
                all.push(batch);
            }
        }
        all.extend(b.flush());
        for batch in all {
            let body = batch_body(batch.iter().map(|t| t.json.as_slice()));
            assert!(body.len() <= 60 || batch.len() == 1, "{}", body.len());
            let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
            assert_eq!(v["data"].as_array().unwrap().len(), batch.len());
        }
    }

    #[test]
    fn a_snapshot_is_saveable_only_when_everything_before_it_is_handled() {
        let mut p: Progress<&str> = Progress::default();
        let a: Vec<u64> = (0..3).map(|_| p.number()).collect();
        p.snapshot("after-a");
        let b: Vec<u64> = (0..2).map(|_| p.number()).collect();
        p.snapshot("after-b");
        // The later batch is delivered first: nothing can be saved yet.
        p.handled(b.clone());
        assert_eq!(p.take_saveable(), None);
        assert_eq!(p.outstanding(), 3);
        p.handled(a);
        assert_eq!(p.take_saveable(), Some("after-b"));
        assert_eq!(p.take_saveable(), None);
        // A snapshot with nothing outstanding is saveable at once.
        p.snapshot("idle");
        assert_eq!(p.take_saveable(), Some("idle"));
    }
}
