//! `cq-apigw status`: the StackSet, its instances, the artifact buckets and the API stages
//! per region with their capture state and, once the forwarder is deployed, whether each
//! captured stage's log group is pushed (our subscription filter) or polled, and why. Read-only.

use std::fmt;
use std::process::ExitCode;

use futures::stream::{self, StreamExt, TryStreamExt};
use serde::Serialize;

use crate::aws::deployment::resolve_regions;
use crate::aws::stackset::{self, InstanceInfo};
use crate::aws::{buckets, identity, stages, Aws};
use crate::commands::{stage_changes, Session};
use crate::config::model::Config;
use crate::error::{Error, Result};
use crate::output;
use crate::output::OutputFormat;
use crate::plan::parameters::{mask, INGESTION, TEMPLATE_KEY_TAG};
use cq_stage_logging::{CaptureSettings, IngestionMode, StageIngestion};

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

/// The API stages of one region of the caller's account, whether each is captured and, for a
/// captured one, pushed or polled (`ingestion` is null when no forwarder is deployed).
#[derive(Debug, Serialize)]
pub struct RegionStages {
    pub region: String,
    pub stages: Vec<StageIngestion>,
    /// Why the region's stages could not be read (then `stages` is empty).
    pub error: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct StatusReport {
    pub account: String,
    pub home_region: String,
    pub stackset_name: String,
    pub stackset: Option<StackSetStatus>,
    pub instances: Vec<InstanceInfo>,
    pub buckets: Vec<BucketStatus>,
    /// The deployed ingestion mode (StackSet parameter CequenceIngestion); None when nothing
    /// is deployed, so no stage is read by a forwarder.
    pub ingestion: Option<IngestionMode>,
    pub stages: Vec<RegionStages>,
}

/// The ingestion mode the deployed forwarder runs with. A StackSet deployed before the
/// parameter existed runs a forwarder that only polls.
pub fn deployed_ingestion(stackset: Option<&StackSetStatus>) -> Option<IngestionMode> {
    let s = stackset?;
    Some(
        s.parameters
            .iter()
            .find(|(k, _)| k == INGESTION)
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(IngestionMode::Poll),
    )
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
                &["ACCOUNT", "REGION", "STATUS", "DETAILED", "REASON"],
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
        match self.ingestion {
            Some(mode) => writeln!(f, "Ingestion: {mode} (StackSet parameter {INGESTION})")?,
            None => writeln!(f, "Ingestion: none (no forwarder deployed)")?,
        }
        for r in &self.stages {
            write_region_stages(f, r)?;
        }
        Ok(())
    }
}

/// One region's stages as a table; a region that could not be read shows why.
fn write_region_stages(f: &mut fmt::Formatter<'_>, r: &RegionStages) -> fmt::Result {
    if let Some(e) = &r.error {
        return writeln!(f, "API stages in {}: cannot be read: {e}", r.region);
    }
    let captured = r.stages.iter().filter(|s| s.stage.captured).count();
    let pushed = r
        .stages
        .iter()
        .filter(|s| s.ingestion.as_ref().is_some_and(|i| i.is_pushed()))
        .count();
    let with_ingestion = r.stages.iter().filter(|s| s.ingestion.is_some()).count();
    let split = if with_ingestion > 0 {
        format!(": {pushed} pushed, {} polled", with_ingestion - pushed)
    } else {
        String::new()
    };
    writeln!(
        f,
        "API stages in {}: {} ({} captured{split})",
        r.region,
        r.stages.len(),
        captured
    )?;
    if r.stages.is_empty() {
        return Ok(());
    }
    let types: Vec<String> = r
        .stages
        .iter()
        .map(|s| s.stage.api_type.to_string())
        .collect();
    let ingestion: Vec<String> = r
        .stages
        .iter()
        .map(|s| {
            s.ingestion
                .as_ref()
                .map_or_else(String::new, |i| i.summary())
        })
        .collect();
    let delivery: Vec<String> = r
        .stages
        .iter()
        .map(|s| {
            s.stage
                .execution_logs
                .map_or_else(|| "-".to_string(), |d| d.to_string())
        })
        .collect();
    let rows: Vec<[&str; 9]> = r
        .stages
        .iter()
        .zip(&types)
        .zip(&ingestion)
        .zip(&delivery)
        .map(|(((s, t), i), d)| {
            let s = &s.stage;
            [
                s.api_id.as_str(),
                s.api_name.as_str(),
                t.as_str(),
                s.stage.as_str(),
                if s.captured { "yes" } else { "no" },
                s.log_group.as_deref().unwrap_or("-"),
                d.as_str(),
                s.reason.as_deref().unwrap_or(""),
                i.as_str(),
            ]
        })
        .collect();
    write_table(
        f,
        &[
            "API ID",
            "NAME",
            "TYPE",
            "STAGE",
            "CAPTURED",
            "LOG GROUP",
            // REST execution logs: standard (1 KB events) or full (1 MB, a log delivery).
            "EXEC LOGS",
            "REASON",
            "INGESTION",
        ],
        &rows,
    )
}

