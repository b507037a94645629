//! Who and where a run deploys: the caller, the organization, the targets and the regions.

use crate::config::model::{Config, PermissionModel, RegionSelection};
use crate::error::{Error, Result};
use crate::plan::policy::Readers;
use crate::plan::region_selection::{
    enabled_regions, partition_of_region, select_regions, unusable_reason, DiscoveredRegion,
};
use crate::plan::stackset::Targets;

use super::identity::{self, Caller};
use super::organization::{self, Organization};
use super::{list_regions, Aws};

#[derive(Debug, Clone)]
pub struct Deployment {
    pub caller: Caller,
    pub organization: Option<Organization>,
    pub targets: Targets,
    pub regions: Vec<String>,
}

impl Deployment {
    /// Who the bucket policy lets read the artifacts.
    pub fn readers(&self) -> Readers {
        match &self.organization {
            Some(org) => Readers::Organization(org.id.clone()),
            None => Readers::Accounts(self.targets.accounts().to_vec()),
        }
    }

    /// Whether the caller's own account gets stack instances (and so stage logging here).
    pub fn caller_is_target(&self) -> bool {
        self.targets.accounts().contains(&self.caller.account)
    }
}

/// Regions to work in: `all` = every enabled region of the caller's partition; an explicit
/// list must be a subset of those (else a configuration error naming the region).
pub async fn resolve_regions(
    aws: &Aws,
    selection: &RegionSelection,
    partition: &str,
) -> Result<Vec<String>> {
    let discovered = match list_regions::discover(&aws.account()).await {
        Ok(d) => d,
        // Only the commercial partition has opt-in regions; elsewhere (GovCloud, ISO) every
        // region is enabled, so a partition whose Account API does not answer still works.
        Err(e) if partition != "aws" => {
            tracing::warn!("{e}; using every known region of partition {partition}");
            known_regions_of(partition)
        }
        Err(e) => return Err(e),
    };
    let enabled = enabled_regions(&discovered, partition);
    select_regions(selection, &enabled).map_err(|bad| Error::Config {
        key: "cequence_aws_regions".into(),
        value: bad.clone(),
        fix: format!(
            "{}; enabled: {}",
            unusable_reason(&discovered, &bad, partition),
            enabled.join(",")
        ),
    })
}

/// The built-in region list of a partition, all enabled by default.
fn known_regions_of(partition: &str) -> Vec<DiscoveredRegion> {
    crate::config::KNOWN_REGIONS
        .iter()
        .filter(|r| partition_of_region(r) == partition)
        .map(|r| DiscoveredRegion {
            name: (*r).to_string(),
            opt_status: "ENABLED_BY_DEFAULT".into(),
        })
        .collect()
}

pub async fn resolve(aws: &Aws, config: &Config) -> Result<Deployment> {
    let caller = identity::caller(&aws.sts()).await?;
    let (organization, targets) = match config.permission_model() {
        PermissionModel::ServiceManaged => {
            let orgs = aws.organizations();
            let org = organization::describe(&orgs).await?;
            let ous = if config.target_ous.is_empty() {
                organization::roots(&orgs).await?
            } else {
                config.target_ous.clone()
            };
            // Service-managed StackSets never deploy to the management account.
            let accounts: Vec<String> = organization::accounts_under(&orgs, &ous)
                .await?
                .into_iter()
                .filter(|a| a != &org.management_account)
                .collect();
            (Some(org), Targets::OrganizationalUnits { ous, accounts })
        }
        PermissionModel::SelfManaged => {
            let accounts = if config.target_accounts.is_empty() {
                vec![caller.account.clone()]
            } else {
                config.target_accounts.clone()
            };
            (None, Targets::Accounts(accounts))
        }
    };
    let regions = resolve_regions(aws, &config.regions, &caller.partition).await?;
    Ok(Deployment {
        caller,
        organization,
        targets,
        regions,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fallback_list_is_the_partitions_own() {
        let gov = known_regions_of("aws-us-gov");
        assert!(!gov.is_empty());
        assert!(gov
            .iter()
            .all(|r| r.name.starts_with("us-gov-") && r.is_usable()));
        assert!(known_regions_of("aws-cn")
            .iter()
            .all(|r| r.name.starts_with("cn-")));
    }
}
