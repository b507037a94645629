//! Carrying out the REST decisions: account role, method settings, execution log group, tag.

use aws_sdk_apigateway::types::{Op, PatchOperation};

use crate::calls::CallLog;
use crate::clients::Clients;
use crate::delivery::{self, DeliveryState};
use crate::delivery_plan::RestDelivery;
use crate::discovery::{rest_status, RestStage};
use crate::error::Error;
use crate::log_groups;
use crate::model::{Action, StageOutcome};
use crate::names::{
    partition_of, rest_execution_log_group, rest_stage_arn, ADDED_SETTING_TAG, PREVIOUS_LOGGING_TAG,
};
use crate::plan::{self, Patch, RestCapture, RoleDecision};
use crate::previous::PreviousLogging;
use crate::CREATED_GROUP_RETENTION_DAYS;

/// Make sure the account can write execution logs. Returns whether it can (Ok(false): no role
/// set and none given).
pub(crate) async fn ensure_account_role(
    clients: &Clients,
    given: Option<&str>,
    replaces: Option<&str>,
    calls: &mut CallLog,
) -> Result<bool, Error> {
    let current = crate::discovery::account_role(clients, calls).await?;
    match plan::decide_account_role(current.as_deref(), given, replaces) {
        RoleDecision::Present => Ok(true),
        RoleDecision::Missing => Ok(false),
        RoleDecision::Set(role) => {
            let call = calls.record("apigateway", "UpdateAccount", "/cloudwatchRoleArn");
            clients
                .apigateway
                .update_account()
                .patch_operations(to_patch(&Patch::Replace {
                    path: "/cloudwatchRoleArn".into(),
                    value: role,
                }))
                .send()
                .await
                .map_err(|e| Error::aws(&call, e))?;
            Ok(true)
        }
    }
}

fn to_patch(p: &Patch) -> PatchOperation {
    match p {
        Patch::Replace { path, value } => PatchOperation::builder()
            .op(Op::Replace)
            .path(path)
            .value(value)
            .build(),
        Patch::Remove { path } => PatchOperation::builder().op(Op::Remove).path(path).build(),
    }
}

pub(crate) fn stage_target(s: &RestStage) -> String {
    format!("restapis/{}/stages/{}", s.api_id, s.stage)
}

fn start_calls(s: &RestStage) -> CallLog {
    let mut calls = CallLog::default();
    let (svc, op, target) = s.read_call();
    calls.record(svc, op, &target);
    calls
}

/// Returns the fingerprint of the `*/*` override's other fields afterwards (None: none).
async fn update_stage(
    clients: &Clients,
    s: &RestStage,
    ops: &[Patch],
    calls: &mut CallLog,
) -> Result<Option<String>, Error> {
    let call = calls.record("apigateway", "UpdateStage", &stage_target(s));
    let out = clients
        .apigateway
        .update_stage()
        .rest_api_id(&s.api_id)
        .stage_name(&s.stage)
        .set_patch_operations(Some(ops.iter().map(to_patch).collect()))
        .send()
        .await
        .map_err(|e| Error::aws(&call, e))?;
    Ok(out
        .method_settings()
        .and_then(|m| m.get(crate::plan::ALL_METHODS))
        .map(|m| crate::discovery::other_fields(m).fingerprint()))
}

/// The stage's taggable ARN.
pub(crate) fn arn(clients: &Clients, s: &RestStage) -> String {
    let region = clients.region();
    rest_stage_arn(partition_of(&region), &region, &s.api_id, &s.stage)
}

/// Turn on INFO execution logging with data trace, recording the previous settings first, and
/// give the stage the execution-log delivery kind `wanted` asks for.
pub(crate) async fn capture(
    clients: &Clients,
    s: &RestStage,
    can_log: bool,
    wanted: RestDelivery,
) -> StageOutcome {
    let mut calls = start_calls(s);
    if !can_log {
        return StageOutcome {
            stage: rest_status(s, false),
            action: Action::Skipped,
            error: None,
            calls: calls.into_vec(),
        };
    }
    let mut delivered = None;
    let result = apply_capture(clients, s, wanted, &mut delivered, &mut calls).await;
    finish(s, result, true, delivered, calls)
}

async fn apply_capture(
    clients: &Clients,
    s: &RestStage,
    wanted: RestDelivery,
    delivered: &mut Option<DeliveryState>,
    calls: &mut CallLog,
) -> Result<Action, Error> {
    let group = rest_execution_log_group(&s.api_id, &s.stage);
    let (group, created) = log_groups::ensure(
        &clients.logs,
        &group,
        CREATED_GROUP_RETENTION_DAYS,
        false,
        calls,
    )
    .await?;
    let mut action =
        match plan::decide_rest_capture(s.all_methods.as_ref(), s.previous_tag.is_some()) {
            RestCapture::Keep if created => Action::Captured,
            RestCapture::Keep => Action::Unchanged,
            RestCapture::Apply { record, ops } => {
                let added = matches!(record, Some(PreviousLogging::Rest { all_methods: None }));
                if let Some(previous) = &record {
                    record_previous(clients, s, previous, calls).await?;
                }
                let after = update_stage(clients, s, &ops, calls).await?;
                // The override is ours: remember how API Gateway filled it in, so a restore can
                // tell whether the customer added to it since. Losing this (a crash between the
                // calls) only means a restore keeps the override with logging off.
                if let (true, Some(fingerprint)) = (added, after) {
                    tag_stage(clients, s, ADDED_SETTING_TAG, &fingerprint, calls).await?;
                }
                Action::Captured
            }
        };
    // After the logging level: AWS refuses a delivery source for a stage that does not log.
    let state = delivery::apply(clients, s, wanted, group.arn.as_deref(), calls).await?;
    if state.changed && action == Action::Unchanged {
        action = Action::Captured;
    }
    *delivered = Some(state);
    Ok(action)
}

