//! The forwarder's configuration, read from the environment the template sets.
//!
//! Read through a lookup function rather than `std::env` directly so every rule is unit-tested
//! without touching the process environment. A bad value fails the run with an error naming
//! the variable; a secret's value is never part of an error.

use cq_contract::forwarder_env as env;
use cq_contract::values;
use cq_contract::{defaults, LogLevel, RestDelivery};

use crate::pipeline::filters::Filters;

pub const DEFAULT_FETCH_INTERVAL_MS: i64 = 60_000;
pub const DEFAULT_TOKEN_PARAMETER: &str = "/cequence/apigw/token";
/// Events are read only once they are this old: CloudWatch Logs ingests with a delay and
/// FilterLogEvents filters by event time, so reading up to "now" would skip late events.
pub const DEFAULT_SETTLE_LAG_MS: i64 = 120_000;
/// A REST request whose last line has not arrived after this long is sent flagged incomplete.
pub const DEFAULT_PENDING_WAIT_MS: i64 = 300_000;
/// A tick stops reading this long before the Lambda deadline, to deliver and save state.
pub const DEFAULT_DEADLINE_MARGIN_MS: i64 = 8_000;
/// A tick never looks back further than this on its first run (one day).
const MAX_FETCH_INTERVAL_MS: i64 = 86_400_000;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("{var} is not set ({hint})")]
    Missing {
        var: &'static str,
        hint: &'static str,
    },
    #[error("{var}={value:?} is invalid: {allowed}")]
    Invalid {
        var: &'static str,
        value: String,
        allowed: String,
    },
    /// For variables whose value must not be echoed.
    #[error("{var} is invalid: {allowed}")]
    InvalidSecret { var: &'static str, allowed: String },
}

pub use cq_contract::Secret;

/// How a log group's events reach the forwarder: poll, push, or auto (poll while the
/// region's FilterLogEvents quota keeps up, push the groups it cannot).
pub use cq_contract::IngestionMode as Ingestion;

/// Where subscription filters deliver.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PushDestination {
    /// Straight to this function (one asynchronous invocation per payload).
    Lambda,
    /// A Kinesis data stream read by an event source mapping, with the role CloudWatch Logs
    /// assumes to write to it.
    Kinesis {
        stream_arn: String,
        role_arn: String,
    },
}

/// FilterLogEvents requests per second per account and region (AWS documentation, 2026).
pub fn filter_log_events_quota(region: &str) -> f64 {
    match region {
        "us-east-1" => 25.0,
        "ap-northeast-3" | "ap-southeast-3" | "ca-west-1" | "eu-central-1" | "il-central-1" => 5.0,
        _ => 10.0,
    }
}

/// Where the OAuth client secret comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientSecret {
    /// Secrets Manager secret (ARN or name) whose SecretString is the plain secret: the
    /// deployed form, so the secret is never in the function's environment.
    SecretsManager(String),
    /// `CEQUENCE_CLIENT_SECRET`, for `bootstrap invoke` (local runs) only.
    Plain(Secret),
}

/// One log group to read, and which API stage it belongs to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogGroupSpec {
    pub log_group: String,
    pub kind: LogKind,
    pub api_id: String,
    pub stage: String,
}

/// What a log group holds (REST execution logs or HTTP access logs).
pub use cq_contract::log_groups::GroupKind as LogKind;

pub use cq_contract::log_groups::REST_EXECUTION_LOG_GROUP_PREFIX as REST_LOG_GROUP_PREFIX;

impl LogGroupSpec {
    /// The REST execution log group of `api_id/stage`.
    pub fn rest(api_id: &str, stage: &str) -> Self {
        Self {
            log_group: cq_contract::log_groups::rest_execution_log_group(api_id, stage),
            kind: LogKind::RestExecution,
            api_id: api_id.to_string(),
            stage: stage.to_string(),
        }
    }

    /// Classify a log group by name (the contract's rule: `cq_contract::log_groups`).
    pub fn from_log_group(name: &str) -> Self {
        let g = cq_contract::log_groups::stage_of_group(name);
        Self {
            log_group: name.to_string(),
            kind: g.kind,
            api_id: g.api_id,
            stage: g.stage,
        }
    }
}

