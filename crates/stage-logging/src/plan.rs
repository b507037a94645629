//! Pure decisions: from a stage's current settings to what must change. No I/O, so every rule
//! here is unit-tested; `rest`, `http` and `log_groups` only carry the decisions out.

use crate::access_format::{access_log_format, check_access_log_format, FormatCheck};
use crate::names::log_group_name_from_arn;
use crate::previous::{AccessLog, PreviousLogging, RestLogging};

/// REST execution logging level the forwarder needs (request ids and full traces).
pub(crate) const CAPTURE_LOG_LEVEL: &str = "INFO";
/// The method-settings key that applies to every resource and method of a stage.
pub(crate) const ALL_METHODS: &str = "*/*";
/// API Gateway's implicit stage-level defaults when there is no `*/*` override.
const DEFAULT_LOG_LEVEL: &str = "OFF";

/// One JSON-Patch operation for REST UpdateStage / UpdateAccount.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Patch {
    Replace { path: String, value: String },
    Remove { path: String },
}

impl Patch {
    fn replace(path: &str, value: impl Into<String>) -> Self {
        Patch::Replace {
            path: path.to_string(),
            value: value.into(),
        }
    }
}

const LOGLEVEL_PATH: &str = "/*/*/logging/loglevel";
const DATATRACE_PATH: &str = "/*/*/logging/dataTrace";
const ALL_METHODS_PATH: &str = "/*/*";

/// Whether the `*/*` settings already give the forwarder what it needs.
pub(crate) fn is_rest_captured(all_methods: Option<&RestLogging>) -> bool {
    all_methods.is_some_and(|m| m.logging_level == CAPTURE_LOG_LEVEL && m.data_trace)
}

/// What to do to a REST stage that should be captured.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum RestCapture {
    /// Already INFO + dataTrace: no mutating call.
    Keep,
    /// Record `record` (None when a previous-settings tag already exists: the first recording is
    /// the customer's, a later one would be ours) and apply `ops`.
    Apply {
        record: Option<PreviousLogging>,
        ops: Vec<Patch>,
    },
}

pub(crate) fn decide_rest_capture(all_methods: Option<&RestLogging>, tagged: bool) -> RestCapture {
    if is_rest_captured(all_methods) {
        return RestCapture::Keep;
    }
    RestCapture::Apply {
        record: (!tagged).then(|| PreviousLogging::Rest {
            all_methods: all_methods.cloned(),
        }),
        ops: vec![
            Patch::replace(LOGLEVEL_PATH, CAPTURE_LOG_LEVEL),
            Patch::replace(DATATRACE_PATH, "true"),
        ],
    }
}

/// The fields of a `*/*` method setting other than logging: what a customer may add
/// (throttling, caching, metrics) after this library created the setting.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct OtherMethodFields {
    pub metrics_enabled: bool,
    pub throttling_burst_limit: i32,
    pub throttling_rate_limit: f64,
    pub caching_enabled: bool,
    pub cache_ttl_in_seconds: i32,
    pub cache_data_encrypted: bool,
    pub require_authorization_for_cache_control: bool,
    pub unauthorized_cache_control_header_strategy: String,
}

