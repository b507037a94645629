//! What `reconcile` would do, from read calls only: the planning API the CLI's dry run uses.
//!
//! The decisions are `reconcile`'s own (`plan::decide_http_capture`, `plan::is_rest_captured`,
//! `CaptureSettings::wants`), applied to the same inventory, so a preview cannot drift from
//! what a real run does. Deciding is pure ([`plan_inventory`]); [`plan`] only reads.

use serde::Serialize;

use crate::calls::CallLog;
use crate::clients::Clients;
use crate::delivery_plan::{
    decide_delivery, DeliveryAction, DeliveryKind, DeliveryRecord, RestDelivery,
};
use crate::discovery::{self, HttpStage, Inventory, RestStage};
use crate::error::Error;
use crate::model::{ApiType, CaptureSettings, StageStatus};
use crate::plan::{self, HttpCapture};

/// What would happen to one stage.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    /// Logging would be turned on; `now` says what the stage does today.
    Capture { now: String },
    /// A captured REST stage's execution logs would switch kind (`cequence_rest_log_delivery`
    /// changed): to full by making our delivery (with `auto`, where AWS accepts the stage), or
    /// back to standard by removing it.
    SwitchExecutionLogs { to: DeliveryKind, auto: bool },
    /// The settings this library recorded would be put back.
    Restore,
    /// Nothing would change: already captured, out of scope, or left to the customer
    /// (`stage.reason` says why when it is not captured).
    Keep,
}

/// One stage and its step.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StagePlan {
    pub stage: StageStatus,
    pub step: Step,
}

/// One account and region's plan.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Plan {
    /// The role that would be set as the account's API Gateway CloudWatch role (it has none).
    pub set_account_role: Option<String>,
    pub stages: Vec<StagePlan>,
}

impl Plan {
    /// The stages that would change.
    pub fn changes(&self) -> impl Iterator<Item = &StagePlan> {
        self.stages.iter().filter(|s| s.step != Step::Keep)
    }
}

/// Read the region's stages (and, when it has REST stages, the account's role: without one a
/// REST stage cannot log, whatever its settings) and decide. Fails when a list cannot be read:
/// a partial plan would understate the change.
pub async fn plan(clients: &Clients, settings: &CaptureSettings) -> Result<Plan, Error> {
    let mut calls = CallLog::default();
    let mut inv = discovery::inventory(clients, &mut calls).await?;
    if let Some(e) = inv.errors.drain(..).next() {
        return Err(e);
    }
    let account_role = if !inv.rest.is_empty() {
        discovery::account_role(clients, &mut calls).await?
    } else {
        None
    };
    Ok(plan_inventory(&inv, account_role.as_deref(), settings))
}

/// The pure half of [`plan`].
pub(crate) fn plan_inventory(
    inv: &Inventory,
    account_role: Option<&str>,
    settings: &CaptureSettings,
) -> Plan {
    let given = settings
        .cloudwatch_role_arn
        .as_deref()
        .filter(|r| !r.is_empty());
    // As reconcile: only when REST stages are to be captured and the account has no role.
    let set_account_role = match (settings.rest_enabled && !inv.rest.is_empty(), account_role) {
        (true, None) => given.map(str::to_string),
        _ => None,
    };
    let can_log = account_role.is_some() || given.is_some();
    let mut stages = Vec::with_capacity(inv.rest.len() + inv.http.len());
    for s in &inv.rest {
        stages.push(rest_step(s, account_role.is_some(), can_log, settings));
    }
    for s in &inv.http {
        stages.push(http_step(s, settings));
    }
    Plan {
        set_account_role,
        stages,
    }
}

fn rest_step(
    s: &RestStage,
    has_role: bool,
    can_log: bool,
    settings: &CaptureSettings,
) -> StagePlan {
    let stage = discovery::rest_status(s, has_role);
    let ours = s.previous_tag.is_some() || s.delivery_tag.is_some();
    let step = if !settings.wants(ApiType::Rest, &s.stage) {
        if ours {
            Step::Restore
        } else {
            Step::Keep
        }
    } else if !can_log {
        Step::Keep
    } else if !plan::is_rest_captured(s.all_methods.as_ref()) {
        Step::Capture { now: now(&stage) }
    } else {
        delivery_switch(s, settings.rest_delivery)
    };
    StagePlan { stage, step }
}

