//! What a stage-logging step did (or, in a dry run, would do) as the lines `enable` and
//! `disable` print, and the settings each command applies. Pure: the AWS side is
//! `aws::stages`, so every line is unit-tested without AWS.

use serde::Serialize;

use cq_stage_logging::{Action, CaptureSettings, DeliveryKind, Plan, Report, StageStatus, Step};

use crate::config::model::Config;

/// What a stage-logging step did (or, in a dry run, would do) across regions.
#[derive(Debug, Default, Clone, Serialize, PartialEq, Eq)]
pub struct StageChanges {
    /// One line per stage changed (or that would change); empty = nothing changed.
    pub changes: Vec<String>,
    /// One line per stage, or per region, that failed. Each makes the command exit 1.
    pub failures: Vec<String>,
}

impl StageChanges {
    pub fn extend(&mut self, other: StageChanges) {
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

/// The lines of every region's report, in the order of the regions.
pub fn from_reports(reports: &[(String, Report)]) -> StageChanges {
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
            Step::SwitchExecutionLogs {
                to: DeliveryKind::Full,
                auto: false,
            } => format!("{label}: would switch to full execution logs (events up to 1 MB)"),
            Step::SwitchExecutionLogs {
                to: DeliveryKind::Full,
                auto: true,
            } => format!(
                "{label}: would try full execution logs (events up to 1 MB; auto keeps standard where AWS refuses the stage)"
            ),
            Step::SwitchExecutionLogs {
                to: DeliveryKind::Standard,
                ..
            } => format!(
                "{label}: would switch back to standard execution logs (the Cequence log delivery removed)"
            ),
            Step::Restore => format!("{label}: would restore the recorded settings"),
            Step::Keep => continue,
        });
    }
    out
}

/// The lines of every region's plan; a region that could not be read is a failure.
pub fn from_plans(plans: &[(String, Result<Plan, String>)]) -> StageChanges {
    let mut all = StageChanges::default();
    for (region, result) in plans {
        match result {
            Ok(plan) => all.extend(preview_lines(region, plan)),
            Err(e) => all.failures.push(format!("{region}: {e}")),
        }
    }
    all
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
                cq_stage_logging::StagePlan {
                    stage: stage(ApiType::Rest, "qa", true, None),
                    step: Step::SwitchExecutionLogs {
                        to: DeliveryKind::Standard,
                        auto: false,
                    },
                },
                cq_stage_logging::StagePlan {
                    stage: stage(ApiType::Rest, "uat", true, None),
                    step: Step::SwitchExecutionLogs {
                        to: DeliveryKind::Full,
                        auto: true,
                    },
                },
            ],
        };
        assert_eq!(
            preview_lines("us-east-1", &plan).changes,
            vec![
                "us-east-1: would set the account's API Gateway CloudWatch role to arn:aws:iam::1:role/r",
                "us-east-1 rest orders (a1) stage dev: would capture (now: execution logging is off)",
                "us-east-1 http orders (a1) stage json: would restore the recorded settings",
                "us-east-1 rest orders (a1) stage qa: would switch back to standard execution logs (the Cequence log delivery removed)",
                "us-east-1 rest orders (a1) stage uat: would try full execution logs (events up to 1 MB; auto keeps standard where AWS refuses the stage)",
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
        let off = CaptureSettings::disabled();
        assert!(!off.rest_enabled && !off.http_enabled && off.cloudwatch_role_arn.is_none());
    }
}
