//! Stage logging in the caller's account, region by region, through `cq-stage-logging`.
//!
//! The library works on one account and region; the commands need every selected region, with
//! one region's failure never hiding the others. This module fans out (a few regions at a time:
//! API Gateway's control-plane quotas are low and the library already runs stages concurrently
//! inside a region) and hands back each region's result; `commands::stage_changes` turns them
//! into the lines the commands print.

use futures::stream::{self, StreamExt};

use cq_stage_logging::{CaptureSettings, Clients, IngestionMode, Plan, Report, StageIngestion};

use super::Aws;

/// How many regions are worked on at once.
const REGION_CONCURRENCY: usize = 4;

fn clients(aws: &Aws, region: &str) -> Clients {
    Clients::new(&aws.sdk_config_for(region))
}

/// Run `f` for every region, a few at a time, results in the order of `regions`.
async fn per_region<'a, T, F, Fut>(regions: &'a [String], f: F) -> Vec<(String, T)>
where
    F: Fn(&'a str) -> Fut,
    Fut: std::future::Future<Output = T> + 'a,
{
    stream::iter(regions)
        .map(|region| {
            let fut = f(region);
            async move { (region.clone(), fut.await) }
        })
        .buffered(REGION_CONCURRENCY)
        .collect()
        .await
}

/// Bring the stages of every region to `settings` (capture or restore): each region's report.
pub async fn reconcile(
    aws: &Aws,
    regions: &[String],
    settings: &CaptureSettings,
) -> Vec<(String, Report)> {
    per_region(regions, |region| async move {
        cq_stage_logging::reconcile(&clients(aws, region), settings).await
    })
    .await
}

/// Restore every stage this tool captured, in every region (`disable --destroy`).
pub async fn restore_all(aws: &Aws, regions: &[String]) -> Vec<(String, Report)> {
    per_region(regions, |region| async move {
        cq_stage_logging::restore_all(&clients(aws, region)).await
    })
    .await
}

/// Read-only, for `status`: every stage of every region as the plan under `settings` sees it,
/// with its group's ingestion under `mode`, or the error that kept a region from being read.
pub async fn status(
    aws: &Aws,
    regions: &[String],
    settings: &CaptureSettings,
    mode: Option<IngestionMode>,
) -> Vec<(String, Result<Vec<StageIngestion>, String>)> {
    per_region(regions, |region| async move {
        cq_stage_logging::status(&clients(aws, region), settings, mode)
            .await
            .map_err(|e| e.to_string())
    })
    .await
}

/// What `reconcile` with `settings` would change in every region, from read calls only
/// (`enable --dry-run`): stage-logging's own plan, decided by the rules a real run applies.
pub async fn plan(
    aws: &Aws,
    regions: &[String],
    settings: &CaptureSettings,
) -> Vec<(String, Result<Plan, String>)> {
    per_region(regions, |region| async move {
        cq_stage_logging::plan(&clients(aws, region), settings)
            .await
            .map_err(|e| e.to_string())
    })
    .await
}