impl OtherMethodFields {
    /// `v1 <16 hex>`: FNV-1a over the fields in a fixed form. Not a secret, only a change
    /// detector that fits a tag value.
    pub(crate) fn fingerprint(&self) -> String {
        let text = format!(
            "{}|{}|{}|{}|{}|{}|{}|{}",
            self.metrics_enabled,
            self.throttling_burst_limit,
            self.throttling_rate_limit,
            self.caching_enabled,
            self.cache_ttl_in_seconds,
            self.cache_data_encrypted,
            self.require_authorization_for_cache_control,
            self.unauthorized_cache_control_header_strategy
        );
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for b in text.bytes() {
            hash ^= u64::from(b);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
        format!("v1 {hash:016x}")
    }
}

/// The UpdateStage operations that put back the recorded `*/*` settings.
///
/// When there was no override, the logging fields go back to API Gateway's defaults (OFF, no
/// data trace), and the override is removed only when nothing else in it changed since
/// capture (`added` is the fingerprint taken then, `current` the one now). If the customer
/// added throttling, caching or metrics to it meanwhile, or the fingerprint is unknown (a
/// stage captured by an earlier version), the override stays with their settings.
pub(crate) fn rest_restore_ops(
    previous: Option<&RestLogging>,
    added: Option<&str>,
    current: Option<&str>,
) -> Vec<Patch> {
    match previous {
        Some(p) => vec![
            Patch::replace(LOGLEVEL_PATH, p.logging_level.clone()),
            Patch::replace(DATATRACE_PATH, p.data_trace.to_string()),
        ],
        None => {
            let mut ops = vec![
                Patch::replace(LOGLEVEL_PATH, DEFAULT_LOG_LEVEL),
                Patch::replace(DATATRACE_PATH, "false"),
            ];
            if added.is_some() && added == current {
                ops.push(Patch::Remove {
                    path: ALL_METHODS_PATH.to_string(),
                });
            }
            ops
        }
    }
}

/// The IAM path of the role the template creates for API Gateway. A role under it was made by
/// a stack of this template (perhaps one since deleted, whose role is gone while the account
/// still names it), so the current stack's role may replace it; a role anywhere else is the
/// customer's and is never replaced.
pub const OUR_ROLE_PATH: &str = "/cequence-apigw/";

/// Is this role ARN under [`OUR_ROLE_PATH`]?
pub(crate) fn is_our_role(arn: &str) -> bool {
    arn.split_once(":role")
        .is_some_and(|(_, path_and_name)| path_and_name.starts_with(OUR_ROLE_PATH))
}

/// The account-level CloudWatch role REST execution logging depends on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum RoleDecision {
    /// The account already has a usable role: never replace the customer's.
    Present,
    /// The account has none and one was given: set it (UpdateAccount `/cloudwatchRoleArn`).
    Set(String),
    /// None set, none given: REST stages cannot log.
    Missing,
}

/// `replaces`: a role the caller itself set before and now changes (the custom resource's
/// previous `CloudWatchRoleArn`: a role created before roles had our path).
pub(crate) fn decide_account_role(
    current: Option<&str>,
    given: Option<&str>,
    replaces: Option<&str>,
) -> RoleDecision {
    match (
        current.filter(|r| !r.is_empty()),
        given.filter(|r| !r.is_empty()),
    ) {
        (Some(now), Some(role)) if now != role && (is_our_role(now) || replaces == Some(now)) => {
            RoleDecision::Set(role.to_string())
        }
        (Some(_), _) => RoleDecision::Present,
        (None, Some(role)) => RoleDecision::Set(role.to_string()),
        (None, None) => RoleDecision::Missing,
    }
}

pub(crate) const NO_ROLE_REASON: &str = "the account has no API Gateway CloudWatch role \
    (account settings cloudwatchRoleArn) and none was given (cequence_apigw_cloudwatch_role_arn), \
    so REST execution logs cannot be written";

pub(crate) const REST_NOT_LOGGING_REASON: &str =
    "execution logging for */* is not INFO with full request/response data";

/// What to do to an HTTP stage that should be captured.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum HttpCapture {
    /// Logs already go to our group in our format.
    Keep,
    /// The customer's own access logs are JSON with every field: read their group, change nothing.
    ReadCustomer { log_group: String },
    /// The customer's own access logging cannot be read; it is not taken away.
    Leave { reason: String },
    /// Set our access logging (recording `record` first unless a tag already exists).
    Apply { record: Option<PreviousLogging> },
}

