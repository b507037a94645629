//! StackSet planning: create or update the StackSet, and which stack instances to add.
//!
//! Instances are planned per (account, region) pair, so adding a region or an account later
//! adds exactly the missing instances; the console's "delete and recreate" is never needed.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::parameters::Parameter;

/// Where the StackSet deploys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Targets {
    /// Self-managed: these account ids.
    Accounts(Vec<String>),
    /// Service-managed: these OUs (or the root), which currently hold `accounts`.
    OrganizationalUnits {
        ous: Vec<String>,
        accounts: Vec<String>,
    },
}

impl Targets {
    /// The accounts that should end up with an instance in every region.
    pub fn accounts(&self) -> &[String] {
        match self {
            Targets::Accounts(a) => a,
            Targets::OrganizationalUnits { accounts, .. } => accounts,
        }
    }
}

/// What the StackSet should look like.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Desired {
    pub digest: String,
    pub targets: Targets,
    pub regions: Vec<String>,
}

/// What DescribeStackSet reported about an existing StackSet.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Deployed {
    /// Value of the digest tag; `None` for a StackSet made by hand or by the vendor scripts.
    pub digest: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StackSetChange {
    Create,
    Update,
}

/// Who a batch of instances is for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BatchTargets {
    Accounts(Vec<String>),
    OrganizationalUnits(Vec<String>),
}

/// One CreateStackInstances/UpdateStackInstances call: every target × every region.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InstanceBatch {
    pub targets: BatchTargets,
    /// For service-managed overrides: limit the OUs to these accounts (INTERSECTION).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub only_accounts: Vec<String>,
    pub regions: Vec<String>,
}

impl std::fmt::Display for InstanceBatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let who = match &self.targets {
            BatchTargets::Accounts(a) => format!("accounts {}", a.join(",")),
            BatchTargets::OrganizationalUnits(o) => format!("OUs {}", o.join(",")),
        };
        write!(f, "{who} × regions {}", self.regions.join(","))?;
        if !self.only_accounts.is_empty() {
            write!(f, " (accounts {})", self.only_accounts.join(","))?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct StackSetPlan {
    pub change: Option<StackSetChange>,
    pub add_instances: Vec<InstanceBatch>,
}

impl StackSetPlan {
    pub fn is_empty(&self) -> bool {
        self.change.is_none() && self.add_instances.is_empty()
    }
}

/// The vendor's operation preferences (parallel regions, soft failure tolerance).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct OperationPreferences {
    pub max_concurrent_count: i32,
    pub failure_tolerance_count: i32,
}

/// Max concurrent = number of accounts, failure tolerance = accounts − 1 (at least 1 and 0).
pub fn operation_preferences(account_count: usize) -> OperationPreferences {
    let n = i32::try_from(account_count.max(1)).unwrap_or(i32::MAX);
    OperationPreferences {
        max_concurrent_count: n,
        failure_tolerance_count: n - 1,
    }
}

/// Plan the StackSet change and the missing instances.
///
/// `deployed` is `None` when the StackSet does not exist; `existing` lists the (account,
/// region) pairs that already have an instance.
pub fn plan_stackset(
    deployed: Option<&Deployed>,
    desired: &Desired,
    existing: &[(String, String)],
) -> StackSetPlan {
    let change = match deployed {
        None => Some(StackSetChange::Create),
        Some(d) if d.digest.as_deref() != Some(desired.digest.as_str()) => {
            Some(StackSetChange::Update)
        }
        Some(_) => None,
    };
    let have: BTreeSet<(&str, &str)> = existing
        .iter()
        .map(|(a, r)| (a.as_str(), r.as_str()))
        .collect();
    let missing: Vec<(String, String)> = desired
        .targets
        .accounts()
        .iter()
        .flat_map(|a| desired.regions.iter().map(move |r| (a.clone(), r.clone())))
        .filter(|(a, r)| !have.contains(&(a.as_str(), r.as_str())))
        .collect();
    let add_instances = match &desired.targets {
        Targets::Accounts(_) => group_pairs(&missing),
        Targets::OrganizationalUnits { ous, .. } => {
            // An OU cannot be narrowed to some accounts on create; CreateStackInstances is
            // idempotent for pairs that exist, so the OUs get every region any account misses.
            let regions: BTreeSet<String> = missing.into_iter().map(|(_, r)| r).collect();
            if regions.is_empty() {
                vec![]
            } else {
                vec![InstanceBatch {
                    targets: BatchTargets::OrganizationalUnits(ous.clone()),
                    only_accounts: vec![],
                    regions: ordered(&desired.regions, &regions),
                }]
            }
        }
    };
    StackSetPlan {
        change,
        add_instances,
    }
}

