//! The CloudFormation custom resource `Custom::CequenceStageLogging`: Create/Update capture the
//! account's API stages (and, with `Ingestion=push`, subscribe their log groups), Delete
//! restores them, removes our subscription filters and empties the spool bucket so the stack
//! can delete it. CloudFormation waits (up to the resource's ServiceTimeout) for an answer on
//! the pre-signed ResponseURL, so every path answers — including bad input and a run about to
//! hit the Lambda timeout.
//!
//! A region can hold more stages than one invocation can change: API Gateway allows 10
//! control-plane calls a second per account, and a stage takes two or three. So the stages are
//! done in chunks, in a fixed order: when an invocation's time runs out, it invokes this
//! function again (asynchronously) with the request and its progress, and the invocation that
//! handles the last chunk answers. A Delete answers SUCCESS only when every captured stage is
//! restored: otherwise the stack stays (and its forwarder keeps forwarding) until a retried
//! delete finishes the restore.
use std::time::{Duration, Instant};

use aws_lambda_events::event::cloudformation::CloudFormationCustomResourceRequest;
use cq_contract::custom_resource as prop;
use cq_contract::defaults;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::app::App;

/// CloudFormation rejects a response body over 4 KB; keep the reason well under that.
const MAX_REASON: usize = 1_500;

/// Where a continued request carries its progress in the event.
pub const PROGRESS_KEY: &str = "CequenceProgress";

/// No new chunk is started this long after the request's first invocation: the template's
/// ServiceTimeout is 3,600 s, and the last chunk needs one invocation (55 s) to finish.
pub const CHAIN_LIMIT: Duration = Duration::from_secs(3_300);

/// A stage started this close to the budget's end still finishes within it (a few calls,
/// with the SDK's retries on throttling).
const IN_FLIGHT_MARGIN: Duration = Duration::from_secs(8);

/// Stages a second one invocation changes at API Gateway's quota (10 control-plane calls a
/// second, three per stage that had no `*/*` override); a chunk lists twice what it can expect
/// to change.
const STAGES_PER_SECOND: f64 = 3.0;

/// Chunks in a row that may run out of time before reporting (each is redone from the same
/// cursor) before the request fails: a stall that repeats is not a slow moment.
const MAX_STALLED_CHUNKS: u32 = 3;

/// Failures kept word for word across chunks (the rest are counted).
const KEPT_FAILURES: usize = 20;

/// What the chunks of one request have done so far; travels in the event of the next one.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Progress {
    /// Invocations before this one.
    pub hop: u32,
    /// When the request's first invocation started (ms since the epoch).
    pub started_ms: i64,
    /// The next chunk starts after this stage key (`Report::resume_after`).
    pub after: Option<String>,
    pub stages: usize,
    pub changed: usize,
    pub failed: usize,
    /// The first failures, as `api/stage: error`.
    pub failures: Vec<String>,
    /// Chunks in a row that ran out of time before reporting.
    #[serde(default)]
    pub stalled: u32,
}

impl Progress {
    /// Add one chunk's report.
    pub fn absorb(&mut self, report: &cq_stage_logging::Report) {
        // A chunk that started no stage (its listing took the whole budget) moved nothing.
        let moved = !report.outcomes.is_empty() || report.resume_after != self.after;
        self.stages += report.outcomes.len();
        self.changed += report.changed();
        self.failed += report.failed();
        let failures = report
            .outcomes
            .iter()
            .filter_map(|o| {
                o.error
                    .as_ref()
                    .map(|e| format!("{}/{}: {e}", o.stage.api_id, o.stage.stage))
            })
            .chain(report.errors.iter().cloned());
        for f in failures {
            if self.failures.len() < KEPT_FAILURES {
                self.failures.push(f);
            }
        }
        self.after = report.resume_after.clone();
        self.stalled = if moved { 0 } else { self.stalled + 1 };
    }

    /// Stages are left and there is time to start another chunk.
    pub fn should_continue(&self, now_ms: i64) -> bool {
        self.after.is_some()
            && self.stalled <= MAX_STALLED_CHUNKS
            && self.within_chain_limit(now_ms)
    }

