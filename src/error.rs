//! The CLI's error type and its exit codes (docs/operator-guide.md, "Exit codes"): 1 = operation
//! failed, 2 = usage or configuration.
//!
//! Every error reaches `main` once and is printed there; the variants carry what the user
//! needs to fix the problem (the key, the value, the fix) rather than a bare message.

use std::fmt;

/// Configuration keys whose values must never appear in a message.
const SECRET_KEYS: &[&str] = &["cequence_client_secret"];

/// Whether `key` (any case, `.env` or environment spelling) names a secret.
pub fn is_secret_key(key: &str) -> bool {
    SECRET_KEYS.iter().any(|k| k.eq_ignore_ascii_case(key))
}

/// The value as it may be shown for `key`: `****` for secrets.
pub fn shown_value<'a>(key: &str, value: &'a str) -> &'a str {
    if is_secret_key(key) && !value.is_empty() {
        "****"
    } else {
        value
    }
}

/// One invalid or missing configuration value.
#[derive(Clone, PartialEq, Eq)]
pub struct ConfigIssue {
    pub key: String,
    pub value: String,
    pub fix: String,
}

impl fmt::Debug for ConfigIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConfigIssue")
            .field("key", &self.key)
            .field("value", &shown_value(&self.key, &self.value))
            .field("fix", &self.fix)
            .finish()
    }
}

impl fmt::Display for ConfigIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}={}: {}",
            self.key,
            shown_value(&self.key, &self.value),
            self.fix
        )
    }
}

#[derive(thiserror::Error)]
pub enum Error {
    /// A configuration value is invalid or missing.
    #[error("invalid configuration: {key}={}: {fix}", shown_value(.key, .value))]
    Config {
        key: String,
        value: String,
        fix: String,
    },

    /// Several configuration values are invalid; all are reported at once so the user fixes
    /// them in one go.
    #[error("invalid configuration:{}", issue_lines(.0))]
    ConfigMany(Vec<ConfigIssue>),

    /// The command line or a file it names is unusable.
    #[error("{0}")]
    Usage(String),

    /// An AWS call failed. `message` carries the SDK's full error context.
    #[error("{context}: {message}")]
    Aws { context: String, message: String },

    /// Some operation or stack instance failed (details were shown as they happened).
    #[error("{0}")]
    Failed(String),

    /// A local file or terminal operation failed.
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
}

/// Written by hand so that `{:?}` (e.g. in a panic or `tracing` field) masks secrets too.
impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Config { key, value, fix } => f
                .debug_struct("Config")
                .field("key", key)
                .field("value", &shown_value(key, value))
                .field("fix", fix)
                .finish(),
            Error::ConfigMany(issues) => f.debug_tuple("ConfigMany").field(issues).finish(),
            Error::Usage(m) => f.debug_tuple("Usage").field(m).finish(),
            Error::Aws { context, message } => f
                .debug_struct("Aws")
                .field("context", context)
                .field("message", message)
                .finish(),
            Error::Failed(m) => f.debug_tuple("Failed").field(m).finish(),
            Error::Io { context, source } => f
                .debug_struct("Io")
                .field("context", context)
                .field("source", source)
                .finish(),
        }
    }
}

fn issue_lines(issues: &[ConfigIssue]) -> String {
    issues.iter().map(|i| format!("\n  {i}")).collect()
}

impl From<ConfigIssue> for Error {
    fn from(i: ConfigIssue) -> Self {
        Error::Config {
            key: i.key,
            value: i.value,
            fix: i.fix,
        }
    }
}