/// Group (account, region) pairs into as few account × region batches as possible without
/// touching a pair outside the set: accounts with the same region set share a batch.
pub fn group_pairs(pairs: &[(String, String)]) -> Vec<InstanceBatch> {
    let mut by_account: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for (a, r) in pairs {
        by_account.entry(a).or_default().insert(r);
    }
    let mut by_regions: BTreeMap<Vec<&str>, Vec<String>> = BTreeMap::new();
    for (account, regions) in by_account {
        by_regions
            .entry(regions.into_iter().collect())
            .or_default()
            .push(account.to_string());
    }
    by_regions
        .into_iter()
        .map(|(regions, accounts)| InstanceBatch {
            targets: BatchTargets::Accounts(accounts),
            only_accounts: vec![],
            regions: regions.into_iter().map(String::from).collect(),
        })
        .collect()
}

fn ordered(order: &[String], set: &BTreeSet<String>) -> Vec<String> {
    order.iter().filter(|r| set.contains(*r)).cloned().collect()
}

/// The instances `disable` overrides: existing pairs filtered by the requested accounts and
/// regions (an empty filter selects all).
pub fn select_instances(
    existing: &[(String, String)],
    accounts: &[String],
    regions: &[String],
) -> Vec<(String, String)> {
    existing
        .iter()
        .filter(|(a, _)| accounts.is_empty() || accounts.contains(a))
        .filter(|(_, r)| regions.is_empty() || regions.contains(r))
        .cloned()
        .collect()
}

/// Batches for UpdateStackInstances over `pairs`. Service-managed StackSets only take OUs as
/// targets, narrowed to the selected accounts.
pub fn override_batches(pairs: &[(String, String)], ous: Option<&[String]>) -> Vec<InstanceBatch> {
    match ous {
        None => group_pairs(pairs),
        Some(ous) => group_pairs(pairs)
            .into_iter()
            .map(|b| InstanceBatch {
                only_accounts: match b.targets {
                    BatchTargets::Accounts(a) => a,
                    BatchTargets::OrganizationalUnits(o) => o,
                },
                targets: BatchTargets::OrganizationalUnits(ous.to_vec()),
                regions: b.regions,
            })
            .collect(),
    }
}

/// Existing instances that the configuration selects (its accounts × its regions).
pub fn selected_existing(
    desired: &Desired,
    existing: &[(String, String)],
) -> Vec<(String, String)> {
    existing
        .iter()
        .filter(|(a, r)| desired.regions.contains(r) && desired.targets.accounts().contains(a))
        .cloned()
        .collect()
}

/// Instances a StackSet operation left behind (status OUTDATED: a failed or cancelled
/// update, or one that never reached them) with no operation running on them now: the
/// StackSet's digest says "up to date", so only their own status shows the job is unfinished.
/// INOPERABLE instances (a failed delete) are not retried by an update.
pub fn outdated_instances(statuses: &[InstanceStatus]) -> Vec<(String, String)> {
    statuses
        .iter()
        .filter(|s| {
            s.status == "OUTDATED" && !matches!(s.detailed_status.as_str(), "PENDING" | "RUNNING")
        })
        .map(|s| s.pair.clone())
        .collect()
}

/// A stack instance's status as ListStackInstances reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceStatus {
    pub pair: (String, String),
    /// CURRENT, OUTDATED or INOPERABLE.
    pub status: String,
    /// PENDING, RUNNING, SUCCEEDED, FAILED, CANCELLED, INOPERABLE, …
    pub detailed_status: String,
}

/// A stack instance (account, region) with its parameter overrides (key, value).
pub type InstanceOverrides = ((String, String), Vec<(String, String)>);

