//! A small fault-injecting HTTP/1.1 proxy on 127.0.0.1, put between the forwarder and the logs
//! stand-in, moto or the fake Edge. Rules match on method, path prefix and the
//! `X-Amz-Target` header, apply with a probability (seeded) and/or for a count, and can be
//! switched at run time. An injected fault either answers in place of the upstream (e.g. a
//! ThrottlingException or a 500), resets the connection before or after forwarding (after:
//! the upstream did the work, the client never hears), or delays the request.
//! It stops when dropped.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;
use tokio::io::BufReader;
use tokio::net::TcpStream;

use crate::background::Background;
use crate::http::{wire, Request, Response};
use crate::rng::Rng;

#[derive(Clone, Debug)]
pub enum Action {
    Respond(Response),
    /// Close with a TCP reset before forwarding: the upstream never sees the request.
    ResetBefore,
    /// Forward, then reset instead of answering: the upstream did it, the client cannot know.
    ResetAfter,
    /// Forward after this delay.
    Delay(Duration),
}

impl Action {
    /// The awsJson error CloudWatch Logs answers above its quota.
    pub fn throttling() -> Self {
        Self::aws_json_error(400, "ThrottlingException", "Rate exceeded")
    }

    /// An awsJson1.x error (`__type`), as DynamoDB, SSM and CloudWatch Logs answer.
    pub fn aws_json_error(status: u16, type_: &str, message: &str) -> Self {
        Self::Respond(
            Response::new(
                status,
                json!({"__type": type_, "message": message}).to_string(),
            )
            .with_header("content-type", "application/x-amz-json-1.1")
            .with_header("x-amzn-errortype", type_),
        )
    }

    pub fn status(status: u16) -> Self {
        Self::Respond(Response::json(
            status,
            &json!({"message": "injected by fault proxy"}),
        ))
    }
}

#[derive(Clone, Debug)]
pub struct Rule {
    /// Names the rule in the counters.
    pub name: String,
    pub method: Option<String>,
    pub path_prefix: Option<String>,
    /// Substrings of `X-Amz-Target` (e.g. `FilterLogEvents`, `DynamoDB_20120810.PutItem`);
    /// the rule matches when any is in the header (empty: any request).
    pub targets: Vec<String>,
    /// A substring the body must contain (e.g. a parameter or table name).
    pub body_contains: Option<String>,
    pub probability: f64,
    /// Matching requests it still applies to (`None`: no limit).
    pub remaining: Option<u32>,
    pub action: Action,
}

impl Rule {
    pub fn new(name: &str, action: Action) -> Self {
        Self {
            name: name.to_string(),
            method: None,
            path_prefix: None,
            targets: Vec::new(),
            body_contains: None,
            probability: 1.0,
            remaining: None,
            action,
        }
    }

    pub fn method(mut self, m: &str) -> Self {
        self.method = Some(m.to_string());
        self
    }

    pub fn path_prefix(mut self, p: &str) -> Self {
        self.path_prefix = Some(p.to_string());
        self
    }

    pub fn target(mut self, t: &str) -> Self {
        self.targets.push(t.to_string());
        self
    }

    pub fn body_contains(mut self, s: &str) -> Self {
        self.body_contains = Some(s.to_string());
        self
    }

    pub fn probability(mut self, p: f64) -> Self {
        self.probability = p;
        self
    }

    pub fn count(mut self, n: u32) -> Self {
        self.remaining = Some(n);
        self
    }

