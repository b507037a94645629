//! One invocation: decide what the event is, run it, and end with the stats line.
//!
//! A CloudFormation custom-resource event configures stage logging; a CloudWatch Logs
//! subscription payload (`{"awslogs":{"data":...}}`) or a Kinesis batch (`{"Records":[...]}`
//! from `aws:kinesis`) is a push; anything else (Scheduler, EventBridge, `{}`) is a tick.

use std::time::{Duration, Instant};

use aws_lambda_events::event::cloudwatch_logs::LogsEvent;
use aws_lambda_events::event::kinesis::KinesisEvent;
use serde::de::IgnoredAny;
use serde::Deserialize;
use serde_json::Value;

use crate::app::App;
use crate::custom_resource;
use crate::stats::{self, lock};
use crate::tick::RunContext;

/// Kept free before the Lambda deadline so the custom resource can still answer.
const DEADLINE_MARGIN: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    CustomResource,
    Subscription,
    Kinesis,
    Tick,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::CustomResource => "custom_resource",
            Kind::Subscription => "subscription",
            Kind::Kinesis => "kinesis",
            Kind::Tick => "tick",
        }
    }
}

/// Only what tells the event kinds apart; everything else is skipped without being kept
/// (a Kinesis batch can be 6 MB: it is parsed for real once, by its own type).
#[derive(Deserialize)]
struct Probe {
    #[serde(rename = "RequestType")]
    request_type: Option<IgnoredAny>,
    #[serde(rename = "ResponseURL")]
    response_url: Option<IgnoredAny>,
    #[serde(rename = "StackId")]
    stack_id: Option<IgnoredAny>,
    awslogs: Option<ProbeLogs>,
    #[serde(rename = "Records")]
    records: Option<Vec<ProbeRecord>>,
}

#[derive(Deserialize)]
struct ProbeLogs {
    data: Option<IgnoredAny>,
}

#[derive(Deserialize)]
struct ProbeRecord {
    #[serde(rename = "eventSource")]
    event_source: Option<String>,
}

pub fn classify(event: &str) -> Kind {
    let Ok(p) = serde_json::from_str::<Probe>(event) else {
        return Kind::Tick;
    };
    if p.request_type.is_some() && p.response_url.is_some() && p.stack_id.is_some() {
        return Kind::CustomResource;
    }
    if p.awslogs.is_some_and(|a| a.data.is_some()) {
        return Kind::Subscription;
    }
    let from_kinesis = p
        .records
        .as_ref()
        .and_then(|r| r.first())
        .and_then(|r| r.event_source.as_deref())
        == Some("aws:kinesis");
    if from_kinesis {
        return Kind::Kinesis;
    }
    Kind::Tick
}

/// What the Lambda runtime gives besides the event.
#[derive(Debug, Clone, Default)]
pub struct InvocationMeta {
    pub request_id: String,
    pub invoked_function_arn: String,
    /// The Lambda deadline; none for `bootstrap invoke`.
    pub deadline: Option<Instant>,
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

/// Lambda reports a failed invocation with a type: name it, instead of the Rust type path
/// the runtime would derive.
impl From<HandlerError> for lambda_runtime::Diagnostic {
    fn from(e: HandlerError) -> Self {
        lambda_runtime::Diagnostic {
            error_type: "CequenceForwarderError".into(),
            error_message: e.0,
        }
    }
}

pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Run one invocation (the event as the JSON text Lambda delivered); the stats line is
/// logged whatever happens.
pub async fn handle(app: &App, event: &str, meta: InvocationMeta) -> Result<Value, HandlerError> {
    let started = Instant::now();
    let kind = classify(event);
    let stats = stats::shared(kind.name());
    let result = run(app, kind, event, &meta, &stats).await;
    let mut s = lock(&stats).clone();
    if let Err(e) = &result {
        s.errors.push(e.0.clone());
    }
    s.finish(started.elapsed().as_millis() as u64);
    tracing::info!("{}", s.finished_line());
    result
}

async fn run(
    app: &App,
    kind: Kind,
    event: &str,
    meta: &InvocationMeta,
    stats: &stats::SharedStats,
) -> Result<Value, HandlerError> {
    if kind == Kind::CustomResource {
        let budget = meta
            .deadline
            .map(|d| {
                d.saturating_duration_since(Instant::now())
                    .saturating_sub(DEADLINE_MARGIN)
            })
            .unwrap_or(Duration::from_secs(600));
        let event: Value = serde_json::from_str(event)
            .map_err(|e| HandlerError(format!("the event is not JSON: {e}")))?;
        let response = custom_resource::handle(app, event, budget, &meta.invoked_function_arn)
            .await
            .map_err(HandlerError)?;
        // None: continued in a new invocation, which answers (or continues) in turn.
        return Ok(match response {
            Some(r) => serde_json::to_value(r).unwrap_or_default(),
            None => serde_json::json!({"Continued": true}),
        });
    }
    let fwd = app
        .forwarding
        .as_ref()
        .map_err(|e| HandlerError(format!("configuration: {e}")))?;
    let run = RunContext {
        account_id: meta.account_id(),
        region: app.aws.region.clone(),
        now_ms: now_ms(),
        deadline: meta.deadline,
        request_id: if meta.request_id.is_empty() {
            format!("local-{:016x}", rand::random::<u64>())
        } else {
            meta.request_id.clone()
        },
        function_arn: meta.invoked_function_arn.clone(),
    };
    let bad = |e: serde_json::Error| HandlerError(format!("malformed {} event: {e}", kind.name()));
    match kind {
        Kind::Subscription => {
            let e: LogsEvent = serde_json::from_str(event).map_err(bad)?;
            crate::push::run_direct(&app.aws, fwd, e, &run, stats)
                .await
                .map_err(|e| HandlerError(e.to_string()))
        }
        Kind::Kinesis => {
            let e: KinesisEvent = serde_json::from_str(event).map_err(bad)?;
            crate::push::run_kinesis(&app.aws, fwd, e, &run, stats)
                .await
                .map_err(|e| HandlerError(e.to_string()))
        }
        _ => crate::tick::run_tick(&app.aws, fwd, &run, stats)
            .await
            .map_err(|e| HandlerError(e.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn dispatches_on_the_event_shape() {
        let c = |v: serde_json::Value| classify(&v.to_string());
        assert_eq!(c(json!({})), Kind::Tick);
        assert_eq!(classify("not json"), Kind::Tick);
        let scheduler =
            json!({"version":"0","source":"aws.scheduler","detail-type":"Scheduled Event"});
        assert_eq!(c(scheduler), Kind::Tick);
        assert_eq!(c(json!({"awslogs":{"data":"abc"}})), Kind::Subscription);
        assert_eq!(
            c(json!({"Records":[{"eventSource":"aws:kinesis","kinesis":{"data":"x"}}]})),
            Kind::Kinesis
        );
        assert_eq!(
            c(json!({"Records":[{"eventSource":"aws:sqs"}]})),
            Kind::Tick
        );
        let cfn = json!({"RequestType":"Delete","ResponseURL":"u","StackId":"s","RequestId":"r","LogicalResourceId":"l"});
        assert_eq!(c(cfn), Kind::CustomResource);
    }

    #[test]
    fn account_id_comes_from_the_function_arn() {
        let meta = InvocationMeta {
            invoked_function_arn: "arn:aws:lambda:us-east-1:210987654321:function:f".into(),
            ..Default::default()
        };
        assert_eq!(meta.account_id(), "210987654321");
    }
}
