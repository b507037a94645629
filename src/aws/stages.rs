//! Stage logging in the caller's account, region by region, through `cq-stage-logging`.
//!
//! The library works on one account and region; the commands need every selected region, with
//! one region's or one stage's failure never hiding the others. This module fans out (a few
//! regions at a time: API Gateway's control-plane quotas are low and the library already runs
//! stages concurrently inside a region) and turns the library's reports into the lines the
//! commands print. Turning reports into lines is pure, so it is unit-tested without AWS.

use futures::stream::{self, StreamExt};
use serde::Serialize;

use cq_stage_logging::{
    Action, CaptureSettings, Clients, DeliveryKind, IngestionMode, Plan, Report, StageIngestion,
    StageStatus, Step,
};

use super::Aws;
use crate::config::model::Config;

/// How many regions are worked on at once.
const REGION_CONCURRENCY: usize = 4;

/// What a stage-logging step did (or, in a dry run, would do) across regions.
#[derive(Debug, Default, Clone, Serialize, PartialEq, Eq)]
pub struct StageChanges {
    /// One line per stage changed (or that would change); empty = nothing changed.
    pub changes: Vec<String>,
    /// One line per stage, or per region, that failed. Each makes the command exit 1.
    pub failures: Vec<String>,
}

impl StageChanges {
    fn extend(&mut self, other: StageChanges) {
        self.changes.extend(other.changes);
        self.failures.extend(other.failures);
    }
}

/// The settings `enable` applies: stage types from the configuration, `$default` HTTP stages
/// only with `cequence_include_http_default_stage=true`.
pub fn capture_settings(config: &Config) -> CaptureSettings {
    CaptureSettings {
        rest_enabled: config.rest_api_enabled,
        http_enabled: config.http_api_enabled,
        include_http_default_stage: config.include_http_default_stage,
        cloudwatch_role_arn: config.apigw_cloudwatch_role_arn.clone(),
        replaces_role_arn: None,
        rest_delivery: config.rest_log_delivery,
    }
}

/// The settings plain `disable` applies: both types off, which restores what was recorded.
pub fn disabled_settings() -> CaptureSettings {
    CaptureSettings::disabled()
}

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

/// Bring the stages of every region to `settings` (capture or restore).
pub async fn reconcile(aws: &Aws, regions: &[String], settings: &CaptureSettings) -> StageChanges {
    let reports = per_region(regions, |region| async move {
        cq_stage_logging::reconcile(&clients(aws, region), settings).await
    })
    .await;
    collect_reports(&reports)
}

/// Restore every stage this tool captured, in every region (`disable --destroy`).
pub async fn restore_all(aws: &Aws, regions: &[String]) -> StageChanges {
    let reports = per_region(regions, |region| async move {
        cq_stage_logging::restore_all(&clients(aws, region)).await
    })
    .await;
    collect_reports(&reports)
}

/// Read-only: every stage of every region, or the error that kept a region from being read.
pub async fn discover(
    aws: &Aws,
    regions: &[String],
) -> Vec<(String, Result<Vec<StageStatus>, String>)> {
    per_region(regions, |region| async move {
        cq_stage_logging::discover(&clients(aws, region))
            .await
            .map_err(|e| e.to_string())
    })
    .await
}

/// Read-only: `discover` plus, for every captured stage, whether its group is pushed or polled
/// under `mode`, and why.
pub async fn discover_ingestion(
    aws: &Aws,
    regions: &[String],
    mode: IngestionMode,
) -> Vec<(String, Result<Vec<StageIngestion>, String>)> {
    per_region(regions, |region| async move {
        cq_stage_logging::discover_ingestion(&clients(aws, region), mode)
            .await
            .map_err(|e| e.to_string())
    })
    .await
}

/// What `reconcile` with `settings` would change, from read calls only (`enable --dry-run`):
/// stage-logging's own plan, so the preview follows the rules a real run applies.
pub async fn preview(aws: &Aws, regions: &[String], settings: &CaptureSettings) -> StageChanges {
    let plans = per_region(regions, |region| async move {
        cq_stage_logging::plan(&clients(aws, region), settings)
            .await
            .map_err(|e| e.to_string())
    })
    .await;
    let mut all = StageChanges::default();
    for (region, result) in plans {
        match result {
            Ok(plan) => all.extend(preview_lines(&region, &plan)),
            Err(e) => all.failures.push(format!("{region}: {e}")),
        }
    }
    all
}

