//! Carrying out the HTTP decisions: access log group, AccessLogSettings, previous-settings tag.

use aws_sdk_apigatewayv2::types::AccessLogSettings;

use crate::access_format::access_log_format;
use crate::calls::CallLog;
use crate::clients::Clients;
use crate::discovery::HttpStage;
use crate::error::Error;
use crate::log_groups;
use crate::model::{Action, StageOutcome, StageStatus};
use crate::names::{http_stage_arn, partition_of, PREVIOUS_LOGGING_TAG};
use crate::plan::{self, HttpCapture};
use crate::previous::{AccessLog, PreviousLogging};
use crate::CREATED_GROUP_RETENTION_DAYS;

fn stage_target(s: &HttpStage) -> String {
    format!("apis/{}/stages/{}", s.api_id, s.stage)
}

fn start_calls(s: &HttpStage) -> CallLog {
    let mut calls = CallLog::default();
    let (svc, op, target) = s.read_call();
    calls.record(svc, op, &target);
    calls
}

fn arn(clients: &Clients, s: &HttpStage) -> String {
    let region = clients.region();
    http_stage_arn(partition_of(&region), &region, &s.api_id, &s.stage)
}

fn status_of(s: &HttpStage, access_log: Option<&AccessLog>) -> StageStatus {
    let (captured, group, reason) = plan::http_status(access_log, &s.own_group());
    s.status(captured, group, reason)
}

/// Send the stage's access logs, as JSON, to the Cequence group — unless the customer already
/// logs (then their logs are read in place or left alone).
pub(crate) async fn capture(clients: &Clients, s: &HttpStage) -> StageOutcome {
    let mut calls = start_calls(s);
    let own_group = s.own_group();
    let decision =
        plan::decide_http_capture(s.access_log.as_ref(), &own_group, s.previous_tag.is_some());
    let result = match decision {
        HttpCapture::ReadCustomer { .. } => Ok(Action::Unchanged),
        HttpCapture::Leave { .. } => Ok(Action::Skipped),
        HttpCapture::Keep => log_groups::ensure(
            &clients.logs,
            &own_group,
            CREATED_GROUP_RETENTION_DAYS,
            false,
            &mut calls,
        )
        .await
        .map(|(_, created)| {
            if created {
                Action::Captured
            } else {
                Action::Unchanged
            }
        }),
        HttpCapture::Apply { record } => apply_capture(clients, s, record, &mut calls).await,
    };
    match result {
        Ok(Action::Captured) => outcome(
            s.status(true, Some(own_group), None),
            Action::Captured,
            None,
            calls,
        ),
        Ok(action) => outcome(status_of(s, s.access_log.as_ref()), action, None, calls),
        Err(e) => failed(s, e, calls),
    }
}

async fn apply_capture(
    clients: &Clients,
    s: &HttpStage,
    record: Option<PreviousLogging>,
    calls: &mut CallLog,
) -> Result<Action, Error> {
    let own_group = s.own_group();
    let (group, _) = log_groups::ensure(
        &clients.logs,
        &own_group,
        CREATED_GROUP_RETENTION_DAYS,
        true,
        calls,
    )
    .await?;
    let destination = group.arn.ok_or_else(|| Error::Aws {
        call: format!("logs:DescribeLogGroups {own_group}"),
        code: None,
        message: "the log group has no ARN".into(),
    })?;
    if let Some(previous) = record {
        let value = previous
            .encode()
            .map_err(|message| Error::PreviousSettings {
                stage: stage_target(s),
                message,
            })?;
        let arn = arn(clients, s);
        let call = calls.record("apigatewayv2", "TagResource", &arn);
        clients
            .apigatewayv2
            .tag_resource()
            .resource_arn(&arn)
            .tags(PREVIOUS_LOGGING_TAG, value)
            .send()
            .await
            .map_err(|e| Error::aws(&call, e))?;
    }
    set_access_log(
        clients,
        s,
        &AccessLog {
            destination_arn: destination,
            format: access_log_format(),
        },
        calls,
    )
    .await?;
    Ok(Action::Captured)
}

