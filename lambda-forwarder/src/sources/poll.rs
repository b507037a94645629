//! Reading log events with FilterLogEvents, one page at a time, within CloudWatch Logs' quota
//! for the account and region (25 requests/s in us-east-1, 10 in most regions, 5 in a few:
//! `config::filter_log_events_quota`). The SDK client is built with its own retries off, so
//! every attempt goes through the limiter, is counted, and stops at the caller's deadline.

use std::time::{Duration, Instant};

use aws_sdk_cloudwatchlogs::error::{ProvideErrorMetadata, SdkError};
use tokio::sync::Mutex;

use crate::backoff::Backoff;
use crate::pipeline::parse::LogEvent;
use crate::stats::{lock, SharedStats};

/// FilterLogEvents' largest page.
pub const PAGE_LIMIT: i32 = 10_000;
pub const RETRY: Backoff = Backoff::new(250, 8_000, 8);

/// A token bucket: `rate` tokens a second, at most `burst` saved up.
#[derive(Debug)]
pub struct TokenBucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    pub fn new(rate: f64, burst: f64, now: Instant) -> Self {
        Self {
            rate,
            burst,
            tokens: burst,
            last: now,
        }
    }

    /// Take a token at `now`, or say how long until one is available.
    pub fn try_take(&mut self, now: Instant) -> Result<(), Duration> {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - self.tokens) / self.rate))
        }
    }
}

/// The limiter shared by every concurrent fetch of a run.
#[derive(Debug)]
pub struct RateLimiter(Mutex<TokenBucket>);

impl RateLimiter {
    pub fn new(rate: f64, burst: f64) -> Self {
        Self(Mutex::new(TokenBucket::new(rate, burst, Instant::now())))
    }

    /// Paced just under `quota` requests/s (the quota is per second; a burst of a full
    /// second's worth after a pause is within it).
    pub fn filter_log_events(quota: f64) -> Self {
        let rate = (quota * 0.95).max(0.1);
        Self::new(rate, quota.max(1.0))
    }

    pub async fn acquire(&self) {
        loop {
            let wait = match self.0.lock().await.try_take(Instant::now()) {
                Ok(()) => return,
                Err(wait) => wait,
            };
            tokio::time::sleep(wait).await;
        }
    }
}

/// How a failed call is handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// Throttled, 5xx, timeout or connection trouble: retry after a backoff.
    Retryable,
    /// The log group does not exist (yet): API Gateway creates execution-log groups on the
    /// first request, so this is an empty group, not an error.
    NotFound,
    Fatal,
}

/// Classify an SDK error and give the label counted in `cloudwatch_statuses` (the HTTP
/// status, the throttling error code, or `timeout`/`connection`).
pub fn classify<E: ProvideErrorMetadata, R>(
    err: &SdkError<E, R>,
    status: Option<u16>,
) -> (Failure, String) {
    const THROTTLING: &[&str] = &[
        "ThrottlingException",
        "Throttling",
        "TooManyRequestsException",
        "LimitExceededException",
        "RequestLimitExceeded",
    ];
    let code = err.code().unwrap_or_default();
    let label = status.map(|s| s.to_string());
    match err {
        SdkError::TimeoutError(_) => (Failure::Retryable, "timeout".into()),
        SdkError::DispatchFailure(_) => (Failure::Retryable, "connection".into()),
        SdkError::ResponseError(_) => (
            Failure::Retryable,
            label.unwrap_or_else(|| "response".into()),
        ),
        // Labelled by code: a throttle's HTTP status (400) alone would not say what it was.
        _ if THROTTLING.contains(&code) => (Failure::Retryable, code.to_string()),
        _ if status == Some(429) => (Failure::Retryable, "429".into()),
        _ if code == "ResourceNotFoundException" => {
            (Failure::NotFound, label.unwrap_or_else(|| "404".into()))
        }
        _ if status.is_some_and(|s| s >= 500) || code == "ServiceUnavailableException" => {
            (Failure::Retryable, label.unwrap_or_else(|| "5xx".into()))
        }
        _ => (Failure::Fatal, label.unwrap_or_else(|| "error".into())),
    }
}

enum Step {
    Page(aws_sdk_cloudwatchlogs::operation::filter_log_events::FilterLogEventsOutput),
    Missing,
    Retry(String),
    Fail(String),
}

#[derive(Debug, thiserror::Error)]
#[error("FilterLogEvents on {log_group} failed after {attempts} attempts: {message}")]
pub struct FetchError {
    pub log_group: String,
    pub attempts: u32,
    pub message: String,
}

/// One page of a window.
#[derive(Debug, Default)]
pub struct Page {
    /// The events as stored: a REST group's records written by a CloudWatch Logs delivery in
    /// `json` format are unwrapped where REST events enter the pipeline (the assembler, see
    /// `pipeline::parse::delivered`), for this path and the push path alike.
    pub events: Vec<LogEvent>,
    /// More pages follow (FilterLogEvents can return an empty page with a token).
    pub next_token: Option<String>,
}