    fn matches(&self, req: &Request) -> bool {
        self.remaining != Some(0)
            && self.method.as_deref().is_none_or(|m| req.method == m)
            && self
                .path_prefix
                .as_deref()
                .is_none_or(|p| req.path().starts_with(p))
            && (self.targets.is_empty()
                || self.targets.iter().any(|t| {
                    req.header("x-amz-target")
                        .is_some_and(|h| h.contains(t.as_str()))
                }))
            && self
                .body_contains
                .as_deref()
                .is_none_or(|s| req.body.windows(s.len().max(1)).any(|w| w == s.as_bytes()))
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct ProxyCounters {
    pub requests: u64,
    pub forwarded: u64,
    pub upstream_errors: u64,
    /// Rule name -> faults injected.
    pub injected: BTreeMap<String, u64>,
    /// `X-Amz-Target` (or `METHOD path`) -> requests seen.
    pub by_target: BTreeMap<String, u64>,
}

struct State {
    rules: Vec<Rule>,
    rng: Rng,
    counters: ProxyCounters,
}

pub struct FaultProxy {
    state: Arc<Mutex<State>>,
    upstream: SocketAddr,
    server: Background,
}

fn lock(s: &Mutex<State>) -> std::sync::MutexGuard<'_, State> {
    s.lock().unwrap_or_else(|p| p.into_inner())
}

impl FaultProxy {
    /// A proxy to `upstream`; `seed` drives the probabilities.
    pub fn start(upstream: SocketAddr, seed: u64) -> Self {
        let state = Arc::new(Mutex::new(State {
            rules: Vec::new(),
            rng: Rng::new(seed),
            counters: ProxyCounters::default(),
        }));
        let st = state.clone();
        let server = Background::start("fault-proxy", 0, 2, move |listener| async move {
            while let Ok((stream, _)) = listener.accept().await {
                let st = st.clone();
                tokio::spawn(async move {
                    let _ = connection(stream, upstream, st).await;
                });
            }
        })
        .expect("start fault proxy");
        Self {
            state,
            upstream,
            server,
        }
    }

    /// `http://127.0.0.1:<port>`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.server.addr())
    }

    pub fn addr(&self) -> SocketAddr {
        self.server.addr()
    }

    pub fn upstream(&self) -> SocketAddr {
        self.upstream
    }

    pub fn set_rules(&self, rules: Vec<Rule>) {
        lock(&self.state).rules = rules;
    }

    pub fn add_rule(&self, rule: Rule) {
        lock(&self.state).rules.push(rule);
    }

    /// No more faults: everything is forwarded.
    pub fn clear(&self) {
        lock(&self.state).rules.clear();
    }

    pub fn counters(&self) -> ProxyCounters {
        lock(&self.state).counters.clone()
    }

    /// Faults injected by the rule named `name`.
    pub fn injected(&self, name: &str) -> u64 {
        lock(&self.state)
            .counters
            .injected
            .get(name)
            .copied()
            .unwrap_or(0)
    }
}

/// The action for `req`, if a rule fires (counted).
fn decide(state: &Mutex<State>, req: &Request) -> Option<Action> {
    let mut s = lock(state);
    s.counters.requests += 1;
    let key = req
        .header("x-amz-target")
        .map(str::to_string)
        .unwrap_or_else(|| format!("{} {}", req.method, req.path()));
    *s.counters.by_target.entry(key).or_default() += 1;
    let State {
        rules,
        rng,
        counters,
    } = &mut *s;
    for rule in rules.iter_mut() {
        if !rule.matches(req) {
            continue;
        }
        if rule.probability < 1.0 && !rng.chance(rule.probability) {
            continue;
        }
        if let Some(n) = rule.remaining.as_mut() {
            *n -= 1;
        }
        *counters.injected.entry(rule.name.clone()).or_default() += 1;
        return Some(rule.action.clone());
    }
    None
}

async fn forward(upstream: SocketAddr, req: &Request) -> std::io::Result<Response> {
    let stream = TcpStream::connect(upstream).await?;
    let _ = stream.set_nodelay(true);
    let mut reader = BufReader::new(stream);
    wire::write_request(reader.get_mut(), req).await?;
    wire::read_response(&mut reader, &req.method).await
}

