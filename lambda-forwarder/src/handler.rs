//! One invocation: decide what the event is, run it, and end with the stats line.
//!
//! CloudFormation custom-resource events configure stage logging; CloudWatch Logs subscription
//! payloads (`{"awslogs":{"data":...}}`) go through the same parse-and-deliver pipeline as a
//! tick; anything else (Scheduler, EventBridge, `{}`) is a tick.

use std::io::Read;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::app::App;
use crate::config::LogGroupSpec;
use crate::custom_resource::{self, CfnEvent};
use crate::parse::LogEvent;
use crate::stats::{self, lock, SharedStats};
use crate::tick::{self, RunContext};

/// Kept free before the Lambda deadline so the custom resource can still answer.
const DEADLINE_MARGIN: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, PartialEq)]
pub enum Invocation {
    CustomResource(Box<Value>),
    Subscription(String),
    Tick,
}

pub fn classify(event: &Value) -> Invocation {
    if CfnEvent::matches(event) {
        return Invocation::CustomResource(Box::new(event.clone()));
    }
    if let Some(data) = event
        .get("awslogs")
        .and_then(|a| a.get("data"))
        .and_then(Value::as_str)
    {
        return Invocation::Subscription(data.to_string());
    }
    Invocation::Tick
}

/// What the Lambda runtime gives besides the event.
#[derive(Debug, Clone, Default)]
pub struct InvocationMeta {
    pub invoked_function_arn: String,
    /// Time left before the Lambda deadline.
    pub remaining: Option<Duration>,
}