    /// A chunk ran out of time before it could report: its outcomes are lost, not its effects
    /// (every step is idempotent), so the next chunk redoes it from the same cursor, whether or
    /// not it was the first. False when that has happened too often in a row, or too late.
    pub fn stall(&mut self, now_ms: i64) -> bool {
        self.stalled += 1;
        self.stalled <= MAX_STALLED_CHUNKS && self.within_chain_limit(now_ms)
    }

    fn within_chain_limit(&self, now_ms: i64) -> bool {
        now_ms - self.started_ms < CHAIN_LIMIT.as_millis() as i64
    }
}

/// The event without its progress, and the progress (a first invocation has none).
pub fn split_progress(mut v: Value, now_ms: i64) -> (Value, Progress) {
    let progress = v
        .as_object_mut()
        .and_then(|o| o.remove(PROGRESS_KEY))
        .and_then(|p| serde_json::from_value::<Progress>(p).ok());
    match progress {
        Some(p) => (v, p),
        None => (
            v,
            Progress {
                started_ms: now_ms,
                ..Progress::default()
            },
        ),
    }
}

/// The fields of a custom-resource request this module uses, whatever its type.
#[derive(Debug, Clone)]
pub struct CfnEvent {
    pub request_type: String,
    pub response_url: String,
    pub stack_id: String,
    pub request_id: String,
    pub logical_resource_id: String,
    pub physical_resource_id: Option<String>,
    pub resource_properties: Value,
    /// An Update's previous properties.
    pub old_resource_properties: Option<Value>,
}

/// Is this JSON a custom-resource event? (the fields CloudFormation always sends)
pub fn matches(v: &Value) -> bool {
    [
        "RequestType",
        "ResponseURL",
        "StackId",
        "RequestId",
        "LogicalResourceId",
    ]
    .iter()
    .all(|k| v.get(k).is_some_and(Value::is_string))
}

/// Read a request with the typed events of `aws_lambda_events`.
pub fn parse(v: Value) -> Result<CfnEvent, String> {
    let typed: CloudFormationCustomResourceRequest =
        serde_json::from_value(v).map_err(|e| format!("malformed custom resource event: {e}"))?;
    Ok(match typed {
        CloudFormationCustomResourceRequest::Create(r) => CfnEvent {
            request_type: "Create".into(),
            response_url: r.response_url,
            stack_id: r.stack_id,
            request_id: r.request_id,
            logical_resource_id: r.logical_resource_id,
            physical_resource_id: None,
            resource_properties: r.resource_properties,
            old_resource_properties: None,
        },
        CloudFormationCustomResourceRequest::Update(r) => CfnEvent {
            request_type: "Update".into(),
            response_url: r.response_url,
            stack_id: r.stack_id,
            request_id: r.request_id,
            logical_resource_id: r.logical_resource_id,
            physical_resource_id: Some(r.physical_resource_id),
            resource_properties: r.resource_properties,
            old_resource_properties: Some(r.old_resource_properties),
        },
        CloudFormationCustomResourceRequest::Delete(r) => CfnEvent {
            request_type: "Delete".into(),
            response_url: r.response_url,
            stack_id: r.stack_id,
            request_id: r.request_id,
            logical_resource_id: r.logical_resource_id,
            physical_resource_id: Some(r.physical_resource_id),
            resource_properties: r.resource_properties,
            old_resource_properties: None,
        },
        _ => return Err("unknown RequestType".into()),
    })
}

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct CfnResponse {
    pub status: String,
    pub reason: String,
    pub physical_resource_id: String,
    pub stack_id: String,
    pub request_id: String,
    pub logical_resource_id: String,
    pub data: Value,
}

