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

pub mod queue;
pub mod sandbox;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::Serialize;
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::sync::Notify;

use crate::background::Background;
use crate::cgroup::LambdaCgroup;
use crate::corpus::payloads::kinesis_event;
use crate::http::{self, Handler, Request, Response};
use crate::process::{Launch, Measured, Usage};
use crate::rng::Rng;
use queue::{Entry, Queue};
use sandbox::{Assignment, Sandbox, SandboxState};

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
            dispatch_loop(dispatcher).await;
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

fn body_of(inv: &Invocation) -> Vec<u8> {
    match &inv.body {
        Body::Bytes(b) => b.clone(),
        Body::Kinesis { records, from } => {
            kinesis_event(records[*from..].iter().map(|(_, r)| r.as_str()))
        }
    }
}

/// Runs on the emulator's runtime: deadlines, crashes, retries, assignment, new processes.
async fn dispatch_loop(shared: Arc<Shared>) {
    loop {
        let to_spawn = step(&shared);
        for _ in 0..to_spawn {
            spawn_sandbox(&shared).await;
        }
        if lock(&shared).shutting_down {
            return;
        }
        tokio::select! {
            _ = shared.wake.notified() => {}
            _ = tokio::time::sleep(Duration::from_millis(10)) => {}
        }
    }
}

/// One pass; returns how many new processes are needed.
fn step(shared: &Shared) -> usize {
    let mut guard = lock(shared);
    let inner = &mut *guard;
    if inner.shutting_down {
        return 0;
    }
    let now = Instant::now();
    let mut ended: Vec<(u64, usize, Outcome)> = Vec::new();
    for s in inner.sandboxes.iter_mut() {
        if s.state == SandboxState::Dead {
            continue;
        }
        let exited = s.process.exited();
        match s.state.clone() {
            SandboxState::Busy {
                invocation,
                attempt,
                deadline,
                ..
            } => {
                if exited {
                    let usage = s.process.wait(Duration::ZERO);
                    let why = match &usage {
                        Some(u) if u.oom_killed => "out of memory (killed in its cgroup)".into(),
                        Some(u) => format!("process exited: {:?}", u.exit),
                        None => "process exited".into(),
                    };
                    s.usage = usage;
                    s.state = SandboxState::Dead;
                    ended.push((invocation, attempt, Outcome::Crash(why)));
                } else if now >= deadline {
                    // Lambda: "Task timed out"; the environment is not reused.
                    s.process.kill();
                    s.state = SandboxState::Dead;
                    ended.push((invocation, attempt, Outcome::Timeout));
                }
            }
            _ if exited => {
                s.usage = s.process.wait(Duration::ZERO);
                s.state = SandboxState::Dead;
                if let Some(a) = s.assignment.take() {
                    ended.push((
                        a.invocation,
                        a.attempt,
                        Outcome::Crash("process exited before taking the invocation".into()),
                    ));
                }
            }
            _ => {}
        }
    }
    for (id, attempt, outcome) in ended {
        finish_attempt(inner, id, attempt, outcome, now);
    }
    if inner.unsettled == 0 {
        shared.settled.notify_all();
    }

    // Hand ready invocations to idle processes; count what needs a new process.
    while let Some(free) = inner.sandboxes.iter().position(Sandbox::free) {
        let Some(entry) = inner.queue.pop_ready(now) else {
            break;
        };
        assign(inner, free, entry.invocation, now);
    }
    let starting = inner
        .sandboxes
        .iter()
        .filter(|s| s.state == SandboxState::Starting)
        .count();
    let alive = inner.sandboxes.iter().filter(|s| s.alive()).count();
    let ready = inner.queue.ready_count(now);
    ready
        .saturating_sub(starting)
        .min(inner.config.max_concurrency.saturating_sub(alive))
}

