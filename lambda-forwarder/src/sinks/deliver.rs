//! Getting a batch to the Edge, or somewhere durable: the delivery policy.
//!
//! * 2xx: delivered.
//! * 401: the token is refreshed once and the batch sent again.
//! * 400 or 415 to a gzip body: sent again as plain JSON; if that works, gzip stays off (a
//!   proxy in front of the Edge that ignores Content-Encoding), remembered for later runs.
//! * 413: the batch is split in two and each half sent; a single transaction too large for
//!   the Edge is kept under `rejected/` with the Edge's answer.
//! * 400/422 (and other 4xx): bisected down to the transactions the Edge refuses, which go to
//!   `rejected/` with its reason; the rest is delivered.
//! * 3xx: a failure with a clear message; redirects are never followed, so the bearer token
//!   is never sent anywhere but the configured endpoint.
//! * 429, 5xx, timeouts, connection trouble: a few retries with backoff within the time left.
//!
//! A batch that still cannot be delivered goes to the spool and is replayed, oldest first, by
//! later ticks. After the first such failure of an invocation the Edge is considered down and
//! the rest of the invocation spools at once, without spending its time on retries. An Edge
//! failure therefore never fails an invocation and never loses data; only a spool that cannot
//! be written either stops progress (the events are then read again).

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::value::RawValue;

use super::edge::{Answer, EdgeClient};
use super::spool::Spool;
use crate::backoff::Backoff;
use crate::pipeline::batch::{batch_body, Serialized};
use crate::state::StateStore;
use crate::stats::{lock, SharedStats};
use crate::token::TokenProvider;

const RETRY: Backoff = Backoff::new(500, 4_000, 3);
/// The longest a single POST may take.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Posts in flight at once, over every group of an invocation.
pub const PARALLEL_POSTS: usize = 6;
const GZIP_UNKNOWN: u8 = 0;
const GZIP_YES: u8 = 1;
const GZIP_NO: u8 = 2;
const GZIP_PREFERENCE: &str = "gzip";

/// What became of a batch.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct BatchResult {
    pub delivered: u64,
    pub spooled: u64,
    pub rejected: u64,
}

impl BatchResult {
    fn add(&mut self, o: BatchResult) {
        self.delivered += o.delivered;
        self.spooled += o.spooled;
        self.rejected += o.rejected;
    }
}

/// Neither delivered nor spooled: the caller must not checkpoint past these transactions.
#[derive(Debug, thiserror::Error)]
#[error("{count} transaction(s) neither delivered nor spooled: {reason}")]
pub struct NotDurable {
    pub count: usize,
    pub reason: String,
}

/// The fate of one part of a batch after the policy ran.
#[derive(Debug)]
enum Fate {
    Delivered,
    Rejected(String),
    Failed(String),
}

pub struct Deliverer {
    edge: EdgeClient,
    tokens: Arc<TokenProvider>,
    spool: Option<Spool>,
    store: Option<Arc<StateStore>>,
    gzip: AtomicU8,
    /// While it is not known whether the Edge takes gzip, one post finds out and the others
    /// wait for its answer (else every post in flight would be refused once).
    gzip_probe: tokio::sync::Mutex<()>,
    /// Why the Edge is considered down for the rest of this invocation.
    down: Mutex<Option<String>>,
    posts: tokio::sync::Semaphore,
}

impl Deliverer {
    pub fn new(
        edge: EdgeClient,
        tokens: Arc<TokenProvider>,
        spool: Option<Spool>,
        store: Option<Arc<StateStore>>,
    ) -> Self {
        Self {
            edge,
            tokens,
            spool,
            store,
            gzip: AtomicU8::new(GZIP_UNKNOWN),
            gzip_probe: tokio::sync::Mutex::new(()),
            down: Mutex::new(None),
            posts: tokio::sync::Semaphore::new(PARALLEL_POSTS),
        }
    }

    /// A new invocation tries the Edge again; the gzip preference is read once per container.
    pub async fn begin_invocation(&self) {
        *self.down.lock().unwrap_or_else(|p| p.into_inner()) = None;
        if self.gzip.load(Ordering::Relaxed) == GZIP_UNKNOWN {
            if let Some(store) = &self.store {
                if store.edge_preference(GZIP_PREFERENCE).await.as_deref() == Some("off") {
                    self.gzip.store(GZIP_NO, Ordering::Relaxed);
                }
            }
        }
    }

