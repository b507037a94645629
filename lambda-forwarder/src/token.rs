//! The UAP access token: client-credentials grant, cached in an SSM SecureString with its
//! expiry so the many short invocations of the function share one token instead of asking
//! the auth server every minute. A token is reused until 60 s before its JWT `exp`.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;

use crate::backoff::Backoff;
use crate::config::{ClientSecret, Secret};
use crate::stats::{lock, SharedStats};

/// Stop using a token this long before it expires.
pub const REFRESH_MARGIN_SECS: i64 = 60;
/// Token lifetime assumed when neither `exp` nor `expires_in` says (the UAP default).
pub const DEFAULT_LIFETIME_SECS: i64 = 1_800;
const RETRY: Backoff = Backoff::new(300, 3_000, 3);

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("auth endpoint rejected the client credentials (HTTP {0})")]
    Rejected(u16),
    #[error("auth endpoint unavailable after {attempts} attempts: {message}")]
    Unavailable { attempts: u32, message: String },
    #[error("auth endpoint answered without an access_token")]
    NoToken,
    #[error("reading the client secret {arn}: {message}")]
    Secret { arn: String, message: String },
}

/// What is stored in the SSM parameter.
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct CachedToken {
    pub access_token: String,
    /// Epoch seconds.
    pub expires_at: i64,
    /// Epoch seconds; 0 in a cache written before this field existed.
    #[serde(default)]
    pub issued_at: i64,
}

impl std::fmt::Debug for CachedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CachedToken")
            .field("access_token", &"***")
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

impl CachedToken {
    /// Usable until a margin before `exp`: a minute, or a quarter of the token's lifetime for
    /// tenants whose tokens live less than four minutes (else every post would fetch a new one).
    pub fn usable_at(&self, now_secs: i64) -> bool {
        let lifetime = self.expires_at - self.issued_at;
        let margin = if self.issued_at > 0 && lifetime > 0 {
            REFRESH_MARGIN_SECS.min((lifetime / 4).max(1))
        } else {
            REFRESH_MARGIN_SECS
        };
        now_secs < self.expires_at - margin
    }
}

/// The `exp` claim of a JWT, read without verifying the signature: we only need to know when
/// to stop using a token that the server itself issued to us.
pub fn jwt_exp(token: &str) -> Option<i64> {
    let payload = token.split('.').nth(1)?;
    let bytes = URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('=').as_bytes())
        .ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    claims.get("exp")?.as_i64()
}

/// The expiry of a token response: JWT `exp`, else `expires_in`, else the default lifetime.
pub fn expiry(token: &str, expires_in: Option<i64>, now_secs: i64) -> i64 {
    jwt_exp(token).unwrap_or_else(|| now_secs + expires_in.unwrap_or(DEFAULT_LIFETIME_SECS))
}

pub fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: Option<String>,
    expires_in: Option<i64>,
}

pub struct TokenProvider {
    http: reqwest::Client,
    ssm: aws_sdk_ssm::Client,
    secrets: aws_sdk_secretsmanager::Client,
    auth_endpoint: String,
    client_id: String,
    client_secret: ClientSecret,
    parameter: String,
    /// This process's copy, so warm invocations skip even the SSM read.
    current: Mutex<Option<CachedToken>>,
    secret_value: Mutex<Option<Secret>>,
}