async fn connection(
    stream: TcpStream,
    upstream: SocketAddr,
    state: Arc<Mutex<State>>,
) -> std::io::Result<()> {
    let _ = stream.set_nodelay(true);
    let mut conn = BufReader::new(stream);
    loop {
        let Some(req) = wire::read_request(&mut conn).await? else {
            return Ok(());
        };
        let close = req
            .header("connection")
            .is_some_and(|v| v.eq_ignore_ascii_case("close"));
        let head = req.method == "HEAD";
        let action = decide(&state, &req);
        let reset = |conn: BufReader<TcpStream>| {
            let stream = conn.into_inner();
            let _ = stream.set_zero_linger();
            drop(stream);
        };
        let resp = match action {
            Some(Action::Respond(r)) => r,
            Some(Action::ResetBefore) => {
                reset(conn);
                return Ok(());
            }
            Some(Action::ResetAfter) => {
                let _ = forward(upstream, &req).await;
                lock(&state).counters.forwarded += 1;
                reset(conn);
                return Ok(());
            }
            Some(Action::Delay(d)) => {
                tokio::time::sleep(d).await;
                forward_counted(upstream, &req, &state).await
            }
            None => forward_counted(upstream, &req, &state).await,
        };
        wire::write_response(conn.get_mut(), &resp, close, head).await?;
        if close {
            return Ok(());
        }
    }
}

async fn forward_counted(upstream: SocketAddr, req: &Request, state: &Mutex<State>) -> Response {
    match forward(upstream, req).await {
        Ok(r) => {
            lock(state).counters.forwarded += 1;
            r
        }
        Err(e) => {
            lock(state).counters.upstream_errors += 1;
            Response::new(502, format!("fault proxy: upstream failed: {e}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::{client, serve_listener, Handler};

    fn upstream() -> Background {
        let handler: Handler = Arc::new(|req: Request| {
            Box::pin(async move { Response::new(200, format!("echo {}", req.path())) })
        });
        Background::start("echo", 0, 1, move |l| serve_listener(l, handler)).unwrap()
    }

    fn call(p: &FaultProxy, target: &str) -> std::io::Result<Response> {
        client::request(
            &p.addr().to_string(),
            "POST",
            "/x",
            &[("x-amz-target", target)],
            b"{}",
            Duration::from_secs(5),
        )
    }

    #[test]
    fn rules_inject_by_target_and_count_then_traffic_passes() {
        let up = upstream();
        let p = FaultProxy::start(up.addr(), 1);
        p.add_rule(
            Rule::new("throttle", Action::throttling())
                .target("FilterLogEvents")
                .count(2),
        );
        p.add_rule(Rule::new("reset", Action::ResetBefore).target("PutItem"));
        assert_eq!(
            call(&p, "Logs_20140328.FilterLogEvents").unwrap().status,
            400
        );
        assert_eq!(
            call(&p, "Logs_20140328.FilterLogEvents").unwrap().status,
            400
        );
        let ok = call(&p, "Logs_20140328.FilterLogEvents").unwrap();
        assert_eq!((ok.status, ok.body.as_slice()), (200, &b"echo /x"[..]));
        // A reset connection gives no answer at all.
        assert!(call(&p, "DynamoDB_20120810.PutItem").is_err());
        assert_eq!(p.injected("throttle"), 2);
        assert_eq!(p.injected("reset"), 1);
        p.clear();
        assert_eq!(call(&p, "DynamoDB_20120810.PutItem").unwrap().status, 200);
        assert_eq!(p.counters().forwarded, 2);
    }

    #[test]
    fn probability_is_seeded() {
        let up = upstream();
        let run = || {
            let p = FaultProxy::start(up.addr(), 7);
            p.add_rule(Rule::new("half", Action::status(500)).probability(0.5));
            (0..20)
                .map(|_| call(&p, "x").unwrap().status)
                .collect::<Vec<_>>()
        };
        let a = run();
        assert_eq!(a, run());
        assert!(a.contains(&500) && a.contains(&200));
    }
}