/// A boolean property under the contract's rule (CloudFormation passes every property as a
/// string), with its default when unset.
fn flag_or(props: &Value, key: &str, default: bool) -> Result<bool, String> {
    let bad = |got: &dyn std::fmt::Display| {
        format!("property {key} must be \"true\" or \"false\", got {got}")
    };
    match props.get(key) {
        None | Some(Value::Null) => Ok(default),
        Some(Value::Bool(b)) => Ok(*b),
        Some(Value::String(s)) => {
            cq_contract::values::parse_bool(s).map_err(|_| bad(&format!("{s:?}")))
        }
        Some(other) => Err(bad(other)),
    }
}

/// The stage-logging settings of a Create/Update.
pub fn settings(props: &Value) -> Result<cq_stage_logging::CaptureSettings, String> {
    Ok(cq_stage_logging::CaptureSettings {
        rest_enabled: flag_or(props, prop::REST_API_ENABLED, defaults::REST_API_ENABLED)?,
        http_enabled: flag_or(props, prop::HTTP_API_ENABLED, defaults::HTTP_API_ENABLED)?,
        // Opt-in (the vendor guide captures named stages only); absent in stacks created
        // before the property existed.
        include_http_default_stage: flag_or(
            props,
            prop::INCLUDE_HTTP_DEFAULT_STAGE,
            defaults::INCLUDE_HTTP_DEFAULT_STAGE,
        )?,
        cloudwatch_role_arn: role_arn(props),
        replaces_role_arn: None,
        rest_delivery: rest_delivery(props)?,
    })
}

/// `RestLogDelivery`: absent (stacks made before full execution logs) is auto.
fn rest_delivery(props: &Value) -> Result<cq_stage_logging::RestDelivery, String> {
    match props.get(prop::REST_LOG_DELIVERY) {
        None | Some(Value::Null) => Ok(cq_stage_logging::RestDelivery::Auto),
        Some(Value::String(s)) => cq_stage_logging::RestDelivery::parse(s).ok_or_else(|| {
            format!("property RestLogDelivery must be standard, full or auto, got {s:?}")
        }),
        Some(other) => Err(format!(
            "property RestLogDelivery must be standard, full or auto, got {other}"
        )),
    }
}

fn role_arn(props: &Value) -> Option<String> {
    props
        .get(prop::CLOUDWATCH_ROLE_ARN)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// The settings of a Create or Update. An Update whose role changed (the template's role
/// replaced, e.g. by an upgrade that gave it our IAM path) may replace the previous role on
/// the account: it was this stack's.
pub fn event_settings(event: &CfnEvent) -> Result<cq_stage_logging::CaptureSettings, String> {
    let mut s = settings(&event.resource_properties)?;
    s.replaces_role_arn = event
        .old_resource_properties
        .as_ref()
        .and_then(role_arn)
        .filter(|old| s.cloudwatch_role_arn.as_deref() != Some(old.as_str()));
    Ok(s)
}

/// The answer for a finished request. A Delete fails like the others while a stage is left
/// captured: the stack then stays, with its forwarder still forwarding what those stages log,
/// and a retried delete (`cq-apigw disable --destroy`, or deleting the stack again) restores
/// them; the reason says how to delete anyway.
pub fn response_for(
    event: &CfnEvent,
    region: &str,
    outcome: Result<&Progress, String>,
) -> CfnResponse {
    let physical = event
        .physical_resource_id
        .clone()
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| format!("cequence-stage-logging-{region}"));
    let is_delete = event.request_type == "Delete";
    let (ok, reason, data) = match outcome {
        Err(e) => (false, e, json!({})),
        Ok(p) => {
            let data = json!({
                "Stages": p.stages,
                "Changed": p.changed,
                "Failed": p.failed,
            });
            let mut failures = p.failures.clone();
            if p.failed > failures.len() {
                failures.push(format!("{} more", p.failed - failures.len()));
            }
            if let Some(after) = &p.after {
                failures.push(if p.stalled > MAX_STALLED_CHUNKS {
                    format!(
                        "stages after {after} were not reached: {} invocations in a row \
                         started none",
                        p.stalled
                    )
                } else {
                    format!(
                        "stages after {after} were not reached within {} min",
                        CHAIN_LIMIT.as_secs() / 60
                    )
                });
            }
            if failures.is_empty() {
                (
                    true,
                    format!("{} stage(s), {} changed", p.stages, p.changed),
                    data,
                )
            } else {
                (
                    false,
                    format!("{} failure(s): {}", p.failed.max(1), failures.join("; ")),
                    data,
                )
            }
        }
    };
    let reason = if !ok && is_delete {
        // The hint first: a long list of failures must not cut it off.
        format!(
            "stages may still be captured, so the delete waits (the forwarder keeps forwarding): \
             fix the cause and delete again to restore them, or delete while retaining the \
             StageLogging resource to leave them as they are. {reason}"
        )
    } else {
        reason
    };
    CfnResponse {
        status: if ok { "SUCCESS" } else { "FAILED" }.into(),
        reason: truncate(&reason, MAX_REASON),
        physical_resource_id: physical,
        stack_id: event.stack_id.clone(),
        request_id: event.request_id.clone(),
        logical_resource_id: event.logical_resource_id.clone(),
        data,
    }
}

fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

/// Do one chunk of the work, then continue in a new invocation or answer CloudFormation.
/// `budget` is the time left before the Lambda timeout minus a margin; `function_arn` is this
/// function (to continue in). Returns the answer sent, or None when the request continues.
pub async fn handle(
    app: &App,
    event: Value,
    budget: Duration,
    function_arn: &str,
) -> Result<Option<CfnResponse>, String> {
    let aws = &app.aws;
    let original = event.clone();
    let (event, mut progress) = split_progress(event, crate::invocation::now_ms());
    // A request we cannot read cannot be answered either (no ResponseURL): fail loudly.
    let event = parse(event)?;
    let chunk = cq_stage_logging::Chunk {
        after: progress.after.clone(),
        stop_starting_at: Some(Instant::now() + budget.saturating_sub(IN_FLIGHT_MARGIN)),
        max_stages: Some(
            ((budget.as_secs_f64() * STAGES_PER_SECOND * 2.0).ceil() as usize).max(20),
        ),
    };
    let work = async {
        match event.request_type.as_str() {
            "Create" | "Update" => {
                let settings = event_settings(&event)?;
                let mut report =
                    cq_stage_logging::reconcile_chunk(&aws.stage, &settings, &chunk).await;
                if report.resume_after.is_none()
                    && property(&event.resource_properties, prop::INGESTION) == Some("push")
                {
                    subscribe_captured(app, &event.resource_properties, &chunk, &mut report).await;
                }
                Ok(report)
            }
            "Delete" => {
                let report = cq_stage_logging::restore_all_chunk(&aws.stage, &chunk).await;
                if report.resume_after.is_none() {
                    empty_spool(app).await;
                }
                Ok(report)
            }
            other => Err(format!("unknown RequestType {other}")),
        }
    };
    let again = match tokio::time::timeout(budget, work).await {
        Ok(Ok(report)) => {
            progress.absorb(&report);
            Ok(progress.should_continue(crate::invocation::now_ms()))
        }
        Ok(Err(e)) => Err(e),
        Err(_) if progress.stall(crate::invocation::now_ms()) => {
            tracing::warn!(
                budget_s = budget.as_secs(),
                stalled = progress.stalled,
                "stage logging chunk ran out of time; continuing from where it started"
            );
            Ok(true)
        }
        Err(_) => Err(format!(
            "stage logging ran out of time in {} invocation(s) in a row ({}s each){}",
            progress.stalled,
            budget.as_secs(),
            progress
                .after
                .as_deref()
                .map(|a| format!(", stuck after {a}"))
                .unwrap_or_default()
        )),
    };
    let result = match again {
        Ok(true) => match continue_request(app, original, &progress, function_arn, &event).await {
            Ok(()) => {
                tracing::info!(
                    request_type = %event.request_type,
                    hop = progress.hop + 1,
                    stages_so_far = progress.stages,
                    resume_after = progress.after.as_deref().unwrap_or_default(),
                    "more stages than one invocation can change: continuing in a new invocation"
                );
                return Ok(None);
            }
            Err(e) => Err(e),
        },
        Ok(false) => Ok(()),
        Err(e) => Err(e),
    };
    let response = response_for(
        &event,
        &aws.region,
        result.as_ref().map(|()| &progress).map_err(Clone::clone),
    );
    tracing::info!(
        request_type = %event.request_type,
        status = %response.status,
        reason = %response.reason,
        invocations = progress.hop + 1,
        "answering CloudFormation"
    );
    send(&app.http, &event.response_url, &response).await?;
    Ok(Some(response))
}

