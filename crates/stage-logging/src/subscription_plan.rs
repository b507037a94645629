//! Subscription filters (push ingestion): the public types and the pure decisions.
//!
//! Our filter is recognised by its name alone, so a customer's filters are never read for
//! anything but their names, and never updated or removed. Whether a slot is free is never
//! computed here: the account's real quota answers (LimitExceededException on
//! PutSubscriptionFilter), since it is 2 per group by default and higher in some accounts.

use std::time::Duration;

use serde::Serialize;

/// The name of the one subscription filter this library puts on a log group.
pub const SUBSCRIPTION_FILTER_NAME: &str = "cequence-apigw-forwarder";

/// Everything: the forwarder filters and assembles itself.
pub(crate) const FILTER_PATTERN: &str = "";

/// Where a subscribed group's events go: the forwarder function, or the stack's Kinesis stream
/// with the role CloudWatch Logs assumes to put into it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PushDestination {
    pub arn: String,
    pub role_arn: Option<String>,
}

/// The subscription filters of one log group: ours (by name) and the names of the others.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct GroupSubscriptions {
    pub ours: Option<OurFilter>,
    /// Names of the filters that are not ours (they hold the group's other slots), sorted.
    pub others: Vec<String>,
}

/// Our filter on a group.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OurFilter {
    /// When the filter was created (epoch milliseconds): the group is pushed since then.
    pub creation_time_ms: i64,
    pub destination_arn: String,
}

/// What `subscribe` did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum SubscribeOutcome {
    /// Our filter was created, or updated to the new destination.
    Subscribed { creation_time_ms: i64 },
    /// Our filter was already there with this destination: no mutating call was made.
    AlreadySubscribed { creation_time_ms: i64 },
    /// The account's quota of filters per group is used up by `others`: poll this group.
    NoFreeSlot { others: Vec<String> },
}

/// One filter as DescribeSubscriptionFilters returns it (only what the decisions read).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct FilterView {
    pub name: String,
    pub destination_arn: String,
    pub role_arn: Option<String>,
    pub pattern: String,
    /// False only for `Random`: an absent distribution is AWS's default, ByLogStream.
    pub by_log_stream: bool,
    pub creation_time_ms: i64,
}

/// The group's filters split into ours and the others' names.
pub(crate) fn split(filters: &[FilterView]) -> GroupSubscriptions {
    let mut out = GroupSubscriptions::default();
    for f in filters {
        if f.name == SUBSCRIPTION_FILTER_NAME {
            out.ours = Some(OurFilter {
                creation_time_ms: f.creation_time_ms,
                destination_arn: f.destination_arn.clone(),
            });
        } else {
            out.others.push(f.name.clone());
        }
    }
    // AWS lists filters sorted by name; sorting here keeps the order stable whatever answered.
    out.others.sort();
    out
}

/// Whether PutSubscriptionFilter must be called for `dest`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum SubscribeDecision {
    /// Ours is there exactly as wanted.
    Keep { creation_time_ms: i64 },
    /// Create ours, or update it in place (same name: it keeps its slot).
    Put,
}

pub(crate) fn decide_subscribe(
    filters: &[FilterView],
    dest: &PushDestination,
) -> SubscribeDecision {
    let role = dest.role_arn.as_deref().filter(|r| !r.is_empty());
    match filters.iter().find(|f| f.name == SUBSCRIPTION_FILTER_NAME) {
        Some(f)
            if f.destination_arn == dest.arn
                && f.role_arn.as_deref().filter(|r| !r.is_empty()) == role
                && f.pattern == FILTER_PATTERN
                && f.by_log_stream =>
        {
            SubscribeDecision::Keep {
                creation_time_ms: f.creation_time_ms,
            }
        }
        _ => SubscribeDecision::Put,
    }
}

/// Messages with which PutSubscriptionFilter refuses a destination it cannot use *yet*: its
/// test delivery failed because the role CloudWatch Logs assumes, or the function's resource
/// policy, was created moments ago and has not propagated, or the stream is still being
/// created. AWS gives no distinct code for these, so the message is matched (as the Terraform
/// AWS provider does for the same call).
const NOT_READY_MESSAGES: &[&str] = &[
    "Could not deliver test message",
    "Could not deliver message to specified Kinesis stream",
    "Could not execute the lambda function",
    "permission to assume the provided role",
];

