//! `cq-apigw status`: the StackSet, its instances, the artifact buckets and (through the
//! stage-logging hook) the API stages per region. Read-only.

use std::fmt;
use std::process::ExitCode;

use futures::stream::{self, StreamExt, TryStreamExt};
use serde::Serialize;

use crate::aws::deployment::resolve_regions;
use crate::aws::stackset::{self, InstanceInfo};
use crate::aws::{buckets, identity, Aws};
use crate::cli::{GlobalArgs, StatusArgs};
use crate::config::model::Config;
use crate::error::Result;
use crate::output;
use crate::plan::parameters::{mask, TEMPLATE_KEY_TAG};

#[derive(Debug, Serialize)]
pub struct StackSetStatus {
    pub name: String,
    pub status: String,
    pub permission_model: String,
    pub template_key: Option<String>,
    /// Parameters as deployed, the client secret masked.
    pub parameters: Vec<(String, String)>,
    pub tags: std::collections::BTreeMap<String, String>,
}

#[derive(Debug, Serialize)]
pub struct BucketStatus {
    pub bucket: String,
    pub region: String,
    pub artifact_keys: Vec<String>,
}

/// Per-region API stage status, filled by the stage-logging hook.
#[derive(Debug, Serialize)]
pub struct RegionStages {
    pub region: String,
    pub stages: Vec<serde_json::Value>,
}

#[derive(Debug, Serialize)]
pub struct StatusReport {
    pub account: String,
    pub home_region: String,
    pub stackset_name: String,
    pub stackset: Option<StackSetStatus>,
    pub instances: Vec<InstanceInfo>,
    pub buckets: Vec<BucketStatus>,
    pub stages: Vec<RegionStages>,
}

impl fmt::Display for StatusReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "Account {} · home region {}",
            self.account, self.home_region
        )?;
        match &self.stackset {
            None => writeln!(f, "StackSet {}: not deployed", self.stackset_name)?,
            Some(s) => {
                writeln!(
                    f,
                    "StackSet {}: {} ({})",
                    s.name, s.status, s.permission_model
                )?;
                writeln!(
                    f,
                    "  template: {}",
                    s.template_key.as_deref().unwrap_or("(unknown)")
                )?;
                let width = s.parameters.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
                for (k, v) in &s.parameters {
                    writeln!(f, "  {k:<width$}  {v}")?;
                }
            }
        }
        if !self.instances.is_empty() {
            writeln!(f, "Stack instances:")?;
            let rows: Vec<[&str; 5]> = self
                .instances
                .iter()
                .map(|i| {
                    [
                        i.account.as_str(),
                        i.region.as_str(),
                        i.status.as_str(),
                        i.detailed_status.as_str(),
                        i.status_reason.as_str(),
                    ]
                })
                .collect();
            write_table(
                f,
                ["ACCOUNT", "REGION", "STATUS", "DETAILED", "REASON"],
                &rows,
            )?;
        }
        if self.buckets.is_empty() {
            writeln!(f, "Artifact buckets: none")?;
        } else {
            writeln!(f, "Artifact buckets:")?;
            for b in &self.buckets {
                writeln!(f, "  {} ({})", b.bucket, b.region)?;
                for k in &b.artifact_keys {
                    writeln!(f, "    {k}")?;
                }
            }
        }
        for r in &self.stages {
            writeln!(f, "API stages in {}: {}", r.region, r.stages.len())?;
            for s in &r.stages {
                writeln!(f, "  {s}")?;
            }
        }
        Ok(())
    }
}

fn write_table(f: &mut fmt::Formatter<'_>, header: [&str; 5], rows: &[[&str; 5]]) -> fmt::Result {
    let mut widths = header.map(str::len);
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.len());
        }
    }
    for row in std::iter::once(&header).chain(rows) {
        let line: Vec<String> = row
            .iter()
            .zip(widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        writeln!(f, "  {}", line.join("  ").trim_end())?;
    }
    Ok(())
}

pub async fn run(global: &GlobalArgs, args: &StatusArgs, config: Config) -> Result<ExitCode> {
    let aws = Aws::load(global).await?;
    let caller = identity::caller(&aws.sts()).await?;
    let cfn = aws.cloudformation();
    let name = &config.stackset_name;
    let stackset = stackset::describe(&cfn, name)
        .await?
        .map(|s| StackSetStatus {
            template_key: s.tags.get(TEMPLATE_KEY_TAG).cloned(),
            parameters: s
                .parameters
                .iter()
                .map(|(k, v)| (k.clone(), mask(k, v)))
                .collect(),
            name: s.name,
            status: s.status,
            permission_model: s.permission_model,
            tags: s.tags,
        });
    let instances = match &stackset {
        Some(_) => stackset::list_instances(&cfn, name).await?,
        None => vec![],
    };
    let ours = buckets::list_ours(&aws.s3(aws.home_region()), &caller.account).await?;
    let mut bucket_status: Vec<BucketStatus> = stream::iter(ours)
        .map(|(bucket, region)| {
            let aws = &aws;
            async move {
                let keys = buckets::artifact_keys(&aws.s3(&region), &bucket).await?;
                Ok::<_, crate::error::Error>(BucketStatus {
                    artifact_keys: keys.unwrap_or_default(),
                    bucket,
                    region,
                })
            }
        })
        .buffer_unordered(8)
        .try_collect()
        .await?;
    bucket_status.sort_by(|a, b| a.region.cmp(&b.region));
    let regions = resolve_regions(&aws, &config.regions, &caller.partition).await?;
    let stages = stage_status(&aws, &regions).await?;
    let report = StatusReport {
        account: caller.account,
        home_region: aws.home_region().to_string(),
        stackset_name: name.clone(),
        stackset,
        instances,
        buckets: bucket_status,
        stages,
    };
    output::print_result(args.output, &report)?;
    Ok(ExitCode::SUCCESS)
}

/// Hook for per-region API stage status (SPEC §3 `status`): the lead wires the
/// `cq-stage-logging` crate here. Until then no region reports stages.
pub async fn stage_status(_aws: &Aws, regions: &[String]) -> Result<Vec<RegionStages>> {
    tracing::debug!(
        "stage status hook: not wired to cq-stage-logging yet ({} regions)",
        regions.len()
    );
    Ok(vec![])
}
