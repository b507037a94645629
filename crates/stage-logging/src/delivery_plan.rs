//! Full REST execution logs (up to 1 MB an event instead of 1 KB): which delivery kind a stage
//! gets, the names of what this library creates for it, and the stage tag that records them.
//!
//! A CloudWatch Logs delivery (source on the stage ARN, log type `EXECUTION_LOGS` → destination
//! → delivery) points at the stage's own group `API-Gateway-Execution-Logs_{id}/{stage}`, as the
//! API Gateway guide advises for continuity: while a delivery exists API Gateway writes the
//! stage's execution logs through it only, so the forwarder keeps reading (or being pushed) the
//! same group with the same retention and subscription filter; when it is deleted API Gateway
//! resumes writing standard (1 KB) events there. Nothing is ingested twice.

use serde::Serialize;

/// The delivery source log type API Gateway offers for REST stages.
pub const EXECUTION_LOGS: &str = "EXECUTION_LOGS";

/// The stage tag naming the delivery source and destination this library created (and the
/// delivery's id once known), so a restore removes exactly those, from any machine.
pub const LOG_DELIVERY_TAG: &str = "cequence:log-delivery";

/// Delivery source and destination names allow 1-60 characters of `[\w-]`.
const NAME_MAX: usize = 60;
const NAME_PREFIX: &str = "cequence-";

/// How REST execution logs reach the group the forwarder reads: one of the contract's
/// settings (`cequence_rest_log_delivery`, template parameter `CequenceRestLogDelivery`).
pub use cq_contract::RestDelivery;

/// Which kind of execution logs a captured REST stage writes (reported by `status`).
#[derive(Clone, Copy, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryKind {
    /// 1 KB events in API Gateway's own group.
    Standard,
    /// Up to 1 MB events through this library's delivery into the same group.
    Full,
}

impl std::fmt::Display for DeliveryKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            DeliveryKind::Standard => "standard",
            DeliveryKind::Full => "full",
        })
    }
}

/// The delivery source/destination name for a stage: `cequence-{api}-{stage}` when it fits in
/// 60 characters, else shortened with a hash of the whole stage name so that two long stage
/// names sharing a prefix still get different names. Stage names are `[\w-]` already.
pub fn delivery_name(api_id: &str, stage: &str) -> String {
    let full = format!("{NAME_PREFIX}{api_id}-{stage}");
    if full.len() <= NAME_MAX && full.chars().all(is_name_char) {
        return full;
    }
    let hash = fnv1a(stage.as_bytes());
    let suffix = format!("-{hash:08x}");
    let keep: String = stage
        .chars()
        .filter(|c| is_name_char(*c))
        .take(NAME_MAX.saturating_sub(NAME_PREFIX.len() + api_id.len() + 1 + suffix.len()))
        .collect();
    let name = format!("{NAME_PREFIX}{api_id}-{keep}{suffix}");
    name.chars().take(NAME_MAX).collect()
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '-'
}

fn fnv1a(bytes: &[u8]) -> u32 {
    let mut hash: u32 = 0x811c_9dc5;
    for b in bytes {
        hash ^= u32::from(*b);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    hash
}

/// What a stage's `LOG_DELIVERY_TAG` records.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeliveryRecord {
    pub source: String,
    pub destination: String,
    /// The delivery's id (None: recorded before CreateDelivery answered).
    pub delivery_id: Option<String>,
}

impl DeliveryRecord {
    /// `v1 source=<name> destination=<name>[ delivery=<id>]`: tag values allow letters, digits,
    /// spaces and `_ . : / = + - @`, which names and ids stay within.
    pub fn encode(&self) -> String {
        let mut value = format!("v1 source={} destination={}", self.source, self.destination);
        if let Some(id) = &self.delivery_id {
            value.push_str(" delivery=");
            value.push_str(id);
        }
        value
    }

    pub fn decode(value: &str) -> Result<Self, String> {
        let mut words = value.split_whitespace();
        if words.next() != Some("v1") {
            return Err(format!("unknown log delivery record {value:?}"));
        }
        let (mut source, mut destination, mut delivery_id) = (None, None, None);
        for word in words {
            match word.split_once('=') {
                Some(("source", v)) if !v.is_empty() => source = Some(v.to_string()),
                Some(("destination", v)) if !v.is_empty() => destination = Some(v.to_string()),
                Some(("delivery", v)) if !v.is_empty() => delivery_id = Some(v.to_string()),
                _ => return Err(format!("unreadable log delivery record {value:?}")),
            }
        }
        match (source, destination) {
            (Some(source), Some(destination)) => Ok(Self {
                source,
                destination,
                delivery_id,
            }),
            _ => Err(format!(
                "log delivery record {value:?} lacks a source or destination"
            )),
        }
    }
}

/// What to do about a captured stage's delivery.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum DeliveryAction {
    /// Standard wanted and none of ours exists.
    None,
    /// Full (or auto) wanted and none recorded: create one.
    Create,
    /// Full (or auto) wanted and one recorded: check it still exists, recreate what is missing.
    Verify(DeliveryRecord),
    /// Standard wanted but ours exists: remove exactly what the record names.
    Remove(DeliveryRecord),
}