/// What to read: `start <= timestamp <= end_inclusive` (FilterLogEvents' bounds are both
/// inclusive).
#[derive(Debug, Clone)]
pub struct PageRequest<'a> {
    pub log_group: &'a str,
    pub start: i64,
    pub end_inclusive: i64,
    pub next_token: Option<String>,
}

/// Fetch one page, retrying throttling and transient failures with backoff, never past
/// `deadline`. A missing log group is an empty last page (API Gateway creates execution-log
/// groups on a stage's first request).
pub async fn fetch_page(
    client: &aws_sdk_cloudwatchlogs::Client,
    limiter: &RateLimiter,
    stats: &SharedStats,
    req: &PageRequest<'_>,
    deadline: Instant,
) -> Result<Page, FetchError> {
    let log_group = req.log_group;
    let mut attempts = 0u32;
    let mut retry = 0u32;
    loop {
        limiter.acquire().await;
        attempts += 1;
        let started = Instant::now();
        let result = client
            .filter_log_events()
            .log_group_name(log_group)
            .start_time(req.start)
            .end_time(req.end_inclusive)
            .limit(PAGE_LIMIT)
            .set_next_token(req.next_token.clone())
            .send()
            .await;
        let latency = started.elapsed().as_millis() as u64;
        // Decide under the stats lock, act (sleep) after releasing it.
        let next = {
            let mut s = lock(stats);
            s.total_cloudwatch_fetch_attempts += 1;
            match result {
                Ok(page) => {
                    s.count_status("200");
                    s.total_cloudwatch_successes += 1;
                    s.total_pages += 1;
                    s.record_cloudwatch_page(latency);
                    Step::Page(page)
                }
                Err(err) => {
                    let status = err.raw_response().map(|r| r.status().as_u16());
                    let (failure, label) = classify(&err, status);
                    s.count_status(&label);
                    let time_left = deadline.saturating_duration_since(Instant::now())
                        > RETRY.ceiling(retry + 1) + Duration::from_millis(500);
                    match failure {
                        Failure::NotFound => {
                            s.total_cloudwatch_successes += 1;
                            Step::Missing
                        }
                        Failure::Retryable if retry < RETRY.max_retries && time_left => {
                            s.total_cloudwatch_retries += 1;
                            Step::Retry(label)
                        }
                        _ => {
                            s.total_cloudwatch_failures += 1;
                            Step::Fail(cq_stage_logging::error_chain(&err))
                        }
                    }
                }
            }
        };
        match next {
            Step::Page(mut page) => {
                let events: Vec<LogEvent> = page
                    .events
                    .take()
                    .unwrap_or_default()
                    .into_iter()
                    .filter_map(|e| {
                        Some(LogEvent {
                            event_id: e.event_id?,
                            timestamp: e.timestamp?,
                            message: e.message.unwrap_or_default(),
                        })
                    })
                    .collect();
                lock(stats).total_events_fetched += events.len() as u64;
                // An empty token, or the same one again, would loop forever.
                let next_token = page
                    .next_token
                    .take()
                    .filter(|t| !t.is_empty() && req.next_token.as_deref() != Some(t.as_str()));
                return Ok(Page { events, next_token });
            }
            Step::Missing => {
                tracing::debug!(log_group, "log group does not exist yet");
                return Ok(Page::default());
            }
            Step::Retry(label) => {
                retry += 1;
                let delay = RETRY.delay(retry);
                tracing::debug!(log_group, %label, retry, ?delay, "retrying FilterLogEvents");
                tokio::time::sleep(delay).await;
            }
            Step::Fail(message) => {
                return Err(FetchError {
                    log_group: log_group.to_string(),
                    attempts,
                    message,
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_allows_a_burst_then_paces_at_the_rate() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(5.0, 5.0, t0);
        for _ in 0..5 {
            assert!(b.try_take(t0).is_ok());
        }
        let wait = b.try_take(t0).unwrap_err();
        assert!((wait.as_secs_f64() - 0.2).abs() < 1e-6, "{wait:?}");
        assert!(b.try_take(t0 + Duration::from_millis(200)).is_ok());
        assert!(b.try_take(t0 + Duration::from_millis(250)).is_err());
        // Idle time never saves up more than the burst.
        let later = t0 + Duration::from_secs(60);
        for _ in 0..5 {
            assert!(b.try_take(later).is_ok());
        }
        assert!(b.try_take(later).is_err());
    }

    #[tokio::test]
    async fn limiter_spaces_requests_beyond_the_burst() {
        let limiter = RateLimiter::new(20.0, 2.0);
        let t0 = Instant::now();
        for _ in 0..6 {
            limiter.acquire().await;
        }
        // 2 at once, then 4 more at 50 ms each.
        assert!(
            t0.elapsed() >= Duration::from_millis(190),
            "{:?}",
            t0.elapsed()
        );
    }
}