    pub fn edge_down(&self) -> Option<String> {
        self.down.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn mark_down(&self, reason: &str) {
        let mut d = self.down.lock().unwrap_or_else(|p| p.into_inner());
        if d.is_none() {
            tracing::warn!(
                reason,
                "the Edge is not taking transactions; spooling for a later run"
            );
            *d = Some(reason.to_string());
        }
    }

    /// Deliver `batch`, or spool what cannot be delivered now.
    pub async fn deliver(
        &self,
        batch: &[Serialized],
        deadline: Instant,
        stats: &SharedStats,
    ) -> Result<BatchResult, NotDurable> {
        if batch.is_empty() {
            return Ok(BatchResult::default());
        }
        let parts = self.send(batch, deadline, stats).await;
        let mut result = BatchResult::default();
        let mut outcome = Ok(());
        for (part, fate) in parts {
            match self.settle(part, fate, stats).await {
                Ok(r) => result.add(r),
                Err(e) => {
                    outcome = Err(e);
                    break;
                }
            }
        }
        let mut st = lock(stats);
        // Live deliveries only: what a replay delivers is `transactions_replayed`.
        st.transactions_delivered += result.delivered;
        if outcome.is_err() {
            // The failed part and every part after it: read again by a later run.
            let settled = result.delivered + result.spooled + result.rejected;
            st.transactions_undelivered += (batch.len() as u64).saturating_sub(settled);
        }
        drop(st);
        outcome.map(|()| result)
    }

    /// Make a part durable according to its fate.
    async fn settle(
        &self,
        part: &[Serialized],
        fate: Fate,
        stats: &SharedStats,
    ) -> Result<BatchResult, NotDurable> {
        let count = part.len();
        match fate {
            Fate::Delivered => Ok(BatchResult {
                delivered: count as u64,
                ..Default::default()
            }),
            Fate::Rejected(reason) => {
                self.keep(part, &reason, true).await?;
                tracing::error!(transactions = count, transaction_id = %part[0].id, reason = %reason, "the Edge refused a transaction; kept under rejected/ in the spool bucket");
                lock(stats).transactions_rejected += count as u64;
                Ok(BatchResult {
                    rejected: count as u64,
                    ..Default::default()
                })
            }
            Fate::Failed(reason) => {
                self.keep(part, &reason, false).await?;
                lock(stats).transactions_spooled += count as u64;
                Ok(BatchResult {
                    spooled: count as u64,
                    ..Default::default()
                })
            }
        }
    }

    async fn keep(
        &self,
        part: &[Serialized],
        reason: &str,
        rejected: bool,
    ) -> Result<(), NotDurable> {
        let Some(spool) = &self.spool else {
            return Err(NotDurable {
                count: part.len(),
                reason: format!("{reason} (and no spool bucket is configured)"),
            });
        };
        let body = batch_body(part.iter().map(|t| t.json.as_slice()));
        let now = crate::token::now_secs() * 1000;
        let written = if rejected {
            spool.put_rejected(&body, reason, now).await
        } else {
            spool.put_batch(&body, reason, now).await
        };
        written.map(|_| ()).map_err(|e| NotDurable {
            count: part.len(),
            reason: format!("{reason}; spool: {e}"),
        })
    }

    /// Run the policy over `batch`; returns each part with its fate.
    async fn send<'a>(
        &self,
        batch: &'a [Serialized],
        deadline: Instant,
        stats: &SharedStats,
    ) -> Vec<(&'a [Serialized], Fate)> {
        let mut out = Vec::new();
        let mut todo = vec![batch];
        while let Some(part) = todo.pop() {
            if let Some(reason) = self.edge_down() {
                out.push((part, Fate::Failed(reason)));
                continue;
            }
            let answer = self.post(part, deadline, stats).await;
            match answer {
                Answer::Delivered => out.push((part, Fate::Delivered)),
                Answer::TooLarge if part.len() > 1 => {
                    let (a, b) = part.split_at(part.len() / 2);
                    // Depth-first, first half first: keeps the order roughly intact.
                    todo.push(b);
                    todo.push(a);
                }
                Answer::TooLarge => out.push((
                    part,
                    Fate::Rejected(format!(
                        "HTTP 413: a transaction of {} bytes is larger than the Edge accepts",
                        part[0].json.len()
                    )),
                )),
                Answer::Refused { status, reason } if part.len() > 1 => {
                    tracing::info!(
                        status,
                        transactions = part.len(),
                        "the Edge refused a batch; bisecting to find the transactions it refuses"
                    );
                    let (a, b) = part.split_at(part.len() / 2);
                    todo.push(b);
                    todo.push(a);
                    let _ = reason;
                }
                Answer::Refused { status, reason } => {
                    out.push((part, Fate::Rejected(format!("HTTP {status}: {reason}"))))
                }
                Answer::Redirect { status, location } => {
                    let why = format!(
                        "the Edge answered HTTP {status} (redirect to {location}); redirects are not followed \
                         so the token is never sent elsewhere: set cequence_edge_endpoint to the final \
                         transactions URL"
                    );
                    tracing::error!("{why}");
                    self.mark_down(&why);
                    out.push((part, Fate::Failed(why)));
                }
                Answer::Unauthorized => {
                    let why = "the Edge refuses our token (HTTP 401 after a refresh)".to_string();
                    self.mark_down(&why);
                    out.push((part, Fate::Failed(why)));
                }
                Answer::GzipRefused { status } => {
                    // Only returned when plain JSON was refused too; `post` handles the rest.
                    out.push((part, Fate::Failed(format!("HTTP {status}"))));
                }
                Answer::RateLimited { .. } | Answer::Transient(_) => {
                    let why = match answer {
                        Answer::Transient(r) => r,
                        _ => "HTTP 429".into(),
                    };
                    self.mark_down(&why);
                    out.push((part, Fate::Failed(why)));
                }
            }
        }
        out
    }