fn assign(inner: &mut Inner, sandbox: usize, id: u64, now: Instant) {
    let started = now.duration_since(inner.started);
    let inv = inner
        .invocations
        .get_mut(&id)
        .expect("queued invocation exists");
    if matches!(inv.source, Source::Kinesis { .. }) {
        // Each event source mapping invoke is a new request.
        inv.request_id = inner.rng.uuid();
    }
    let s = &mut inner.sandboxes[sandbox];
    let cold = s.served == 0;
    inv.attempts.push(Attempt {
        sandbox,
        cold,
        request_id: inv.request_id.clone(),
        started,
        elapsed: Duration::ZERO,
        outcome: None,
        stats: None,
    });
    s.assignment = Some(Assignment {
        invocation: id,
        attempt: inv.attempts.len() - 1,
        request_id: inv.request_id.clone(),
        body: body_of(inv),
    });
    s.notify.notify_one();
}

/// Record an attempt's end and decide what comes next for its invocation.
fn finish_attempt(inner: &mut Inner, id: u64, attempt: usize, outcome: Outcome, now: Instant) {
    let elapsed_base = inner.started;
    let delays = inner.config.async_retry_delays;
    let kinesis_max = inner.config.kinesis_max_retries;
    let Some(inv) = inner.invocations.get_mut(&id) else {
        return;
    };
    if let Some(a) = inv.attempts.get_mut(attempt) {
        a.elapsed = now.duration_since(elapsed_base).saturating_sub(a.started);
        a.outcome = Some(outcome.clone());
    }
    let tries = inv.attempts.len() as u32;
    let retry_at = match (&inv.source, &outcome) {
        (Source::Async { retries }, o) if !o.is_success() && tries <= *retries => {
            Some(now + delays[(tries as usize - 1).min(1)])
        }
        (Source::Kinesis { .. }, o) => {
            let failed_from = match (o, &inv.body) {
                (Outcome::Response(body), Body::Kinesis { records, from }) => {
                    first_failed(body, records).map(|i| i.max(*from))
                }
                _ => Some(match &inv.body {
                    Body::Kinesis { from, .. } => *from,
                    Body::Bytes(_) => 0,
                }),
            };
            match failed_from {
                Some(i) if tries <= kinesis_max => {
                    if let Body::Kinesis { from, .. } = &mut inv.body {
                        *from = i;
                    }
                    Some(now + Duration::from_millis(200))
                }
                _ => None,
            }
        }
        _ => None,
    };
    let lane = match &inv.source {
        Source::Kinesis { shard } => Some(shard.clone()),
        _ => None,
    };
    match retry_at {
        Some(at) => {
            let entry = Entry {
                invocation: id,
                not_before: at,
                lane: lane.clone(),
            };
            if lane.is_some() {
                if let Some(l) = &lane {
                    inner.queue.release_lane(l);
                }
                inner.queue.push_front(entry);
            } else {
                inner.queue.push_back(entry);
            }
        }
        None => {
            inv.outcome = Some(outcome);
            // Settled: the body is not needed any more.
            inv.body = Body::Bytes(Vec::new());
            inner.unsettled -= 1;
            if let Some(l) = &lane {
                inner.queue.release_lane(l);
            }
        }
    }
}

/// The index of the first record the function reported as failed
/// (`{"batchItemFailures":[{"itemIdentifier":seq}]}`), if any.
fn first_failed(body: &str, records: &[(String, String)]) -> Option<usize> {
    let v: Value = serde_json::from_str(body).ok()?;
    let failures = v.get("batchItemFailures")?.as_array()?;
    failures
        .iter()
        .filter_map(|f| f.get("itemIdentifier")?.as_str())
        .filter_map(|seq| records.iter().position(|(s, _)| s == seq))
        .min()
}

