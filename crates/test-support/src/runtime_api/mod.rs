//! A local Lambda: the Runtime API (`GET /2018-06-01/runtime/invocation/next`, `POST
//! .../{id}/response`, `.../{id}/error`, `/runtime/init/error`) served to real `bootstrap`
//! processes, with Lambda's invocation semantics around it:
//! * a queue of invocations, each with its deadline (`Lambda-Runtime-Deadline-Ms`);
//! * up to `max_concurrency` execution environments pulling from it, each a process with its
//!   own endpoint, started on demand (a cold start) and reused while warm;
//! * timeouts as Lambda has them: a process still busy at its deadline is SIGKILLed and the
//!   next invocation gets a fresh process; a process that dies (OOM in its cgroup) is a crash;
//! * retries by source: a schedule tick is not retried (the template's schedule has
//!   MaximumRetryAttempts 0); an async invocation (a subscription payload) is retried twice on
//!   error or timeout; a Kinesis batch is retried in its shard's order until it succeeds
//!   (bounded), from the first failed record when the function reports batch item failures;
//! * each process measured whole (`process`), optionally in a cgroup sized like the
//!   function (`cgroup`).

mod dispatch;
mod endpoint;
pub mod queue;
pub mod sandbox;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::Serialize;
use serde_json::{json, Value};
use tokio::sync::Notify;

use crate::background::Background;
use crate::http::{self, Handler, Request, Response};
use crate::process::Usage;
use crate::rng::Rng;
use queue::{Entry, Queue};
use sandbox::{Sandbox, SandboxState};

pub const FUNCTION_ARN_PREFIX: &str = "arn:aws:lambda:us-east-1:123456789012:function:";

#[derive(Clone, Debug)]
pub struct FunctionConfig {
    pub bootstrap: PathBuf,
    /// The function's environment (the emulator adds the `AWS_LAMBDA_*` variables).
    pub env: Vec<(String, String)>,
    pub function_name: String,
    pub memory_mb: u32,
    /// Per invocation; the deadline is this long after the invocation is handed out.
    pub timeout: Duration,
    pub max_concurrency: usize,
    /// Run each process in a cgroup sized like `memory_mb` (falls back with a note).
    pub cgroup: bool,
    /// Lambda waits about 1 and then 2 minutes between async retries.
    pub async_retry_delays: [Duration; 2],
    /// Kinesis batch retries before the emulator gives up on it (Lambda would go on until the
    /// records expire; a harness must stop).
    pub kinesis_max_retries: u32,
    pub log_lines_cap: usize,
    /// Keep every stats line (tests read them per attempt); when false only their numeric
    /// totals are kept, so tens of thousands of invocations stay small (the benchmark).
    pub keep_stats: bool,
}

impl FunctionConfig {
    pub fn new(bootstrap: impl Into<PathBuf>, env: Vec<(String, String)>) -> Self {
        Self {
            bootstrap: bootstrap.into(),
            env,
            function_name: "cequence-apigw-forwarder".into(),
            memory_mb: 512,
            timeout: Duration::from_secs(55),
            max_concurrency: 1,
            cgroup: false,
            async_retry_delays: [Duration::from_secs(60), Duration::from_secs(120)],
            kinesis_max_retries: 10,
            log_lines_cap: 20_000,
            keep_stats: true,
        }
    }
}

/// How an invocation arrives, which decides its retries.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum Source {
    /// Invoked and waited for (`RequestResponse`): no retry.
    Sync,
    /// EventBridge Scheduler with MaximumRetryAttempts 0: no retry.
    Schedule,
    /// An asynchronous invoke (a CloudWatch Logs subscription): `retries` more attempts.
    Async { retries: u32 },
    /// An event source mapping batch of this shard.
    Kinesis { shard: String },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum Outcome {
    Response(String),
    Error(String),
    Timeout,
    Crash(String),
}

