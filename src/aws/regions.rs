//! EC2 DescribeRegions, every region with its opt-in status (filtering is `plan::regions`).

use crate::error::{Error, Result};
use crate::plan::regions::DiscoveredRegion;

pub async fn discover(ec2: &aws_sdk_ec2::Client) -> Result<Vec<DiscoveredRegion>> {
    let out = ec2
        .describe_regions()
        .all_regions(true)
        .send()
        .await
        .map_err(|e| Error::aws("EC2 DescribeRegions", e))?;
    Ok(out
        .regions()
        .iter()
        .filter_map(|r| {
            Some(DiscoveredRegion {
                name: r.region_name()?.to_string(),
                opt_in_status: r
                    .opt_in_status()
                    .unwrap_or("opt-in-not-required")
                    .to_string(),
            })
        })
        .collect())
}