async fn set_access_log(
    clients: &Clients,
    s: &HttpStage,
    a: &AccessLog,
    calls: &mut CallLog,
) -> Result<(), Error> {
    let call = calls.record("apigatewayv2", "UpdateStage", &stage_target(s));
    clients
        .apigatewayv2
        .update_stage()
        .api_id(&s.api_id)
        .stage_name(&s.stage)
        .access_log_settings(
            AccessLogSettings::builder()
                .destination_arn(&a.destination_arn)
                .format(&a.format)
                .build(),
        )
        .send()
        .await
        .map_err(|e| Error::aws(&call, e))?;
    Ok(())
}

/// Put back the recorded access log settings (or remove ours) and remove the tag.
pub(crate) async fn restore(clients: &Clients, s: &HttpStage) -> StageOutcome {
    let mut calls = start_calls(s);
    let Some(tag) = &s.previous_tag else {
        let action = if s.is_default_stage() && s.access_log.is_none() {
            Action::Skipped
        } else {
            Action::Unchanged
        };
        return outcome(status_of(s, s.access_log.as_ref()), action, None, calls);
    };
    match apply_restore(clients, s, tag, &mut calls).await {
        Ok(previous) => outcome(
            status_of(s, previous.as_ref()),
            Action::Restored,
            None,
            calls,
        ),
        Err(e) => failed(s, e, calls),
    }
}

async fn apply_restore(
    clients: &Clients,
    s: &HttpStage,
    tag: &str,
    calls: &mut CallLog,
) -> Result<Option<AccessLog>, Error> {
    let previous = plan::decode_previous(tag).map_err(|message| Error::PreviousSettings {
        stage: stage_target(s),
        message,
    })?;
    let PreviousLogging::Http { access_log } = previous else {
        return Err(Error::PreviousSettings {
            stage: stage_target(s),
            message: "the tag records REST settings on an HTTP stage".into(),
        });
    };
    match &access_log {
        Some(a) => set_access_log(clients, s, a, calls).await?,
        None => {
            let call = calls.record("apigatewayv2", "DeleteAccessLogSettings", &stage_target(s));
            clients
                .apigatewayv2
                .delete_access_log_settings()
                .api_id(&s.api_id)
                .stage_name(&s.stage)
                .send()
                .await
                .map_err(|e| Error::aws(&call, e))?;
        }
    }
    let arn = arn(clients, s);
    let call = calls.record("apigatewayv2", "UntagResource", &arn);
    clients
        .apigatewayv2
        .untag_resource()
        .resource_arn(&arn)
        .tag_keys(PREVIOUS_LOGGING_TAG)
        .send()
        .await
        .map_err(|e| Error::aws(&call, e))?;
    Ok(access_log)
}

/// A `$default` stage outside the configured scope: restored if this library captured it.
pub(crate) async fn excluded_default(clients: &Clients, s: &HttpStage) -> StageOutcome {
    if s.previous_tag.is_some() {
        return restore(clients, s).await;
    }
    let mut out = outcome(
        status_of(s, s.access_log.as_ref()),
        Action::Skipped,
        None,
        start_calls(s),
    );
    if !out.stage.captured {
        out.stage.reason = Some(plan::DEFAULT_STAGE_REASON.to_string());
    }
    out
}

fn outcome(
    stage: StageStatus,
    action: Action,
    error: Option<String>,
    calls: CallLog,
) -> StageOutcome {
    StageOutcome {
        stage,
        action,
        error,
        calls: calls.into_vec(),
    }
}

fn failed(s: &HttpStage, e: Error, calls: CallLog) -> StageOutcome {
    tracing::warn!(stage = %stage_target(s), error = %e, "HTTP stage logging change failed");
    outcome(
        status_of(s, s.access_log.as_ref()),
        Action::Failed,
        Some(e.to_string()),
        calls,
    )
}