#[derive(Clone, Debug)]
pub struct Config {
    pub auth_endpoint: String,
    pub edge_endpoint: String,
    pub client_id: String,
    pub client_secret: ClientSecret,
    pub token_parameter: String,
    /// DynamoDB table holding checkpoints, open requests, the lease and delivery markers.
    pub state_table: Option<String>,
    /// S3 bucket of undelivered (`spool/`) and refused (`rejected/`) batches.
    pub spool_bucket: Option<String>,
    pub ingestion: Ingestion,
    pub push_destination: PushDestination,
    pub settle_lag_ms: i64,
    pub pending_wait_ms: i64,
    pub filter_log_events_tps: f64,
    pub deadline_margin_ms: i64,
    pub rest_enabled: bool,
    pub http_enabled: bool,
    /// Capture HTTP APIs' `$default` stage too (`CEQUENCE_INCLUDE_HTTP_DEFAULT_STAGE`).
    pub include_http_default_stage: bool,
    /// REST execution logs for stages captured by a tick (`CEQUENCE_REST_LOG_DELIVERY`).
    pub rest_log_delivery: RestDelivery,
    pub supported_content_types_regex: String,
    pub unsupported_static_extensions_regex: String,
    pub filters: Filters,
    pub apigw_cloudwatch_role_arn: Option<String>,
    pub fetch_interval_ms: i64,
    /// `CEQUENCE_LOG_GROUPS`; `None` means discover the captured stages.
    pub log_groups: Option<Vec<LogGroupSpec>>,
    pub log_level: String,
}

impl Config {
    /// `local` is true for `bootstrap invoke`: only then may the secret come from the plain
    /// `CEQUENCE_CLIENT_SECRET` variable (in Lambda it must come from Secrets Manager).
    pub fn from_env(local: bool) -> Result<Self, ConfigError> {
        Self::from_lookup(|k| std::env::var(k).ok(), local)
    }