pub(crate) fn decide_http_capture(
    access_log: Option<&AccessLog>,
    own_group: &str,
    tagged: bool,
) -> HttpCapture {
    let Some(current) = access_log else {
        return HttpCapture::Apply {
            record: (!tagged).then_some(PreviousLogging::Http { access_log: None }),
        };
    };
    let group = log_group_name_from_arn(&current.destination_arn);
    if group == Some(own_group) {
        // Ours (from an earlier run): only a changed format needs an update.
        return if current.format == access_log_format() {
            HttpCapture::Keep
        } else {
            HttpCapture::Apply {
                record: (!tagged).then_some(PreviousLogging::Http { access_log: None }),
            }
        };
    }
    let Some(group) = group else {
        return HttpCapture::Leave {
            reason: format!(
                "the stage sends its access logs to {} (not a CloudWatch Logs group); \
                 the customer's access logging is left as it is",
                current.destination_arn
            ),
        };
    };
    match check_access_log_format(&current.format) {
        FormatCheck::Compatible => HttpCapture::ReadCustomer {
            log_group: group.to_string(),
        },
        other => HttpCapture::Leave {
            reason: other.reason().unwrap_or_default(),
        },
    }
}

/// Status of an HTTP stage as `discover` reports it: (captured, log group, reason).
pub(crate) fn http_status(
    access_log: Option<&AccessLog>,
    own_group: &str,
) -> (bool, Option<String>, Option<String>) {
    match decide_http_capture(access_log, own_group, true) {
        HttpCapture::Keep => (true, Some(own_group.to_string()), None),
        HttpCapture::ReadCustomer { log_group } => (
            true,
            Some(log_group),
            Some("read from the customer's own JSON access log group".to_string()),
        ),
        HttpCapture::Leave { reason } => (false, None, Some(reason)),
        HttpCapture::Apply { .. } if access_log.is_some() => (
            false,
            None,
            Some("access logs go to the Cequence group in an older format".to_string()),
        ),
        HttpCapture::Apply { .. } => (false, None, Some("access logging is off".to_string())),
    }
}

/// Why a `$default` HTTP stage is not captured (when `include_http_default_stage` is off; with
/// it on, such a stage is captured like any other).
pub const DEFAULT_STAGE_REASON: &str =
    "$default HTTP stages are excluded (set cequence_include_http_default_stage=true, template parameter CequenceIncludeHttpDefaultStage, to capture them)";

/// What the previous-settings tag says must be put back, or why it cannot be.
pub(crate) fn decode_previous(value: &str) -> Result<PreviousLogging, String> {
    PreviousLogging::decode(value)
}

/// `*/*` settings as read from a stage, with API Gateway's defaults for missing fields.
pub(crate) fn rest_logging(logging_level: Option<&str>, data_trace: bool) -> RestLogging {
    RestLogging {
        logging_level: logging_level.unwrap_or(DEFAULT_LOG_LEVEL).to_string(),
        data_trace,
    }
}

/// Log group to create when missing; an existing group is never changed. A group with no
/// retention keeps everything forever and one with a retention was set by its owner: setting
/// ours on either would delete customer logs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LogGroupAction {
    Keep,
    Create { retention_days: i32 },
}