/// Whether a PutSubscriptionFilter error (code, message) is a destination not ready yet.
pub(crate) fn destination_not_ready(code: Option<&str>, message: &str) -> bool {
    match code {
        Some("InvalidParameterException" | "ValidationException") => {
            NOT_READY_MESSAGES.iter().any(|m| message.contains(m))
        }
        // "Multiple requests to modify the same resource were in conflict": try again.
        Some("OperationAbortedException") => true,
        _ => false,
    }
}

/// The waits between attempts at a destination that is not ready: 1, 2, 4, 8, then 15 s,
/// while their sum stays within `patience` (IAM propagation usually takes a few seconds and
/// rarely more than a minute).
pub(crate) fn not_ready_waits(patience: Duration) -> impl Iterator<Item = Duration> {
    let mut total = Duration::ZERO;
    (0u32..)
        .map(|i| Duration::from_secs(1u64 << i.min(4)).min(Duration::from_secs(15)))
        .take_while(move |w| {
            total += *w;
            total <= patience
        })
}

/// How the forwarder is configured to ingest: one of the contract's settings
/// (`CEQUENCE_INGESTION`, template parameter `CequenceIngestion`, CLI key `cequence_ingestion`).
pub use cq_contract::IngestionMode;

/// How a captured group reaches the forwarder, as `cq-apigw status` shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "delivery", rename_all = "snake_case")]
pub enum Ingestion {
    /// Our subscription filter sends the group's events to `destination_arn` since `since_ms`.
    Pushed {
        destination_arn: String,
        since_ms: i64,
    },
    /// The forwarder reads the group with FilterLogEvents.
    Polled { reason: PollReason },
    /// The group's subscription filters could not be read.
    Unknown { error: String },
}

/// Why a captured group is polled.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "why", rename_all = "snake_case")]
pub enum PollReason {
    /// `ingestion=poll`.
    IngestionPoll,
    /// `ingestion=push`, and the group's slots are held by these filters. Read-only callers
    /// cannot try a PutSubscriptionFilter, so this is what a group looks like after the
    /// forwarder's attempt was refused with LimitExceededException.
    NoFreeSlot { others: Vec<String> },
    /// `ingestion=push`, the group has no other filter and is not subscribed yet.
    NotSubscribedYet,
    /// `ingestion=auto`: polled until the forwarder decides polling cannot keep up.
    AutoPolling { others: Vec<String> },
}

impl Ingestion {
    /// One line for a table: `pushed` / `polled` and why.
    pub fn summary(&self) -> String {
        match self {
            Ingestion::Pushed {
                destination_arn,
                since_ms,
            } => format!("pushed to {destination_arn} since {}", utc(*since_ms)),
            Ingestion::Polled { reason } => format!("polled: {}", reason.text()),
            Ingestion::Unknown { error } => {
                format!("unknown: the subscription filters cannot be read: {error}")
            }
        }
    }

    pub fn is_pushed(&self) -> bool {
        matches!(self, Ingestion::Pushed { .. })
    }
}

impl PollReason {
    pub fn text(&self) -> String {
        match self {
            PollReason::IngestionPoll => "ingestion=poll".to_string(),
            PollReason::NoFreeSlot { others } => format!(
                "no free subscription filter slot (held by {})",
                others.join(", ")
            ),
            PollReason::NotSubscribedYet => {
                "ingestion=push, not subscribed yet (the forwarder subscribes it)".to_string()
            }
            PollReason::AutoPolling { others } if others.is_empty() => {
                "ingestion=auto, polled until the forwarder decides to push".to_string()
            }
            PollReason::AutoPolling { others } => format!(
                "ingestion=auto, polled until the forwarder decides to push (other filters: {})",
                others.join(", ")
            ),
        }
    }
}

/// A group's ingestion from its filters and the configured mode. Our filter present means
/// pushed whatever the mode says: that is where its events go (the forwarder removes ours
/// when it is configured to poll).
pub fn ingestion_of(mode: IngestionMode, subs: &GroupSubscriptions) -> Ingestion {
    if let Some(ours) = &subs.ours {
        return Ingestion::Pushed {
            destination_arn: ours.destination_arn.clone(),
            since_ms: ours.creation_time_ms,
        };
    }
    let reason = match mode {
        IngestionMode::Poll => PollReason::IngestionPoll,
        IngestionMode::Push if subs.others.is_empty() => PollReason::NotSubscribedYet,
        IngestionMode::Push => PollReason::NoFreeSlot {
            others: subs.others.clone(),
        },
        IngestionMode::Auto => PollReason::AutoPolling {
            others: subs.others.clone(),
        },
    };
    Ingestion::Polled { reason }
}