async fn spawn_sandbox(shared: &Arc<Shared>) {
    let listener = match TcpListener::bind("127.0.0.1:0").await {
        Ok(l) => l,
        Err(_) => return,
    };
    let Ok(addr) = listener.local_addr() else {
        return;
    };
    let (config, index) = {
        let inner = lock(shared);
        (inner.config.clone(), inner.sandboxes.len())
    };
    let mut env = config.env.clone();
    let log_stream = format!("2026/01/01/[$LATEST]{}", lock(shared).rng.hex(32));
    for (k, v) in [
        ("AWS_LAMBDA_RUNTIME_API", addr.to_string()),
        ("AWS_LAMBDA_FUNCTION_NAME", config.function_name.clone()),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".to_string()),
        (
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
            config.memory_mb.to_string(),
        ),
        (
            "AWS_LAMBDA_LOG_GROUP_NAME",
            format!("/aws/lambda/{}", config.function_name),
        ),
        ("AWS_LAMBDA_LOG_STREAM_NAME", log_stream),
        (
            "AWS_EXECUTION_ENV",
            "AWS_Lambda_provided.al2023".to_string(),
        ),
        ("_HANDLER", "bootstrap".to_string()),
    ] {
        if !env.iter().any(|(ek, _)| ek == k) {
            env.push((k.to_string(), v));
        }
    }
    let cgroup = if config.cgroup {
        match LambdaCgroup::create(config.memory_mb) {
            Ok(cg) => Some(cg),
            Err(why) => {
                let mut inner = lock(shared);
                if inner.cgroup_note.is_none() {
                    eprintln!("note: running the function without memory/CPU limits: {why}");
                    inner.cgroup_note = Some(why);
                }
                None
            }
        }
    } else {
        None
    };
    let launch = Launch {
        program: config.bootstrap.clone(),
        args: vec![],
        env,
    };
    let process = match Measured::spawn(&launch, cgroup) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("cannot start {}: {e}", config.bootstrap.display());
            // Fail what is waiting rather than spin.
            let mut inner = lock(shared);
            let now = Instant::now();
            if let Some(entry) = inner.queue.pop_ready(now) {
                let inv = inner
                    .invocations
                    .get_mut(&entry.invocation)
                    .expect("exists");
                inv.outcome = Some(Outcome::Crash(format!("cannot start bootstrap: {e}")));
                inner.unsettled -= 1;
                if let Some(l) = entry.lane {
                    inner.queue.release_lane(&l);
                }
            }
            shared.settled.notify_all();
            return;
        }
    };
    let sandbox = Sandbox::new(index, process, config.log_lines_cap, config.keep_stats);
    let notify = sandbox.notify.clone();
    lock(shared).sandboxes.push(sandbox);
    let handler_shared = shared.clone();
    let handler: Handler = Arc::new(move |req: Request| {
        let shared = handler_shared.clone();
        let notify = notify.clone();
        Box::pin(async move { runtime_call(&shared, index, notify, req).await })
    });
    tokio::spawn(http::serve_listener(listener, handler));
}

fn invalid_request_id() -> Response {
    Response::json(
        400,
        &json!({"errorMessage": "Invalid request ID", "errorType": "InvalidRequestID"}),
    )
}

async fn runtime_call(
    shared: &Arc<Shared>,
    index: usize,
    notify: Arc<Notify>,
    req: Request,
) -> Response {
    let path = req.path().to_string();
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match (req.method.as_str(), parts.as_slice()) {
        ("GET", ["2018-06-01", "runtime", "invocation", "next"]) => {
            next(shared, index, notify).await
        }
        ("POST", ["2018-06-01", "runtime", "invocation", id, kind @ ("response" | "error")]) => {
            let body = String::from_utf8_lossy(&req.body).into_owned();
            let outcome = if *kind == "response" {
                Outcome::Response(body)
            } else {
                Outcome::Error(body)
            };
            answered(shared, index, id, outcome)
        }
        ("POST", ["2018-06-01", "runtime", "init", "error"]) => {
            init_error(shared, index, &req.body)
        }
        _ => Response::new(404, "unknown runtime API path"),
    }
}

