//! Which regions a run works in.
//!
//! ListRegions lists every region, including ones the account has not opted into or is still
//! enabling and (in emulators) ones of other partitions; deploying there fails late and
//! confusingly, so the usable set is decided here, once, and an explicit list is checked
//! against it up front.

use crate::config::model::RegionSelection;

/// A region as reported by Account ListRegions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiscoveredRegion {
    pub name: String,
    /// `ENABLED_BY_DEFAULT`, `ENABLED`, `ENABLING`, `DISABLING` or `DISABLED`.
    pub opt_status: String,
}

impl DiscoveredRegion {
    /// Only a region that is fully enabled takes stacks; an `ENABLING` one fails deployments
    /// until AWS finishes (which can take hours).
    pub fn is_usable(&self) -> bool {
        matches!(self.opt_status.as_str(), "ENABLED_BY_DEFAULT" | "ENABLED")
    }
}

/// Why a requested region cannot be used, with what the operator can do about it.
pub fn unusable_reason(discovered: &[DiscoveredRegion], region: &str, partition: &str) -> String {
    if partition_of_region(region) != partition {
        return format!("{region} is not in this account's partition ({partition})");
    }
    match discovered.iter().find(|r| r.name == region) {
        None => format!("{region} is not offered to this account"),
        Some(r) => match r.opt_status.as_str() {
            "ENABLING" => format!(
                "{region} is still being enabled for this account; run again once it is ENABLED \
                 (aws account get-region-opt-status --region-name {region})"
            ),
            "DISABLING" => format!("{region} is being disabled for this account; leave it out"),
            status => format!(
                "{region} is not enabled for this account (status {}); enable it \
                 (aws account enable-region --region-name {region}) or leave it out",
                if status.is_empty() { "unknown" } else { status }
            ),
        },
    }
}

/// The AWS partition a region belongs to, from its name: the contract's rule, which
/// stage-logging's ARNs use too.
pub use cq_contract::log_groups::partition_of as partition_of_region;

/// Regions enabled for the account in `partition`, sorted by name.
pub fn enabled_regions(discovered: &[DiscoveredRegion], partition: &str) -> Vec<String> {
    let mut names: Vec<String> = discovered
        .iter()
        .filter(|r| r.is_usable())
        .filter(|r| partition_of_region(&r.name) == partition)
        .map(|r| r.name.clone())
        .collect();
    names.sort();
    names.dedup();
    names
}

/// The regions to work in, or the first requested region that is not enabled.
pub fn select_regions(
    selection: &RegionSelection,
    enabled: &[String],
) -> Result<Vec<String>, String> {
    match selection {
        RegionSelection::All => Ok(enabled.to_vec()),
        RegionSelection::List(list) => {
            if let Some(bad) = list.iter().find(|r| !enabled.contains(r)) {
                return Err(bad.clone());
            }
            Ok(list.clone())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn region(name: &str, status: &str) -> DiscoveredRegion {
        DiscoveredRegion {
            name: name.into(),
            opt_status: status.into(),
        }
    }

    fn discovered() -> Vec<DiscoveredRegion> {
        vec![
            region("us-east-1", "ENABLED_BY_DEFAULT"),
            region("af-south-1", "DISABLED"),
            region("ap-east-1", "ENABLED"),
            region("me-central-1", "ENABLING"),
            region("il-central-1", "DISABLING"),
            region("cn-north-1", "ENABLED_BY_DEFAULT"),
            region("us-gov-west-1", "ENABLED_BY_DEFAULT"),
        ]
    }

    #[test]
    fn keeps_enabled_regions_of_the_callers_partition() {
        assert_eq!(
            enabled_regions(&discovered(), "aws"),
            vec!["ap-east-1", "us-east-1"]
        );
        assert_eq!(enabled_regions(&discovered(), "aws-cn"), vec!["cn-north-1"]);
    }

    #[test]
    fn an_unusable_region_is_explained_by_its_status() {
        let d = discovered();
        let why = |r| unusable_reason(&d, r, "aws");
        assert!(
            why("me-central-1").contains("still being enabled"),
            "{}",
            why("me-central-1")
        );
        assert!(why("il-central-1").contains("being disabled"));
        assert!(why("af-south-1").contains("status DISABLED"));
        assert!(why("af-south-1").contains("aws account enable-region --region-name af-south-1"));
        assert!(why("cn-north-1").contains("partition (aws)"));
        assert!(why("ap-southeast-7").contains("not offered"));
    }

    #[test]
    fn explicit_list_is_checked_against_enabled_set() {
        let enabled = enabled_regions(&discovered(), "aws");
        let ok = RegionSelection::List(vec!["us-east-1".into()]);
        assert_eq!(select_regions(&ok, &enabled).unwrap(), vec!["us-east-1"]);
        let bad = RegionSelection::List(vec!["us-east-1".into(), "af-south-1".into()]);
        assert_eq!(select_regions(&bad, &enabled).unwrap_err(), "af-south-1");
        assert_eq!(
            select_regions(&RegionSelection::All, &enabled).unwrap(),
            enabled
        );
    }
}
