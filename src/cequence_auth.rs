//! One OAuth client-credentials token request to the Cequence auth endpoint, as the forwarder
//! makes it, so `doctor` can say before a deployment whether the configured client works.
//! The secret goes only into the request body; neither it nor the token is returned or logged.

use std::time::Duration;

use crate::config::model::Secret;

/// What the auth endpoint answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenAnswer {
    /// A token was issued; `expires_in` as the endpoint stated it (seconds).
    Issued { expires_in: Option<u64> },
    /// The endpoint refused the client (HTTP status and the OAuth `error` code, if any).
    Refused { status: u16, error: Option<String> },
    /// No usable answer: connection, TLS, timeout, or a 2xx without a token.
    Unreachable(String),
}

pub async fn request_token(endpoint: &str, client_id: &str, secret: &Secret) -> TokenAnswer {
    let http = match reqwest::Client::builder()
        .timeout(Duration::from_secs(15))
        .build()
    {
        Ok(c) => c,
        Err(e) => return TokenAnswer::Unreachable(e.without_url().to_string()),
    };
    let sent = http
        .post(endpoint)
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", client_id),
            ("client_secret", secret.expose()),
        ])
        .send()
        .await;
    let resp = match sent {
        Ok(r) => r,
        Err(e) => return TokenAnswer::Unreachable(e.without_url().to_string()),
    };
    let status = resp.status().as_u16();
    let body: serde_json::Value = resp.json().await.unwrap_or(serde_json::Value::Null);
    if (200..300).contains(&status) {
        return match body["access_token"].as_str() {
            Some(t) if !t.is_empty() => TokenAnswer::Issued {
                expires_in: body["expires_in"].as_u64(),
            },
            _ => TokenAnswer::Unreachable(format!(
                "HTTP {status} without an access_token: is this the token URL?"
            )),
        };
    }
    TokenAnswer::Refused {
        status,
        error: body["error"].as_str().map(String::from),
    }
}