/// Invoke this function again, asynchronously, with the request and its progress.
async fn continue_request(
    app: &App,
    mut original: Value,
    progress: &Progress,
    function_arn: &str,
    event: &CfnEvent,
) -> Result<(), String> {
    let target = if function_arn.starts_with("arn:") {
        function_arn
    } else {
        property(&event.resource_properties, "ServiceToken").unwrap_or_default()
    };
    if target.is_empty() {
        return Err(
            "too many stages for one invocation, and this function's ARN is unknown".into(),
        );
    }
    let next = Progress {
        hop: progress.hop + 1,
        ..progress.clone()
    };
    if let Some(o) = original.as_object_mut() {
        o.insert(
            PROGRESS_KEY.into(),
            serde_json::to_value(&next).map_err(|e| e.to_string())?,
        );
    }
    let payload = serde_json::to_vec(&original).map_err(|e| e.to_string())?;
    app.aws
        .lambda
        .invoke()
        .function_name(target)
        .invocation_type(aws_sdk_lambda::types::InvocationType::Event)
        .payload(aws_sdk_lambda::primitives::Blob::new(payload))
        .send()
        .await
        .map_err(|e| {
            format!(
                "cannot continue in a new invocation (lambda:InvokeFunction on {target}): {}",
                cq_stage_logging::error_chain(&e)
            )
        })?;
    Ok(())
}

async fn empty_spool(app: &App) {
    if let Ok(fwd) = &app.forwarding {
        if let Some(spool) = &fwd.spool {
            match spool.empty().await {
                Ok(n) => tracing::info!(objects = n, "spool bucket emptied for deletion"),
                Err(e) => tracing::error!(error = %e, "cannot empty the spool bucket"),
            }
        }
    }
}

fn property<'a>(props: &'a Value, key: &str) -> Option<&'a str> {
    props
        .get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// The longest the custom resource waits for a new push destination to become usable.
const DESTINATION_WAIT: Duration = Duration::from_secs(60);

/// `Ingestion=push`: every captured stage's log group gets our subscription filter. The
/// function is the one answering (ServiceToken), or the stack's Kinesis stream.
/// Groups not reached before the chunk's end are subscribed by the forwarder's next ticks.
async fn subscribe_captured(
    app: &App,
    props: &Value,
    chunk: &cq_stage_logging::Chunk,
    report: &mut cq_stage_logging::Report,
) {
    let Ok(fwd) = &app.forwarding else {
        report
            .errors
            .push("cannot subscribe log groups: the function's configuration is invalid".into());
        return;
    };
    let function_arn = property(props, "ServiceToken").unwrap_or_default();
    let dest = crate::tick::push_destination(&fwd.config, function_arn);
    let stages = match cq_stage_logging::discover(&app.aws.stage).await {
        Ok(s) => s,
        Err(e) => {
            report
                .errors
                .push(format!("cannot list stages to subscribe: {e}"));
            return;
        }
    };
    let groups = crate::tick::groups_of(&fwd.config, &stages);
    let total = groups.len();
    // The stack created the stream's role (or the function's permission) moments ago: give
    // it time to propagate, within this chunk's budget.
    let mut wait = crate::tick::DestinationWait::new(DESTINATION_WAIT, chunk.stop_starting_at);
    for (done, group) in groups.into_iter().enumerate() {
        if chunk.stop_starting_at.is_some_and(|t| Instant::now() >= t) {
            tracing::warn!(
                subscribed = done,
                left = total - done,
                "out of time: the forwarder's next ticks subscribe the remaining log groups"
            );
            return;
        }
        let patience = wait.next();
        match cq_stage_logging::subscribe(&app.aws.stage, &group.log_group, &dest, patience).await {
            Ok(cq_stage_logging::SubscribeOutcome::NoFreeSlot { others }) => tracing::warn!(
                log_group = %group.log_group,
                others = %others.join(", "),
                "no free subscription filter slot: this group is polled"
            ),
            Ok(_) => {}
            // Not a reason to fail the stack: the group is polled meanwhile and the
            // forwarder's ticks subscribe it once the destination is usable.
            Err(e) if e.destination_not_ready() => {
                wait.spent();
                tracing::warn!(log_group = %group.log_group, error = %e, "the push destination is not usable yet: this group is polled until a later tick subscribes it");
            }
            Err(e) => report
                .errors
                .push(format!("subscribing {}: {e}", group.log_group)),
        }
    }
}