/// `region rest orders (abc123) stage prod`: how a stage is named in every line.
pub fn stage_label(region: &str, s: &StageStatus) -> String {
    format!(
        "{region} {} {} ({}) stage {}",
        s.api_type, s.api_name, s.api_id, s.stage
    )
}

/// The lines for one region's report: changed stages, failed stages, failures outside stages.
pub fn report_lines(region: &str, report: &Report) -> StageChanges {
    let mut out = StageChanges::default();
    for o in &report.outcomes {
        let label = stage_label(region, &o.stage);
        match o.action {
            Action::Captured => {
                let mut line = match &o.stage.log_group {
                    Some(group) => format!("{label}: captured, logs to {group}"),
                    None => format!("{label}: captured"),
                };
                // REST: whether bodies will arrive whole, and if not, why.
                match (o.stage.execution_logs, &o.stage.reason) {
                    (Some(DeliveryKind::Full), _) => {
                        line.push_str(" (full execution logs, events up to 1 MB)")
                    }
                    (Some(DeliveryKind::Standard), Some(why)) => {
                        line.push_str(" (");
                        line.push_str(why);
                        line.push(')');
                    }
                    _ => {}
                }
                out.changes.push(line)
            }
            Action::Restored => {
                let unsubscribed = o
                    .mutating_calls()
                    .any(|c| c.starts_with("logs:DeleteSubscriptionFilter"));
                let restored = o.mutating_calls().any(|c| !c.starts_with("logs:"));
                out.changes.push(match (restored, unsubscribed) {
                    (true, true) => format!(
                        "{label}: previous logging settings restored, Cequence subscription filter removed"
                    ),
                    (false, true) => format!("{label}: Cequence subscription filter removed"),
                    _ => format!("{label}: previous logging settings restored"),
                })
            }
            Action::Failed => out.failures.push(format!(
                "{label}: {}",
                o.error.as_deref().unwrap_or("failed")
            )),
            Action::Unchanged | Action::Skipped => {}
        }
    }
    out.failures
        .extend(report.errors.iter().map(|e| format!("{region}: {e}")));
    out
}

fn collect_reports(reports: &[(String, Report)]) -> StageChanges {
    let mut all = StageChanges::default();
    for (region, report) in reports {
        all.extend(report_lines(region, report));
    }
    all
}