    /// Build from any variable source (`lookup(name)` → value). Empty values count as unset,
    /// because CloudFormation passes empty strings for optional parameters.
    pub fn from_lookup(
        lookup: impl Fn(&str) -> Option<String>,
        local: bool,
    ) -> Result<Self, ConfigError> {
        let get = |k: &str| {
            lookup(k)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };

        let auth_endpoint = url_var(env::AUTH_ENDPOINT, get(env::AUTH_ENDPOINT))?;
        let edge_endpoint = url_var(env::EDGE_ENDPOINT, get(env::EDGE_ENDPOINT))?;
        let client_id = get(env::CLIENT_ID).ok_or(ConfigError::Missing {
            var: env::CLIENT_ID,
            hint: "the UAP OAuth client id",
        })?;
        let plain_secret = lookup(env::CLIENT_SECRET).filter(|v| !v.is_empty());
        let client_secret = match (get(env::CLIENT_SECRET_ARN), plain_secret) {
            (Some(arn), _) => ClientSecret::SecretsManager(arn),
            (None, Some(plain)) if local => ClientSecret::Plain(Secret::new(plain)),
            (None, Some(_)) => {
                return Err(ConfigError::InvalidSecret {
                    var: env::CLIENT_SECRET,
                    allowed: "a plain client secret is accepted only by `bootstrap invoke` \
                              (local runs); in Lambda set CEQUENCE_CLIENT_SECRET_ARN to the \
                              Secrets Manager secret"
                        .into(),
                })
            }
            (None, None) => {
                return Err(ConfigError::Missing {
                    var: env::CLIENT_SECRET_ARN,
                    hint: "the Secrets Manager secret holding the client secret",
                })
            }
        };
        let token_parameter = ssm_name_var(
            env::TOKEN_PARAMETER,
            get(env::TOKEN_PARAMETER),
            DEFAULT_TOKEN_PARAMETER,
        )?;
        let state_table = get(env::STATE_TABLE);
        let spool_bucket = get(env::SPOOL_BUCKET);
        let ingestion = match get(env::INGESTION) {
            None => Ingestion::default(),
            Some(v) => v
                .parse::<Ingestion>()
                .map_err(|allowed| ConfigError::Invalid {
                    var: env::INGESTION,
                    value: v,
                    allowed,
                })?,
        };
        let push_destination = match get(env::PUSH_DESTINATION) {
            None => PushDestination::Lambda,
            Some(v) if v.eq_ignore_ascii_case("lambda") => PushDestination::Lambda,
            Some(v) if v.starts_with("arn:") && v.contains(":kinesis:") => {
                let role_arn = get(env::PUSH_ROLE_ARN).ok_or(ConfigError::Missing {
                    var: env::PUSH_ROLE_ARN,
                    hint: "the role CloudWatch Logs assumes to write into the Kinesis stream",
                })?;
                PushDestination::Kinesis {
                    stream_arn: v,
                    role_arn,
                }
            }
            Some(v) => {
                return Err(ConfigError::Invalid {
                    var: env::PUSH_DESTINATION,
                    value: v,
                    allowed: "lambda or the ARN of a Kinesis data stream".into(),
                })
            }
        };
        let region = lookup("AWS_REGION").unwrap_or_else(|| "us-east-1".into());
        let settle_lag_ms = ms_var(
            env::SETTLE_LAG_MS,
            get(env::SETTLE_LAG_MS),
            DEFAULT_SETTLE_LAG_MS,
            0..=3_600_000,
        )?;
        let pending_wait_ms = ms_var(
            env::PENDING_WAIT_MS,
            get(env::PENDING_WAIT_MS),
            DEFAULT_PENDING_WAIT_MS,
            1_000..=86_400_000,
        )?;
        let deadline_margin_ms = ms_var(
            env::DEADLINE_MARGIN_MS,
            get(env::DEADLINE_MARGIN_MS),
            DEFAULT_DEADLINE_MARGIN_MS,
            1_000..=60_000,
        )?;
        let filter_log_events_tps = match get(env::FILTER_LOG_EVENTS_TPS) {
            None => filter_log_events_quota(&region),
            Some(v) => match v.parse::<f64>() {
                Ok(n) if (0.1..=100.0).contains(&n) => n,
                _ => {
                    return Err(ConfigError::Invalid {
                        var: env::FILTER_LOG_EVENTS_TPS,
                        value: v,
                        allowed: "requests per second, 0.1 to 100".into(),
                    })
                }
            },
        };
        let flag = |var: &'static str, default: bool| bool_var_or(var, get(var), default);
        let rest_enabled = flag(env::REST_API_ENABLED, defaults::REST_API_ENABLED)?;
        let http_enabled = flag(env::HTTP_API_ENABLED, defaults::HTTP_API_ENABLED)?;
        let include_http_default_stage = flag(
            env::INCLUDE_HTTP_DEFAULT_STAGE,
            defaults::INCLUDE_HTTP_DEFAULT_STAGE,
        )?;
        // Absent in stacks made before full execution logs: auto, as the CLI's default.
        let rest_log_delivery = match get(env::REST_LOG_DELIVERY) {
            None => RestDelivery::default(),
            Some(v) => RestDelivery::parse(&v).ok_or(ConfigError::Invalid {
                var: env::REST_LOG_DELIVERY,
                value: v,
                allowed: "standard, full or auto".into(),
            })?,
        };

        let supported_content_types_regex =
            get(env::SUPPORTED_CONTENT_TYPES_REGEX).unwrap_or_default();
        let unsupported_static_extensions_regex =
            get(env::UNSUPPORTED_STATIC_EXTENSIONS_REGEX).unwrap_or_default();
        // Compile each alone first, so the error names the variable that is wrong.
        Filters::new(&supported_content_types_regex, "").map_err(|e| ConfigError::Invalid {
            var: env::SUPPORTED_CONTENT_TYPES_REGEX,
            value: supported_content_types_regex.clone(),
            allowed: format!("a Rust regex without Unicode classes ({e})"),
        })?;
        let filters = Filters::new(
            &supported_content_types_regex,
            &unsupported_static_extensions_regex,
        )
        .map_err(|e| ConfigError::Invalid {
            var: env::UNSUPPORTED_STATIC_EXTENSIONS_REGEX,
            value: unsupported_static_extensions_regex.clone(),
            allowed: format!("a Rust regex without Unicode classes ({e})"),
        })?;

        let fetch_interval_ms = match get(env::FETCH_INTERVAL_MS) {
            None => DEFAULT_FETCH_INTERVAL_MS,
            Some(v) => match v.parse::<i64>() {
                Ok(n) if (1_000..=MAX_FETCH_INTERVAL_MS).contains(&n) => n,
                _ => {
                    return Err(ConfigError::Invalid {
                        var: env::FETCH_INTERVAL_MS,
                        value: v,
                        allowed: format!("milliseconds, 1000 to {MAX_FETCH_INTERVAL_MS}"),
                    })
                }
            },
        };
        let log_groups = get(env::LOG_GROUPS)
            .map(|v| parse_log_groups(&v))
            .transpose()?;
        let log_level = match get(env::LOG_LEVEL) {
            None => LogLevel::default(),
            Some(v) => LogLevel::parse(&v).ok_or(ConfigError::Invalid {
                var: env::LOG_LEVEL,
                value: v,
                allowed: "one of trace, debug, info, warn, error".into(),
            })?,
        }
        .as_str()
        .to_string();

        Ok(Self {
            auth_endpoint,
            edge_endpoint,
            client_id,
            client_secret,
            token_parameter,
            state_table,
            spool_bucket,
            ingestion,
            push_destination,
            settle_lag_ms,
            pending_wait_ms,
            filter_log_events_tps,
            deadline_margin_ms,
            rest_enabled,
            http_enabled,
            include_http_default_stage,
            rest_log_delivery,
            supported_content_types_regex,
            unsupported_static_extensions_regex,
            filters,
            apigw_cloudwatch_role_arn: get(env::APIGW_CLOUDWATCH_ROLE_ARN),
            fetch_interval_ms,
            log_groups,
            log_level,
        })
    }
}

