//! Posting transactions to the UAP Edge: `{"data":[...]}` batches of at most 250 transactions
//! and 5 MB, a few in flight at once, retried with backoff. The caller learns per batch
//! whether it was delivered, because only delivered events may move a checkpoint.

use std::io::Write;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{Duration, Instant};

use futures::StreamExt;

use crate::backoff::Backoff;
use crate::stats::{lock, SharedStats};
use crate::token::{without_url, TokenProvider};

pub const MAX_BATCH_TRANSACTIONS: usize = 250;
/// Well under the Edge's 10 MB limit (SPEC §6), measured before compression.
pub const MAX_BATCH_BYTES: usize = 5 * 1024 * 1024;
pub const PARALLEL_POSTS: usize = 4;
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
const RETRY: Backoff = Backoff::new(500, 8_000, 4);

/// Split serialized transactions into batches (indices into `sizes`), in order, each within
/// both limits. A transaction larger than the byte limit travels alone.
pub fn plan_batches(sizes: &[usize], max_count: usize, max_bytes: usize) -> Vec<Vec<usize>> {
    let envelope = r#"{"data":[]}"#.len();
    let mut batches = Vec::new();
    let mut current: Vec<usize> = Vec::new();
    let mut bytes = envelope;
    for (i, &size) in sizes.iter().enumerate() {
        let add = size + usize::from(!current.is_empty());
        if !current.is_empty() && (current.len() == max_count || bytes + add > max_bytes) {
            batches.push(std::mem::take(&mut current));
            bytes = envelope;
        }
        bytes += size + usize::from(!current.is_empty());
        current.push(i);
    }
    if !current.is_empty() {
        batches.push(current);
    }
    batches
}

/// `{"data":[t1,t2,...]}` from already-serialized transactions.
pub fn batch_body<'a>(transactions: impl Iterator<Item = &'a [u8]>) -> Vec<u8> {
    let mut body = b"{\"data\":[".to_vec();
    for (i, t) in transactions.enumerate() {
        if i > 0 {
            body.push(b',');
        }
        body.extend_from_slice(t);
    }
    body.extend_from_slice(b"]}");
    body
}

/// What became of one batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Delivered,
    /// The Edge refused the content itself (400/413/422): sending it again cannot succeed, so
    /// it is not held back (that would block the log group forever); it is counted and logged.
    Rejected(String),
    /// Not delivered (outage, auth trouble, retries exhausted): the events are read again.
    Failed(String),
}

const GZIP_UNKNOWN: u8 = 0;
const GZIP_YES: u8 = 1;
const GZIP_NO: u8 = 2;

pub struct EdgeClient {
    http: reqwest::Client,
    endpoint: String,
    /// Whether the endpoint takes `Content-Encoding: gzip`: tried first, and switched off
    /// for the life of the process on a 415.
    gzip: AtomicU8,
}

impl EdgeClient {
    pub fn new(http: reqwest::Client, endpoint: String) -> Self {
        Self {
            http,
            endpoint,
            gzip: AtomicU8::new(GZIP_UNKNOWN),
        }
    }

    /// Post every batch, at most [`PARALLEL_POSTS`] at once; outcomes in batch order.
    pub async fn post_all(
        &self,
        bodies: Vec<(Vec<u8>, usize)>,
        tokens: &TokenProvider,
        stats: &SharedStats,
    ) -> Vec<Outcome> {
        let mut indexed: Vec<(usize, Outcome)> =
            futures::stream::iter(bodies.into_iter().enumerate())
                .map(|(i, (body, count))| async move {
                    (i, self.post(&body, count, tokens, stats).await)
                })
                .buffer_unordered(PARALLEL_POSTS)
                .collect()
                .await;
        indexed.sort_by_key(|(i, _)| *i);
        indexed.into_iter().map(|(_, o)| o).collect()
    }

    /// One batch of `count` transactions, with retries and at most one token refresh.
    pub async fn post(
        &self,
        body: &[u8],
        count: usize,
        tokens: &TokenProvider,
        stats: &SharedStats,
    ) -> Outcome {
        let started = Instant::now();
        let outcome = self.post_inner(body, tokens, stats).await;
        let mut s = lock(stats);
        s.total_batches += 1;
        match &outcome {
            Outcome::Delivered => {
                s.successful_batches += 1;
                s.transactions_delivered += count as u64;
                s.record_batch(count, started.elapsed().as_millis() as u64);
            }
            Outcome::Rejected(why) => {
                s.failed_batches += 1;
                s.transactions_rejected += count as u64;
                tracing::error!(transactions = count, reason = %why, "the Edge rejected a batch; it will not be retried");
            }
            Outcome::Failed(why) => {
                s.failed_batches += 1;
                s.transactions_undelivered += count as u64;
                tracing::warn!(transactions = count, reason = %why, "batch not delivered; it will be sent again next run");
            }
        }
        outcome
    }

