//! The CloudFormation custom resource `Custom::CequenceStageLogging`: Create/Update capture the
//! account's API stages (and, with `Ingestion=push`, subscribe their log groups), Delete
//! restores them, removes our subscription filters and empties the spool bucket so the stack
//! can delete it. CloudFormation waits (up to an hour) for an answer on the pre-signed
//! ResponseURL, so every path answers — including bad input and a run about to hit the
//! Lambda timeout.

use std::time::Duration;

use aws_lambda_events::event::cloudformation::CloudFormationCustomResourceRequest;
use serde::Serialize;
use serde_json::{json, Value};

use crate::app::App;

/// CloudFormation rejects a response body over 4 KB; keep the reason well under that.
const MAX_REASON: usize = 1_500;

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

/// "true"/"false" properties (CloudFormation passes every property as a string); unset is
/// true.
fn flag(props: &Value, key: &str) -> Result<bool, String> {
    flag_or(props, key, true)
}

fn flag_or(props: &Value, key: &str, default: bool) -> Result<bool, String> {
    match props.get(key) {
        None | Some(Value::Null) => Ok(default),
        Some(Value::Bool(b)) => Ok(*b),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Ok(true),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => Ok(false),
        Some(other) => Err(format!(
            "property {key} must be \"true\" or \"false\", got {other}"
        )),
    }
}

/// The stage-logging settings of a Create/Update.
pub fn settings(props: &Value) -> Result<cq_stage_logging::CaptureSettings, String> {
    Ok(cq_stage_logging::CaptureSettings {
        rest_enabled: flag(props, "RestApiEnabled")?,
        http_enabled: flag(props, "HttpApiEnabled")?,
        // Opt-in (the vendor guide captures named stages only); absent in stacks created
        // before the property existed.
        include_http_default_stage: flag_or(props, "IncludeHttpDefaultStage", false)?,
        cloudwatch_role_arn: role_arn(props),
        replaces_role_arn: None,
    })
}

fn role_arn(props: &Value) -> Option<String> {
    props
        .get("CloudWatchRoleArn")
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

/// The answer for a finished report. A failed Delete is still answered SUCCESS (with the
/// failures in the reason): a FAILED delete leaves the stack stuck in DELETE_FAILED, and the
/// stages it could not restore are listed for the operator.
pub fn response_for(
    event: &CfnEvent,
    region: &str,
    outcome: Result<&cq_stage_logging::Report, String>,
) -> CfnResponse {
    let physical = event
        .physical_resource_id
        .clone()
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| format!("cequence-stage-logging-{region}"));
    let is_delete = event.request_type == "Delete";
    let (ok, reason, data) = match outcome {
        Err(e) => (is_delete, e, json!({})),
        Ok(report) => {
            let failures: Vec<String> = report
                .outcomes
                .iter()
                .filter_map(|o| {
                    o.error
                        .as_ref()
                        .map(|e| format!("{}/{}: {e}", o.stage.api_id, o.stage.stage))
                })
                .chain(report.errors.iter().cloned())
                .collect();
            let data = json!({
                "Stages": report.outcomes.len(),
                "Changed": report.changed(),
                "Failed": report.failed(),
            });
            if failures.is_empty() {
                (
                    true,
                    format!(
                        "{} stage(s), {} changed",
                        report.outcomes.len(),
                        report.changed()
                    ),
                    data,
                )
            } else {
                (
                    is_delete,
                    format!("{} failure(s): {}", failures.len(), failures.join("; ")),
                    data,
                )
            }
        }
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

/// Do the work and answer CloudFormation. `budget` is the time left before the Lambda
/// timeout minus a margin: past it, answer FAILED rather than leave the stack waiting.
pub async fn handle(app: &App, event: Value, budget: Duration) -> Result<CfnResponse, String> {
    let aws = &app.aws;
    // A request we cannot read cannot be answered either (no ResponseURL): fail loudly.
    let event = parse(event)?;
    let work = async {
        match event.request_type.as_str() {
            "Create" | "Update" => {
                let settings = event_settings(&event)?;
                let mut report = cq_stage_logging::reconcile(&aws.stage, &settings).await;
                if property(&event.resource_properties, "Ingestion") == Some("push") {
                    subscribe_captured(app, &event.resource_properties, &mut report).await;
                }
                Ok(report)
            }
            "Delete" => {
                let report = cq_stage_logging::restore_all(&aws.stage).await;
                if let Ok(fwd) = &app.forwarding {
                    if let Some(spool) = &fwd.spool {
                        match spool.empty().await {
                            Ok(n) => {
                                tracing::info!(objects = n, "spool bucket emptied for deletion")
                            }
                            Err(e) => tracing::error!(error = %e, "cannot empty the spool bucket"),
                        }
                    }
                }
                Ok(report)
            }
            other => Err(format!("unknown RequestType {other}")),
        }
    };
    let result = match tokio::time::timeout(budget, work).await {
        Ok(r) => r,
        Err(_) => Err(format!(
            "stage logging did not finish within {}s",
            budget.as_secs()
        )),
    };
    let response = response_for(&event, &aws.region, result.as_ref().map_err(Clone::clone));
    tracing::info!(
        request_type = %event.request_type,
        status = %response.status,
        reason = %response.reason,
        "answering CloudFormation"
    );
    send(&app.http, &event.response_url, &response).await?;
    Ok(response)
}

fn property<'a>(props: &'a Value, key: &str) -> Option<&'a str> {
    props
        .get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// `Ingestion=push`: every captured stage's log group gets our subscription filter. The
/// function is the one answering (ServiceToken), or the stack's Kinesis stream.
async fn subscribe_captured(app: &App, props: &Value, report: &mut cq_stage_logging::Report) {
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
    for group in crate::tick::groups_of(&fwd.config, &stages) {
        match cq_stage_logging::subscribe(&app.aws.stage, &group.log_group, &dest).await {
            Ok(cq_stage_logging::SubscribeOutcome::NoFreeSlot { others }) => tracing::warn!(
                log_group = %group.log_group,
                others = %others.join(", "),
                "no free subscription filter slot: this group is polled"
            ),
            Ok(_) => {}
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
        assert!(settings(&json!({"RestApiEnabled": "maybe"}))
            .unwrap_err()
            .contains("RestApiEnabled"));
    }

    #[test]
    fn errors_fail_create_but_not_delete() {
        let create = response_for(&event("Create"), "eu-west-1", Err("boom".into()));
        assert_eq!(create.status, "FAILED");
        assert_eq!(create.reason, "boom");
        assert_eq!(
            create.physical_resource_id,
            "cequence-stage-logging-eu-west-1"
        );
        assert_eq!(create.request_id, "req-1");
        let delete = response_for(&event("Delete"), "eu-west-1", Err("boom".into()));
        assert_eq!(delete.status, "SUCCESS");
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

    #[test]
    fn long_reasons_are_cut() {
        let r = truncate(&"é".repeat(2_000), 101);
        assert!(r.len() <= 104);
    }
}