/// An endpoint under the contract's rule (`cq_contract::values::check_endpoint`): https, or
/// plain http to this machine only, since the token and the client secret travel there.
impl Config {
    /// The stage-logging settings a tick reconciles with.
    pub fn capture_settings(&self) -> cq_stage_logging::CaptureSettings {
        cq_stage_logging::CaptureSettings {
            rest_enabled: self.rest_enabled,
            http_enabled: self.http_enabled,
            include_http_default_stage: self.include_http_default_stage,
            cloudwatch_role_arn: self.apigw_cloudwatch_role_arn.clone(),
            replaces_role_arn: None,
            rest_delivery: self.rest_log_delivery,
        }
    }
}

fn url_var(var: &'static str, value: Option<String>) -> Result<String, ConfigError> {
    let value = value.ok_or(ConfigError::Missing {
        var,
        hint: "an https:// URL",
    })?;
    match values::check_endpoint(&value) {
        Ok(()) => Ok(value),
        Err(allowed) => Err(ConfigError::Invalid {
            var,
            value,
            allowed,
        }),
    }
}

fn ms_var(
    var: &'static str,
    value: Option<String>,
    default: i64,
    range: std::ops::RangeInclusive<i64>,
) -> Result<i64, ConfigError> {
    let Some(v) = value else {
        return Ok(default);
    };
    match v.parse::<i64>() {
        Ok(n) if range.contains(&n) => Ok(n),
        _ => Err(ConfigError::Invalid {
            var,
            value: v,
            allowed: format!("milliseconds, {} to {}", range.start(), range.end()),
        }),
    }
}

/// A boolean under the contract's rule (`cq_contract::values::parse_bool`), with its default
/// when unset.
fn bool_var_or(
    var: &'static str,
    value: Option<String>,
    default: bool,
) -> Result<bool, ConfigError> {
    match value {
        None => Ok(default),
        Some(v) => values::parse_bool(&v).map_err(|allowed| ConfigError::Invalid {
            var,
            value: v,
            allowed,
        }),
    }
}

/// SSM parameter names: letters, digits and `_.-/`; a path must start with `/`.
fn ssm_name_var(
    var: &'static str,
    value: Option<String>,
    default: &str,
) -> Result<String, ConfigError> {
    let v = value.unwrap_or_else(|| default.to_string());
    let ok_chars = v
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "_.-/".contains(c));
    let ok_path = !v.contains('/') || v.starts_with('/');
    if ok_chars && ok_path && v.len() <= 1011 {
        Ok(v)
    } else {
        Err(ConfigError::Invalid {
            var,
            value: v,
            allowed: "an SSM parameter name (letters, digits, _.-/, paths start with /)".into(),
        })
    }
}