/// A captured stage's execution-log kind under `wanted`, as `delivery::apply` decides it. A
/// recorded delivery is assumed to still exist (reconcile checks, and remakes a missing one);
/// an unreadable record is left to reconcile, which reports it on the stage.
fn delivery_switch(s: &RestStage, wanted: RestDelivery) -> Step {
    let Ok(recorded) = s
        .delivery_tag
        .as_deref()
        .map(DeliveryRecord::decode)
        .transpose()
    else {
        return Step::Keep;
    };
    match decide_delivery(wanted, recorded.as_ref()) {
        DeliveryAction::Create => Step::SwitchExecutionLogs {
            to: DeliveryKind::Full,
            auto: wanted == RestDelivery::Auto,
        },
        DeliveryAction::Remove(_) => Step::SwitchExecutionLogs {
            to: DeliveryKind::Standard,
            auto: false,
        },
        DeliveryAction::None | DeliveryAction::Verify(_) => Step::Keep,
    }
}

fn http_step(s: &HttpStage, settings: &CaptureSettings) -> StagePlan {
    let wanted = settings.wants(ApiType::Http, &s.stage);
    let stage = discovery::http_status(s, !wanted);
    let step = if !wanted {
        if s.previous_tag.is_some() {
            Step::Restore
        } else {
            Step::Keep
        }
    } else {
        let tagged = s.previous_tag.is_some();
        match plan::decide_http_capture(s.access_log.as_ref(), &s.own_group(), tagged) {
            HttpCapture::Apply { .. } => Step::Capture { now: now(&stage) },
            HttpCapture::Keep | HttpCapture::ReadCustomer { .. } | HttpCapture::Leave { .. } => {
                Step::Keep
            }
        }
    };
    StagePlan { stage, step }
}