fn write_table<const N: usize>(
    f: &mut fmt::Formatter<'_>,
    header: &[&str; N],
    rows: &[[&str; N]],
) -> fmt::Result {
    let mut widths = header.map(str::len);
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.len());
        }
    }
    for row in std::iter::once(header).chain(rows) {
        let line: Vec<String> = row
            .iter()
            .zip(widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        writeln!(f, "  {}", line.join("  ").trim_end())?;
    }
    Ok(())
}

pub async fn run(session: &Session, format: OutputFormat, config: Config) -> Result<ExitCode> {
    let aws = Aws::load(&session.aws).await?;
    let caller = identity::caller(&aws.sts()).await?;
    let cfn = aws.cloudformation();
    let name = &config.stackset_name;
    let current = stackset::read(&cfn, name).await?;
    let instances = current.instances;
    let stackset = current.stackset.map(|s| StackSetStatus {
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
    let ingestion = deployed_ingestion(stackset.as_ref());
    let settings = stage_changes::capture_settings(&config);
    let stages = stage_status(&aws, &regions, &settings, ingestion).await?;
    let unreadable: Vec<String> = stages
        .iter()
        .filter_map(|r| r.error.as_ref().map(|e| format!("{}: {e}", r.region)))
        .collect();
    let report = StatusReport {
        account: caller.account,
        home_region: aws.home_region().to_string(),
        stackset_name: name.clone(),
        stackset,
        instances,
        buckets: bucket_status,
        ingestion,
        stages,
    };
    output::print_result(format, &report)?;
    if unreadable.is_empty() {
        Ok(ExitCode::SUCCESS)
    } else {
        Err(Error::Failed(format!(
            "the API stages of {} region(s) could not be read:\n  {}",
            unreadable.len(),
            unreadable.join("\n  ")
        )))
    }
}

/// Per region of the caller's account: every API stage as stage-logging's plan under the
/// configuration sees it (captured or why not), and, when a forwarder is deployed
/// (`ingestion`), whether its group is pushed or polled. A region whose stages cannot be read
/// carries the error; the other regions are still shown.
pub async fn stage_status(
    aws: &Aws,
    regions: &[String],
    settings: &CaptureSettings,
    ingestion: Option<IngestionMode>,
) -> Result<Vec<RegionStages>> {
    let found = stages::status(aws, regions, settings, ingestion).await;
    Ok(found
        .into_iter()
        .map(|(region, result)| match result {
            Ok(stages) => RegionStages {
                region,
                stages,
                error: None,
            },
            Err(e) => RegionStages {
                region,
                stages: vec![],
                error: Some(e),
            },
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use cq_stage_logging::{ApiType, Ingestion, PollReason, StageStatus};

    fn report(stages: Vec<RegionStages>) -> StatusReport {
        StatusReport {
            account: "123456789012".into(),
            home_region: "us-east-1".into(),
            stackset_name: "s".into(),
            stackset: None,
            instances: vec![],
            buckets: vec![],
            ingestion: None,
            stages,
        }
    }

    fn plain(stage: StageStatus) -> StageIngestion {
        StageIngestion {
            stage,
            ingestion: None,
        }
    }

    fn captured_rest(api_id: &str, stage: &str) -> StageStatus {
        StageStatus {
            api_type: ApiType::Rest,
            api_id: api_id.into(),
            api_name: "orders".into(),
            stage: stage.into(),
            captured: true,
            log_group: Some(format!("API-Gateway-Execution-Logs_{api_id}/{stage}")),
            reason: None,
            execution_logs: Some(cq_stage_logging::DeliveryKind::Full),
        }
    }

    #[test]
    fn captured_stages_say_pushed_or_polled_and_why() {
        let lambda = "arn:aws:lambda:us-east-1:123456789012:function:fwd";
        let mut r = report(vec![RegionStages {
            region: "us-east-1".into(),
            stages: vec![
                StageIngestion {
                    stage: captured_rest("a1", "prod"),
                    ingestion: Some(Ingestion::Pushed {
                        destination_arn: lambda.into(),
                        since_ms: 1_714_564_800_000,
                    }),
                },
                StageIngestion {
                    stage: captured_rest("a1", "dev"),
                    ingestion: Some(Ingestion::Polled {
                        reason: PollReason::NoFreeSlot {
                            others: vec!["siem".into(), "datadog".into()],
                        },
                    }),
                },
            ],
            error: None,
        }]);
        r.ingestion = Some(IngestionMode::Push);
        let text = r.to_string();
        assert!(
            text.contains("Ingestion: push (StackSet parameter CequenceIngestion)"),
            "{text}"
        );
        assert!(
            text.contains("API stages in us-east-1: 2 (2 captured: 1 pushed, 1 polled)"),
            "{text}"
        );
        let prod = text.lines().find(|l| l.contains(" prod ")).expect(&text);
        assert!(
            prod.ends_with(&format!("pushed to {lambda} since 2024-05-01T12:00:00Z")),
            "{prod}"
        );
        let dev = text.lines().find(|l| l.contains(" dev ")).expect(&text);
        assert!(
            dev.ends_with("polled: no free subscription filter slot (held by siem, datadog)"),
            "{dev}"
        );
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["ingestion"], "push");
        let stages = &json["stages"][0]["stages"];
        assert_eq!(stages[0]["stage"], "prod", "StageStatus fields stay flat");
        assert_eq!(stages[0]["ingestion"]["delivery"], "pushed");
        assert_eq!(stages[0]["ingestion"]["destination_arn"], lambda);
        assert_eq!(stages[1]["ingestion"]["reason"]["why"], "no_free_slot");
        assert_eq!(stages[1]["ingestion"]["reason"]["others"][1], "datadog");
    }

    #[test]
    fn the_deployed_mode_comes_from_the_stackset_and_defaults_to_poll() {
        let stackset = |params: Vec<(&str, &str)>| StackSetStatus {
            name: "s".into(),
            status: "ACTIVE".into(),
            permission_model: "SELF_MANAGED".into(),
            template_key: None,
            parameters: params
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            tags: Default::default(),
        };
        assert_eq!(deployed_ingestion(None), None);
        assert_eq!(
            deployed_ingestion(Some(&stackset(vec![("CequenceIngestion", "auto")]))),
            Some(IngestionMode::Auto)
        );
        // A StackSet from before the parameter: its forwarder only polls.
        assert_eq!(
            deployed_ingestion(Some(&stackset(vec![("S3Key", "k")]))),
            Some(IngestionMode::Poll)
        );
    }

    #[test]
    fn stages_show_as_a_table_per_region_with_unreadable_regions_named() {
        let text = report(vec![
            RegionStages {
                region: "us-east-1".into(),
                stages: vec![
                    plain(captured_rest("abc123", "prod")),
                    plain(StageStatus {
                        api_type: ApiType::Http,
                        api_id: "h1".into(),
                        api_name: "cart".into(),
                        stage: "$default".into(),
                        captured: false,
                        log_group: None,
                        reason: Some("$default HTTP stages are excluded".into()),
                        execution_logs: None,
                    }),
                ],
                error: None,
            },
            RegionStages {
                region: "eu-west-1".into(),
                stages: vec![],
                error: Some("apigateway:GetRestApis failed: AccessDenied".into()),
            },
        ])
        .to_string();
        let lines: Vec<&str> = text.lines().collect();
        let at = lines
            .iter()
            .position(|l| *l == "API stages in us-east-1: 2 (1 captured)")
            .expect(&text);
        assert_eq!(
            lines[at + 1].split_whitespace().collect::<Vec<_>>(),
            [
                "API",
                "ID",
                "NAME",
                "TYPE",
                "STAGE",
                "CAPTURED",
                "LOG",
                "GROUP",
                "EXEC",
                "LOGS",
                "REASON",
                "INGESTION"
            ]
        );
        assert_eq!(
            lines[at + 2].split_whitespace().collect::<Vec<_>>(),
            [
                "abc123",
                "orders",
                "rest",
                "prod",
                "yes",
                "API-Gateway-Execution-Logs_abc123/prod",
                "full"
            ]
        );
        assert!(
            lines[at + 3].contains("$default HTTP stages are excluded"),
            "{text}"
        );
        assert!(lines[at + 3].contains(" no "), "{text}");
        assert!(text.contains(
            "API stages in eu-west-1: cannot be read: apigateway:GetRestApis failed: AccessDenied"
        ));
    }
}