/// `2024-05-01T12:00:00Z` from epoch milliseconds (civil-from-days, no time-zone database).
fn utc(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_destination_still_propagating_is_told_from_a_bad_one() {
        let ipe = Some("InvalidParameterException");
        for m in [
            "Could not deliver test message to specified Kinesis stream. Check if the given kinesis stream is in ACTIVE state.",
            "Could not deliver test message to specified destination. Check if the destination is valid.",
            "Could not execute the lambda function. Make sure you have given CloudWatch Logs permission to execute your function.",
        ] {
            assert!(destination_not_ready(ipe, m), "{m}");
        }
        assert!(destination_not_ready(
            Some("ValidationException"),
            "Make sure you have given CloudWatch Logs permission to assume the provided role."
        ));
        assert!(destination_not_ready(Some("OperationAbortedException"), ""));
        assert!(!destination_not_ready(
            ipe,
            "destinationArn for vendor lambda cannot be used with roleArn"
        ));
        assert!(!destination_not_ready(
            Some("AccessDeniedException"),
            "Could not deliver test message"
        ));
        assert!(!destination_not_ready(
            None,
            "Could not deliver test message"
        ));
    }

    #[test]
    fn waits_for_a_destination_stay_within_the_patience() {
        let secs = |p: u64| {
            not_ready_waits(Duration::from_secs(p))
                .map(|w| w.as_secs())
                .collect::<Vec<_>>()
        };
        assert_eq!(secs(0), Vec::<u64>::new());
        assert_eq!(secs(3), vec![1, 2]);
        assert_eq!(secs(60), vec![1, 2, 4, 8, 15, 15, 15]);
        assert!(secs(60).iter().sum::<u64>() <= 60);
    }

    const LAMBDA: &str = "arn:aws:lambda:us-east-1:123456789012:function:fwd";
    const STREAM: &str = "arn:aws:kinesis:us-east-1:123456789012:stream/push";
    const ROLE: &str = "arn:aws:iam::123456789012:role/logs-to-kinesis";

    fn filter(name: &str, dest: &str, role: Option<&str>) -> FilterView {
        FilterView {
            name: name.into(),
            destination_arn: dest.into(),
            role_arn: role.map(String::from),
            pattern: String::new(),
            by_log_stream: true,
            creation_time_ms: 1_700_000_000_000,
        }
    }

    fn lambda() -> PushDestination {
        PushDestination {
            arn: LAMBDA.into(),
            role_arn: None,
        }
    }

    #[test]
    fn ours_is_recognised_by_name_only() {
        let subs = split(&[
            filter("customer-siem", STREAM, Some(ROLE)),
            filter(SUBSCRIPTION_FILTER_NAME, LAMBDA, None),
            filter("cequence-apigw-forwarder-old", LAMBDA, None),
        ]);
        assert_eq!(
            subs.ours,
            Some(OurFilter {
                creation_time_ms: 1_700_000_000_000,
                destination_arn: LAMBDA.into()
            })
        );
        assert_eq!(
            subs.others,
            ["cequence-apigw-forwarder-old", "customer-siem"]
        );
        assert_eq!(split(&[]), GroupSubscriptions::default());
    }

    #[test]
    fn subscribe_keeps_an_identical_filter_and_puts_otherwise() {
        let ours = filter(SUBSCRIPTION_FILTER_NAME, LAMBDA, None);
        assert_eq!(
            decide_subscribe(std::slice::from_ref(&ours), &lambda()),
            SubscribeDecision::Keep {
                creation_time_ms: 1_700_000_000_000
            }
        );
        // An empty role from AWS is no role.
        let empty_role = filter(SUBSCRIPTION_FILTER_NAME, LAMBDA, Some(""));
        assert!(matches!(
            decide_subscribe(&[empty_role], &lambda()),
            SubscribeDecision::Keep { .. }
        ));
        // None yet, or only a customer's with the same destination: put ours.
        assert_eq!(decide_subscribe(&[], &lambda()), SubscribeDecision::Put);
        assert_eq!(
            decide_subscribe(&[filter("theirs", LAMBDA, None)], &lambda()),
            SubscribeDecision::Put
        );
        // Destination, role, pattern or distribution changed: update ours in place.
        let kinesis = PushDestination {
            arn: STREAM.into(),
            role_arn: Some(ROLE.into()),
        };
        assert_eq!(
            decide_subscribe(std::slice::from_ref(&ours), &kinesis),
            SubscribeDecision::Put
        );
        let other_role = filter(
            SUBSCRIPTION_FILTER_NAME,
            STREAM,
            Some("arn:aws:iam::1:role/x"),
        );
        assert_eq!(
            decide_subscribe(&[other_role], &kinesis),
            SubscribeDecision::Put
        );
        let mut narrowed = ours.clone();
        narrowed.pattern = "ERROR".into();
        assert_eq!(
            decide_subscribe(&[narrowed], &lambda()),
            SubscribeDecision::Put
        );
        let mut random = ours;
        random.by_log_stream = false;
        assert_eq!(
            decide_subscribe(&[random], &lambda()),
            SubscribeDecision::Put
        );
    }

    #[test]
    fn ingestion_modes_parse_in_any_case() {
        assert_eq!(" PUSH ".parse(), Ok(IngestionMode::Push));
        assert_eq!("poll".parse(), Ok(IngestionMode::Poll));
        assert_eq!("Auto".parse(), Ok(IngestionMode::Auto));
        assert_eq!(IngestionMode::default(), IngestionMode::Auto);
        assert!("kinesis"
            .parse::<IngestionMode>()
            .unwrap_err()
            .contains("poll, push or auto"));
        assert_eq!(IngestionMode::Push.to_string(), "push");
    }

    #[test]
    fn a_group_with_our_filter_is_pushed_whatever_the_mode() {
        let subs = GroupSubscriptions {
            ours: Some(OurFilter {
                creation_time_ms: 1_714_564_800_000,
                destination_arn: STREAM.into(),
            }),
            others: vec!["siem".into()],
        };
        for mode in IngestionMode::ALL {
            let i = ingestion_of(mode, &subs);
            assert!(i.is_pushed(), "{mode}");
            assert_eq!(
                i.summary(),
                format!("pushed to {STREAM} since 2024-05-01T12:00:00Z")
            );
        }
    }

    #[test]
    fn a_group_without_our_filter_is_polled_with_the_reason() {
        let none = GroupSubscriptions::default();
        let full = GroupSubscriptions {
            ours: None,
            others: vec!["siem".into(), "datadog".into()],
        };
        let polled = |mode, subs: &GroupSubscriptions| match ingestion_of(mode, subs) {
            Ingestion::Polled { reason } => reason,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            polled(IngestionMode::Poll, &full),
            PollReason::IngestionPoll
        );
        assert_eq!(
            polled(IngestionMode::Push, &full),
            PollReason::NoFreeSlot {
                others: vec!["siem".into(), "datadog".into()]
            }
        );
        assert_eq!(
            ingestion_of(IngestionMode::Push, &full).summary(),
            "polled: no free subscription filter slot (held by siem, datadog)"
        );
        assert_eq!(
            polled(IngestionMode::Push, &none),
            PollReason::NotSubscribedYet
        );
        assert_eq!(
            ingestion_of(IngestionMode::Auto, &none).summary(),
            "polled: ingestion=auto, polled until the forwarder decides to push"
        );
        assert!(ingestion_of(IngestionMode::Auto, &full)
            .summary()
            .ends_with("(other filters: siem, datadog)"));
    }

    #[test]
    fn utc_formats_epoch_milliseconds() {
        assert_eq!(utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(utc(951_782_400_000), "2000-02-29T00:00:00Z");
        assert_eq!(utc(1_735_689_599_999), "2024-12-31T23:59:59Z");
    }

    #[test]
    fn json_names_the_delivery_and_the_reason() {
        let v = serde_json::to_value(ingestion_of(
            IngestionMode::Push,
            &GroupSubscriptions {
                ours: None,
                others: vec!["siem".into()],
            },
        ))
        .unwrap();
        assert_eq!(
            v,
            serde_json::json!({"delivery": "polled", "reason": {"why": "no_free_slot", "others": ["siem"]}})
        );
    }
}
