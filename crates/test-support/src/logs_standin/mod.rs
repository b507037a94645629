//! A fast local stand-in for CloudWatch Logs (awsJson1.1, `X-Amz-Target: Logs_20140328.*`)
//! serving FilterLogEvents from a computed corpus, with the real service's paging, quota and
//! ingestion behaviour (see `paging`). moto can hold a few thousand events; the vendor's
//! minute is four million, and moto also knows no quota.
//!
//! * `ThrottlingException` (HTTP 400) above `quota_tps` FilterLogEvents calls a second (a
//!   token bucket holding one second's worth: 5, 10 or 25 are the real regional quotas);
//! * `ResourceNotFoundException` for a group the corpus does not have;
//! * each page is answered after `page_latency` (default 200 ms: what a full 1 MB page takes
//!   in-region; with 8 calls in flight that still allows ~40 calls/s, so the quota, not the
//!   latency, bounds a client that reads groups concurrently, as it does in AWS);
//! * events become visible when ingested (holds: late ingestion, released at run time);
//! * DescribeLogGroups and the subscription-filter calls, kept in memory, for a forwarder
//!   that manages its push subscriptions.

pub mod paging;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::background::Background;
use crate::corpus::Corpus;
use crate::http::{self, Handler, Request, Response};
use paging::PageLimits;

#[derive(Clone, Debug)]
pub struct StandinConfig {
    /// FilterLogEvents calls a second before ThrottlingException; 0 = unlimited.
    pub quota_tps: f64,
    pub page_latency: Duration,
    pub limits: PageLimits,
    /// Subscription filters allowed per log group (2 is the default quota).
    pub filters_per_group: usize,
    pub workers: usize,
}

impl Default for StandinConfig {
    fn default() -> Self {
        Self {
            quota_tps: 25.0,
            page_latency: Duration::from_millis(200),
            limits: PageLimits::default(),
            filters_per_group: 2,
            workers: 2,
        }
    }
}

/// What the stand-in served; a test or the benchmark reads these.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct StandinCounters {
    pub requests: u64,
    pub filter_requests: u64,
    pub pages: u64,
    pub throttled: u64,
    pub not_found: u64,
    pub events_served: u64,
    pub bytes_served: u64,
    pub other_calls: BTreeMap<String, u64>,
}

struct Bucket {
    tokens: f64,
    last: Instant,
}

struct State {
    counters: StandinCounters,
    releases: Vec<Option<i64>>,
    bucket: Bucket,
    quota_tps: f64,
    page_latency: Duration,
    /// When false every event is unseen (a push run: data arrives only by subscription).
    serving: bool,
    filters: BTreeMap<String, Vec<Value>>,
}

pub struct LogsStandin {
    state: Arc<Mutex<State>>,
    corpus: Arc<Corpus>,
    server: Background,
}

fn lock(state: &Mutex<State>) -> std::sync::MutexGuard<'_, State> {
    state.lock().unwrap_or_else(|p| p.into_inner())
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

impl LogsStandin {
    pub fn start(corpus: Arc<Corpus>, config: StandinConfig) -> Self {
        let state = Arc::new(Mutex::new(State {
            counters: StandinCounters::default(),
            releases: vec![None; 256],
            bucket: Bucket {
                tokens: config.quota_tps,
                last: Instant::now(),
            },
            quota_tps: config.quota_tps,
            page_latency: config.page_latency,
            serving: true,
            filters: BTreeMap::new(),
        }));
        let handler_state = state.clone();
        let handler_corpus = corpus.clone();
        let config = Arc::new(config);
        let handler: Handler = Arc::new(move |req: Request| {
            let state = handler_state.clone();
            let corpus = handler_corpus.clone();
            let config = config.clone();
            Box::pin(async move { handle(req, &state, &corpus, &config).await })
        });
        let workers = 2;
        let server = Background::start("logs-standin", 0, workers, move |listener| {
            http::serve_listener(listener, handler)
        })
        .expect("start the CloudWatch Logs stand-in");
        Self {
            state,
            corpus,
            server,
        }
    }

    /// `http://127.0.0.1:<port>`, for `AWS_ENDPOINT_URL_CLOUDWATCH_LOGS`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.server.addr())
    }

    pub fn addr(&self) -> std::net::SocketAddr {
        self.server.addr()
    }

    pub fn corpus(&self) -> &Arc<Corpus> {
        &self.corpus
    }

    pub fn counters(&self) -> StandinCounters {
        lock(&self.state).counters.clone()
    }

    pub fn reset_counters(&self) {
        lock(&self.state).counters = StandinCounters::default();
    }

    /// Events held by `hold` become visible now (ingested late).
    pub fn release(&self, hold: u8) {
        lock(&self.state).releases[usize::from(hold)] = Some(now_ms());
    }

    pub fn set_quota(&self, tps: f64) {
        let mut s = lock(&self.state);
        s.quota_tps = tps;
        s.bucket.tokens = tps;
    }

    pub fn set_page_latency(&self, latency: Duration) {
        lock(&self.state).page_latency = latency;
    }

    pub fn set_serving(&self, serving: bool) {
        lock(&self.state).serving = serving;
    }

    /// Subscription filters the client created, per log group.
    pub fn subscription_filters(&self) -> BTreeMap<String, Vec<Value>> {
        lock(&self.state).filters.clone()
    }
}

