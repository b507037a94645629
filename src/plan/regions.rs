//! Which regions a run works in.
//!
//! DescribeRegions lists every region, including ones the account has not opted into and (in
//! emulators) ones of other partitions; deploying there fails late and confusingly, so the
//! usable set is decided here, once, and an explicit list is checked against it up front.

use crate::config::model::RegionSelection;

/// A region as reported by EC2 DescribeRegions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiscoveredRegion {
    pub name: String,
    pub opt_in_status: String,
}

/// The AWS partition a region belongs to, from its name.
pub fn partition_of_region(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else if region.starts_with("us-isob-") {
        "aws-iso-b"
    } else if region.starts_with("us-isof-") {
        "aws-iso-f"
    } else if region.starts_with("eu-isoe-") {
        "aws-iso-e"
    } else if region.starts_with("us-iso-") {
        "aws-iso"
    } else {
        "aws"
    }
}

/// Regions enabled for the account in `partition`, sorted by name.
pub fn enabled_regions(discovered: &[DiscoveredRegion], partition: &str) -> Vec<String> {
    let mut names: Vec<String> = discovered
        .iter()
        .filter(|r| matches!(r.opt_in_status.as_str(), "opt-in-not-required" | "opted-in"))
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
            opt_in_status: status.into(),
        }
    }

    fn discovered() -> Vec<DiscoveredRegion> {
        vec![
            region("us-east-1", "opt-in-not-required"),
            region("af-south-1", "not-opted-in"),
            region("ap-east-1", "opted-in"),
            region("cn-north-1", "opt-in-not-required"),
            region("us-gov-west-1", "opt-in-not-required"),
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

    #[test]
    fn partitions_from_region_names() {
        assert_eq!(partition_of_region("eu-central-1"), "aws");
        assert_eq!(partition_of_region("cn-northwest-1"), "aws-cn");
        assert_eq!(partition_of_region("us-gov-east-1"), "aws-us-gov");
        assert_eq!(partition_of_region("us-iso-east-1"), "aws-iso");
        assert_eq!(partition_of_region("us-isob-east-1"), "aws-iso-b");
    }
}