impl TokenProvider {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        http: reqwest::Client,
        ssm: aws_sdk_ssm::Client,
        secrets: aws_sdk_secretsmanager::Client,
        auth_endpoint: String,
        client_id: String,
        client_secret: ClientSecret,
        parameter: String,
    ) -> Self {
        Self {
            http,
            ssm,
            secrets,
            auth_endpoint,
            client_id,
            client_secret,
            parameter,
            current: Mutex::new(None),
            secret_value: Mutex::new(None),
        }
    }

    /// A token valid for at least another minute.
    pub async fn get(&self, stats: &SharedStats) -> Result<String, TokenError> {
        let mut current = self.current.lock().await;
        let now = now_secs();
        if let Some(t) = current.as_ref().filter(|t| t.usable_at(now)) {
            note_source(stats, "memory");
            return Ok(t.access_token.clone());
        }
        if let Some(t) = self.read_cache().await.filter(|t| t.usable_at(now)) {
            note_source(stats, "ssm");
            *current = Some(t.clone());
            return Ok(t.access_token);
        }
        let t = self.fetch(stats).await?;
        *current = Some(t.clone());
        Ok(t.access_token)
    }

    /// After a 401 for `rejected`: a new token, unless another task already replaced it.
    pub async fn refresh(&self, rejected: &str, stats: &SharedStats) -> Result<String, TokenError> {
        let mut current = self.current.lock().await;
        if let Some(t) = current
            .as_ref()
            .filter(|t| t.access_token != rejected && t.usable_at(now_secs()))
        {
            return Ok(t.access_token.clone());
        }
        let t = self.fetch(stats).await?;
        *current = Some(t.clone());
        Ok(t.access_token)
    }

    async fn read_cache(&self) -> Option<CachedToken> {
        match self
            .ssm
            .get_parameter()
            .name(&self.parameter)
            .with_decryption(true)
            .send()
            .await
        {
            Ok(out) => {
                let value = out.parameter()?.value()?;
                serde_json::from_str(value).ok()
            }
            Err(e) => {
                if !e
                    .as_service_error()
                    .is_some_and(|se| se.is_parameter_not_found())
                {
                    tracing::warn!(
                        parameter = %self.parameter,
                        error = %cq_stage_logging::error_chain(&e),
                        "cannot read the cached token; requesting a new one"
                    );
                }
                None
            }
        }
    }

    async fn write_cache(&self, t: &CachedToken) {
        let value = serde_json::to_string(t).unwrap_or_default();
        let result = self
            .ssm
            .put_parameter()
            .name(&self.parameter)
            .value(value)
            .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
            .overwrite(true)
            .send()
            .await;
        if let Err(e) = result {
            // Not fatal: the token still works for this invocation.
            tracing::warn!(
                parameter = %self.parameter,
                error = %cq_stage_logging::error_chain(&e),
                "cannot cache the token in SSM"
            );
        }
    }

    async fn secret(&self) -> Result<Secret, TokenError> {
        let mut cached = self.secret_value.lock().await;
        if let Some(s) = cached.as_ref() {
            return Ok(s.clone());
        }
        let secret = match &self.client_secret {
            ClientSecret::Plain(s) => s.clone(),
            ClientSecret::SecretsManager(arn) => {
                let out = self
                    .secrets
                    .get_secret_value()
                    .secret_id(arn)
                    .send()
                    .await
                    .map_err(|e| TokenError::Secret {
                        arn: arn.clone(),
                        message: cq_stage_logging::error_chain(&e),
                    })?;
                let value = out.secret_string().ok_or_else(|| TokenError::Secret {
                    arn: arn.clone(),
                    message: "the secret has no SecretString".into(),
                })?;
                Secret::new(value.trim())
            }
        };
        *cached = Some(secret.clone());
        Ok(secret)
    }

    /// Ask the auth endpoint, retrying 5xx and connection trouble; cache the result in SSM.
    async fn fetch(&self, stats: &SharedStats) -> Result<CachedToken, TokenError> {
        let mut secret = self.secret().await?;
        let started = Instant::now();
        let mut attempt = 0u32;
        let mut reread_secret = false;
        let result = loop {
            attempt += 1;
            let sent = self
                .http
                .post(&self.auth_endpoint)
                .timeout(Duration::from_secs(15))
                .form(&[
                    ("grant_type", "client_credentials"),
                    ("client_id", self.client_id.as_str()),
                    ("client_secret", secret.expose()),
                ])
                .send()
                .await;
            let failure = match sent {
                Ok(resp) if resp.status().is_success() => {
                    let body: TokenResponse = match resp.json().await {
                        Ok(b) => b,
                        Err(e) => {
                            break Err(TokenError::Unavailable {
                                attempts: attempt,
                                message: format!("unreadable token response: {e}"),
                            })
                        }
                    };
                    let Some(token) = body.access_token.filter(|t| !t.is_empty()) else {
                        break Err(TokenError::NoToken);
                    };
                    let issued_at = now_secs();
                    let expires_at = expiry(&token, body.expires_in, issued_at);
                    break Ok(CachedToken {
                        issued_at,
                        access_token: token,
                        expires_at,
                    });
                }
                Ok(resp) if resp.status().is_server_error() || resp.status().as_u16() == 429 => {
                    format!("HTTP {}", resp.status().as_u16())
                }
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    let body = resp.text().await.unwrap_or_default();
                    // The secret was rotated in Secrets Manager since this container read it:
                    // read it again, once.
                    if body.contains("invalid_client")
                        && !reread_secret
                        && matches!(self.client_secret, ClientSecret::SecretsManager(_))
                    {
                        reread_secret = true;
                        tracing::info!("the auth endpoint refused the client secret; reading it again from Secrets Manager");
                        *self.secret_value.lock().await = None;
                        secret = self.secret().await?;
                        continue;
                    }
                    break Err(TokenError::Rejected(status));
                }
                Err(e) => without_url(e),
            };
            if attempt > RETRY.max_retries {
                break Err(TokenError::Unavailable {
                    attempts: attempt,
                    message: failure,
                });
            }
            lock(stats).total_cequence_auth_retries += 1;
            tokio::time::sleep(RETRY.delay(attempt)).await;
        };
        {
            let mut s = lock(stats);
            s.cequence_auth_latency += started.elapsed().as_millis() as u64;
            s.token_source = "auth".into();
        }
        let token = result?;
        self.write_cache(&token).await;
        Ok(token)
    }
}