pub(crate) fn decide_log_group(exists: bool, retention_days: i32) -> LogGroupAction {
    if exists {
        LogGroupAction::Keep
    } else {
        LogGroupAction::Create { retention_days }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn level(l: &str, dt: bool) -> RestLogging {
        rest_logging(Some(l), dt)
    }

    #[test]
    fn rest_captured_only_with_info_and_data_trace() {
        assert!(is_rest_captured(Some(&level("INFO", true))));
        assert!(!is_rest_captured(Some(&level("INFO", false))));
        assert!(!is_rest_captured(Some(&level("ERROR", true))));
        assert!(!is_rest_captured(None));
    }

    #[test]
    fn rest_capture_records_customer_settings_once() {
        let customer = level("ERROR", false);
        let RestCapture::Apply { record, ops } = decide_rest_capture(Some(&customer), false) else {
            panic!("must apply");
        };
        assert_eq!(
            record,
            Some(PreviousLogging::Rest {
                all_methods: Some(customer.clone())
            })
        );
        assert_eq!(
            ops,
            vec![
                Patch::replace("/*/*/logging/loglevel", "INFO"),
                Patch::replace("/*/*/logging/dataTrace", "true")
            ]
        );
        // Drifted after our capture: re-apply, keep the first recording.
        let RestCapture::Apply { record, .. } = decide_rest_capture(Some(&customer), true) else {
            panic!("must apply");
        };
        assert_eq!(record, None);
        assert_eq!(
            decide_rest_capture(Some(&level("INFO", true)), false),
            RestCapture::Keep
        );
    }

    #[test]
    fn rest_capture_without_override_records_none() {
        let RestCapture::Apply { record, .. } = decide_rest_capture(None, false) else {
            panic!("must apply");
        };
        assert_eq!(record, Some(PreviousLogging::Rest { all_methods: None }));
    }

    #[test]
    fn rest_restore_puts_back_or_removes_only_what_was_added() {
        assert_eq!(
            rest_restore_ops(Some(&level("ERROR", false)), None, Some("v1 1")),
            vec![
                Patch::replace("/*/*/logging/loglevel", "ERROR"),
                Patch::replace("/*/*/logging/dataTrace", "false")
            ]
        );
        let off = vec![
            Patch::replace("/*/*/logging/loglevel", "OFF"),
            Patch::replace("/*/*/logging/dataTrace", "false"),
        ];
        let mut removed = off.clone();
        removed.push(Patch::Remove {
            path: "/*/*".into(),
        });
        // Unchanged since capture: ours, removed.
        assert_eq!(rest_restore_ops(None, Some("v1 a"), Some("v1 a")), removed);
        // The customer added something to it: their settings stay.
        assert_eq!(rest_restore_ops(None, Some("v1 a"), Some("v1 b")), off);
        // Unknown (captured by an earlier version) or gone: nothing is removed.
        assert_eq!(rest_restore_ops(None, None, Some("v1 a")), off);
        assert_eq!(rest_restore_ops(None, None, None), off);
    }

    #[test]
    fn the_fingerprint_follows_every_other_field() {
        let base = OtherMethodFields {
            throttling_burst_limit: 5_000,
            throttling_rate_limit: 10_000.0,
            cache_ttl_in_seconds: 300,
            require_authorization_for_cache_control: true,
            unauthorized_cache_control_header_strategy: "SUCCEED_WITH_RESPONSE_HEADER".into(),
            ..OtherMethodFields::default()
        };
        let fp = base.fingerprint();
        assert!(fp.starts_with("v1 ") && fp.len() == 19, "{fp}");
        assert_eq!(fp, base.clone().fingerprint(), "stable");
        let changes: [fn(&mut OtherMethodFields); 8] = [
            |f| f.metrics_enabled = true,
            |f| f.throttling_burst_limit = 100,
            |f| f.throttling_rate_limit = 50.0,
            |f| f.caching_enabled = true,
            |f| f.cache_ttl_in_seconds = 60,
            |f| f.cache_data_encrypted = true,
            |f| f.require_authorization_for_cache_control = false,
            |f| f.unauthorized_cache_control_header_strategy = "FAIL_WITH_403".into(),
        ];
        for change in changes {
            let mut other = base.clone();
            change(&mut other);
            assert_ne!(other.fingerprint(), fp, "{other:?}");
        }
    }

    #[test]
    fn missing_level_defaults_to_off() {
        assert_eq!(rest_logging(None, false).logging_level, "OFF");
    }

    #[test]
    fn account_role() {
        assert_eq!(
            decide_account_role(Some("arn:customer"), Some("arn:ours"), None),
            RoleDecision::Present
        );
        assert_eq!(
            decide_account_role(None, Some("arn:ours"), None),
            RoleDecision::Set("arn:ours".into())
        );
        assert_eq!(
            decide_account_role(Some(""), Some("arn:ours"), None),
            RoleDecision::Set("arn:ours".into())
        );
        assert_eq!(decide_account_role(None, None, None), RoleDecision::Missing);
        assert_eq!(
            decide_account_role(None, Some(""), None),
            RoleDecision::Missing
        );
    }

    #[test]
    fn a_role_of_an_earlier_stack_is_replaced_a_customers_never() {
        let old = "arn:aws:iam::1:role/cequence-apigw/StackSet-x-ApiGatewayClo-OLD";
        let new = "arn:aws:iam::1:role/cequence-apigw/StackSet-x-ApiGatewayClo-NEW";
        let customer = "arn:aws:iam::1:role/apigw-logs";
        let customer_pathed = "arn:aws:iam::1:role/team/cequence-apigw/logs";
        // Ours (perhaps deleted with its stack): the current stack's role replaces it.
        assert_eq!(
            decide_account_role(Some(old), Some(new), None),
            RoleDecision::Set(new.into())
        );
        assert_eq!(
            decide_account_role(Some(new), Some(new), None),
            RoleDecision::Present
        );
        // Not ours by path: kept, unless it is the one this caller set before.
        for other in [customer, customer_pathed] {
            assert_eq!(
                decide_account_role(Some(other), Some(new), None),
                RoleDecision::Present
            );
        }
        let unpathed_old = "arn:aws:iam::1:role/StackSet-x-ApiGatewayClo-OLD";
        assert_eq!(
            decide_account_role(Some(unpathed_old), Some(new), Some(unpathed_old)),
            RoleDecision::Set(new.into())
        );
        // Nothing given: whatever is set stays.
        assert_eq!(
            decide_account_role(Some(old), None, None),
            RoleDecision::Present
        );
    }

    const OWN: &str = "/aws/apigateway/cequence/a1/prod";

    fn access(group: &str, format: &str) -> AccessLog {
        AccessLog {
            destination_arn: format!("arn:aws:logs:us-east-1:123456789012:log-group:{group}"),
            format: format.to_string(),
        }
    }

    #[test]
    fn http_without_access_logs_is_captured_and_recorded() {
        assert_eq!(
            decide_http_capture(None, OWN, false),
            HttpCapture::Apply {
                record: Some(PreviousLogging::Http { access_log: None })
            }
        );
        assert_eq!(
            decide_http_capture(None, OWN, true),
            HttpCapture::Apply { record: None }
        );
    }

    #[test]
    fn http_ours_is_kept_or_refreshed() {
        let ours = access(OWN, &access_log_format());
        assert_eq!(
            decide_http_capture(Some(&ours), OWN, true),
            HttpCapture::Keep
        );
        let old = access(OWN, r#"{"requestId":"$context.requestId"}"#);
        assert_eq!(
            decide_http_capture(Some(&old), OWN, true),
            HttpCapture::Apply { record: None }
        );
    }

    #[test]
    fn http_customer_json_is_read_in_place() {
        let theirs = access("/customer/logs", &access_log_format());
        assert_eq!(
            decide_http_capture(Some(&theirs), OWN, false),
            HttpCapture::ReadCustomer {
                log_group: "/customer/logs".into()
            }
        );
        assert_eq!(
            http_status(Some(&theirs), OWN),
            (
                true,
                Some("/customer/logs".into()),
                Some("read from the customer's own JSON access log group".into())
            )
        );
    }

    #[test]
    fn http_customer_clf_or_firehose_is_left_alone() {
        let clf = access("/customer/logs", "$context.requestId $context.status");
        let HttpCapture::Leave { reason } = decide_http_capture(Some(&clf), OWN, false) else {
            panic!("must leave");
        };
        assert!(reason.contains("not JSON"), "{reason}");
        let firehose = AccessLog {
            destination_arn:
                "arn:aws:firehose:us-east-1:123456789012:deliverystream/amazon-apigateway-x".into(),
            format: access_log_format(),
        };
        let HttpCapture::Leave { reason } = decide_http_capture(Some(&firehose), OWN, false) else {
            panic!("must leave");
        };
        assert!(reason.contains("firehose"), "{reason}");
        assert!(!http_status(Some(&clf), OWN).0);
    }

    #[test]
    fn http_status_of_unlogged_stage() {
        assert_eq!(
            http_status(None, OWN),
            (false, None, Some("access logging is off".into()))
        );
        assert_eq!(
            http_status(Some(&access(OWN, &access_log_format())), OWN),
            (true, Some(OWN.into()), None)
        );
    }

    #[test]
    fn log_groups_are_created_never_changed() {
        assert_eq!(
            decide_log_group(false, 7),
            LogGroupAction::Create { retention_days: 7 }
        );
        assert_eq!(decide_log_group(true, 7), LogGroupAction::Keep);
    }
}