    /// One part through the network: token, gzip fallback, one refresh, bounded retries.
    async fn post(&self, part: &[Serialized], deadline: Instant, stats: &SharedStats) -> Answer {
        let _permit = self.posts.acquire().await;
        let body = batch_body(part.iter().map(|t| t.json.as_slice()));
        let mut token = match self.tokens.get(stats).await {
            Ok(t) => t,
            Err(e) => {
                let why = format!("no token: {e}");
                self.mark_down(&why);
                return Answer::Transient(why);
            }
        };
        let started = Instant::now();
        let mut refreshed = false;
        let mut fresh = false;
        let mut retries = 0u32;
        let answer = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left < Duration::from_millis(500) {
                break Answer::Transient("no time left before the deadline".into());
            }
            let timeout = REQUEST_TIMEOUT.min(left - Duration::from_millis(250));
            let _probe = if self.gzip.load(Ordering::Relaxed) == GZIP_UNKNOWN {
                Some(self.gzip_probe.lock().await)
            } else {
                None
            };
            // Waiting (for the gzip probe, a retry) may have outlived the token.
            if !fresh {
                match self.tokens.get(stats).await {
                    Ok(t) => token = t,
                    Err(e) => break Answer::Transient(format!("no token: {e}")),
                }
            }
            fresh = false;
            let use_gzip = self.gzip.load(Ordering::Relaxed) != GZIP_NO;
            let mut answer = self.edge.post(&body, use_gzip, &token, timeout).await;
            if let Answer::GzipRefused { status } = answer {
                let plain = self.edge.post(&body, false, &token, timeout).await;
                if plain == Answer::Delivered {
                    tracing::warn!(status, "the Edge refused a gzip body and took the same body uncompressed; sending uncompressed from now on");
                    self.gzip.store(GZIP_NO, Ordering::Relaxed);
                    if let Some(store) = &self.store {
                        store.set_edge_preference(GZIP_PREFERENCE, "off").await;
                    }
                }
                answer = plain;
            } else if use_gzip && answer == Answer::Delivered {
                self.gzip.store(GZIP_YES, Ordering::Relaxed);
            }
            match answer {
                Answer::Unauthorized if !refreshed => {
                    refreshed = true;
                    match self.tokens.refresh(&token, stats).await {
                        Ok(t) => {
                            token = t;
                            fresh = true;
                        }
                        Err(e) => break Answer::Transient(format!("token refresh failed: {e}")),
                    }
                }
                Answer::Transient(_) | Answer::RateLimited { .. }
                    if retries < RETRY.max_retries =>
                {
                    retries += 1;
                    lock(stats).total_cequence_edge_retries += 1;
                    let wait = match &answer {
                        Answer::RateLimited {
                            retry_after: Some(d),
                        } => (*d).min(Duration::from_secs(10)),
                        _ => RETRY.delay(retries),
                    };
                    if Instant::now() + wait + Duration::from_secs(1) > deadline {
                        break answer;
                    }
                    tracing::debug!(?answer, retries, ?wait, "retrying an Edge post");
                    tokio::time::sleep(wait).await;
                }
                other => break other,
            }
        };
        let mut s = lock(stats);
        s.total_batches += 1;
        if answer == Answer::Delivered {
            s.successful_batches += 1;
            s.record_batch(part.len(), started.elapsed().as_millis() as u64);
        } else {
            s.failed_batches += 1;
        }
        answer
    }

    /// Replay spooled batches, oldest first, until `deadline` or the Edge fails again.
    /// Each object is deleted only once what it held is delivered (or moved to `rejected/`).
    pub async fn replay(&self, deadline: Instant, stats: &SharedStats) -> BatchResult {
        let mut total = BatchResult::default();
        let Some(spool) = &self.spool else {
            return total;
        };
        let keys = match spool.list_batches(200).await {
            Ok(k) => k,
            Err(e) => {
                tracing::warn!(error = %e, "cannot list the spool");
                return total;
            }
        };
        for batch in keys {
            if self.edge_down().is_some() || Instant::now() + Duration::from_secs(1) > deadline {
                break;
            }
            let body = match spool.get_batch(&batch.key).await {
                Ok(b) => b,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot read a spooled batch");
                    break;
                }
            };
            let txns = match split_body(&body) {
                Ok(t) => t,
                Err(e) => {
                    // Not ours or damaged: keep it for an operator rather than loop on it.
                    tracing::error!(key = %batch.key, error = %e, "a spooled batch is unreadable; moving it to rejected/");
                    if spool
                        .put_rejected(
                            &body,
                            &format!("unreadable spooled batch: {e}"),
                            crate::token::now_secs() * 1000,
                        )
                        .await
                        .is_ok()
                    {
                        let _ = spool.delete(&batch.key).await;
                    }
                    continue;
                }
            };
            let parts = self.send(&txns, deadline, stats).await;
            let mut result = BatchResult::default();
            let mut failed: Vec<&Serialized> = Vec::new();
            let mut settle_error = false;
            for (part, fate) in parts {
                match fate {
                    Fate::Failed(_) => failed.extend(part.iter()),
                    fate => match self.settle(part, fate, stats).await {
                        Ok(r) => result.add(r),
                        Err(_) => settle_error = true,
                    },
                }
            }
            if settle_error {
                break;
            }
            if !failed.is_empty() && failed.len() < txns.len() {
                // Keep only what is still undelivered, so the delivered part is never re-sent.
                let rest = batch_body(failed.iter().map(|t| t.json.as_slice()));
                if spool
                    .put_batch(&rest, "partly replayed", crate::token::now_secs() * 1000)
                    .await
                    .is_err()
                {
                    break;
                }
            }
            if failed.len() < txns.len() && spool.delete(&batch.key).await.is_err() {
                break;
            }
            lock(stats).transactions_replayed += result.delivered;
            total.add(result);
            if !failed.is_empty() {
                break;
            }
        }
        total
    }
}