/// The lines for one region's plan: the account role to set, then each stage that would change.
pub fn preview_lines(region: &str, plan: &Plan) -> StageChanges {
    let mut out = StageChanges::default();
    if let Some(role) = &plan.set_account_role {
        out.changes.push(format!(
            "{region}: would set the account's API Gateway CloudWatch role to {role}"
        ));
    }
    for p in plan.changes() {
        let label = stage_label(region, &p.stage);
        out.changes.push(match &p.step {
            Step::Capture { now } => format!("{label}: would capture (now: {now})"),
            Step::Restore => format!("{label}: would restore the recorded settings"),
            Step::Keep => continue,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use cq_stage_logging::{ApiType, StageOutcome};

    fn stage(api_type: ApiType, name: &str, captured: bool, reason: Option<&str>) -> StageStatus {
        StageStatus {
            api_type,
            api_id: "a1".into(),
            api_name: "orders".into(),
            stage: name.into(),
            captured,
            log_group: captured.then(|| format!("group-{name}")),
            reason: reason.map(String::from),
            execution_logs: None,
        }
    }

    fn outcome(s: StageStatus, action: Action, error: Option<&str>) -> StageOutcome {
        StageOutcome {
            stage: s,
            action,
            error: error.map(String::from),
            calls: vec![],
        }
    }

    #[test]
    fn report_lines_list_changes_and_failures_but_not_unchanged_stages() {
        let report = Report {
            outcomes: vec![
                outcome(
                    stage(ApiType::Rest, "prod", true, None),
                    Action::Captured,
                    None,
                ),
                outcome(
                    stage(ApiType::Rest, "dev", true, None),
                    Action::Unchanged,
                    None,
                ),
                outcome(
                    stage(ApiType::Http, "clf", false, Some("CLF")),
                    Action::Skipped,
                    None,
                ),
                outcome(
                    stage(ApiType::Rest, "qa", false, None),
                    Action::Restored,
                    None,
                ),
                outcome(
                    stage(ApiType::Http, "beta", false, None),
                    Action::Failed,
                    Some("apigatewayv2:UpdateStage failed: 500"),
                ),
            ],
            account_calls: vec![],
            errors: vec!["apigateway:GetStages restapis/zz failed: denied".into()],
            resume_after: None,
        };
        let lines = report_lines("eu-west-1", &report);
        assert_eq!(
            lines.changes,
            vec![
                "eu-west-1 rest orders (a1) stage prod: captured, logs to group-prod",
                "eu-west-1 rest orders (a1) stage qa: previous logging settings restored",
            ]
        );
        assert_eq!(
            lines.failures,
            vec![
                "eu-west-1 http orders (a1) stage beta: apigatewayv2:UpdateStage failed: 500",
                "eu-west-1: apigateway:GetStages restapis/zz failed: denied",
            ]
        );
    }

    #[test]
    fn a_removed_subscription_filter_is_named() {
        let mut restored = outcome(
            stage(ApiType::Rest, "prod", false, None),
            Action::Restored,
            None,
        );
        restored.calls = vec![
            "apigateway:GetStages restapis/a1".into(),
            "apigateway:UpdateStage restapis/a1/stages/prod".into(),
            "logs:DescribeSubscriptionFilters API-Gateway-Execution-Logs_a1/prod".into(),
            "logs:DeleteSubscriptionFilter API-Gateway-Execution-Logs_a1/prod cequence-apigw-forwarder"
                .into(),
        ];
        let mut only_filter = restored.clone();
        only_filter.stage.stage = "dev".into();
        only_filter.calls.remove(1);
        let report = Report {
            outcomes: vec![restored, only_filter],
            ..Report::default()
        };
        assert_eq!(
            report_lines("us-east-1", &report).changes,
            vec![
                "us-east-1 rest orders (a1) stage prod: previous logging settings restored, Cequence subscription filter removed",
                "us-east-1 rest orders (a1) stage dev: Cequence subscription filter removed",
            ]
        );
    }

    #[test]
    fn an_empty_region_changes_nothing() {
        let lines = report_lines("us-east-1", &Report::default());
        assert_eq!(lines, StageChanges::default());
    }

    #[test]
    fn preview_lines_name_the_role_then_each_changed_stage() {
        let plan = Plan {
            set_account_role: Some("arn:aws:iam::1:role/r".into()),
            stages: vec![
                cq_stage_logging::StagePlan {
                    stage: stage(ApiType::Rest, "prod", true, None),
                    step: Step::Keep,
                },
                cq_stage_logging::StagePlan {
                    stage: stage(
                        ApiType::Rest,
                        "dev",
                        false,
                        Some("execution logging is off"),
                    ),
                    step: Step::Capture {
                        now: "execution logging is off".into(),
                    },
                },
                cq_stage_logging::StagePlan {
                    stage: stage(ApiType::Http, "json", true, None),
                    step: Step::Restore,
                },
            ],
        };
        assert_eq!(
            preview_lines("us-east-1", &plan).changes,
            vec![
                "us-east-1: would set the account's API Gateway CloudWatch role to arn:aws:iam::1:role/r",
                "us-east-1 rest orders (a1) stage dev: would capture (now: execution logging is off)",
                "us-east-1 http orders (a1) stage json: would restore the recorded settings",
            ]
        );
        assert_eq!(
            preview_lines("us-east-1", &Plan::default()),
            StageChanges::default()
        );
    }

    #[test]
    fn settings_follow_the_configuration() {
        let mut config = crate::plan::parameters::tests::sample_config();
        config.apigw_cloudwatch_role_arn = Some("arn:aws:iam::1:role/cw".into());
        let on = capture_settings(&config);
        assert_eq!(
            (on.rest_enabled, on.http_enabled),
            (config.rest_api_enabled, config.http_api_enabled)
        );
        assert!(!on.include_http_default_stage);
        assert_eq!(
            on.cloudwatch_role_arn.as_deref(),
            Some("arn:aws:iam::1:role/cw")
        );
        let off = disabled_settings();
        assert!(!off.rest_enabled && !off.http_enabled && off.cloudwatch_role_arn.is_none());
    }
}