/// `CEQUENCE_LOG_GROUPS`: comma (or whitespace) separated; each entry is `api_id/stage` (a REST
/// API stage, as in the vendor bundle) or a full log group name.
pub fn parse_log_groups(v: &str) -> Result<Vec<LogGroupSpec>, ConfigError> {
    let mut out = Vec::new();
    for entry in v
        .split([',', ' ', '\n'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        let looks_like_api_stage = !entry.starts_with('/')
            && !entry.starts_with(REST_LOG_GROUP_PREFIX)
            && entry.matches('/').count() == 1
            && entry.split('/').all(|p| !p.is_empty());
        let spec = if looks_like_api_stage {
            let (api, stage) = entry.split_once('/').unwrap_or((entry, ""));
            LogGroupSpec::rest(api, stage)
        } else {
            LogGroupSpec::from_log_group(entry)
        };
        if spec.api_id.is_empty() || spec.stage.is_empty() {
            return Err(ConfigError::Invalid {
                var: env::LOG_GROUPS,
                value: entry.to_string(),
                allowed: "api_id/stage or a log group name ending in /api_id/stage".into(),
            });
        }
        if !out
            .iter()
            .any(|s: &LogGroupSpec| s.log_group == spec.log_group)
        {
            out.push(spec);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn base() -> HashMap<&'static str, &'static str> {
        HashMap::from([
            ("CEQUENCE_AUTH_ENDPOINT", "https://auth.example.com/token"),
            (
                "CEQUENCE_EDGE_ENDPOINT",
                "https://edge.example.com/api-transactions",
            ),
            ("CEQUENCE_CLIENT_ID", "cid"),
            (
                "CEQUENCE_CLIENT_SECRET_ARN",
                "arn:aws:secretsmanager:us-east-1:1:secret:x",
            ),
        ])
    }

    fn load(vars: &HashMap<&'static str, &'static str>) -> Result<Config, ConfigError> {
        Config::from_lookup(|k| vars.get(k).map(|v| v.to_string()), false)
    }

    #[test]
    fn the_default_http_stage_is_included_on_request_only() {
        let mut vars = base();
        vars.insert("CEQUENCE_INCLUDE_HTTP_DEFAULT_STAGE", "TRUE");
        assert!(load(&vars).unwrap().include_http_default_stage);
        // The CLI's words are the forwarder's: one rule (cq_contract::values::parse_bool).
        vars.insert("CEQUENCE_INCLUDE_HTTP_DEFAULT_STAGE", "yes");
        assert!(load(&vars).unwrap().include_http_default_stage);
        vars.insert("CEQUENCE_INCLUDE_HTTP_DEFAULT_STAGE", "maybe");
        let err = load(&vars).unwrap_err().to_string();
        assert!(err.contains("CEQUENCE_INCLUDE_HTTP_DEFAULT_STAGE"), "{err}");
    }

    #[test]
    fn the_rest_log_delivery_is_read_and_checked() {
        let mut vars = base();
        vars.insert("CEQUENCE_REST_LOG_DELIVERY", "full");
        assert_eq!(
            load(&vars).unwrap().rest_log_delivery,
            cq_stage_logging::RestDelivery::Full
        );
        vars.insert("CEQUENCE_REST_LOG_DELIVERY", "1mb");
        let err = load(&vars).unwrap_err().to_string();
        assert!(
            err.contains("CEQUENCE_REST_LOG_DELIVERY") && err.contains("standard, full or auto"),
            "{err}"
        );
    }

    #[test]
    fn defaults_apply_when_optional_variables_are_unset() {
        let c = load(&base()).unwrap();
        assert_eq!(c.fetch_interval_ms, 60_000);
        assert!(c.rest_enabled && c.http_enabled);
        assert!(!c.include_http_default_stage, "`$default` is opt-in");
        assert_eq!(c.rest_log_delivery, cq_stage_logging::RestDelivery::Auto);
        assert_eq!(c.token_parameter, DEFAULT_TOKEN_PARAMETER);
        assert_eq!(c.log_level, "info");
        assert!(c.log_groups.is_none());
        assert!(matches!(c.client_secret, ClientSecret::SecretsManager(_)));
        assert_eq!(c.ingestion, Ingestion::Auto);
        assert_eq!(c.push_destination, PushDestination::Lambda);
        assert_eq!(c.settle_lag_ms, DEFAULT_SETTLE_LAG_MS);
        assert_eq!(c.filter_log_events_tps, 25.0);
    }

    #[test]
    fn quota_follows_the_region_and_http_only_to_loopback() {
        assert_eq!(filter_log_events_quota("eu-central-1"), 5.0);
        assert_eq!(filter_log_events_quota("eu-west-1"), 10.0);
        let mut vars = base();
        vars.insert("AWS_REGION", "ca-west-1");
        vars.insert(
            "CEQUENCE_EDGE_ENDPOINT",
            "http://127.0.0.1:8080/api-transactions",
        );
        vars.insert("CEQUENCE_AUTH_ENDPOINT", "http://localhost:1/token");
        let c = load(&vars).unwrap();
        assert_eq!(c.filter_log_events_tps, 5.0);
        vars.insert(
            "CEQUENCE_AUTH_ENDPOINT",
            "http://127.0.0.1.example.com/token",
        );
        assert!(load(&vars).unwrap_err().to_string().contains("https://"));
        vars.insert("CEQUENCE_AUTH_ENDPOINT", "http://[::1]:9/token");
        vars.insert(
            "CEQUENCE_PUSH_DESTINATION",
            "arn:aws:kinesis:us-east-1:1:stream/s",
        );
        assert!(load(&vars)
            .unwrap_err()
            .to_string()
            .contains("CEQUENCE_PUSH_ROLE_ARN"));
        vars.insert("CEQUENCE_PUSH_ROLE_ARN", "arn:aws:iam::1:role/r");
        assert!(matches!(
            load(&vars).unwrap().push_destination,
            PushDestination::Kinesis { .. }
        ));
    }

    #[test]
    fn bad_values_name_the_variable() {
        for (var, value) in [
            ("CEQUENCE_FETCH_INTERVAL_MS", "soon"),
            ("CEQUENCE_REST_API_ENABLED", "maybe"),
            ("CEQUENCE_EDGE_ENDPOINT", "edge.example.com"),
            ("CEQUENCE_SUPPORTED_CONTENT_TYPES_REGEX", "(unclosed"),
            ("CEQUENCE_UNSUPPORTED_STATIC_EXTENSIONS_REGEX", "[z-a]"),
            ("LOG_LEVEL", "loud"),
            ("CEQUENCE_TOKEN_PARAMETER", "no spaces allowed"),
            ("CEQUENCE_LOG_GROUPS", "abc/"),
            ("CEQUENCE_INGESTION", "sometimes"),
            ("CEQUENCE_PUSH_DESTINATION", "sqs"),
            ("CEQUENCE_SETTLE_LAG_MS", "-1"),
            ("CEQUENCE_FILTER_LOG_EVENTS_TPS", "fast"),
            (
                "CEQUENCE_EDGE_ENDPOINT",
                "http://edge.example.com/api-transactions",
            ),
        ] {
            let mut vars = base();
            vars.insert(var, value);
            let err = load(&vars).unwrap_err().to_string();
            assert!(err.contains(var), "{var}: {err}");
        }
    }

    #[test]
    fn missing_secret_names_the_arn_variable_and_plain_secret_is_hidden() {
        let mut vars = base();
        vars.remove("CEQUENCE_CLIENT_SECRET_ARN");
        assert!(load(&vars)
            .unwrap_err()
            .to_string()
            .contains("CEQUENCE_CLIENT_SECRET_ARN"));
        vars.insert("CEQUENCE_CLIENT_SECRET", "hunter2");
        // In Lambda a plain secret is refused, without echoing it.
        let err = load(&vars).unwrap_err().to_string();
        assert!(
            err.contains("CEQUENCE_CLIENT_SECRET") && !err.contains("hunter2"),
            "{err}"
        );
        let c = Config::from_lookup(|k| vars.get(k).map(|v| v.to_string()), true).unwrap();
        assert_eq!(c.client_secret, ClientSecret::Plain(Secret::new("hunter2")));
        assert!(!format!("{c:?}").contains("hunter2"));
    }

    #[test]
    fn log_groups_accept_api_stage_and_group_names() {
        let specs = parse_log_groups(
            "a1b2c3/prod, API-Gateway-Execution-Logs_zz9/dev /aws/apigateway/cequence/h77/_default",
        )
        .unwrap();
        assert_eq!(specs[0], LogGroupSpec::rest("a1b2c3", "prod"));
        assert_eq!(specs[0].log_group, "API-Gateway-Execution-Logs_a1b2c3/prod");
        assert_eq!(specs[1].kind, LogKind::RestExecution);
        assert_eq!(
            (specs[1].api_id.as_str(), specs[1].stage.as_str()),
            ("zz9", "dev")
        );
        assert_eq!(specs[2].kind, LogKind::HttpAccess);
        assert_eq!(
            (specs[2].api_id.as_str(), specs[2].stage.as_str()),
            ("h77", "$default")
        );
        // duplicates collapse
        assert_eq!(parse_log_groups("a/b,a/b").unwrap().len(), 1);
    }
}