pub(crate) fn decide_delivery(
    wanted: RestDelivery,
    recorded: Option<&DeliveryRecord>,
) -> DeliveryAction {
    match (wanted, recorded) {
        (RestDelivery::Standard, None) => DeliveryAction::None,
        (RestDelivery::Standard, Some(r)) => DeliveryAction::Remove(r.clone()),
        (RestDelivery::Full | RestDelivery::Auto, None) => DeliveryAction::Create,
        (RestDelivery::Full | RestDelivery::Auto, Some(r)) => DeliveryAction::Verify(r.clone()),
    }
}

/// The delivery source ARN of a stage. Unlike the taggable ARN, it carries the account id.
pub fn delivery_source_arn(
    partition: &str,
    region: &str,
    account: &str,
    rest_api_id: &str,
    stage: &str,
) -> String {
    format!("arn:{partition}:apigateway:{region}:{account}:/restapis/{rest_api_id}/stages/{stage}")
}

/// The account id inside an ARN (`arn:partition:service:region:account:...`).
pub fn account_of_arn(arn: &str) -> Option<&str> {
    let account = arn.split(':').nth(4)?;
    (!account.is_empty()).then_some(account)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_parse_and_default_to_auto() {
        assert_eq!(RestDelivery::parse(" Full "), Some(RestDelivery::Full));
        assert_eq!(
            RestDelivery::parse("standard"),
            Some(RestDelivery::Standard)
        );
        assert_eq!(RestDelivery::parse("AUTO"), Some(RestDelivery::Auto));
        assert_eq!(RestDelivery::parse(""), Some(RestDelivery::Auto));
        assert_eq!(RestDelivery::parse("1mb"), None);
        assert_eq!(RestDelivery::default(), RestDelivery::Auto);
    }

    #[test]
    fn names_fit_the_60_character_rule_and_stay_distinct() {
        assert_eq!(
            delivery_name("a1b2c3d4e5", "prod"),
            "cequence-a1b2c3d4e5-prod"
        );
        let long_a = format!("{}-a", "x".repeat(100));
        let long_b = format!("{}-b", "x".repeat(100));
        let (a, b) = (
            delivery_name("a1b2c3d4e5", &long_a),
            delivery_name("a1b2c3d4e5", &long_b),
        );
        assert_ne!(a, b);
        for name in [&a, &b] {
            assert!(name.len() <= 60, "{name}");
            assert!(name.chars().all(is_name_char), "{name}");
            assert!(name.starts_with("cequence-a1b2c3d4e5-xxx"), "{name}");
        }
        assert_eq!(a, delivery_name("a1b2c3d4e5", &long_a), "deterministic");
    }

    #[test]
    fn the_record_round_trips_with_and_without_the_delivery_id() {
        let mut r = DeliveryRecord {
            source: "cequence-abc-prod".into(),
            destination: "cequence-abc-prod".into(),
            delivery_id: None,
        };
        assert_eq!(
            r.encode(),
            "v1 source=cequence-abc-prod destination=cequence-abc-prod"
        );
        assert_eq!(DeliveryRecord::decode(&r.encode()).unwrap(), r);
        r.delivery_id = Some("AbCdEf123".into());
        assert_eq!(DeliveryRecord::decode(&r.encode()).unwrap(), r);
        assert!(DeliveryRecord::decode("v2 source=a destination=b").is_err());
        assert!(DeliveryRecord::decode("v1 source=a").is_err());
        assert!(DeliveryRecord::decode("v1 source=a destination=b color=red").is_err());
    }

    #[test]
    fn decisions_follow_the_wanted_kind_and_the_record() {
        let r = DeliveryRecord {
            source: "s".into(),
            destination: "d".into(),
            delivery_id: Some("i".into()),
        };
        assert_eq!(
            decide_delivery(RestDelivery::Standard, None),
            DeliveryAction::None
        );
        assert_eq!(
            decide_delivery(RestDelivery::Standard, Some(&r)),
            DeliveryAction::Remove(r.clone())
        );
        assert_eq!(
            decide_delivery(RestDelivery::Auto, None),
            DeliveryAction::Create
        );
        assert_eq!(
            decide_delivery(RestDelivery::Full, Some(&r)),
            DeliveryAction::Verify(r)
        );
    }

    #[test]
    fn source_arns_carry_the_account() {
        let arn = delivery_source_arn("aws", "eu-west-1", "123456789012", "abc", "prod");
        assert_eq!(
            arn,
            "arn:aws:apigateway:eu-west-1:123456789012:/restapis/abc/stages/prod"
        );
        assert_eq!(
            account_of_arn("arn:aws:logs:eu-west-1:123456789012:log-group:g"),
            Some("123456789012")
        );
        assert_eq!(
            account_of_arn("arn:aws:apigateway:eu-west-1::/restapis/a"),
            None
        );
    }
}
