//! The emulator's loop: deadlines, crashes and OOM kills, retries by source, handing queued
//! invocations to idle processes and starting new ones (cold starts).

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::TcpListener;

use super::endpoint::runtime_call;
use super::queue::Entry;
use super::sandbox::{Assignment, Sandbox, SandboxState};
use serde_json::Value;

use super::{lock, Attempt, Body, Inner, Invocation, Outcome, Shared, Source};
use crate::cgroup::LambdaCgroup;
use crate::corpus::payloads::kinesis_event;
use crate::http::{self, Handler, Request};
use crate::process::{Launch, Measured};

fn body_of(inv: &Invocation) -> Vec<u8> {
    match &inv.body {
        Body::Bytes(b) => b.clone(),
        Body::Kinesis { records, from } => {
            kinesis_event(records[*from..].iter().map(|(_, r)| r.as_str()))
        }
    }
}

/// Runs on the emulator's runtime: deadlines, crashes, retries, assignment, new processes.
pub(super) async fn dispatch_loop(shared: Arc<Shared>) {
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
pub(super) fn finish_attempt(
    inner: &mut Inner,
    id: u64,
    attempt: usize,
    outcome: Outcome,
    now: Instant,
) {
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