impl Outcome {
    pub fn is_success(&self) -> bool {
        matches!(self, Outcome::Response(_))
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct Attempt {
    pub sandbox: usize,
    pub cold: bool,
    pub request_id: String,
    /// Since the emulator started.
    pub started: Duration,
    pub elapsed: Duration,
    pub outcome: Option<Outcome>,
    /// The stats line the forwarder logged for this attempt, if any.
    pub stats: Option<Value>,
}

#[derive(Clone, Debug, Serialize)]
pub struct InvocationRecord {
    pub id: u64,
    pub source: Source,
    pub attempts: Vec<Attempt>,
    /// Set once no more attempts will be made.
    pub outcome: Option<Outcome>,
}

#[derive(Clone, Debug, Serialize)]
pub struct SandboxReport {
    pub index: usize,
    pub pid: i32,
    pub init: Option<Duration>,
    pub served: u32,
    pub usage: Option<Usage>,
    pub log_lines: usize,
}

enum Body {
    Bytes(Vec<u8>),
    Kinesis {
        records: Vec<(String, String)>,
        from: usize,
    },
}

struct Invocation {
    source: Source,
    body: Body,
    request_id: String,
    attempts: Vec<Attempt>,
    outcome: Option<Outcome>,
}

struct Inner {
    config: FunctionConfig,
    started: Instant,
    next_id: u64,
    invocations: HashMap<u64, Invocation>,
    order: Vec<u64>,
    /// Invocations without a final outcome.
    unsettled: usize,
    queue: Queue,
    sandboxes: Vec<Sandbox>,
    rng: Rng,
    cgroup_note: Option<String>,
    shutting_down: bool,
}

struct Shared {
    inner: Mutex<Inner>,
    wake: Notify,
    /// Signalled when an invocation reaches its final outcome.
    settled: std::sync::Condvar,
}

fn lock(s: &Shared) -> std::sync::MutexGuard<'_, Inner> {
    s.inner.lock().unwrap_or_else(|p| p.into_inner())
}

pub struct RuntimeApi {
    shared: Arc<Shared>,
    server: Option<Background>,
}

fn epoch_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

impl RuntimeApi {
    pub fn start(config: FunctionConfig) -> Self {
        let seed = epoch_ms();
        let shared = Arc::new(Shared {
            inner: Mutex::new(Inner {
                config,
                started: Instant::now(),
                next_id: 1,
                invocations: HashMap::new(),
                order: Vec::new(),
                unsettled: 0,
                queue: Queue::default(),
                sandboxes: Vec::new(),
                rng: Rng::new(seed),
                cgroup_note: None,
                shutting_down: false,
            }),
            wake: Notify::new(),
            settled: std::sync::Condvar::new(),
        });
        let dispatcher = shared.clone();
        let server = Background::start("runtime-api", 0, 2, move |listener| async move {
            // The control listener is not used by the bootstrap processes: each sandbox
            // gets its own endpoint. It answers a status document for manual debugging.
            let status_shared = dispatcher.clone();
            let handler: Handler = Arc::new(move |_req: Request| {
                let shared = status_shared.clone();
                Box::pin(async move {
                    let inner = lock(&shared);
                    Response::json(
                        200,
                        &json!({"queued": inner.queue.len(), "sandboxes": inner.sandboxes.len()}),
                    )
                })
            });
            tokio::spawn(http::serve_listener(listener, handler));
            dispatch::dispatch_loop(dispatcher).await;
        })
        .expect("start the Runtime API emulator");
        Self {
            shared,
            server: Some(server),
        }
    }

    fn submit(&self, source: Source, body: Body) -> u64 {
        let mut inner = lock(&self.shared);
        let id = inner.next_id;
        inner.next_id += 1;
        let request_id = inner.rng.uuid();
        let lane = match &source {
            Source::Kinesis { shard } => Some(shard.clone()),
            _ => None,
        };
        inner.invocations.insert(
            id,
            Invocation {
                source,
                body,
                request_id,
                attempts: Vec::new(),
                outcome: None,
            },
        );
        inner.order.push(id);
        inner.unsettled += 1;
        inner.queue.push_back(Entry {
            invocation: id,
            not_before: Instant::now(),
            lane,
        });
        drop(inner);
        self.shared.wake.notify_one();
        id
    }

    /// Queue an invocation with `body` (a JSON event).
    pub fn invoke(&self, body: Vec<u8>, source: Source) -> u64 {
        self.submit(source, Body::Bytes(body))
    }

    /// Queue an event source mapping batch for `shard`: `records` are (sequence number,
    /// record JSON).
    pub fn invoke_kinesis(&self, shard: &str, records: Vec<(String, String)>) -> u64 {
        self.submit(
            Source::Kinesis {
                shard: shard.to_string(),
            },
            Body::Kinesis { records, from: 0 },
        )
    }