async fn record_previous(
    clients: &Clients,
    s: &RestStage,
    previous: &PreviousLogging,
    calls: &mut CallLog,
) -> Result<(), Error> {
    let value = previous
        .encode()
        .map_err(|message| Error::PreviousSettings {
            stage: stage_target(s),
            message,
        })?;
    tag_stage(clients, s, PREVIOUS_LOGGING_TAG, &value, calls).await
}

pub(crate) async fn tag_stage(
    clients: &Clients,
    s: &RestStage,
    key: &str,
    value: &str,
    calls: &mut CallLog,
) -> Result<(), Error> {
    let arn = arn(clients, s);
    let call = calls.record("apigateway", "TagResource", &arn);
    clients
        .apigateway
        .tag_resource()
        .resource_arn(&arn)
        .tags(key, value)
        .send()
        .await
        .map_err(|e| Error::aws(&call, e))?;
    Ok(())
}

/// A stage left alone because the account-level step before it failed.
pub(crate) fn blocked(s: &RestStage, error: &str) -> StageOutcome {
    StageOutcome {
        stage: rest_status(s, false),
        action: Action::Failed,
        error: Some(error.to_string()),
        calls: start_calls(s).into_vec(),
    }
}

/// Remove this library's log delivery, put back the recorded settings and remove the tags;
/// stages without the tags are not ours.
pub(crate) async fn restore(clients: &Clients, s: &RestStage, has_role: bool) -> StageOutcome {
    let mut calls = start_calls(s);
    if s.previous_tag.is_none() && s.delivery_tag.is_none() {
        return StageOutcome {
            stage: rest_status(s, has_role),
            action: Action::Unchanged,
            error: None,
            calls: calls.into_vec(),
        };
    }
    let result = apply_restore(clients, s, &mut calls).await;
    finish(s, result, has_role, None, calls)
}

async fn apply_restore(
    clients: &Clients,
    s: &RestStage,
    calls: &mut CallLog,
) -> Result<Action, Error> {
    // First: API Gateway writes the standard group again only once the delivery is gone, and
    // a delivery source needs the stage to still be logging.
    delivery::remove_recorded(clients, s, calls).await?;
    let Some(tag) = &s.previous_tag else {
        return Ok(Action::Restored);
    };
    let previous = plan::decode_previous(tag).map_err(|message| Error::PreviousSettings {
        stage: stage_target(s),
        message,
    })?;
    let PreviousLogging::Rest { all_methods } = previous else {
        return Err(Error::PreviousSettings {
            stage: stage_target(s),
            message: "the tag records HTTP settings on a REST stage".into(),
        });
    };
    update_stage(
        clients,
        s,
        &plan::rest_restore_ops(
            all_methods.as_ref(),
            s.added_setting_tag.as_deref(),
            s.all_methods_other.as_deref(),
        ),
        calls,
    )
    .await?;
    let arn = arn(clients, s);
    let call = calls.record("apigateway", "UntagResource", &arn);
    clients
        .apigateway
        .untag_resource()
        .resource_arn(&arn)
        .tag_keys(PREVIOUS_LOGGING_TAG)
        .tag_keys(ADDED_SETTING_TAG)
        .send()
        .await
        .map_err(|e| Error::aws(&call, e))?;
    Ok(Action::Restored)
}

/// The outcome with the stage's state after `result` (and its delivery, when captured).
fn finish(
    s: &RestStage,
    result: Result<Action, Error>,
    has_role: bool,
    delivered: Option<DeliveryState>,
    calls: CallLog,
) -> StageOutcome {
    let (action, error, stage) = match result {
        Ok(Action::Restored) => {
            // Captured afterwards only if the customer's own settings already were INFO +
            // dataTrace (kept as they are when only a delivery was ours to remove).
            let restored = match s.previous_tag.as_deref() {
                None => s.all_methods.clone(),
                Some(tag) => plan::decode_previous(tag).ok().and_then(|p| match p {
                    PreviousLogging::Rest { all_methods } => all_methods,
                    PreviousLogging::Http { .. } => None,
                }),
            };
            let after = RestStage {
                all_methods: restored,
                previous_tag: None,
                delivery_tag: None,
                ..s.clone()
            };
            (Action::Restored, None, rest_status(&after, has_role))
        }
        Ok(action @ (Action::Captured | Action::Unchanged)) => {
            let mut stage = s.status(true, None);
            if let Some(d) = delivered {
                stage.execution_logs = Some(d.kind);
                stage.reason = d.note;
            }
            (action, None, stage)
        }
        Ok(action) => (action, None, rest_status(s, has_role)),
        Err(e) => {
            tracing::warn!(stage = %stage_target(s), error = %e, "REST stage logging change failed");
            (
                Action::Failed,
                Some(e.to_string()),
                rest_status(s, has_role),
            )
        }
    };
    StageOutcome {
        stage,
        action,
        error,
        calls: calls.into_vec(),
    }
}
