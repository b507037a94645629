//! The per-region artifact buckets: each region is read, planned (`plan::bucket`) and fixed on
//! its own, a few regions at a time.

use futures::stream::{self, StreamExt, TryStreamExt};

use super::report::BucketReport;
use crate::artifacts::Artifacts;
use crate::aws::buckets;
use crate::aws::deployment::Deployment;
use crate::aws::Aws;
use crate::config::model::Config;
use crate::error::{Error, Result};
use crate::plan::bucket::plan_bucket;
use crate::plan::{artifact_keys as keys, policy};
use crate::progress::Progress;

/// How many regions are prepared at once.
const REGION_CONCURRENCY: usize = 8;

/// Inspect (and unless `dry_run`, fix) the bucket and artifacts of the selected regions, the
/// home region, and every region that already has a stack instance (`instance_regions`): a
/// StackSet update reaches those too, and each reads the artifacts from its own region.
pub(super) async fn prepare(
    aws: &Aws,
    config: &Config,
    dep: &Deployment,
    instance_regions: &[String],
    artifacts: &Artifacts,
    dry_run: bool,
    progress: &Progress,
) -> Result<Vec<BucketReport>> {
    let mut regions = dep.regions.clone();
    for r in std::iter::once(aws.home_region()).chain(instance_regions.iter().map(String::as_str)) {
        if !regions.iter().any(|x| x == r) {
            regions.push(r.to_string());
        }
    }
    let readers = dep.readers();
    let artifact_keys = artifacts.keys();
    let uploads = artifacts.as_slice();
    let results: Vec<BucketReport> = stream::iter(regions)
        .map(|region| {
            let (readers, wanted, uploads) = (&readers, &artifact_keys, &uploads);
            async move {
                let bucket = keys::bucket_name(&dep.caller.account, &region);
                let row = format!("bucket {region}");
                progress.row(&row, "checking");
                let s3 = aws.s3(&region);
                let state = buckets::inspect(&s3, &bucket, wanted).await?;
                let policy = policy::bucket_policy(&bucket, &dep.caller.partition, readers);
                let actions = plan_bucket(&state, &policy, wanted);
                if !config.auto_upload_to_s3 && !actions.is_empty() {
                    return Err(Error::Config {
                        key: "cequence_cfn_auto_upload_to_s3".into(),
                        value: "false".into(),
                        fix: format!(
                            "bucket {bucket} needs: {}; set it to true to let cq-apigw do that",
                            actions
                                .iter()
                                .map(ToString::to_string)
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    });
                }
                if actions.is_empty() {
                    progress.done(&row, "up to date");
                } else if dry_run {
                    progress.done(&row, format!("would change {} setting(s)", actions.len()));
                } else {
                    progress.row(&row, "updating");
                    let calls = buckets::apply(
                        &s3,
                        &bucket,
                        &region,
                        &actions,
                        &policy.to_string(),
                        uploads,
                    )
                    .await?;
                    progress.done(&row, format!("{} change(s)", calls.len()));
                }
                Ok::<_, Error>(BucketReport {
                    region,
                    bucket,
                    actions,
                })
            }
        })
        .buffer_unordered(REGION_CONCURRENCY)
        .try_collect()
        .await?;
    let mut results = results;
    results.sort_by(|a, b| a.region.cmp(&b.region));
    Ok(results)
}