fn error(type_: &str, message: &str) -> Response {
    Response::new(
        400,
        json!({"__type": type_, "message": message}).to_string(),
    )
    .with_header("content-type", "application/x-amz-json-1.1")
    .with_header("x-amzn-errortype", type_)
    .with_header("x-amzn-requestid", &request_id())
}

fn ok(body: Vec<u8>) -> Response {
    Response::new(200, body)
        .with_header("content-type", "application/x-amz-json-1.1")
        .with_header("x-amzn-requestid", &request_id())
}

fn request_id() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(1);
    format!("standin-{:012}", N.fetch_add(1, Ordering::Relaxed))
}

async fn handle(
    req: Request,
    state: &Mutex<State>,
    corpus: &Corpus,
    cfg: &StandinConfig,
) -> Response {
    let target = req.header("x-amz-target").unwrap_or_default().to_string();
    let op = target
        .strip_prefix("Logs_20140328.")
        .unwrap_or(&target)
        .to_string();
    lock(state).counters.requests += 1;
    let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
    match op.as_str() {
        "FilterLogEvents" => filter_log_events(&body, state, corpus, cfg).await,
        "DescribeLogGroups" => {
            count_other(state, &op);
            describe_log_groups(&body, corpus)
        }
        "DescribeSubscriptionFilters" | "PutSubscriptionFilter" | "DeleteSubscriptionFilter" => {
            count_other(state, &op);
            subscription_filters(&op, &body, state, corpus, cfg)
        }
        _ => {
            count_other(state, &op);
            error(
                "UnknownOperationException",
                &format!("the stand-in does not implement {target:?}"),
            )
        }
    }
}

fn count_other(state: &Mutex<State>, op: &str) {
    *lock(state)
        .counters
        .other_calls
        .entry(op.to_string())
        .or_default() += 1;
}

/// A group name from `logGroupName` or `logGroupIdentifier` (name or ARN).
fn group_name(body: &Value) -> String {
    let raw = body
        .get("logGroupName")
        .or_else(|| body.get("logGroupIdentifier"))
        .and_then(Value::as_str)
        .unwrap_or_default();
    match raw.split_once(":log-group:") {
        Some((_, name)) => name.trim_end_matches(":*").to_string(),
        None => raw.to_string(),
    }
}

#[derive(Serialize, Deserialize)]
struct Token {
    g: usize,
    p: usize,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct WireEvent<'a> {
    log_stream_name: &'a str,
    timestamp: i64,
    message: &'a str,
    ingestion_time: i64,
    event_id: String,
}