#[derive(Deserialize)]
struct RawBatch<'a> {
    #[serde(borrow)]
    data: Vec<&'a RawValue>,
}

/// The transactions of a batch body, as they were serialized.
pub fn split_body(body: &[u8]) -> Result<Vec<Serialized>, String> {
    let raw: RawBatch<'_> =
        serde_json::from_slice(body).map_err(|e| format!("not an Edge batch: {e}"))?;
    Ok(raw
        .data
        .iter()
        .enumerate()
        .map(|(i, t)| Serialized {
            seq: i as u64,
            id: serde_json::from_str::<serde_json::Value>(t.get())
                .ok()
                .and_then(|v| {
                    v.get("transaction-id")
                        .and_then(|x| x.as_str().map(str::to_string))
                })
                .unwrap_or_default(),
            json: t.get().as_bytes().to_vec(),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spooled_bodies_split_back_into_their_transactions() {
        let body = br#"{"data":[{"transaction-id":"a","x":[1,2]},{"transaction-id":"b"}]}"#;
        let t = split_body(body).unwrap();
        assert_eq!(t.len(), 2);
        assert_eq!(t[0].id, "a");
        assert_eq!(t[0].json, br#"{"transaction-id":"a","x":[1,2]}"#);
        let again = batch_body(t.iter().map(|t| t.json.as_slice()));
        assert_eq!(again, body.to_vec());
        assert!(split_body(b"nope").is_err());
    }
}
