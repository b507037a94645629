//! A local fake of the Cequence UAP auth + Edge endpoints that plays the real service's parts
//! the forwarder depends on:
//! * client-credentials tokens whose JWT `exp` really passes: the 401 decision is made from
//!   the presented token's own `exp` (server-side revocation is also possible);
//! * `invalid_client` (401) for a wrong secret, and a secret that can be rotated at run time;
//! * the Edge limits: at most 250 transactions (400) and a body-size limit (413, default
//!   10 MB, on the decoded body), each transaction checked against the Edge schema (docs/contract.md) (400
//!   naming the transaction and the field);
//! * gzip bodies decoded, refused with 415, or — like a proxy that ignores
//!   `Content-Encoding` — read as plain JSON and so answered 400;
//! * injectable answers (`faults`): 5xx, 429, 302, hangs ending in 504, 4xx for a poison
//!   transaction or for bodies over a size, by count or time window;
//! * a bench mode keeping only ids and flags, and a `/_received` summary against an
//!   expected list.
//!
//! It runs on its own thread and runtime, so it keeps serving while a test blocks on a child
//! process or on a current-thread runtime.

mod auth;
mod edge;
pub mod faults;
pub mod received;
pub mod schema;

pub use auth::unsigned_jwt;

pub use crate::http;

use std::collections::{BTreeSet, HashSet};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};

use crate::background::Background;
use faults::{Answer, Fault};
use http::{Request, Response};
use received::{Received, Summary};

/// Path of the token endpoint, as on a real tenant.
pub const AUTH_PATH: &str = "/auth/realms/cequence/protocol/openid-connect/token";
/// Path of the transactions endpoint, as on a real tenant.
pub const EDGE_PATH: &str = "/api-transactions";
/// The Edge's limits (docs/contract.md).
pub const MAX_TRANSACTIONS: usize = 250;
pub const DEFAULT_BODY_LIMIT: usize = 10 * 1024 * 1024;

/// How gzip-encoded posts are treated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GzipMode {
    Accept,
    /// 415, like an Edge that does not accept compression.
    Reject415,
    /// The body is read as if it were plain (a proxy that drops `Content-Encoding`): 400.
    IgnoreEncoding,
}

/// What the fake starts with.
#[derive(Debug, Clone)]
pub struct FakeConfig {
    pub client_id: String,
    pub client_secret: String,
    /// Lifetime of issued tokens (the real default is 1800 s).
    pub token_lifetime: Duration,
    /// Append every received transaction as one JSON line to this file.
    pub record_file: Option<PathBuf>,
    /// Answer gzip-encoded posts with 415 (`GzipMode::Reject415`).
    pub reject_gzip: bool,
    /// Keep only ids and flags of what was received.
    pub bench: bool,
    /// Time taken to accept a post.
    pub latency: Duration,
    pub workers: usize,
}

impl Default for FakeConfig {
    fn default() -> Self {
        Self {
            client_id: "test-client".into(),
            client_secret: "test-secret".into(),
            token_lifetime: Duration::from_secs(1800),
            record_file: None,
            reject_gzip: false,
            bench: false,
            latency: Duration::ZERO,
            workers: 1,
        }
    }
}

/// Counters a test asserts on.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Counters {
    pub token_requests: u64,
    pub tokens_issued: u64,
    pub token_invalid_client: u64,
    pub edge_requests: u64,
    pub edge_accepted: u64,
    /// Every 401 from the Edge.
    pub edge_unauthorized: u64,
    /// 401s for a token whose JWT `exp` had passed.
    pub edge_expired_token: u64,
    pub edge_failed_injected: u64,
    pub edge_redirected: u64,
    pub edge_hung: u64,
    pub edge_too_many: u64,
    pub edge_too_large: u64,
    pub edge_schema_rejected: u64,
    pub edge_not_json: u64,
    pub gzip_requests: u64,
    pub gzip_rejected: u64,
    /// Requests to any other path (e.g. a client that followed a redirect).
    pub other_paths: u64,
    /// Body bytes of accepted posts as sent (compressed when gzip) and as JSON: what the
    /// customer's Lambda pays as data transfer out, and what compression saved.
    pub edge_wire_bytes: u64,
    pub edge_json_bytes: u64,
}

