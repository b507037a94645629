//! The HTTP API access log format: the one this library sets, and the check that a customer's
//! own format carries what the forwarder needs (so their logging can be read instead of replaced).
//!
//! HTTP APIs have no single variable for "path with query": `$context.path` is the path only and
//! the query string is not available to access logs at all. The forwarder therefore sends the
//! path as `uri-query-fragment` without a query; `routeKey` is logged so UAP still sees the
//! route template.

use std::sync::LazyLock;

use regex_lite::Regex;
use serde::Serialize;

/// JSON key → HTTP API `$context` variable, in the order they appear in the format.
/// The first ten are the vendor guide's list and the forwarder needs them; the rest enrich
/// transactions and are optional in a customer's format.
pub const FORMAT_FIELDS: &[(&str, &str)] = &[
    ("requestTimeEpoch", "$context.requestTimeEpoch"),
    ("requestId", "$context.requestId"),
    ("accountId", "$context.accountId"),
    ("stage", "$context.stage"),
    ("ip", "$context.identity.sourceIp"),
    ("host", "$context.domainName"),
    ("protocol", "$context.protocol"),
    ("httpMethod", "$context.httpMethod"),
    ("path", "$context.path"),
    ("status", "$context.status"),
    ("apiId", "$context.apiId"),
    ("routeKey", "$context.routeKey"),
    ("responseLength", "$context.responseLength"),
    ("userAgent", "$context.identity.userAgent"),
    ("integrationLatency", "$context.integrationLatency"),
];

/// How many leading entries of `FORMAT_FIELDS` a format must carry to be read by the forwarder.
const REQUIRED_COUNT: usize = 10;

/// The keys (and variables) a customer's JSON access log format must contain.
pub const REQUIRED_FIELDS: &[(&str, &str)] = FORMAT_FIELDS.split_at(REQUIRED_COUNT).0;

/// The access log format this library sets on HTTP stages: one JSON object per request.
pub fn access_log_format() -> String {
    let map: serde_json::Map<String, serde_json::Value> = FORMAT_FIELDS
        .iter()
        .map(|(k, v)| (k.to_string(), serde_json::Value::String(v.to_string())))
        .collect();
    serde_json::Value::Object(map).to_string()
}

/// Result of checking a customer's access log format.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum FormatCheck {
    /// JSON with every required field: the forwarder can read this stage's logs as they are.
    Compatible,
    /// Not a JSON object (CLF, XML, CSV...): the forwarder cannot parse it.
    NotJson,
    /// JSON, but these keys are missing or hold another variable.
    MissingFields(Vec<String>),
}

impl FormatCheck {
    /// Human-readable reason for a stage's `reason` field (None when compatible).
    pub fn reason(&self) -> Option<String> {
        match self {
            FormatCheck::Compatible => None,
            FormatCheck::NotJson => Some(
                "the stage's own access log format is not JSON; Cequence needs JSON access logs, \
                 and the customer's access logging is left as it is"
                    .to_string(),
            ),
            FormatCheck::MissingFields(missing) => Some(format!(
                "the stage's own JSON access log format lacks {}; add them to capture this stage \
                 (the customer's access logging is left as it is)",
                missing.join(", ")
            )),
        }
    }
}

/// Variables written without quotes (`"status":$context.status`) are valid formats but not
/// valid JSON until quoted.
static BARE_VARIABLE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r":\s*(\$context\.[A-Za-z0-9_.]+)").expect("static regex"));

/// Whether a customer's access log format gives the forwarder every required field.
pub fn check_access_log_format(format: &str) -> FormatCheck {
    let quoted = BARE_VARIABLE.replace_all(format, r#":"$1""#);
    let Ok(serde_json::Value::Object(map)) = serde_json::from_str::<serde_json::Value>(&quoted)
    else {
        return FormatCheck::NotJson;
    };
    let missing: Vec<String> = REQUIRED_FIELDS
        .iter()
        .filter(|(key, variable)| {
            map.get(*key).and_then(|v| v.as_str()).map(str::trim) != Some(*variable)
        })
        .map(|(key, _)| key.to_string())
        .collect();
    if missing.is_empty() {
        FormatCheck::Compatible
    } else {
        FormatCheck::MissingFields(missing)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_format_is_json_with_every_field() {
        let f = access_log_format();
        let v: serde_json::Value = serde_json::from_str(&f).unwrap();
        assert_eq!(v["path"], "$context.path");
        assert_eq!(v["ip"], "$context.identity.sourceIp");
        assert_eq!(v["routeKey"], "$context.routeKey");
        assert_eq!(check_access_log_format(&f), FormatCheck::Compatible);
        // An access log format is at most 1 KB... in practice keep it well under.
        assert!(f.len() < 1024, "{} bytes", f.len());
    }

    #[test]
    fn customer_format_with_bare_numbers_and_extra_keys_is_compatible() {
        let f = r#"{ "requestTimeEpoch":$context.requestTimeEpoch, "requestId":"$context.requestId",
            "accountId":"$context.accountId","stage":"$context.stage","ip":"$context.identity.sourceIp",
            "host":"$context.domainName","protocol":"$context.protocol","httpMethod":"$context.httpMethod",
            "path":"$context.path","status":$context.status, "mine":"$context.authorizer.claims.sub" }"#;
        assert_eq!(check_access_log_format(f), FormatCheck::Compatible);
    }

    #[test]
    fn clf_format_is_not_json() {
        let f = "$context.identity.sourceIp - - [$context.requestTime] \"$context.httpMethod $context.routeKey $context.protocol\" $context.status $context.responseLength $context.requestId";
        assert_eq!(check_access_log_format(f), FormatCheck::NotJson);
        assert!(FormatCheck::NotJson.reason().unwrap().contains("not JSON"));
    }

    #[test]
    fn json_missing_fields_names_them() {
        let f = r#"{"requestId":"$context.requestId","ip":"$context.identity.sourceIp","status":"$context.status","path":"$context.routePath"}"#;
        let FormatCheck::MissingFields(missing) = check_access_log_format(f) else {
            panic!("expected missing fields");
        };
        assert_eq!(
            missing,
            vec![
                "requestTimeEpoch",
                "accountId",
                "stage",
                "host",
                "protocol",
                "httpMethod",
                "path"
            ]
        );
    }

    #[test]
    fn required_fields_are_the_vendor_list() {
        let keys: Vec<&str> = REQUIRED_FIELDS.iter().map(|(k, _)| *k).collect();
        assert_eq!(
            keys,
            [
                "requestTimeEpoch",
                "requestId",
                "accountId",
                "stage",
                "ip",
                "host",
                "protocol",
                "httpMethod",
                "path",
                "status"
            ]
        );
    }
}