/// PUT the answer to the pre-signed URL, retrying a few times (S3 can blip). No Content-Type:
/// the URL is signed without one.
pub async fn send(http: &reqwest::Client, url: &str, response: &CfnResponse) -> Result<(), String> {
    let body = serde_json::to_vec(response).map_err(|e| e.to_string())?;
    let mut last = String::new();
    for attempt in 1..=4u32 {
        match http
            .put(url)
            .timeout(Duration::from_secs(15))
            .header(reqwest::header::CONTENT_LENGTH, body.len())
            .body(body.clone())
            .send()
            .await
        {
            Ok(r) if r.status().is_success() => return Ok(()),
            Ok(r) => last = format!("HTTP {}", r.status().as_u16()),
            Err(e) => last = crate::token::without_url(e),
        }
        tokio::time::sleep(Duration::from_millis(500 * u64::from(attempt))).await;
    }
    Err(format!("could not answer CloudFormation: {last}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(kind: &str) -> CfnEvent {
        parse(json!({
            "RequestType": kind,
            "ResponseURL": "https://example.com/r",
            "StackId": "arn:aws:cloudformation:us-east-1:1:stack/s/1",
            "RequestId": "req-1",
            "LogicalResourceId": "StageLogging",
            "PhysicalResourceId": "cequence-stage-logging-eu-west-1",
            "ResourceType": "Custom::CequenceStageLogging",
            "ResourceProperties": {"ServiceToken": "arn", "RestApiEnabled": "true", "HttpApiEnabled": "false"}
        }))
        .unwrap()
    }

    #[test]
    fn recognises_custom_resource_events() {
        let v = json!({"RequestType":"Create","ResponseURL":"u","StackId":"s","RequestId":"r","LogicalResourceId":"l"});
        assert!(matches(&v));
        assert!(!matches(&json!({})));
        assert!(!matches(&json!({"RequestType":"Create"})));
    }

    #[test]
    fn an_update_that_changes_the_role_may_replace_the_previous_one() {
        let mut v = json!({
            "RequestType": "Update",
            "ResponseURL": "https://example.com/r",
            "StackId": "arn:aws:cloudformation:us-east-1:1:stack/s/1",
            "RequestId": "req-1",
            "LogicalResourceId": "StageLogging",
            "PhysicalResourceId": "p",
            "ResourceType": "Custom::CequenceStageLogging",
            "ResourceProperties": {"ServiceToken": "arn", "CloudWatchRoleArn": "arn:new"},
            "OldResourceProperties": {"ServiceToken": "arn", "CloudWatchRoleArn": "arn:old"}
        });
        let s = event_settings(&parse(v.clone()).unwrap()).unwrap();
        assert_eq!(s.cloudwatch_role_arn.as_deref(), Some("arn:new"));
        assert_eq!(s.replaces_role_arn.as_deref(), Some("arn:old"));
        // Same role before and after: nothing to replace.
        v["OldResourceProperties"]["CloudWatchRoleArn"] = json!("arn:new");
        let s = event_settings(&parse(v).unwrap()).unwrap();
        assert!(s.replaces_role_arn.is_none());
        assert!(event_settings(&event("Create"))
            .unwrap()
            .replaces_role_arn
            .is_none());
    }

    #[test]
    fn settings_come_from_string_properties() {
        let s = settings(&event("Create").resource_properties).unwrap();
        assert!(s.rest_enabled && !s.http_enabled);
        assert!(s.cloudwatch_role_arn.is_none());
        assert!(!s.include_http_default_stage, "opt-in: absent is false");
        let with = settings(&json!({"IncludeHttpDefaultStage": "true"})).unwrap();
        assert!(with.include_http_default_stage);
        assert_eq!(
            s.rest_delivery,
            cq_stage_logging::RestDelivery::Auto,
            "absent is auto"
        );
        let full = settings(&json!({"RestLogDelivery": "full"})).unwrap();
        assert_eq!(full.rest_delivery, cq_stage_logging::RestDelivery::Full);
        let err = settings(&json!({"RestLogDelivery": "big"})).unwrap_err();
        assert!(err.contains("RestLogDelivery"), "{err}");
        assert!(settings(&json!({"RestApiEnabled": "maybe"}))
            .unwrap_err()
            .contains("RestApiEnabled"));
    }

    #[test]
    fn errors_fail_create_and_a_delete_that_leaves_stages_captured() {
        let create = response_for(&event("Create"), "eu-west-1", Err("boom".into()));
        assert_eq!(create.status, "FAILED");
        assert_eq!(create.reason, "boom");
        assert_eq!(
            create.physical_resource_id,
            "cequence-stage-logging-eu-west-1"
        );
        assert_eq!(create.request_id, "req-1");
        // A delete that could not restore must not let the stack (and its forwarder) go.
        let delete = response_for(&event("Delete"), "eu-west-1", Err("boom".into()));
        assert_eq!(delete.status, "FAILED");
        assert!(
            delete.reason.starts_with("stages may still be captured")
                && delete
                    .reason
                    .contains("retaining the StageLogging resource")
                && delete.reason.ends_with("boom"),
            "{}",
            delete.reason
        );
        let v = serde_json::to_value(&create).unwrap();
        for k in [
            "Status",
            "Reason",
            "PhysicalResourceId",
            "StackId",
            "RequestId",
            "LogicalResourceId",
            "Data",
        ] {
            assert!(v.get(k).is_some(), "{k}");
        }
    }

    fn report(
        keys: &[(&str, Option<&str>)],
        resume_after: Option<&str>,
    ) -> cq_stage_logging::Report {
        use cq_stage_logging::{Action, ApiType, StageOutcome, StageStatus};
        cq_stage_logging::Report {
            outcomes: keys
                .iter()
                .map(|(stage, error)| StageOutcome {
                    stage: StageStatus {
                        api_type: ApiType::Rest,
                        api_id: "api".into(),
                        api_name: "n".into(),
                        stage: stage.to_string(),
                        captured: true,
                        log_group: None,
                        reason: None,
                        execution_logs: None,
                    },
                    action: if error.is_some() {
                        Action::Failed
                    } else {
                        Action::Captured
                    },
                    error: error.map(str::to_string),
                    calls: vec![],
                })
                .collect(),
            resume_after: resume_after.map(str::to_string),
            ..cq_stage_logging::Report::default()
        }
    }

    #[test]
    fn progress_adds_chunks_up_and_answers_once_the_last_is_done() {
        let (_, mut p) = split_progress(json!({"RequestType": "Create"}), 1_000);
        assert_eq!(
            p,
            Progress {
                started_ms: 1_000,
                ..Progress::default()
            }
        );
        p.absorb(&report(
            &[("a", None), ("b", Some("denied"))],
            Some("rest/api/b"),
        ));
        assert!(p.should_continue(2_000));
        assert!(
            !p.should_continue(1_000 + CHAIN_LIMIT.as_millis() as i64),
            "no new chunk past the chain's limit"
        );
        // The progress travels in the event and comes back out of it.
        let mut v = json!({"RequestType": "Create"});
        v[PROGRESS_KEY] = serde_json::to_value(&p).unwrap();
        let (v, back) = split_progress(v, 9_999);
        assert_eq!(back, p);
        assert!(v.get(PROGRESS_KEY).is_none());
        p.absorb(&report(&[("c", None)], None));
        assert!(!p.should_continue(2_000));
        assert_eq!((p.stages, p.changed, p.failed), (3, 2, 1));
        let answer = response_for(&event("Create"), "eu-west-1", Ok(&p));
        assert_eq!(answer.status, "FAILED");
        assert_eq!(answer.reason, "1 failure(s): api/b: denied");
        assert_eq!(answer.data["Stages"], 3);
    }

    #[test]
    fn a_chunk_that_runs_out_of_time_is_redone_a_few_times_even_the_first() {
        let (_, mut p) = split_progress(json!({"RequestType": "Create"}), 1_000);
        // The first chunk stalls: no cursor yet, and still it is redone.
        assert!(p.stall(60_000));
        assert_eq!((p.stalled, p.after.as_deref()), (1, None));
        // Progress in between resets the count.
        p.absorb(&report(&[("a", None)], Some("rest/api/a")));
        assert_eq!(p.stalled, 0);
        assert!(p.stall(120_000) && p.stall(180_000) && p.stall(240_000));
        assert!(
            !p.stall(300_000),
            "a fourth stall in a row fails the request"
        );
        assert_eq!(p.after.as_deref(), Some("rest/api/a"), "the cursor stays");
        // Past the chain's limit, no redo either.
        let (_, mut late) = split_progress(json!({}), 0);
        assert!(!late.stall(CHAIN_LIMIT.as_millis() as i64));
        // A chunk that reports but started no stage is a stall too.
        let mut idle = Progress::default();
        idle.absorb(&report(&[("a", None)], Some("rest/api/a")));
        for _ in 0..=MAX_STALLED_CHUNKS {
            assert!(idle.should_continue(0));
            idle.absorb(&report(&[], Some("rest/api/a")));
        }
        assert!(!idle.should_continue(0));
        let answer = response_for(&event("Create"), "eu-west-1", Ok(&idle));
        assert!(
            answer
                .reason
                .contains("4 invocations in a row started none"),
            "{}",
            answer.reason
        );
        // The count travels with the progress.
        let v = json!({ PROGRESS_KEY: serde_json::to_value(&p).unwrap() });
        assert_eq!(split_progress(v, 0).1.stalled, 4);
    }

    #[test]
    fn a_delete_with_stages_not_reached_fails() {
        let mut p = Progress::default();
        p.absorb(&report(&[("a", None)], Some("rest/api/a")));
        let answer = response_for(&event("Delete"), "eu-west-1", Ok(&p));
        assert_eq!(answer.status, "FAILED");
        assert!(
            answer
                .reason
                .contains("stages after rest/api/a were not reached"),
            "{}",
            answer.reason
        );
        let mut done = Progress::default();
        done.absorb(&report(&[("a", None)], None));
        let answer = response_for(&event("Delete"), "eu-west-1", Ok(&done));
        assert_eq!(answer.status, "SUCCESS");
        assert_eq!(answer.reason, "1 stage(s), 1 changed");
    }

    #[test]
    fn failures_beyond_the_kept_ones_are_counted() {
        let mut p = Progress::default();
        let many: Vec<(String, Option<&str>)> =
            (0..30).map(|i| (format!("s{i}"), Some("x"))).collect();
        let refs: Vec<(&str, Option<&str>)> = many.iter().map(|(s, e)| (s.as_str(), *e)).collect();
        p.absorb(&report(&refs, None));
        assert_eq!(p.failures.len(), KEPT_FAILURES);
        let answer = response_for(&event("Create"), "eu-west-1", Ok(&p));
        assert!(answer.reason.starts_with("30 failure(s)"));
        assert!(answer.reason.ends_with("; 10 more"), "{}", answer.reason);
    }

    #[test]
    fn long_reasons_are_cut() {
        let r = truncate(&"é".repeat(2_000), 101);
        assert!(r.len() <= 104);
    }
}