fn note_source(stats: &SharedStats, source: &str) {
    let mut s = lock(stats);
    if s.token_source.is_empty() {
        s.token_source = source.into();
    }
}

/// A reqwest error without its URL (a token URL carries no secret, but keep logs uniform).
pub fn without_url(e: reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timeout"
    } else if e.is_connect() {
        "connection failed"
    } else {
        "request failed"
    };
    format!("{kind}: {}", e.without_url())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwt(claims: &str) -> String {
        format!(
            "{}.{}.sig",
            URL_SAFE_NO_PAD.encode(r#"{"alg":"HS256"}"#),
            URL_SAFE_NO_PAD.encode(claims)
        )
    }

    #[test]
    fn exp_comes_from_the_jwt_payload() {
        assert_eq!(
            jwt_exp(&jwt(r#"{"exp":1700000000,"sub":"x"}"#)),
            Some(1_700_000_000)
        );
        assert_eq!(jwt_exp("not-a-jwt"), None);
        assert_eq!(jwt_exp(&jwt(r#"{"sub":"x"}"#)), None);
    }

    #[test]
    fn expiry_falls_back_to_expires_in_then_default() {
        assert_eq!(expiry(&jwt(r#"{"exp":500}"#), Some(10), 100), 500);
        assert_eq!(expiry("opaque", Some(10), 100), 110);
        assert_eq!(expiry("opaque", None, 100), 100 + DEFAULT_LIFETIME_SECS);
    }

    #[test]
    fn token_is_reused_until_a_minute_before_exp() {
        let t = CachedToken {
            access_token: "t".into(),
            expires_at: 1_000,
            issued_at: 0,
        };
        assert!(t.usable_at(939));
        assert!(!t.usable_at(940));
        // A 3-second token is used for its first 2 seconds, not refetched for every post.
        let short = CachedToken {
            access_token: "s".into(),
            expires_at: 103,
            issued_at: 100,
        };
        assert!(short.usable_at(101));
        assert!(!short.usable_at(102));
        assert!(!format!("{t:?}").contains("\"t\""));
    }
}
