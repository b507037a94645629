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
    Action, ApiType, CaptureSettings, Clients, DeliveryKind, IngestionMode, Report, StageIngestion,
    StageStatus,
};

use super::Aws;
use crate::config::model::Config;

/// How many regions are worked on at once.
const REGION_CONCURRENCY: usize = 4;

/// What `discover` says about an HTTP stage the library would point at the Cequence log group.
/// `cq-stage-logging` keeps its decision types private, so a dry run recognises these two
/// reasons; every other reason on an HTTP stage means the customer's logging is left alone.
const HTTP_WOULD_CAPTURE_REASONS: [&str; 2] = [
    "access logging is off",
    "access logs go to the Cequence group in an older format",
];

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
    CaptureSettings {
        rest_enabled: false,
        http_enabled: false,
        include_http_default_stage: false,
        cloudwatch_role_arn: None,
        replaces_role_arn: None,
        // Unused: REST stages are restored, which removes a delivery whatever this says.
        rest_delivery: cq_stage_logging::RestDelivery::Standard,
    }
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

/// What `reconcile` with `settings` would change, from read calls only (`enable --dry-run`).
pub async fn preview(aws: &Aws, regions: &[String], settings: &CaptureSettings) -> StageChanges {
    let previews = per_region(regions, |region| async move {
        let clients = clients(aws, region);
        let stages = cq_stage_logging::discover(&clients)
            .await
            .map_err(|e| e.to_string())?;
        // Only REST stages depend on the account's CloudWatch role; skip the call otherwise.
        let has_role = if stages.iter().any(|s| s.api_type == ApiType::Rest) {
            clients
                .apigateway
                .get_account()
                .send()
                .await
                .map_err(|e| crate::error::Error::aws("API Gateway GetAccount", e).to_string())?
                .cloudwatch_role_arn()
                .is_some_and(|r| !r.is_empty())
        } else {
            true
        };
        Ok::<_, String>(preview_region(region, &stages, settings, has_role))
    })
    .await;
    let mut all = StageChanges::default();
    for (region, result) in previews {
        match result {
            Ok(changes) => all.extend(changes),
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

/// What `reconcile` would change in one region, from `discover`'s view of its stages.
///
/// A stage of a disabled type that is captured is listed as restored: `discover` does not show
/// whether its settings were recorded by this tool, so a stage the customer set up that way
/// themselves is listed although `reconcile` would leave it as it is.
pub fn preview_region(
    region: &str,
    stages: &[StageStatus],
    settings: &CaptureSettings,
    account_has_role: bool,
) -> StageChanges {
    let mut out = StageChanges::default();
    let role_given = settings
        .cloudwatch_role_arn
        .as_deref()
        .filter(|r| !r.is_empty());
    let has_rest = stages.iter().any(|s| s.api_type == ApiType::Rest);
    if settings.rest_enabled && has_rest && !account_has_role {
        if let Some(role) = role_given {
            out.changes.push(format!(
                "{region}: would set the account's API Gateway CloudWatch role to {role}"
            ));
        }
    }
    for s in stages {
        let enabled = match s.api_type {
            ApiType::Rest => settings.rest_enabled,
            ApiType::Http => settings.http_enabled,
        };
        let label = stage_label(region, s);
        let now = s.reason.as_deref().unwrap_or("not captured");
        let would_capture = match s.api_type {
            ApiType::Rest => account_has_role || role_given.is_some(),
            // Discovery reports an unlogged `$default` stage as excluded whatever the
            // settings; included, it is captured like a stage whose logging is off.
            ApiType::Http if s.stage == "$default" => {
                settings.include_http_default_stage
                    && (HTTP_WOULD_CAPTURE_REASONS.contains(&now)
                        || now == cq_stage_logging::DEFAULT_STAGE_REASON)
            }
            ApiType::Http => HTTP_WOULD_CAPTURE_REASONS.contains(&now),
        };
        if enabled && !s.captured && would_capture {
            out.changes
                .push(format!("{label}: would capture (now: {now})"));
        } else if !enabled && s.captured {
            out.changes
                .push(format!("{label}: would restore the recorded settings"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use cq_stage_logging::StageOutcome;

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
        let preview = preview_region("us-east-1", &[], &CaptureSettings::default(), false);
        assert_eq!(preview, StageChanges::default());
    }

    #[test]
    fn preview_lists_uncaptured_stages_of_enabled_types() {
        let stages = vec![
            stage(ApiType::Rest, "prod", true, None),
            stage(
                ApiType::Rest,
                "dev",
                false,
                Some("execution logging is off"),
            ),
            stage(ApiType::Http, "json", false, Some("access logging is off")),
            stage(
                ApiType::Http,
                "$default",
                false,
                Some("access logging is off"),
            ),
            stage(
                ApiType::Http,
                "clf",
                false,
                Some("the access log format is not JSON"),
            ),
        ];
        let p = preview_region("us-east-1", &stages, &CaptureSettings::default(), true);
        assert_eq!(
            p.changes,
            vec![
                "us-east-1 rest orders (a1) stage dev: would capture (now: execution logging is off)",
                "us-east-1 http orders (a1) stage json: would capture (now: access logging is off)",
            ]
        );
        assert!(p.failures.is_empty());
    }

    #[test]
    fn preview_without_a_role_sets_the_given_one_or_captures_nothing() {
        let stages = vec![stage(ApiType::Rest, "dev", false, Some("no role"))];
        let none = preview_region("us-east-1", &stages, &CaptureSettings::default(), false);
        assert!(none.changes.is_empty(), "{none:?}");
        let with_role = CaptureSettings {
            cloudwatch_role_arn: Some("arn:aws:iam::1:role/r".into()),
            ..CaptureSettings::default()
        };
        let p = preview_region("us-east-1", &stages, &with_role, false);
        assert_eq!(p.changes.len(), 2);
        assert!(p.changes[0].contains("arn:aws:iam::1:role/r"));
        assert!(p.changes[1].contains("stage dev: would capture"));
    }

    #[test]
    fn preview_restores_captured_stages_of_disabled_types() {
        let stages = vec![
            stage(ApiType::Rest, "prod", true, None),
            stage(ApiType::Http, "json", true, None),
            stage(ApiType::Rest, "dev", false, Some("off")),
        ];
        let settings = CaptureSettings {
            rest_enabled: false,
            ..CaptureSettings::default()
        };
        let p = preview_region("us-east-1", &stages, &settings, true);
        assert_eq!(
            p.changes,
            vec!["us-east-1 rest orders (a1) stage prod: would restore the recorded settings"]
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
