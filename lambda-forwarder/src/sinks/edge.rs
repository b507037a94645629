//! One POST to the UAP Edge and what its answer means. The policy (retry, split, bisect,
//! spool) is `deliver`'s; this module only speaks HTTP.

use std::time::Duration;

use crate::compress::gzip;
use crate::token::without_url;

/// An Edge answer, classified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    Delivered,
    /// 401: the token is not (or no longer) accepted.
    Unauthorized,
    /// 3xx: never followed (the bearer token must not travel elsewhere).
    Redirect {
        status: u16,
        location: String,
    },
    /// 413: this body is too large for the Edge.
    TooLarge,
    /// 400/415 to a gzip body: maybe a proxy that ignores Content-Encoding.
    GzipRefused {
        status: u16,
    },
    /// 400/422 (or another 4xx): the Edge refuses the content; `reason` is its answer.
    Refused {
        status: u16,
        reason: String,
    },
    /// 429: come back later.
    RateLimited {
        retry_after: Option<Duration>,
    },
    /// 5xx, timeout, connection trouble: may work on a retry.
    Transient(String),
}

pub struct EdgeClient {
    http: reqwest::Client,
    endpoint: String,
}

/// The Edge's answer text, short, for logs and the rejected spool (never a secret: it is the
/// Edge's own words about our transactions).
async fn answer_text(resp: reqwest::Response) -> String {
    let text = resp.text().await.unwrap_or_default();
    let mut t: String = text.chars().take(500).collect();
    if text.chars().count() > 500 {
        t.push('…');
    }
    t
}

impl EdgeClient {
    pub fn new(http: reqwest::Client, endpoint: String) -> Self {
        Self { http, endpoint }
    }

    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// POST `body` (`{"data":[...]}`), gzip-compressed when `use_gzip`.
    pub async fn post(
        &self,
        body: &[u8],
        use_gzip: bool,
        token: &str,
        timeout: Duration,
    ) -> Answer {
        let mut req = self
            .http
            .post(&self.endpoint)
            .timeout(timeout)
            .bearer_auth(token)
            .header(reqwest::header::CONTENT_TYPE, "application/json");
        req = if use_gzip {
            req.header(reqwest::header::CONTENT_ENCODING, "gzip")
                .body(gzip(body))
        } else {
            req.body(body.to_vec())
        };
        let resp = match req.send().await {
            Ok(r) => r,
            Err(e) => return Answer::Transient(without_url(e)),
        };
        let status = resp.status().as_u16();
        match status {
            200..=299 => Answer::Delivered,
            300..=399 => Answer::Redirect {
                status,
                location: resp
                    .headers()
                    .get(reqwest::header::LOCATION)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("(no Location header)")
                    .chars()
                    .take(200)
                    .collect(),
            },
            401 => Answer::Unauthorized,
            413 => Answer::TooLarge,
            400 | 415 if use_gzip => Answer::GzipRefused { status },
            429 => Answer::RateLimited {
                retry_after: resp
                    .headers()
                    .get(reqwest::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .map(Duration::from_secs),
            },
            408 | 500..=599 => Answer::Transient(format!("HTTP {status}")),
            _ => Answer::Refused {
                status,
                reason: answer_text(resp).await,
            },
        }
    }
}