/// What the stage does today, for "would capture (now: ...)".
fn now(stage: &StageStatus) -> String {
    stage
        .reason
        .clone()
        .unwrap_or_else(|| "not captured".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::previous::{AccessLog, RestLogging};

    fn rest(stage: &str, logging: Option<(&str, bool)>, tagged: bool) -> RestStage {
        RestStage {
            api_id: "r1".into(),
            api_name: "orders".into(),
            stage: stage.into(),
            all_methods: logging.map(|(level, data_trace)| RestLogging {
                logging_level: level.into(),
                data_trace,
            }),
            all_methods_other: None,
            previous_tag: tagged.then(|| "v1".into()),
            added_setting_tag: None,
            delivery_tag: None,
        }
    }

    fn http(stage: &str, access_log: Option<AccessLog>, tagged: bool) -> HttpStage {
        HttpStage {
            api_id: "h1".into(),
            api_name: "web".into(),
            stage: stage.into(),
            access_log,
            previous_tag: tagged.then(|| "v1".into()),
        }
    }

    fn steps(p: &Plan) -> Vec<(String, Step)> {
        p.stages
            .iter()
            .map(|s| (s.stage.stage.clone(), s.step.clone()))
            .collect()
    }

    fn capture(now: &str) -> Step {
        Step::Capture { now: now.into() }
    }

    #[test]
    fn uncaptured_stages_of_enabled_types_would_be_captured() {
        let inv = Inventory {
            rest: vec![
                rest("prod", Some(("INFO", true)), true),
                rest("dev", None, false),
            ],
            http: vec![
                http("json", None, false),
                http(cq_contract::log_groups::DEFAULT_STAGE, None, false),
                http(
                    "clf",
                    Some(AccessLog {
                        destination_arn: "arn:aws:logs:us-east-1:1:log-group:/own".into(),
                        format: "$context.requestId".into(),
                    }),
                    false,
                ),
            ],
            ..Inventory::default()
        };
        let p = plan_inventory(
            &inv,
            Some("arn:aws:iam::1:role/cw"),
            &CaptureSettings::default(),
        );
        assert_eq!(p.set_account_role, None);
        assert_eq!(
            steps(&p),
            vec![
                // Captured with standard logs: `auto` (the default) would try a delivery.
                (
                    "prod".into(),
                    Step::SwitchExecutionLogs {
                        to: crate::DeliveryKind::Full,
                        auto: true
                    }
                ),
                ("dev".into(), capture(plan::REST_NOT_LOGGING_REASON)),
                ("json".into(), capture("access logging is off")),
                ("$default".into(), Step::Keep),
                ("clf".into(), Step::Keep),
            ]
        );
        assert_eq!(
            p.stages[3].stage.reason.as_deref(),
            Some(plan::DEFAULT_STAGE_REASON)
        );
        // Opted in, `$default` is captured like any other stage whose logging is off.
        let with_default = CaptureSettings {
            include_http_default_stage: true,
            ..CaptureSettings::default()
        };
        let p = plan_inventory(&inv, Some("arn:aws:iam::1:role/cw"), &with_default);
        assert_eq!(p.stages[3].step, capture("access logging is off"));
    }

    #[test]
    fn without_a_role_rest_stages_wait_for_the_given_one() {
        let inv = Inventory {
            rest: vec![rest("dev", None, false)],
            ..Inventory::default()
        };
        let none = plan_inventory(&inv, None, &CaptureSettings::default());
        assert_eq!(none.set_account_role, None);
        assert_eq!(steps(&none), vec![("dev".into(), Step::Keep)]);
        let given = CaptureSettings {
            cloudwatch_role_arn: Some("arn:aws:iam::1:role/r".into()),
            ..CaptureSettings::default()
        };
        let p = plan_inventory(&inv, None, &given);
        assert_eq!(p.set_account_role.as_deref(), Some("arn:aws:iam::1:role/r"));
        assert_eq!(
            steps(&p),
            vec![("dev".into(), capture(plan::NO_ROLE_REASON))]
        );
        assert_eq!(p.changes().count(), 1);
    }

    #[test]
    fn a_changed_delivery_setting_switches_captured_rest_stages() {
        let mut full = rest("full", Some(("INFO", true)), true);
        full.delivery_tag = Some("v1 source=cequence-r1-full destination=cequence-r1-full".into());
        let inv = Inventory {
            rest: vec![full, rest("standard", Some(("INFO", true)), true)],
            ..Inventory::default()
        };
        let with = |rest_delivery| CaptureSettings {
            rest_delivery,
            ..CaptureSettings::default()
        };
        let role = Some("arn:aws:iam::1:role/cw");
        let switch = |to, auto| Step::SwitchExecutionLogs { to, auto };
        assert_eq!(
            steps(&plan_inventory(&inv, role, &with(RestDelivery::Standard))),
            vec![
                ("full".into(), switch(DeliveryKind::Standard, false)),
                ("standard".into(), Step::Keep),
            ]
        );
        assert_eq!(
            steps(&plan_inventory(&inv, role, &with(RestDelivery::Full))),
            vec![
                ("full".into(), Step::Keep),
                ("standard".into(), switch(DeliveryKind::Full, false)),
            ]
        );
        let auto = plan_inventory(&inv, role, &with(RestDelivery::Auto));
        assert_eq!(auto.stages[1].step, switch(DeliveryKind::Full, true));
    }

    #[test]
    fn only_stages_this_library_recorded_would_be_restored() {
        let inv = Inventory {
            rest: vec![
                rest("ours", Some(("INFO", true)), true),
                rest("theirs", Some(("INFO", true)), false),
            ],
            http: vec![
                http("ours", None, true),
                http(cq_contract::log_groups::DEFAULT_STAGE, None, true),
            ],
            ..Inventory::default()
        };
        let off = CaptureSettings::disabled();
        let p = plan_inventory(&inv, Some("arn:aws:iam::1:role/cw"), &off);
        assert_eq!(
            steps(&p),
            vec![
                ("ours".into(), Step::Restore),
                ("theirs".into(), Step::Keep),
                ("ours".into(), Step::Restore),
                ("$default".into(), Step::Restore),
            ]
        );
        // A `$default` stage this library captured is restored once it is out of scope.
        let p = plan_inventory(&inv, Some("r"), &CaptureSettings::default());
        assert_eq!(p.stages[3].step, Step::Restore);
        assert_eq!(p.stages[2].step, capture("access logging is off"));
    }
}
