//! The Edge's answer to one post, in the order a real deployment decides it: infrastructure
//! in front (injected outages, redirects, hangs), authentication, decoding, the limits, the
//! schema, content refusals, then acceptance.

use std::io::{Read, Write};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::auth::token_problem;
use super::faults::{self, Answer, PostView};
use super::http::{Request, Response};
use super::{error, lock, received, schema, FakeConfig, GzipMode, State, MAX_TRANSACTIONS};

fn answer(a: &Answer, s: &mut State) -> Response {
    match a {
        Answer::Status(code) => {
            s.counters.edge_failed_injected += 1;
            let r = error(*code, "injected failure", json!({"status": code}));
            if *code == 429 {
                r.with_header("retry-after", "1")
            } else {
                r
            }
        }
        Answer::Redirect(location) => {
            s.counters.edge_redirected += 1;
            Response::new(302, "").with_header("location", location)
        }
        Answer::Hang => Response::new(504, "gateway timeout"),
    }
}

pub(super) async fn edge(req: Request, state: &Mutex<State>, config: &FakeConfig) -> Response {
    let delay = {
        let mut s = lock(state);
        s.counters.edge_requests += 1;
        if s.delay_next > 0 {
            s.delay_next -= 1;
            Some(s.delay)
        } else {
            None
        }
    };
    if let Some(d) = delay {
        tokio::time::sleep(d).await;
    }
    // Infrastructure in front of the Edge answers before authentication.
    let infra = {
        let mut s = lock(state);
        faults::take(&mut s.faults, None, Instant::now())
    };
    if let Some(a) = infra {
        if a == Answer::Hang {
            lock(state).counters.edge_hung += 1;
            loop {
                tokio::time::sleep(Duration::from_millis(50)).await;
                let s = lock(state);
                let now = Instant::now();
                if !s
                    .faults
                    .iter()
                    .any(|f| f.answer == Answer::Hang && f.active(now))
                {
                    break;
                }
            }
        }
        return answer(&a, &mut lock(state));
    }
    {
        let mut s = lock(state);
        if let Some(why) = token_problem(&req, &s) {
            s.counters.edge_unauthorized += 1;
            if why == "token_expired" {
                s.counters.edge_expired_token += 1;
            }
            return error(401, why, Value::Null);
        }
        if s.fail_next > 0 {
            s.fail_next -= 1;
            s.counters.edge_failed_injected += 1;
            return error(500, "injected failure", Value::Null);
        }
    }
    let gzip = req
        .header("content-encoding")
        .is_some_and(|v| v.eq_ignore_ascii_case("gzip"));
    let (mode, body_limit) = {
        let s = lock(state);
        (s.gzip, s.body_limit)
    };
    let wire_len = req.body.len();
    let body = if gzip && mode != GzipMode::IgnoreEncoding {
        let mut s = lock(state);
        s.counters.gzip_requests += 1;
        if mode == GzipMode::Reject415 {
            s.counters.gzip_rejected += 1;
            return error(415, "gzip not accepted", Value::Null);
        }
        drop(s);
        let mut out = Vec::new();
        if flate2::read::GzDecoder::new(req.body.as_slice())
            .read_to_end(&mut out)
            .is_err()
        {
            return error(400, "bad gzip", Value::Null);
        }
        out
    } else {
        if gzip {
            lock(state).counters.gzip_requests += 1;
        }
        req.body
    };
    if body.len() > body_limit {
        lock(state).counters.edge_too_large += 1;
        return error(
            413,
            "payload too large",
            json!({"limit": body_limit, "size": body.len()}),
        );
    }
    let json_len = body.len();
    let parsed = serde_json::from_slice::<Value>(&body);
    let data = match parsed {
        Ok(Value::Object(mut doc)) => match doc.remove("data") {
            Some(Value::Array(data)) => data,
            _ => return error(400, "missing data array", Value::Null),
        },
        _ => {
            lock(state).counters.edge_not_json += 1;
            return error(400, "body is not JSON", Value::Null);
        }
    };
    if data.len() > MAX_TRANSACTIONS {
        lock(state).counters.edge_too_many += 1;
        return error(
            400,
            "too many transactions",
            json!({"limit": MAX_TRANSACTIONS, "count": data.len()}),
        );
    }
    for (i, t) in data.iter().enumerate() {
        if let Err(e) = schema::check(t) {
            let id = received::transaction_id(t).to_string();
            let mut s = lock(state);
            s.counters.edge_schema_rejected += 1;
            s.schema_errors.insert((id.clone(), e.field.clone()));
            return error(
                400,
                "invalid transaction",
                json!({"index": i, "transaction-id": id, "field": e.field, "message": e.message}),
            );
        }
    }
    let ids: Vec<String> = data
        .iter()
        .map(|t| received::transaction_id(t).to_string())
        .collect();
    let latency = {
        let mut s = lock(state);
        let view = PostView {
            body_len: body.len(),
            ids: &ids,
        };
        if let Some(a) = faults::take(&mut s.faults, Some(&view), Instant::now()) {
            return answer(&a, &mut s);
        }
        s.latency
    };
    if let Some(path) = &config.record_file {
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
        {
            for t in &data {
                let _ = writeln!(f, "{t}");
            }
        }
    }
    let n = data.len();
    {
        let mut s = lock(state);
        s.counters.edge_accepted += 1;
        s.counters.edge_wire_bytes += wire_len as u64;
        s.counters.edge_json_bytes += json_len as u64;
        s.received.add(data);
    }
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    Response::json(200, &json!({"received": n}))
}
