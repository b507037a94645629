//! A local fake of the Cequence UAP auth + Edge endpoints, behaving like the real ones where
//! the forwarder depends on it: client-credentials tokens that expire (JWT `exp`), 401 for an
//! expired or unknown token, gzip request bodies, and failures on demand (500s, delays, auth
//! down, gzip refused) so tests can prove that an outage delays data and never drops it.
//!
//! It runs on its own thread and runtime, so it keeps serving while a test blocks on a child
//! process or on a current-thread runtime.

pub mod http;

use std::collections::{BTreeMap, HashSet};
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::{json, Value};

use http::{Request, Response};

/// Path of the token endpoint, as on a real tenant.
pub const AUTH_PATH: &str = "/auth/realms/cequence/protocol/openid-connect/token";
/// Path of the transactions endpoint, as on a real tenant.
pub const EDGE_PATH: &str = "/api-transactions";

/// What the fake starts with.
#[derive(Debug, Clone)]
pub struct FakeConfig {
    pub client_id: String,
    pub client_secret: String,
    /// Lifetime of issued tokens (the real default is 1800 s).
    pub token_lifetime: Duration,
    /// Append every received transaction as one JSON line to this file.
    pub record_file: Option<PathBuf>,
    /// Answer gzip-encoded posts with 415, like an Edge that does not accept compression.
    pub reject_gzip: bool,
}

impl Default for FakeConfig {
    fn default() -> Self {
        Self {
            client_id: "test-client".into(),
            client_secret: "test-secret".into(),
            token_lifetime: Duration::from_secs(1800),
            record_file: None,
            reject_gzip: false,
        }
    }
}

/// Counters a test asserts on.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Counters {
    pub token_requests: u64,
    pub tokens_issued: u64,
    pub edge_requests: u64,
    pub edge_accepted: u64,
    pub edge_unauthorized: u64,
    pub edge_failed_injected: u64,
    pub gzip_requests: u64,
    pub gzip_rejected: u64,
}

#[derive(Default)]
struct State {
    /// token -> expiry (epoch seconds)
    tokens: BTreeMap<String, u64>,
    received: Vec<Value>,
    counters: Counters,
    fail_next: u32,
    delay_next: u32,
    delay: Duration,
    auth_down: bool,
    token_lifetime: Duration,
    reject_gzip: bool,
}

/// A running fake; stops when dropped.
pub struct FakeCequence {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FakeCequence {
    /// Start on a free 127.0.0.1 port with the default client credentials.
    pub fn start() -> Self {
        Self::start_with(FakeConfig::default(), 0)
    }

    /// Start with `config` on `port` (0 = any free port).
    pub fn start_with(config: FakeConfig, port: u16) -> Self {
        let state = Arc::new(Mutex::new(State {
            token_lifetime: config.token_lifetime,
            reject_gzip: config.reject_gzip,
            ..State::default()
        }));
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let (shutdown_tx, shutdown_rx) = tokio::sync::oneshot::channel::<()>();
        let handler_state = state.clone();
        let config = Arc::new(config);
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .expect("fake cequence runtime");
            rt.block_on(async move {
                let handler: http::Handler = Arc::new(move |req| {
                    let state = handler_state.clone();
                    let config = config.clone();
                    Box::pin(async move { handle(req, &state, &config).await })
                });
                let addr = http::serve(SocketAddr::from(([127, 0, 0, 1], port)), handler)
                    .await
                    .expect("bind fake cequence");
                addr_tx.send(addr).expect("report address");
                let _ = shutdown_rx.await;
            });
        });
        let addr = addr_rx.recv().expect("fake cequence started");
        Self {
            addr,
            state,
            shutdown: Some(shutdown_tx),
            thread: Some(thread),
        }
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn auth_endpoint(&self) -> String {
        format!("{}{AUTH_PATH}", self.base_url())
    }

    pub fn edge_endpoint(&self) -> String {
        format!("{}{EDGE_PATH}", self.base_url())
    }

    /// Every transaction received, in arrival order (duplicates included).
    pub fn received(&self) -> Vec<Value> {
        self.lock().received.clone()
    }