impl Error {
    /// Exit status for this error: 2 for what the user must fix in the invocation or
    /// configuration, 1 for everything that failed while running.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Config { .. } | Error::ConfigMany(_) | Error::Usage(_) => 2,
            Error::Aws { .. } | Error::Failed(_) | Error::Io { .. } => 1,
        }
    }

    /// One or more configuration issues as a single error.
    pub fn from_issues(mut issues: Vec<ConfigIssue>) -> Option<Error> {
        match issues.len() {
            0 => None,
            1 => issues.pop().map(Error::from),
            _ => Some(Error::ConfigMany(issues)),
        }
    }

    /// An AWS SDK error with what we were doing; the message includes the SDK's whole chain
    /// (service code, message, request id, dispatch failure), which `Display` alone hides.
    pub fn aws(context: impl Into<String>, err: impl std::error::Error + 'static) -> Error {
        Error::Aws {
            context: context.into(),
            message: cq_stage_logging::error_chain(&err),
        }
    }

    pub fn io(context: impl Into<String>, source: std::io::Error) -> Error {
        Error::Io {
            context: context.into(),
            source,
        }
    }

    /// Whether this is a closed stdout (e.g. `| head`), which is not a failure.
    pub fn is_broken_pipe(&self) -> bool {
        matches!(self, Error::Io { source, .. } if source.kind() == std::io::ErrorKind::BrokenPipe)
    }
}

pub type Result<T> = std::result::Result<T, Error>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_error_names_key_value_and_fix() {
        let e = Error::Config {
            key: "cequence_aws_regions".into(),
            value: "us-east-9".into(),
            fix: "not a known AWS region".into(),
        };
        assert_eq!(
            e.to_string(),
            "invalid configuration: cequence_aws_regions=us-east-9: not a known AWS region"
        );
        assert_eq!(e.exit_code(), 2);
    }

    #[test]
    fn secret_values_are_masked_in_errors() {
        for key in ["cequence_client_secret", "CEQUENCE_CLIENT_SECRET"] {
            let e = Error::Config {
                key: key.into(),
                value: "s3cr3t-value".into(),
                fix: "whatever".into(),
            };
            let shown = format!("{e} {e:?}");
            assert!(!shown.contains("s3cr3t"), "{shown}");
            assert!(shown.contains("****"));
        }
        let many = Error::ConfigMany(vec![
            ConfigIssue {
                key: "cequence_client_secret".into(),
                value: "s3cr3t-value".into(),
                fix: "x".into(),
            },
            ConfigIssue {
                key: "cequence_client_id".into(),
                value: "visible-id".into(),
                fix: "y".into(),
            },
        ]);
        let shown = many.to_string();
        assert!(!shown.contains("s3cr3t"));
        assert!(shown.contains("visible-id"));
    }

    #[test]
    fn config_issue_masks_secrets_in_display_and_debug() {
        let issue = ConfigIssue {
            key: "cequence_client_secret".into(),
            value: "abc-secret".into(),
            fix: "x".into(),
        };
        assert_eq!(issue.to_string(), "cequence_client_secret=****: x");
        let dbg = format!("{issue:?} {:?}", Error::ConfigMany(vec![issue.clone()]));
        assert!(!dbg.contains("abc-secret"), "{dbg}");
        // Non-secret values stay visible, they are what the user must fix.
        let plain = ConfigIssue {
            key: "cequence_client_id".into(),
            value: "my-id".into(),
            fix: "x".into(),
        };
        assert!(format!("{plain:?}").contains("my-id"));
    }

    #[test]
    fn exit_codes() {
        assert_eq!(Error::Usage("x".into()).exit_code(), 2);
        assert_eq!(Error::Failed("x".into()).exit_code(), 1);
        assert_eq!(
            Error::Aws {
                context: "a".into(),
                message: "b".into()
            }
            .exit_code(),
            1
        );
        assert_eq!(
            Error::io("reading x", std::io::Error::other("boom")).exit_code(),
            1
        );
    }

    #[test]
    fn from_issues_picks_the_variant() {
        assert!(Error::from_issues(vec![]).is_none());
        let one = ConfigIssue {
            key: "k".into(),
            value: "v".into(),
            fix: "f".into(),
        };
        assert!(matches!(
            Error::from_issues(vec![one.clone()]),
            Some(Error::Config { .. })
        ));
        let many = Error::from_issues(vec![one.clone(), one]).unwrap();
        assert_eq!(
            many.to_string(),
            "invalid configuration:\n  k=v: f\n  k=v: f"
        );
        assert_eq!(many.exit_code(), 2);
    }

    #[test]
    fn broken_pipe_is_recognised() {
        let e = Error::io(
            "writing stdout",
            std::io::Error::from(std::io::ErrorKind::BrokenPipe),
        );
        assert!(e.is_broken_pipe());
        assert!(!Error::Failed("x".into()).is_broken_pipe());
    }
}