    async fn post_inner(
        &self,
        body: &[u8],
        tokens: &TokenProvider,
        stats: &SharedStats,
    ) -> Outcome {
        let mut token = match tokens.get(stats).await {
            Ok(t) => t,
            Err(e) => return Outcome::Failed(format!("no token: {e}")),
        };
        let mut refreshed = false;
        let mut retries = 0u32;
        let mut compressed: Option<Vec<u8>> = None;
        loop {
            let use_gzip = self.gzip.load(Ordering::Relaxed) != GZIP_NO;
            let mut req = self
                .http
                .post(&self.endpoint)
                .timeout(REQUEST_TIMEOUT)
                .bearer_auth(&token)
                .header(reqwest::header::CONTENT_TYPE, "application/json");
            req = if use_gzip {
                let gz = compressed.get_or_insert_with(|| gzip(body));
                req.header(reqwest::header::CONTENT_ENCODING, "gzip")
                    .body(gz.clone())
            } else {
                req.body(body.to_vec())
            };
            let failure = match req.send().await {
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    match status {
                        200..=299 => {
                            if use_gzip {
                                self.gzip.store(GZIP_YES, Ordering::Relaxed);
                            }
                            return Outcome::Delivered;
                        }
                        401 if !refreshed => {
                            refreshed = true;
                            match tokens.refresh(&token, stats).await {
                                Ok(t) => token = t,
                                Err(e) => {
                                    return Outcome::Failed(format!("token refresh failed: {e}"))
                                }
                            }
                            continue;
                        }
                        415 if use_gzip => {
                            tracing::info!("the Edge does not accept gzip; sending uncompressed");
                            self.gzip.store(GZIP_NO, Ordering::Relaxed);
                            continue;
                        }
                        400 | 413 | 422 => {
                            return Outcome::Rejected(format!("HTTP {status}"));
                        }
                        500..=599 | 408 | 429 => format!("HTTP {status}"),
                        _ => return Outcome::Failed(format!("HTTP {status}")),
                    }
                }
                Err(e) => without_url(e),
            };
            if retries >= RETRY.max_retries {
                return Outcome::Failed(format!("{failure} after {} retries", retries));
            }
            retries += 1;
            lock(stats).total_cequence_edge_retries += 1;
            tokio::time::sleep(RETRY.delay(retries)).await;
        }
    }
}

fn gzip(body: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    // Writing into a Vec cannot fail.
    let _ = enc.write_all(body);
    enc.finish().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_respect_the_count_limit() {
        let sizes = vec![10; 600];
        let batches = plan_batches(&sizes, 250, MAX_BATCH_BYTES);
        let lens: Vec<usize> = batches.iter().map(Vec::len).collect();
        assert_eq!(lens, vec![250, 250, 100]);
        let flat: Vec<usize> = batches.concat();
        assert_eq!(flat, (0..600).collect::<Vec<_>>());
    }

    #[test]
    fn batches_respect_the_byte_limit_and_oversize_goes_alone() {
        let sizes = vec![40, 40, 40, 500, 10];
        let batches = plan_batches(&sizes, 250, 100);
        assert_eq!(batches, vec![vec![0, 1], vec![2], vec![3], vec![4]]);
        for b in &batches {
            let body = batch_body(b.iter().map(|_| &b"x"[..]));
            assert!(body.starts_with(b"{\"data\":["));
        }
    }

    #[test]
    fn planned_bytes_match_the_real_body() {
        let ts: Vec<Vec<u8>> = (0..7).map(|i| vec![b'1'; 10 + i]).collect();
        let sizes: Vec<usize> = ts.iter().map(Vec::len).collect();
        let max = 60;
        for b in plan_batches(&sizes, 250, max) {
            let body = batch_body(b.iter().map(|&i| ts[i].as_slice()));
            assert!(body.len() <= max || b.len() == 1, "{}", body.len());
        }
    }

    #[test]
    fn batch_body_is_the_edge_envelope() {
        let body = batch_body([&br#"{"a":1}"#[..], &br#"{"b":2}"#[..]].into_iter());
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v, serde_json::json!({"data":[{"a":1},{"b":2}]}));
        assert_eq!(batch_body(std::iter::empty()), br#"{"data":[]}"#.to_vec());
    }

    #[test]
    fn gzip_round_trips() {
        use std::io::Read;
        let mut out = String::new();
        flate2::read::GzDecoder::new(gzip(b"hello").as_slice())
            .read_to_string(&mut out)
            .unwrap();
        assert_eq!(out, "hello");
    }
}
