//! The previous-settings tag: what a stage's logging looked like before this library changed it.
//!
//! It lives on the stage itself (not in memory or a file) so a restore works after a restart,
//! from another machine, or from the forwarder's custom-resource Delete. API Gateway tag values
//! are at most 256 characters from letters, digits, spaces and `_ . : / = + - @`, so the value
//! is `v1 <type> key=value ...` rather than JSON (whose `{"` would be rejected).

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

/// Tag values longer than this are rejected by API Gateway.
pub const TAG_VALUE_MAX: usize = 256;

/// REST `*/*` method-setting fields this library changes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RestLogging {
    /// `OFF`, `ERROR` or `INFO`.
    pub logging_level: String,
    pub data_trace: bool,
}

/// HTTP stage access log settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccessLog {
    pub destination_arn: String,
    pub format: String,
}

/// A stage's logging settings before capture.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PreviousLogging {
    /// The `*/*` override (None: the stage had no `*/*` method settings).
    Rest { all_methods: Option<RestLogging> },
    /// The access log settings (None: the stage had no access logging).
    Http { access_log: Option<AccessLog> },
}

impl PreviousLogging {
    /// The tag value; an error when it would not fit in a tag (then the stage must not be changed,
    /// since it could not be restored).
    pub fn encode(&self) -> Result<String, String> {
        let value = match self {
            PreviousLogging::Rest { all_methods: None } => "v1 rest none".to_string(),
            PreviousLogging::Rest {
                all_methods: Some(r),
            } => {
                if !is_tag_safe_word(&r.logging_level) {
                    return Err(format!(
                        "logging level {:?} cannot be recorded",
                        r.logging_level
                    ));
                }
                format!(
                    "v1 rest loglevel={} datatrace={}",
                    r.logging_level, r.data_trace
                )
            }
            PreviousLogging::Http { access_log: None } => "v1 http none".to_string(),
            PreviousLogging::Http {
                access_log: Some(a),
            } => {
                if !is_tag_safe_word(&a.destination_arn) {
                    return Err("the access log destination cannot be recorded in a tag".into());
                }
                format!(
                    "v1 http destination={} format={}",
                    a.destination_arn,
                    STANDARD.encode(a.format.as_bytes())
                )
            }
        };
        if value.len() > TAG_VALUE_MAX {
            return Err(format!(
                "the previous settings need {} characters, more than the {TAG_VALUE_MAX} a tag value holds",
                value.len()
            ));
        }
        Ok(value)
    }

    /// Parse a tag value written by `encode`.
    pub fn decode(value: &str) -> Result<Self, String> {
        let mut words = value.split(' ');
        if words.next() != Some("v1") {
            return Err(format!("unknown format {value:?}"));
        }
        let kind = words.next().ok_or("missing stage type")?;
        let rest: Vec<&str> = words.collect();
        let field = |key: &str| -> Option<&str> {
            rest.iter()
                .find_map(|w| w.strip_prefix(key).and_then(|v| v.strip_prefix('=')))
        };
        match (kind, rest.as_slice()) {
            ("rest", ["none"]) => Ok(PreviousLogging::Rest { all_methods: None }),
            ("http", ["none"]) => Ok(PreviousLogging::Http { access_log: None }),
            ("rest", _) => {
                let level = field("loglevel").ok_or("missing loglevel")?;
                let data_trace = match field("datatrace") {
                    Some("true") => true,
                    Some("false") => false,
                    other => return Err(format!("bad datatrace {other:?}")),
                };
                Ok(PreviousLogging::Rest {
                    all_methods: Some(RestLogging {
                        logging_level: level.to_string(),
                        data_trace,
                    }),
                })
            }
            ("http", _) => {
                let destination = field("destination").ok_or("missing destination")?;
                let format = field("format").ok_or("missing format")?;
                let format = STANDARD
                    .decode(format)
                    .map_err(|e| format!("bad format encoding: {e}"))?;
                let format = String::from_utf8(format).map_err(|e| e.to_string())?;
                Ok(PreviousLogging::Http {
                    access_log: Some(AccessLog {
                        destination_arn: destination.to_string(),
                        format,
                    }),
                })
            }
            (other, _) => Err(format!("unknown stage type {other:?}")),
        }
    }
}

/// Non-empty, no spaces, only characters tag values allow.
fn is_tag_safe_word(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.:/=+-@".contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip(p: PreviousLogging) -> String {
        let v = p.encode().expect("encode");
        assert!(v.len() <= TAG_VALUE_MAX);
        assert!(
            v.chars()
                .all(|c| c.is_ascii_alphanumeric() || " _.:/=+-@".contains(c)),
            "{v} has a character tags do not allow"
        );
        assert_eq!(PreviousLogging::decode(&v).expect("decode"), p);
        v
    }

    #[test]
    fn rest_roundtrips() {
        assert_eq!(
            roundtrip(PreviousLogging::Rest { all_methods: None }),
            "v1 rest none"
        );
        assert_eq!(
            roundtrip(PreviousLogging::Rest {
                all_methods: Some(RestLogging {
                    logging_level: "ERROR".into(),
                    data_trace: false
                })
            }),
            "v1 rest loglevel=ERROR datatrace=false"
        );
    }

    #[test]
    fn http_roundtrips() {
        assert_eq!(
            roundtrip(PreviousLogging::Http { access_log: None }),
            "v1 http none"
        );
        roundtrip(PreviousLogging::Http {
            access_log: Some(AccessLog {
                destination_arn: "arn:aws:logs:us-east-1:123456789012:log-group:my-group".into(),
                format: "$context.requestId $context.status".into(),
            }),
        });
    }

    #[test]
    fn too_long_is_refused() {
        let p = PreviousLogging::Http {
            access_log: Some(AccessLog {
                destination_arn: "arn:aws:logs:us-east-1:123456789012:log-group:g".into(),
                format: "x".repeat(300),
            }),
        };
        let err = p.encode().unwrap_err();
        assert!(err.contains("256"), "{err}");
    }

    #[test]
    fn garbage_is_rejected() {
        for bad in [
            "",
            "{\"a\":1}",
            "v2 rest none",
            "v1 soap none",
            "v1 rest datatrace=true",
            "v1 rest loglevel=INFO datatrace=maybe",
            "v1 http destination=arn format=!!!",
        ] {
            assert!(PreviousLogging::decode(bad).is_err(), "{bad:?} accepted");
        }
    }
}