impl InvocationMeta {
    /// The account id is the 5th field of the function ARN; locally `AWS_ACCOUNT_ID`.
    pub fn account_id(&self) -> String {
        self.invoked_function_arn
            .split(':')
            .nth(4)
            .filter(|a| !a.is_empty())
            .map(str::to_string)
            .or_else(|| std::env::var("AWS_ACCOUNT_ID").ok())
            .unwrap_or_else(|| "unknown".into())
    }
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct HandlerError(pub String);

/// Run one invocation; the stats line is logged whatever happens.
pub async fn handle(app: &App, event: Value, meta: InvocationMeta) -> Result<Value, HandlerError> {
    let started = Instant::now();
    let invocation = classify(&event);
    let kind = match &invocation {
        Invocation::CustomResource(_) => "custom_resource",
        Invocation::Subscription(_) => "subscription",
        Invocation::Tick => "tick",
    };
    let stats = stats::shared(kind);
    let result = match invocation {
        Invocation::CustomResource(v) => run_custom_resource(app, *v, &meta).await,
        Invocation::Subscription(data) => run_subscription(app, &data, &meta, &stats).await,
        Invocation::Tick => run_tick(app, &meta, &stats).await,
    };
    let mut s = lock(&stats).clone();
    if let Err(e) = &result {
        s.errors.push(e.0.clone());
    }
    s.finish(started.elapsed().as_millis() as u64);
    tracing::info!("{}", s.finished_line());
    result
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

async fn run_tick(
    app: &App,
    meta: &InvocationMeta,
    stats: &SharedStats,
) -> Result<Value, HandlerError> {
    let fwd = app
        .forwarding
        .as_ref()
        .map_err(|e| HandlerError(format!("configuration: {e}")))?;
    let run = RunContext {
        account_id: meta.account_id(),
        region: app.aws.region.clone(),
        now_ms: now_ms(),
    };
    tick::run_tick(&app.aws, fwd, &run, stats)
        .await
        .map_err(|e| HandlerError(e.to_string()))?;
    let s = lock(stats);
    Ok(json!({
        "invocation": "tick",
        "log_groups": s.log_group_count,
        "events": s.total_events_fetched,
        "delivered": s.transactions_delivered,
    }))
}

async fn run_custom_resource(
    app: &App,
    event: Value,
    meta: &InvocationMeta,
) -> Result<Value, HandlerError> {
    let event: CfnEvent = serde_json::from_value(event)
        .map_err(|e| HandlerError(format!("malformed custom resource event: {e}")))?;
    let budget = meta
        .remaining
        .map(|r| r.saturating_sub(DEADLINE_MARGIN))
        .unwrap_or(Duration::from_secs(600));
    let response = custom_resource::handle(&app.aws, &app.http, event, budget)
        .await
        .map_err(HandlerError)?;
    Ok(serde_json::to_value(response).unwrap_or_default())
}

/// The decoded body of a subscription delivery.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SubscriptionPayload {
    pub message_type: String,
    pub log_group: String,
    #[serde(default)]
    pub log_events: Vec<SubscriptionEvent>,
}

#[derive(Debug, Deserialize)]
pub struct SubscriptionEvent {
    pub id: String,
    pub timestamp: i64,
    pub message: String,
}

/// `awslogs.data`: base64 of gzipped JSON.
pub fn decode_subscription(data: &str) -> Result<SubscriptionPayload, String> {
    let gz = STANDARD
        .decode(data.trim())
        .map_err(|e| format!("awslogs.data is not base64: {e}"))?;
    let mut json = Vec::new();
    flate2::read::GzDecoder::new(gz.as_slice())
        .read_to_end(&mut json)
        .map_err(|e| format!("awslogs.data is not gzip: {e}"))?;
    serde_json::from_slice(&json).map_err(|e| format!("awslogs.data is not a log payload: {e}"))
}

/// Push delivery: the payload is all there is, so incomplete requests are sent as they are,
/// and an undelivered batch fails the invocation so Lambda's async retry sends it again.
async fn run_subscription(
    app: &App,
    data: &str,
    meta: &InvocationMeta,
    stats: &SharedStats,
) -> Result<Value, HandlerError> {
    let fwd = app
        .forwarding
        .as_ref()
        .map_err(|e| HandlerError(format!("configuration: {e}")))?;
    let payload = decode_subscription(data).map_err(HandlerError)?;
    if payload.message_type != "DATA_MESSAGE" {
        return Ok(json!({"invocation": "subscription", "ignored": payload.message_type}));
    }
    let spec = LogGroupSpec::from_log_group(&payload.log_group);
    let mut events: Vec<LogEvent> = payload
        .log_events
        .into_iter()
        .map(|e| LogEvent {
            event_id: e.id,
            timestamp: e.timestamp,
            message: e.message,
        })
        .collect();
    events.sort_by(|a, b| (a.timestamp, &a.event_id).cmp(&(b.timestamp, &b.event_id)));
    {
        let mut s = lock(stats);
        s.log_group_count = 1;
        s.total_events_fetched = events.len() as u64;
    }
    let run = RunContext {
        account_id: meta.account_id(),
        region: app.aws.region.clone(),
        now_ms: now_ms(),
    };
    let assembled = tick::assemble(&spec, &events, &fwd.config, &run, Some(i64::MAX));
    tick::record_assembly(stats, &assembled);
    let held = tick::deliver(fwd, assembled.built.iter(), stats).await;
    if !held.is_empty() {
        return Err(HandlerError(format!(
            "{} event(s) of {} not delivered",
            held.len(),
            spec.log_group
        )));
    }
    Ok(json!({
        "invocation": "subscription",
        "log_group": spec.log_group,
        "delivered": lock(stats).transactions_delivered,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn encode(payload: &Value) -> String {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(payload.to_string().as_bytes()).unwrap();
        STANDARD.encode(enc.finish().unwrap())
    }

    #[test]
    fn dispatches_on_the_event_shape() {
        assert_eq!(classify(&json!({})), Invocation::Tick);
        let scheduler =
            json!({"version":"0","source":"aws.scheduler","detail-type":"Scheduled Event"});
        assert_eq!(classify(&scheduler), Invocation::Tick);
        assert_eq!(
            classify(&json!({"awslogs":{"data":"abc"}})),
            Invocation::Subscription("abc".into())
        );
        let cfn = json!({"RequestType":"Delete","ResponseURL":"u","StackId":"s","RequestId":"r","LogicalResourceId":"l"});
        assert!(matches!(classify(&cfn), Invocation::CustomResource(_)));
    }

    #[test]
    fn subscription_payload_decodes() {
        let data = encode(&json!({
            "messageType": "DATA_MESSAGE",
            "owner": "123456789012",
            "logGroup": "API-Gateway-Execution-Logs_abc/prod",
            "logStream": "s",
            "subscriptionFilters": ["f"],
            "logEvents": [{"id": "1", "timestamp": 5, "message": "(r1) Starting execution"}]
        }));
        let p = decode_subscription(&data).unwrap();
        assert_eq!(p.log_group, "API-Gateway-Execution-Logs_abc/prod");
        assert_eq!(p.log_events[0].message, "(r1) Starting execution");
        assert!(decode_subscription("%%%").unwrap_err().contains("base64"));
        assert!(decode_subscription(&STANDARD.encode("plain"))
            .unwrap_err()
            .contains("gzip"));
    }

    #[test]
    fn account_id_comes_from_the_function_arn() {
        let meta = InvocationMeta {
            invoked_function_arn: "arn:aws:lambda:us-east-1:210987654321:function:f".into(),
            remaining: None,
        };
        assert_eq!(meta.account_id(), "210987654321");
    }
}