    /// Wait for invocation `id`'s final outcome (and the stats lines of its answered
    /// attempts: a process prints its stats line before it answers, but the pipe is read by
    /// another thread).
    pub fn wait(&self, id: u64, timeout: Duration) -> Option<InvocationRecord> {
        let deadline = Instant::now() + timeout;
        let mut inner = lock(&self.shared);
        loop {
            if inner
                .invocations
                .get(&id)
                .is_some_and(|i| i.outcome.is_some())
            {
                drop(inner);
                return Some(self.record_with_stats(id));
            }
            let now = Instant::now();
            if now >= deadline {
                return None;
            }
            inner = self
                .shared
                .settled
                .wait_timeout(inner, deadline - now)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }

    /// Queue and wait.
    pub fn invoke_and_wait(
        &self,
        body: Vec<u8>,
        source: Source,
        timeout: Duration,
    ) -> Option<InvocationRecord> {
        let id = self.invoke(body, source);
        self.wait(id, timeout)
    }

    /// Invocations not settled yet (queued, running or waiting for a retry).
    pub fn unsettled(&self) -> usize {
        lock(&self.shared).unsettled
    }

    /// Wait until every invocation has settled.
    pub fn wait_all(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut inner = lock(&self.shared);
        loop {
            if inner.unsettled == 0 {
                drop(inner);
                self.await_stats_lines();
                return true;
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            inner = self
                .shared
                .settled
                .wait_timeout(inner, (deadline - now).min(Duration::from_millis(200)))
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }

    /// Until every answered attempt's stats line has been read from its pipe (at most 2 s).
    fn await_stats_lines(&self) {
        let until = Instant::now() + Duration::from_secs(2);
        while Instant::now() < until {
            let behind = lock(&self.shared).sandboxes.iter().any(|s| {
                let logs = s.logs.lock().unwrap_or_else(|p| p.into_inner());
                (logs.totals.get("stats_lines").copied().unwrap_or(0.0) as usize) < s.answered.len()
            });
            if !behind {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn record_with_stats(&self, id: u64) -> InvocationRecord {
        let until = Instant::now() + Duration::from_secs(2);
        loop {
            let rec = record(&lock(&self.shared), id);
            let keep = lock(&self.shared).config.keep_stats;
            let missing = rec.attempts.iter().any(|a| {
                matches!(
                    a.outcome,
                    Some(Outcome::Response(_)) | Some(Outcome::Error(_))
                ) && a.stats.is_none()
            });
            if !keep || !missing || Instant::now() >= until {
                return rec;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    pub fn records(&self) -> Vec<InvocationRecord> {
        let inner = lock(&self.shared);
        inner.order.iter().map(|&id| record(&inner, id)).collect()
    }

    /// SIGKILL every process that is running an invocation (as a crash would); returns how
    /// many. Their attempts end as crashes and follow their retry rules.
    pub fn kill_busy(&self) -> usize {
        let inner = lock(&self.shared);
        let busy: Vec<&Sandbox> = inner
            .sandboxes
            .iter()
            .filter(|s| matches!(s.state, SandboxState::Busy { .. }))
            .collect();
        for s in &busy {
            s.process.kill();
        }
        busy.len()
    }

    /// Whether some process is running an invocation now.
    pub fn busy(&self) -> bool {
        lock(&self.shared)
            .sandboxes
            .iter()
            .any(|s| matches!(s.state, SandboxState::Busy { .. }))
    }

    /// Numeric fields of every stats line, summed over all processes (`errors`: how many
    /// lines had any).
    pub fn stats_totals(&self) -> std::collections::BTreeMap<String, f64> {
        let inner = lock(&self.shared);
        let mut out = std::collections::BTreeMap::new();
        for s in &inner.sandboxes {
            let logs = s.logs.lock().unwrap_or_else(|p| p.into_inner());
            for (k, v) in &logs.totals {
                *out.entry(k.clone()).or_insert(0.0) += v;
            }
        }
        out
    }

    /// Why processes run without a cgroup, if they do although one was asked for.
    pub fn cgroup_note(&self) -> Option<String> {
        lock(&self.shared).cgroup_note.clone()
    }

    /// Every output line of every process so far (stdout and `stderr: ` lines), by process.
    pub fn logs(&self) -> Vec<Vec<String>> {
        let inner = lock(&self.shared);
        inner
            .sandboxes
            .iter()
            .map(|s| {
                s.logs
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .lines
                    .clone()
            })
            .collect()
    }

    pub fn sandboxes(&self) -> Vec<SandboxReport> {
        let mut inner = lock(&self.shared);
        for s in inner.sandboxes.iter_mut() {
            if s.usage.is_none() && s.process.exited() {
                s.usage = s.process.wait(Duration::ZERO);
            }
        }
        inner.sandboxes.iter().map(report).collect()
    }

    /// Stop every process and report each one's usage.
    pub fn shutdown(&mut self) -> Vec<SandboxReport> {
        {
            let mut inner = lock(&self.shared);
            inner.shutting_down = true;
            for s in &inner.sandboxes {
                s.process.kill();
            }
        }
        let reports = {
            let mut inner = lock(&self.shared);
            for s in inner.sandboxes.iter_mut() {
                if s.usage.is_none() {
                    s.usage = s.process.wait(Duration::from_secs(10));
                }
                s.state = SandboxState::Dead;
            }
            inner.sandboxes.iter().map(report).collect()
        };
        self.server.take();
        reports
    }
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        if self.server.is_some() {
            self.shutdown();
        }
    }
}

fn report(s: &Sandbox) -> SandboxReport {
    SandboxReport {
        index: s.index,
        pid: s.process.pid(),
        init: s.init,
        served: s.served,
        usage: s.usage.clone(),
        log_lines: s.logs.lock().map(|l| l.lines.len()).unwrap_or(0),
    }
}

/// The record of `id`, with each answered attempt's stats line attached.
fn record(inner: &Inner, id: u64) -> InvocationRecord {
    let inv = &inner.invocations[&id];
    let mut attempts = inv.attempts.clone();
    for (n, a) in attempts.iter_mut().enumerate() {
        let Some(s) = inner.sandboxes.get(a.sandbox) else {
            continue;
        };
        if let Some(&k) = s.answered.get(&(id, n)) {
            let logs = s.logs.lock().unwrap_or_else(|p| p.into_inner());
            a.stats = logs.stats.get(k).cloned();
        }
    }
    InvocationRecord {
        id,
        source: inv.source.clone(),
        attempts,
        outcome: inv.outcome.clone(),
    }
}