/// Instances whose parameter overrides pin a value other than the configured one (`disable`
/// leaves REST/HTTP capture overridden to false): `enable` clears their overrides so they
/// take the StackSet's values again. An override equal to the configured value changes
/// nothing today and is left alone; the secret is never compared (AWS masks it).
pub fn instances_to_reset(
    found: &[InstanceOverrides],
    desired: &[Parameter],
) -> Vec<(String, String)> {
    found
        .iter()
        .filter(|(_, overrides)| {
            overrides.iter().any(|(key, value)| {
                desired
                    .iter()
                    .any(|p| p.key == key.as_str() && !p.is_secret() && p.value != *value)
            })
        })
        .map(|(pair, _)| pair.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    fn pair(a: &str, r: &str) -> (String, String) {
        (a.into(), r.into())
    }

    fn desired(targets: Targets, regions: &[&str]) -> Desired {
        Desired {
            digest: "d1".into(),
            targets,
            regions: s(regions),
        }
    }

    #[test]
    fn fresh_stackset_is_created_with_every_instance() {
        let d = desired(
            Targets::Accounts(s(&["1", "2"])),
            &["us-east-1", "eu-west-1"],
        );
        let plan = plan_stackset(None, &d, &[]);
        assert_eq!(plan.change, Some(StackSetChange::Create));
        assert_eq!(plan.add_instances.len(), 1);
        assert_eq!(
            plan.add_instances[0].targets,
            BatchTargets::Accounts(s(&["1", "2"]))
        );
        assert_eq!(
            plan.add_instances[0].regions,
            s(&["eu-west-1", "us-east-1"])
        );
    }

    #[test]
    fn unchanged_stackset_with_all_instances_is_a_no_op() {
        let d = desired(Targets::Accounts(s(&["1"])), &["us-east-1"]);
        let deployed = Deployed {
            digest: Some("d1".into()),
        };
        let plan = plan_stackset(Some(&deployed), &d, &[pair("1", "us-east-1")]);
        assert!(plan.is_empty());
    }

    #[test]
    fn changed_digest_or_missing_tag_means_update() {
        let d = desired(Targets::Accounts(s(&["1"])), &["us-east-1"]);
        let have = [pair("1", "us-east-1")];
        let old = Deployed {
            digest: Some("d0".into()),
        };
        assert_eq!(
            plan_stackset(Some(&old), &d, &have).change,
            Some(StackSetChange::Update)
        );
        assert_eq!(
            plan_stackset(Some(&Deployed::default()), &d, &have).change,
            Some(StackSetChange::Update)
        );
    }

    #[test]
    fn adding_a_region_adds_only_the_missing_pairs() {
        let d = desired(
            Targets::Accounts(s(&["1", "2"])),
            &["us-east-1", "eu-west-1"],
        );
        let deployed = Deployed {
            digest: Some("d1".into()),
        };
        let have = [
            pair("1", "us-east-1"),
            pair("2", "us-east-1"),
            pair("2", "eu-west-1"),
        ];
        let plan = plan_stackset(Some(&deployed), &d, &have);
        assert_eq!(plan.change, None);
        assert_eq!(
            plan.add_instances,
            vec![InstanceBatch {
                targets: BatchTargets::Accounts(s(&["1"])),
                only_accounts: vec![],
                regions: s(&["eu-west-1"]),
            }]
        );
    }

    #[test]
    fn accounts_with_different_gaps_get_separate_batches() {
        let batches = group_pairs(&[
            pair("1", "a"),
            pair("2", "a"),
            pair("2", "b"),
            pair("3", "a"),
        ]);
        assert_eq!(batches.len(), 2);
        assert!(batches.contains(&InstanceBatch {
            targets: BatchTargets::Accounts(s(&["1", "3"])),
            only_accounts: vec![],
            regions: s(&["a"]),
        }));
        assert!(batches.contains(&InstanceBatch {
            targets: BatchTargets::Accounts(s(&["2"])),
            only_accounts: vec![],
            regions: s(&["a", "b"]),
        }));
    }

    #[test]
    fn organizational_units_get_the_regions_any_account_misses() {
        let targets = Targets::OrganizationalUnits {
            ous: s(&["r-abcd"]),
            accounts: s(&["1", "2"]),
        };
        let d = desired(targets, &["us-east-1", "eu-west-1"]);
        let deployed = Deployed {
            digest: Some("d1".into()),
        };
        let have = [
            pair("1", "us-east-1"),
            pair("2", "us-east-1"),
            pair("1", "eu-west-1"),
        ];
        let plan = plan_stackset(Some(&deployed), &d, &have);
        assert_eq!(
            plan.add_instances,
            vec![InstanceBatch {
                targets: BatchTargets::OrganizationalUnits(s(&["r-abcd"])),
                only_accounts: vec![],
                regions: s(&["eu-west-1"]),
            }]
        );
    }

    #[test]
    fn preferences_follow_the_vendor_guide() {
        assert_eq!(
            operation_preferences(3),
            OperationPreferences {
                max_concurrent_count: 3,
                failure_tolerance_count: 2
            }
        );
        assert_eq!(
            operation_preferences(0),
            OperationPreferences {
                max_concurrent_count: 1,
                failure_tolerance_count: 0
            }
        );
    }

    #[test]
    fn disable_selects_and_batches_instances() {
        let existing = [pair("1", "a"), pair("1", "b"), pair("2", "a")];
        assert_eq!(select_instances(&existing, &[], &[]).len(), 3);
        let only = select_instances(&existing, &s(&["1"]), &s(&["b"]));
        assert_eq!(only, vec![pair("1", "b")]);
        let ous = s(&["ou-x"]);
        let batches = override_batches(&only, Some(&ous));
        assert_eq!(
            batches,
            vec![InstanceBatch {
                targets: BatchTargets::OrganizationalUnits(ous.clone()),
                only_accounts: s(&["1"]),
                regions: s(&["b"]),
            }]
        );
    }

    #[test]
    fn only_overrides_that_differ_from_the_configuration_are_reset() {
        let desired = vec![
            Parameter {
                key: "CequenceRestApiEnabled",
                value: "true".into(),
            },
            Parameter {
                key: "CequenceClientSecret",
                value: "s3cret".into(),
            },
        ];
        let pair = |r: &str| ("111111111111".to_string(), r.to_string());
        let ov = |k: &str, v: &str| (k.to_string(), v.to_string());
        let found = vec![
            (
                pair("us-east-1"),
                vec![ov("CequenceRestApiEnabled", "false")],
            ),
            (
                pair("eu-west-1"),
                vec![ov("CequenceRestApiEnabled", "true")],
            ),
            (pair("eu-west-2"), vec![ov("CequenceClientSecret", "****")]),
            (pair("eu-west-3"), vec![]),
        ];
        assert_eq!(
            instances_to_reset(&found, &desired),
            vec![pair("us-east-1")]
        );
    }

    #[test]
    fn the_selection_is_the_configured_accounts_and_regions() {
        let desired = Desired {
            digest: "d".into(),
            targets: Targets::Accounts(s(&["111111111111"])),
            regions: s(&["us-east-1"]),
        };
        let existing = vec![
            ("111111111111".to_string(), "us-east-1".to_string()),
            ("111111111111".to_string(), "eu-west-1".to_string()),
            ("222222222222".to_string(), "us-east-1".to_string()),
        ];
        assert_eq!(
            selected_existing(&desired, &existing),
            vec![("111111111111".to_string(), "us-east-1".to_string())]
        );
    }

    #[test]
    fn outdated_instances_are_retried_unless_an_operation_runs_on_them() {
        let st = |r: &str, status: &str, detailed: &str| InstanceStatus {
            pair: ("111111111111".to_string(), r.to_string()),
            status: status.into(),
            detailed_status: detailed.into(),
        };
        let all = vec![
            st("us-east-1", "CURRENT", "SUCCEEDED"),
            st("eu-west-1", "OUTDATED", "FAILED"),
            st("eu-west-2", "OUTDATED", "CANCELLED"),
            st("eu-west-3", "OUTDATED", "RUNNING"),
            st("eu-north-1", "INOPERABLE", "INOPERABLE"),
        ];
        let pairs: Vec<String> = outdated_instances(&all).into_iter().map(|p| p.1).collect();
        assert_eq!(pairs, vec!["eu-west-1", "eu-west-2"]);
    }
}
