//! Account Management ListRegions: every region of the caller's partition with its opt-in
//! status (what counts as usable is decided in `plan::region_selection`).
//!
//! EC2 DescribeRegions answers the same question, but the EC2 SDK crate is by far the largest
//! the CLI would link (about 7 minutes of a cold release build on 2 cores) for this one call.

use crate::error::{Error, Result};
use crate::plan::region_selection::DiscoveredRegion;

pub async fn discover(account: &aws_sdk_account::Client) -> Result<Vec<DiscoveredRegion>> {
    let pages: Vec<_> = account
        .list_regions()
        .max_results(50)
        .into_paginator()
        .send()
        .try_collect()
        .await
        .map_err(|e| Error::aws("Account ListRegions", e))?;
    Ok(pages
        .iter()
        .flat_map(|page| page.regions())
        .filter_map(|r| {
            Some(DiscoveredRegion {
                name: r.region_name()?.to_string(),
                opt_status: r
                    .region_opt_status()
                    .map(|s| s.as_str().to_string())
                    .unwrap_or_default(),
            })
        })
        .collect())
}
