//! The token endpoint (client-credentials grant) and the Edge's token check: tokens are
//! unsigned JWTs whose own `exp` decides when the Edge refuses them.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::{json, Value};

use super::http::{Request, Response};
use super::{error, FakeConfig, State};

pub(super) fn now_secs() -> u64 {
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

/// `(jti, exp)` of a token this fake issued, read from the token itself.
pub(super) fn jwt_claims(token: &str) -> Option<(String, u64)> {
    let payload = token.split('.').nth(1)?;
    let bytes = URL_SAFE_NO_PAD.decode(payload).ok()?;
    let v: Value = serde_json::from_slice(&bytes).ok()?;
    Some((v.get("jti")?.as_str()?.to_string(), v.get("exp")?.as_u64()?))
}

pub(super) fn issue_token(req: &Request, s: &mut State, config: &FakeConfig) -> Response {
    s.counters.token_requests += 1;
    if s.auth_down {
        return error(503, "temporarily_unavailable", Value::Null);
    }
    let form: std::collections::BTreeMap<String, String> = String::from_utf8_lossy(&req.body)
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (percent_decode(k), percent_decode(v)))
        .collect();
    let get = |k: &str| form.get(k).map(String::as_str).unwrap_or_default();
    if get("grant_type") != "client_credentials" {
        return error(400, "unsupported_grant_type", Value::Null);
    }
    if get("client_id") != config.client_id || get("client_secret") != s.client_secret {
        s.counters.token_invalid_client += 1;
        return error(
            401,
            "invalid_client",
            json!({"error_description": "Invalid client or Invalid client credentials"}),
        );
    }
    let now = now_secs();
    let lifetime = s.token_lifetime.as_secs();
    s.counters.tokens_issued += 1;
    let jti = format!("fake-{}", s.counters.tokens_issued);
    let token = unsigned_jwt(&json!({
        "iat": now,
        "exp": now + lifetime,
        "azp": config.client_id,
        "jti": jti,
    }));
    s.issued.insert(jti);
    Response::json(
        200,
        &json!({"access_token": token, "expires_in": lifetime, "token_type": "Bearer"}),
    )
}

/// Why a token is refused, if it is.
pub(super) fn token_problem(req: &Request, s: &State) -> Option<&'static str> {
    let token = req
        .header("authorization")
        .and_then(|h| h.strip_prefix("Bearer "))
        .unwrap_or_default();
    match jwt_claims(token) {
        Some((jti, _)) if !s.issued.contains(&jti) || s.revoked.contains(&jti) => {
            Some("invalid_token")
        }
        Some((_, exp)) if exp <= now_secs() => Some("token_expired"),
        Some(_) => None,
        None => Some("invalid_token"),
    }
}

pub(super) fn percent_decode(s: &str) -> String {
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