async fn filter_log_events(
    body: &Value,
    state: &Mutex<State>,
    corpus: &Corpus,
    cfg: &StandinConfig,
) -> Response {
    let (latency, releases, serving) = {
        let mut s = lock(state);
        s.counters.filter_requests += 1;
        if s.quota_tps > 0.0 {
            let now = Instant::now();
            let elapsed = now.saturating_duration_since(s.bucket.last).as_secs_f64();
            let quota = s.quota_tps;
            s.bucket.tokens = (s.bucket.tokens + elapsed * quota).min(quota.max(1.0));
            s.bucket.last = now;
            if s.bucket.tokens < 1.0 {
                s.counters.throttled += 1;
                return error("ThrottlingException", "Rate exceeded");
            }
            s.bucket.tokens -= 1.0;
        }
        (s.page_latency, s.releases.clone(), s.serving)
    };
    let name = group_name(body);
    let Some(group) = corpus.group_index(&name) else {
        lock(state).counters.not_found += 1;
        return error(
            "ResourceNotFoundException",
            "The specified log group does not exist.",
        );
    };
    let start = body.get("startTime").and_then(Value::as_i64).unwrap_or(0);
    let end = body
        .get("endTime")
        .and_then(Value::as_i64)
        .unwrap_or(i64::MAX);
    let limit = body
        .get("limit")
        .and_then(Value::as_u64)
        .map_or(cfg.limits.max_events, |l| l as usize);
    let from = body
        .get("nextToken")
        .and_then(Value::as_str)
        .and_then(|t| URL_SAFE_NO_PAD.decode(t).ok())
        .and_then(|b| serde_json::from_slice::<Token>(&b).ok())
        .filter(|t| t.g == group)
        .map(|t| t.p);
    let now = if serving { now_ms() } else { i64::MIN };
    let started = Instant::now();
    // Render while paging: the renderer keeps each request's texts for this page only.
    let mut renderer = corpus.renderer();
    let mut lens = Vec::new();
    let page = paging::page(
        corpus,
        group,
        start,
        end,
        from,
        limit,
        cfg.limits,
        now,
        &releases,
        |i| {
            let len = renderer.message(group, &corpus.events[group][i]).len();
            lens.push(len);
            len
        },
    );
    let mut out = Vec::with_capacity(page.bytes + page.events.len() * 160 + 64);
    out.extend_from_slice(b"{\"events\":[");
    for (n, &i) in page.events.iter().enumerate() {
        let e = &corpus.events[group][i];
        if n > 0 {
            out.push(b',');
        }
        let wire = WireEvent {
            log_stream_name: corpus.stream_name(group, e),
            timestamp: corpus.timestamp(e),
            message: renderer.message(group, e),
            ingestion_time: paging::ingested_at(corpus, e, &releases).unwrap_or(0),
            event_id: corpus.event_id(group, i),
        };
        let _ = serde_json::to_writer(&mut out, &wire);
    }
    out.extend_from_slice(b"],\"searchedLogStreams\":[]");
    if let Some(p) = page.next {
        let token =
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(&Token { g: group, p }).unwrap_or_default());
        out.extend_from_slice(format!(",\"nextToken\":\"{token}\"").as_bytes());
    }
    out.push(b'}');
    {
        let mut s = lock(state);
        s.counters.pages += 1;
        s.counters.events_served += page.events.len() as u64;
        s.counters.bytes_served += page.bytes as u64;
    }
    drop(renderer);
    let spent = started.elapsed();
    if latency > spent {
        tokio::time::sleep(latency - spent).await;
    }
    ok(out)
}

fn describe_log_groups(body: &Value, corpus: &Corpus) -> Response {
    let prefix = body
        .get("logGroupNamePrefix")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let groups: Vec<Value> = corpus
        .groups
        .iter()
        .filter(|g| g.name.starts_with(prefix))
        .map(|g| {
            json!({
                "logGroupName": g.name,
                "arn": format!("arn:aws:logs:{}:{}:log-group:{}:*", corpus.spec.region, corpus.spec.account_id, g.name),
                "logGroupArn": format!("arn:aws:logs:{}:{}:log-group:{}", corpus.spec.region, corpus.spec.account_id, g.name),
                "creationTime": corpus.spec.start_ms - 86_400_000,
                "retentionInDays": 7,
                "storedBytes": 0,
                "logGroupClass": "STANDARD",
            })
        })
        .collect();
    ok(json!({"logGroups": groups}).to_string().into_bytes())
}

fn subscription_filters(
    op: &str,
    body: &Value,
    state: &Mutex<State>,
    corpus: &Corpus,
    cfg: &StandinConfig,
) -> Response {
    let name = group_name(body);
    if corpus.group_index(&name).is_none() {
        return error(
            "ResourceNotFoundException",
            "The specified log group does not exist.",
        );
    }
    let filter_name = body
        .get("filterName")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let mut s = lock(state);
    let list = s.filters.entry(name.clone()).or_default();
    match op {
        "DescribeSubscriptionFilters" => ok(json!({"subscriptionFilters": list.clone()})
            .to_string()
            .into_bytes()),
        "PutSubscriptionFilter" => {
            let existing = list
                .iter()
                .position(|f| f["filterName"] == filter_name.as_str());
            if existing.is_none() && list.len() >= cfg.filters_per_group {
                return error("LimitExceededException", "Resource limit exceeded.");
            }
            let filter = json!({
                "filterName": filter_name,
                "logGroupName": name,
                "filterPattern": body.get("filterPattern").cloned().unwrap_or(json!("")),
                "destinationArn": body.get("destinationArn").cloned().unwrap_or(Value::Null),
                "roleArn": body.get("roleArn").cloned().unwrap_or(Value::Null),
                "distribution": body.get("distribution").cloned().unwrap_or(json!("ByLogStream")),
                "creationTime": now_ms(),
            });
            match existing {
                Some(i) => list[i] = filter,
                None => list.push(filter),
            }
            ok(b"{}".to_vec())
        }
        _ => {
            let before = list.len();
            list.retain(|f| f["filterName"] != filter_name.as_str());
            if list.len() == before {
                error(
                    "ResourceNotFoundException",
                    "The specified subscription filter does not exist.",
                )
            } else {
                ok(b"{}".to_vec())
            }
        }
    }
}
