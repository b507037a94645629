//! AWS Organizations: the organization id (bucket policy), the root (default target) and the
//! accounts under the target OUs (to know which stack instances should exist).

use aws_sdk_organizations::Client;

use crate::error::{Error, Result};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Organization {
    pub id: String,
    pub management_account: String,
}

pub async fn describe(org: &Client) -> Result<Organization> {
    let out = org.describe_organization().send().await.map_err(|e| {
        Error::aws(
            "Organizations DescribeOrganization (cequence_is_aws_organization_deployment=true \
             needs the caller to belong to an organization)",
            e,
        )
    })?;
    let o = out.organization();
    Ok(Organization {
        id: o.and_then(|o| o.id()).unwrap_or_default().to_string(),
        management_account: o
            .and_then(|o| o.master_account_id())
            .unwrap_or_default()
            .to_string(),
    })
}

/// The organization's root ids (there is one).
pub async fn roots(org: &Client) -> Result<Vec<String>> {
    let mut ids = Vec::new();
    let mut pages = org.list_roots().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| Error::aws("Organizations ListRoots", e))?;
        ids.extend(page.roots().iter().filter_map(|r| r.id().map(String::from)));
    }
    Ok(ids)
}

/// Active accounts under `parents`, child OUs included, without duplicates.
pub async fn accounts_under(org: &Client, parents: &[String]) -> Result<Vec<String>> {
    let mut accounts = Vec::new();
    let mut queue: Vec<String> = parents.to_vec();
    while let Some(parent) = queue.pop() {
        let mut pages = org
            .list_accounts_for_parent()
            .parent_id(&parent)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| {
                Error::aws(format!("Organizations ListAccountsForParent {parent}"), e)
            })?;
            for a in page.accounts() {
                let active = a
                    .status()
                    .is_none_or(|s| s.as_str().eq_ignore_ascii_case("ACTIVE"));
                if let (Some(id), true) = (a.id(), active) {
                    if !accounts.iter().any(|x| x == id) {
                        accounts.push(id.to_string());
                    }
                }
            }
        }
        let mut ous = org
            .list_organizational_units_for_parent()
            .parent_id(&parent)
            .into_paginator()
            .send();
        while let Some(page) = ous.next().await {
            let page = page.map_err(|e| {
                Error::aws(
                    format!("Organizations ListOrganizationalUnitsForParent {parent}"),
                    e,
                )
            })?;
            queue.extend(
                page.organizational_units()
                    .iter()
                    .filter_map(|o| o.id().map(String::from)),
            );
        }
    }
    accounts.sort();
    Ok(accounts)
}