struct State {
    issued: HashSet<String>,
    revoked: HashSet<String>,
    received: Received,
    expected: Option<HashSet<String>>,
    counters: Counters,
    fail_next: u32,
    delay_next: u32,
    delay: Duration,
    auth_down: bool,
    token_lifetime: Duration,
    client_secret: String,
    gzip: GzipMode,
    body_limit: usize,
    latency: Duration,
    faults: Vec<Fault>,
    /// Schema errors answered, `(transaction-id, field)`.
    schema_errors: BTreeSet<(String, String)>,
}

/// A running fake; stops when dropped.
pub struct FakeCequence {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    _server: Background,
}

fn lock(state: &Mutex<State>) -> std::sync::MutexGuard<'_, State> {
    state.lock().unwrap_or_else(|p| p.into_inner())
}

impl FakeCequence {
    /// Start on a free 127.0.0.1 port with the default client credentials.
    pub fn start() -> Self {
        Self::start_with(FakeConfig::default(), 0)
    }

    /// Start with `config` on `port` (0 = any free port).
    pub fn start_with(config: FakeConfig, port: u16) -> Self {
        let state = Arc::new(Mutex::new(State {
            issued: HashSet::new(),
            revoked: HashSet::new(),
            received: Received::new(config.bench),
            expected: None,
            counters: Counters::default(),
            fail_next: 0,
            delay_next: 0,
            delay: Duration::ZERO,
            auth_down: false,
            token_lifetime: config.token_lifetime,
            client_secret: config.client_secret.clone(),
            gzip: if config.reject_gzip {
                GzipMode::Reject415
            } else {
                GzipMode::Accept
            },
            body_limit: DEFAULT_BODY_LIMIT,
            latency: config.latency,
            faults: Vec::new(),
            schema_errors: BTreeSet::new(),
        }));
        let handler_state = state.clone();
        let workers = config.workers;
        let config = Arc::new(config);
        let handler: http::Handler = Arc::new(move |req| {
            let state = handler_state.clone();
            let config = config.clone();
            Box::pin(async move { handle(req, &state, &config).await })
        });
        let server = Background::start("fake-cequence", port, workers, move |l| {
            http::serve_listener(l, handler)
        })
        .expect("bind fake cequence");
        Self {
            addr: server.addr(),
            state,
            _server: server,
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

    /// Every transaction received, in arrival order (duplicates included; empty in bench mode).
    pub fn received(&self) -> Vec<Value> {
        self.lock().received.full().to_vec()
    }

    /// `transaction-id` of every transaction received, in arrival order (not in bench mode).
    pub fn received_ids(&self) -> Vec<String> {
        self.lock().received.ids_in_order().to_vec()
    }

    /// How often a transaction id was received.
    pub fn times_received(&self, id: &str) -> u32 {
        self.lock().received.count_of(id)
    }

    /// Ids received more than once.
    pub fn duplicate_ids(&self) -> Vec<String> {
        self.lock().received.duplicate_ids()
    }

    /// Counts, duplicates and (with `set_expected`) what is missing.
    pub fn summary(&self) -> Summary {
        let s = self.lock();
        s.received.summary(s.expected.as_ref())
    }

    /// The ids the summary checks against.
    pub fn set_expected(&self, ids: impl IntoIterator<Item = String>) {
        self.lock().expected = Some(ids.into_iter().collect());
    }

    pub fn clear_received(&self) {
        self.lock().received.clear();
    }

    pub fn counters(&self) -> Counters {
        self.lock().counters.clone()
    }

    /// `(transaction-id, field)` of every schema error answered.
    pub fn schema_errors(&self) -> Vec<(String, String)> {
        self.lock().schema_errors.iter().cloned().collect()
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

    /// Add an injected answer (see `faults`).
    pub fn inject(&self, fault: Fault) {
        self.lock().faults.push(fault);
    }

    /// Drop every injected answer; hung posts then end with 504.
    pub fn clear_faults(&self) {
        self.lock().faults.clear();
    }

    /// While down, the token endpoint answers 503.
    pub fn set_auth_down(&self, down: bool) {
        self.lock().auth_down = down;
    }

    /// Lifetime of tokens issued from now on.
    pub fn set_token_lifetime(&self, lifetime: Duration) {
        self.lock().token_lifetime = lifetime;
    }

    /// Rotate the client secret: the old one gets `invalid_client` from now on (tokens
    /// already issued stay valid until their `exp`).
    pub fn set_client_secret(&self, secret: &str) {
        self.lock().client_secret = secret.to_string();
    }

    pub fn set_gzip_mode(&self, mode: GzipMode) {
        self.lock().gzip = mode;
    }

    /// Largest decoded body accepted (413 above).
    pub fn set_body_limit(&self, bytes: usize) {
        self.lock().body_limit = bytes;
    }

    pub fn set_latency(&self, latency: Duration) {
        self.lock().latency = latency;
    }

    /// Revoke every token issued so far (server-side), although its `exp` has not passed.
    pub fn expire_tokens(&self) {
        let mut s = self.lock();
        let issued: Vec<String> = s.issued.iter().cloned().collect();
        s.revoked.extend(issued);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        lock(&self.state)
    }
}

fn error(status: u16, error: &str, detail: Value) -> Response {
    let mut body = json!({"error": error});
    if let (Some(b), Value::Object(d)) = (body.as_object_mut(), detail) {
        b.extend(d);
    }
    Response::json(status, &body)
}

async fn handle(req: Request, state: &Mutex<State>, config: &FakeConfig) -> Response {
    match (req.method.as_str(), req.path()) {
        ("POST", AUTH_PATH) => auth::issue_token(&req, &mut lock(state), config),
        ("POST", EDGE_PATH) => edge::edge(req, state, config).await,
        ("GET", "/_received") => {
            let s = lock(state);
            let mut v =
                serde_json::to_value(s.received.summary(s.expected.as_ref())).unwrap_or_default();
            v["counters"] = serde_json::to_value(&s.counters).unwrap_or_default();
            Response::json(200, &v)
        }
        ("POST", "/_control") => control(&req, &mut lock(state)),
        _ => {
            lock(state).counters.other_paths += 1;
            Response::new(404, "not found")
        }
    }
}

/// `POST /_control` with any of `{"fail_next":N, "delay_next":N, "delay_ms":M,
/// "auth_down":bool, "expire_tokens":true, "token_lifetime_secs":S, "clear_faults":true,
/// "inject":{"status":S,"count":N}}` (for the demo and manual runs).
fn control(req: &Request, s: &mut State) -> Response {
    let Ok(v) = serde_json::from_slice::<Value>(&req.body) else {
        return error(400, "body is not JSON", Value::Null);
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
        let issued: Vec<String> = s.issued.iter().cloned().collect();
        s.revoked.extend(issued);
    }
    if v.get("clear_faults").and_then(Value::as_bool) == Some(true) {
        s.faults.clear();
    }
    if let Some(inj) = v.get("inject") {
        let status = inj.get("status").and_then(Value::as_u64).unwrap_or(500) as u16;
        let count = inj.get("count").and_then(Value::as_u64).unwrap_or(1) as u32;
        s.faults.push(Fault::times(Answer::Status(status), count));
    }
    Response::json(200, &json!({"ok": true}))
}

#[cfg(test)]
mod tests {
    use super::auth::{jwt_claims, percent_decode};
    use super::*;
    use crate::http::client;
    use std::io::Write;

    #[test]
    fn percent_decoding_handles_escapes_and_plus() {
        assert_eq!(percent_decode("a%2Bb+c%3D"), "a+b c=");
        assert_eq!(percent_decode("bad%zz"), "bad%zz");
        assert_eq!(percent_decode("end%"), "end%");
    }

    #[test]
    fn unsigned_jwt_carries_claims() {
        let t = unsigned_jwt(&json!({"exp": 42, "jti": "x"}));
        assert_eq!(jwt_claims(&t), Some(("x".to_string(), 42)));
    }

    fn post(fake: &FakeCequence, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Response {
        let addr = fake.base_url().trim_start_matches("http://").to_string();
        client::request(&addr, "POST", path, headers, body, Duration::from_secs(10)).unwrap()
    }

    fn token(fake: &FakeCequence, secret: &str) -> Response {
        let form =
            format!("grant_type=client_credentials&client_id=test-client&client_secret={secret}");
        post(
            fake,
            AUTH_PATH,
            &[("content-type", "application/x-www-form-urlencoded")],
            form.as_bytes(),
        )
    }

    fn bearer(resp: &Response) -> String {
        let v: Value = serde_json::from_slice(&resp.body).unwrap();
        format!("Bearer {}", v["access_token"].as_str().unwrap())
    }

    fn transaction(id: &str) -> Value {
        let mut t = schema_valid();
        t["transaction-id"] = json!(id);
        t
    }

    fn schema_valid() -> Value {
        json!({
            "timestamp": "1700000000.123", "version": "1.0", "transaction-id": "x",
            "request": {"client-ip": "", "http-scheme": "https", "http-version": "HTTP/1.1",
                "http-method": "GET", "uri-query-fragment": "/", "host": "h", "headers": [],
                "body": {"length": 0, "data": ""},
                "connection": {"connection-ip": "", "connection-port": 0, "server-ip": "", "server-port": 443}},
            "response": {"status-code": "200", "headers": [], "body": {"length": 0, "data": ""}},
            "txn-meta-data": {"source_info": {}}
        })
    }

    fn batch(ids: &[&str]) -> Vec<u8> {
        json!({"data": ids.iter().map(|i| transaction(i)).collect::<Vec<_>>()})
            .to_string()
            .into_bytes()
    }

    #[test]
    fn tokens_expire_by_their_own_exp_and_rotation_refuses_the_old_secret() {
        let fake = FakeCequence::start();
        // `exp` is whole seconds (issue second + lifetime): a 1 s token issued just before a
        // second ends is already expired a millisecond later, so the lifetime is 2 s (valid
        // for at least 1 s) and the wait 3.1 s (past `exp` whenever it was issued).
        fake.set_token_lifetime(Duration::from_secs(2));
        let auth = bearer(&token(&fake, "test-secret"));
        let ok = post(
            &fake,
            EDGE_PATH,
            &[("authorization", &auth)],
            &batch(&["a"]),
        );
        assert_eq!(ok.status, 200);
        std::thread::sleep(Duration::from_millis(3_100));
        let late = post(
            &fake,
            EDGE_PATH,
            &[("authorization", &auth)],
            &batch(&["b"]),
        );
        assert_eq!(late.status, 401);
        assert_eq!(fake.counters().edge_expired_token, 1);

        fake.set_client_secret("rotated");
        assert_eq!(token(&fake, "test-secret").status, 401);
        assert_eq!(token(&fake, "rotated").status, 200);
        assert_eq!(fake.counters().token_invalid_client, 1);
    }

    #[test]
    fn the_edge_enforces_its_limits_and_names_a_malformed_transaction() {
        let fake = FakeCequence::start();
        let auth = bearer(&token(&fake, "test-secret"));
        let h = [("authorization", auth.as_str())];
        let many: Vec<String> = (0..251).map(|i| i.to_string()).collect();
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        assert_eq!(post(&fake, EDGE_PATH, &h, &batch(&many)).status, 400);

        let mut bad = json!({"data": [transaction("good"), transaction("bad")]});
        bad["data"][1]["request"]["body"]["length"] = json!(5);
        let r = post(&fake, EDGE_PATH, &h, bad.to_string().as_bytes());
        assert_eq!(r.status, 400);
        let v: Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(
            (v["transaction-id"].as_str(), v["field"].as_str()),
            (Some("bad"), Some("request.body.length"))
        );

        fake.set_body_limit(100);
        assert_eq!(post(&fake, EDGE_PATH, &h, &batch(&["a"])).status, 413);
        fake.set_body_limit(DEFAULT_BODY_LIMIT);

        fake.inject(Fault::when(
            Answer::Status(422),
            faults::When::Contains("poison".into()),
        ));
        assert_eq!(
            post(&fake, EDGE_PATH, &h, &batch(&["a", "poison"])).status,
            422
        );
        assert_eq!(post(&fake, EDGE_PATH, &h, &batch(&["a"])).status, 200);
        fake.clear_faults();

        fake.inject(Fault::times(
            Answer::Redirect("https://elsewhere/".into()),
            1,
        ));
        let r = post(&fake, EDGE_PATH, &h, &batch(&["c"]));
        assert_eq!(
            (r.status, r.headers.iter().any(|(k, _)| k == "location")),
            (302, true)
        );

        let gz = {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(&batch(&["z"])).unwrap();
            e.finish().unwrap()
        };
        let gh = [
            ("authorization", auth.as_str()),
            ("content-encoding", "gzip"),
        ];
        assert_eq!(post(&fake, EDGE_PATH, &gh, &gz).status, 200);
        fake.set_gzip_mode(GzipMode::IgnoreEncoding);
        assert_eq!(post(&fake, EDGE_PATH, &gh, &gz).status, 400);

        fake.set_expected(["a", "c", "z", "never"].iter().map(|s| s.to_string()));
        let s = fake.summary();
        assert_eq!(s.missing, vec!["c".to_string(), "never".to_string()]);
        assert!(s.duplicates.is_empty());
        assert_eq!((s.count, s.unique), (2, 2));
    }
}
