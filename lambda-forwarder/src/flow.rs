//! The glue between building transactions and delivering them: batches are posted while
//! reading goes on (a few in flight per source), and after each delivered batch the newest
//! checkpoint that is now safe is handed back to be saved.

use std::time::Instant;

use futures::future::BoxFuture;
use futures::stream::FuturesUnordered;
use futures::{FutureExt, StreamExt};

use crate::pipeline::batch::{Batcher, Progress, Serialized};
use crate::pipeline::build::Built;
use crate::pipeline::to_json;
use crate::sinks::deliver::{BatchResult, Deliverer, NotDurable};
use crate::stats::SharedStats;

type Delivery<'a> = BoxFuture<'a, (Vec<u64>, Result<BatchResult, NotDurable>)>;

pub struct Flow<'a, S> {
    deliverer: &'a Deliverer,
    stats: &'a SharedStats,
    deadline: Instant,
    batcher: Batcher,
    progress: Progress<S>,
    in_flight: FuturesUnordered<Delivery<'a>>,
    max_in_flight: usize,
    sealed: u64,
    result: BatchResult,
    /// Set once something could be neither delivered nor spooled: nothing after it may be
    /// checkpointed, so the source should stop.
    pub failure: Option<String>,
}

impl<'a, S> Flow<'a, S> {
    /// `deadline`: when deliveries must be over (posts and spool writes are cut short then).
    pub fn new(
        deliverer: &'a Deliverer,
        stats: &'a SharedStats,
        deadline: Instant,
        max_in_flight: usize,
    ) -> Self {
        Self {
            deliverer,
            stats,
            deadline,
            batcher: Batcher::default(),
            progress: Progress::default(),
            in_flight: FuturesUnordered::new(),
            max_in_flight: max_in_flight.max(1),
            sealed: 0,
            result: BatchResult::default(),
            failure: None,
        }
    }

    /// Queue one transaction; a full batch starts on its way.
    pub fn add(&mut self, built: &Built) {
        let seq = self.progress.number();
        let t = Serialized {
            seq,
            id: built.transaction.transaction_id.clone(),
            json: to_json(built),
        };
        if let Some(batch) = self.batcher.push(t) {
            self.start(batch);
        }
    }

    fn start(&mut self, batch: Vec<Serialized>) {
        self.sealed += 1;
        let deliverer = self.deliverer;
        let stats = self.stats;
        let deadline = self.deadline;
        self.in_flight.push(
            async move {
                let seqs: Vec<u64> = batch.iter().map(|t| t.seq).collect();
                let r = deliverer.deliver(&batch, deadline, stats).await;
                (seqs, r)
            }
            .boxed(),
        );
    }

    /// Batches sealed so far (a caller may snapshot only when this moved).
    pub fn sealed(&self) -> u64 {
        self.sealed
    }

    /// Where the source stands now, to be saved once everything before it is handled.
    pub fn snapshot(&mut self, s: S) {
        self.progress.snapshot(s);
    }

    fn settle(&mut self, seqs: Vec<u64>, r: Result<BatchResult, NotDurable>) {
        match r {
            Ok(r) => {
                self.result.delivered += r.delivered;
                self.result.spooled += r.spooled;
                self.result.rejected += r.rejected;
                self.progress.handled(seqs);
            }
            Err(e) => {
                tracing::error!(error = %e, "transactions are neither delivered nor spooled; they will be read again");
                self.failure.get_or_insert(e.to_string());
            }
        }
    }

    /// Collect finished deliveries, waiting only while too many are in flight; returns the
    /// newest snapshot that may be saved now.
    pub async fn pump(&mut self) -> Option<S> {
        while let Some(Some((seqs, r))) = self.in_flight.next().now_or_never() {
            self.settle(seqs, r);
        }
        while self.in_flight.len() >= self.max_in_flight {
            if let Some((seqs, r)) = self.in_flight.next().await {
                self.settle(seqs, r);
            }
        }
        self.saveable()
    }

    /// The newest snapshot that may be saved now (nothing in flight before it).
    pub fn saveable(&mut self) -> Option<S> {
        if self.failure.is_some() {
            return None;
        }
        self.progress.take_saveable()
    }

    /// Send the partial batch (call once, after the last snapshot).
    pub fn flush(&mut self) {
        if let Some(batch) = self.batcher.flush() {
            self.start(batch);
        }
    }

    /// Wait for the next delivery to end; returns the newest snapshot that may be saved now,
    /// or `None` once nothing is in flight any more and nothing is left to save. Saving after
    /// each delivery keeps what a killed process leaves unsaved to the batches in flight.
    pub async fn drain(&mut self) -> Option<Option<S>> {
        match self.in_flight.next().await {
            Some((seqs, r)) => {
                self.settle(seqs, r);
                Some(self.saveable())
            }
            None => None,
        }
    }

    /// Send the partial batch and wait for every delivery; returns the newest saveable
    /// snapshot (take the final one first).
    pub async fn finish(&mut self) -> Option<S> {
        self.flush();
        let mut last = None;
        while let Some(s) = self.drain().await {
            if s.is_some() {
                last = s;
            }
        }
        last.or_else(|| self.saveable())
    }

    pub fn result(&self) -> BatchResult {
        self.result
    }
}