/// Lambda stops an environment whose init failed; its pending invocation fails.
fn init_error(shared: &Shared, index: usize, body: &[u8]) -> Response {
    let inner = lock(shared);
    let s = &inner.sandboxes[index];
    s.logs
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .lines
        .push(format!("init error: {}", String::from_utf8_lossy(body)));
    s.process.kill();
    Response::json(202, &json!({"status": "OK"}))
}

async fn next(shared: &Arc<Shared>, index: usize, notify: Arc<Notify>) -> Response {
    loop {
        if lock(shared).shutting_down {
            // Hold the long poll: the process is about to be killed.
            tokio::time::sleep(Duration::from_secs(600)).await;
            return Response::new(500, "shutting down");
        }
        {
            let mut guard = lock(shared);
            let inner = &mut *guard;
            let started = inner.started;
            let timeout = inner.config.timeout;
            let arn = format!("{FUNCTION_ARN_PREFIX}{}", inner.config.function_name);
            let s = &mut inner.sandboxes[index];
            if s.init.is_none() {
                s.init = Some(s.launched.elapsed());
            }
            if let Some(a) = s.assignment.take() {
                let deadline_at = Instant::now() + timeout;
                let deadline_ms = epoch_ms() + timeout.as_millis() as u64;
                s.state = SandboxState::Busy {
                    invocation: a.invocation,
                    attempt: a.attempt,
                    request_id: a.request_id.clone(),
                    deadline: deadline_at,
                };
                s.served += 1;
                // The attempt starts now, not when it was queued for this process.
                if let Some(inv) = inner.invocations.get_mut(&a.invocation) {
                    if let Some(at) = inv.attempts.get_mut(a.attempt) {
                        at.started = Instant::now().duration_since(started);
                    }
                }
                return Response::new(200, a.body)
                    .with_header("content-type", "application/json")
                    .with_header("lambda-runtime-aws-request-id", &a.request_id)
                    .with_header("lambda-runtime-deadline-ms", &deadline_ms.to_string())
                    .with_header("lambda-runtime-invoked-function-arn", &arn)
                    .with_header(
                        "lambda-runtime-trace-id",
                        "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
                    );
            }
            if s.state != SandboxState::Dead {
                s.state = SandboxState::Idle;
            }
        }
        shared.wake.notify_one();
        tokio::select! {
            _ = notify.notified() => {}
            _ = tokio::time::sleep(Duration::from_millis(500)) => {}
        }
    }
}

fn answered(shared: &Arc<Shared>, index: usize, id: &str, outcome: Outcome) -> Response {
    let mut guard = lock(shared);
    let inner = &mut *guard;
    let s = &mut inner.sandboxes[index];
    let SandboxState::Busy {
        invocation,
        attempt,
        request_id,
        ..
    } = s.state.clone()
    else {
        return invalid_request_id();
    };
    if request_id != id {
        return invalid_request_id();
    }
    let k = s.answered.len();
    s.answered.insert((invocation, attempt), k);
    // Busy until it asks for the next invocation; a second answer is refused.
    s.state = SandboxState::Starting;
    finish_attempt(inner, invocation, attempt, outcome, Instant::now());
    drop(guard);
    shared.settled.notify_all();
    shared.wake.notify_one();
    Response::json(202, &json!({"status": "OK"}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_item_failures_name_the_retry_point() {
        let records: Vec<(String, String)> =
            (0..4).map(|i| (format!("s{i}"), String::new())).collect();
        let body = r#"{"batchItemFailures":[{"itemIdentifier":"s2"},{"itemIdentifier":"s1"}]}"#;
        assert_eq!(first_failed(body, &records), Some(1));
        assert_eq!(first_failed(r#"{"batchItemFailures":[]}"#, &records), None);
        assert_eq!(first_failed("not json", &records), None);
    }
}
