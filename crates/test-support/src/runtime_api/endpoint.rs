//! The Runtime API each process talks to (`/2018-06-01/runtime/...`): the long poll for the
//! next invocation, its answer or error, and the init error.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::sync::Notify;

use super::dispatch::finish_attempt;
use super::sandbox::SandboxState;
use super::{epoch_ms, lock, Outcome, Shared, FUNCTION_ARN_PREFIX};
use crate::http::{Request, Response};

fn invalid_request_id() -> Response {
    Response::json(
        400,
        &json!({"errorMessage": "Invalid request ID", "errorType": "InvalidRequestID"}),
    )
}

pub(super) async fn runtime_call(
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