    /// `transaction-id` of every transaction received, in arrival order.
    pub fn received_ids(&self) -> Vec<String> {
        self.lock().received.iter().map(transaction_id).collect()
    }

    /// Ids received more than once.
    pub fn duplicate_ids(&self) -> Vec<String> {
        duplicates(&self.received_ids())
    }

    pub fn counters(&self) -> Counters {
        self.lock().counters.clone()
    }

    /// The next `n` edge posts answer 500.
    pub fn fail_next(&self, n: u32) {
        self.lock().fail_next = n;
    }

    /// The next `n` edge posts wait `delay` before being handled. A client with a shorter
    /// timeout sees a timeout, yet the post is still recorded when the delay ends — like a
    /// real server that finished the work after the client gave up.
    pub fn delay_next(&self, n: u32, delay: Duration) {
        let mut s = self.lock();
        s.delay_next = n;
        s.delay = delay;
    }

    /// While down, the token endpoint answers 503.
    pub fn set_auth_down(&self, down: bool) {
        self.lock().auth_down = down;
    }

    /// Lifetime of tokens issued from now on.
    pub fn set_token_lifetime(&self, lifetime: Duration) {
        self.lock().token_lifetime = lifetime;
    }

    /// Make every token issued so far expired, as if time had passed.
    pub fn expire_tokens(&self) {
        for exp in self.lock().tokens.values_mut() {
            *exp = 0;
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Drop for FakeCequence {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn transaction_id(v: &Value) -> String {
    v.get("transaction-id")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

fn duplicates(ids: &[String]) -> Vec<String> {
    let mut seen = HashSet::new();
    let mut dups: Vec<String> = ids
        .iter()
        .filter(|id| !seen.insert(id.as_str()))
        .cloned()
        .collect();
    dups.sort();
    dups.dedup();
    dups
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// An unsigned JWT (`alg: none`): the forwarder only reads `exp` and never verifies.
pub fn unsigned_jwt(claims: &Value) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    format!("{header}.{payload}.")
}

async fn handle(req: Request, state: &Mutex<State>, config: &FakeConfig) -> Response {
    let lock = || state.lock().unwrap_or_else(|p| p.into_inner());
    match (req.method.as_str(), req.path()) {
        ("POST", AUTH_PATH) => issue_token(&req, &mut lock(), config),
        ("POST", EDGE_PATH) => {
            let delay = {
                let mut s = lock();
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
            receive(&req, &mut lock(), config)
        }
        ("GET", "/_received") => {
            let s = lock();
            let ids: Vec<String> = s.received.iter().map(transaction_id).collect();
            Response::json(
                200,
                &json!({
                    "count": ids.len(),
                    "unique": ids.iter().collect::<HashSet<_>>().len(),
                    "duplicates": duplicates(&ids),
                    "counters": s.counters,
                }),
            )
        }
        ("POST", "/_control") => control(&req, &mut lock()),
        _ => Response::new(404, "not found"),
    }
}

fn issue_token(req: &Request, s: &mut State, config: &FakeConfig) -> Response {
    s.counters.token_requests += 1;
    if s.auth_down {
        return Response::json(503, &json!({"error": "temporarily_unavailable"}));
    }
    let form: BTreeMap<String, String> = String::from_utf8_lossy(&req.body)
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (percent_decode(k), percent_decode(v)))
        .collect();
    let get = |k: &str| form.get(k).map(String::as_str).unwrap_or_default();
    if get("grant_type") != "client_credentials" {
        return Response::json(400, &json!({"error": "unsupported_grant_type"}));
    }
    if get("client_id") != config.client_id || get("client_secret") != config.client_secret {
        return Response::json(401, &json!({"error": "invalid_client"}));
    }
    let now = now_secs();
    let lifetime = s.token_lifetime.as_secs();
    s.counters.tokens_issued += 1;
    let token = unsigned_jwt(&json!({
        "iat": now,
        "exp": now + lifetime,
        "azp": config.client_id,
        "jti": format!("fake-{}", s.counters.tokens_issued),
    }));
    s.tokens.insert(token.clone(), now + lifetime);
    Response::json(
        200,
        &json!({"access_token": token, "expires_in": lifetime, "token_type": "Bearer"}),
    )
}

fn receive(req: &Request, s: &mut State, config: &FakeConfig) -> Response {
    s.counters.edge_requests += 1;
    let token = req
        .header("authorization")
        .and_then(|h| h.strip_prefix("Bearer "))
        .unwrap_or_default();
    match s.tokens.get(token) {
        Some(exp) if *exp > now_secs() => {}
        _ => {
            s.counters.edge_unauthorized += 1;
            return Response::json(401, &json!({"error": "invalid_token"}));
        }
    }
    if s.fail_next > 0 {
        s.fail_next -= 1;
        s.counters.edge_failed_injected += 1;
        return Response::json(500, &json!({"error": "injected failure"}));
    }
    let gzip = req
        .header("content-encoding")
        .is_some_and(|v| v.eq_ignore_ascii_case("gzip"));
    let body = if gzip {
        s.counters.gzip_requests += 1;
        if s.reject_gzip {
            s.counters.gzip_rejected += 1;
            return Response::json(415, &json!({"error": "gzip not accepted"}));
        }
        let mut out = Vec::new();
        if flate2::read::GzDecoder::new(req.body.as_slice())
            .read_to_end(&mut out)
            .is_err()
        {
            return Response::json(400, &json!({"error": "bad gzip"}));
        }
        out
    } else {
        req.body.clone()
    };
    let Ok(doc) = serde_json::from_slice::<Value>(&body) else {
        return Response::json(400, &json!({"error": "body is not JSON"}));
    };
    let Some(data) = doc.get("data").and_then(Value::as_array) else {
        return Response::json(400, &json!({"error": "missing data array"}));
    };
    if let Some(path) = &config.record_file {
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
        {
            for t in data {
                let _ = writeln!(f, "{t}");
            }
        }
    }
    s.counters.edge_accepted += 1;
    s.received.extend(data.iter().cloned());
    Response::json(200, &json!({"received": data.len()}))
}

/// `POST /_control` with any of `{"fail_next":N, "delay_next":N, "delay_ms":M,
/// "auth_down":bool, "expire_tokens":true, "token_lifetime_secs":S}` (for the demo).
fn control(req: &Request, s: &mut State) -> Response {
    let Ok(v) = serde_json::from_slice::<Value>(&req.body) else {
        return Response::json(400, &json!({"error": "body is not JSON"}));
    };
    if let Some(n) = v.get("fail_next").and_then(Value::as_u64) {
        s.fail_next = n as u32;
    }
    if let Some(n) = v.get("delay_next").and_then(Value::as_u64) {
        s.delay_next = n as u32;
    }
    if let Some(ms) = v.get("delay_ms").and_then(Value::as_u64) {
        s.delay = Duration::from_millis(ms);
    }
    if let Some(b) = v.get("auth_down").and_then(Value::as_bool) {
        s.auth_down = b;
    }
    if let Some(secs) = v.get("token_lifetime_secs").and_then(Value::as_u64) {
        s.token_lifetime = Duration::from_secs(secs);
    }
    if v.get("expire_tokens").and_then(Value::as_bool) == Some(true) {
        for exp in s.tokens.values_mut() {
            *exp = 0;
        }
    }
    Response::json(200, &json!({"ok": true}))
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_decoding_handles_escapes_and_plus() {
        assert_eq!(percent_decode("a%2Bb+c%3D"), "a+b c=");
        assert_eq!(percent_decode("bad%zz"), "bad%zz");
        assert_eq!(percent_decode("end%"), "end%");
    }

    #[test]
    fn duplicates_are_reported_once() {
        let ids: Vec<String> = ["a", "b", "a", "a", "c", "b"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(duplicates(&ids), vec!["a".to_string(), "b".to_string()]);
    }

    #[test]
    fn unsigned_jwt_carries_claims() {
        let t = unsigned_jwt(&json!({"exp": 42}));
        let payload = t.split('.').nth(1).unwrap();
        let v: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
        assert_eq!(v["exp"], 42);
    }
}
