//! `bootstrap`: the forwarder's Lambda entry point (provided.al2023).
//!
//! `bootstrap` serves the Lambda Runtime API. `bootstrap invoke [EVENT_JSON|-]` runs the handler
//! once with the event (default `{}`, `-` reads stdin) and prints the result: the demo and
//! local debugging use it without a runtime emulator.
//! Clients are built once here and shared by every invocation of a warm container.

use std::io::Read;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use lambda_forwarder::app::{App, AwsClients};
use lambda_forwarder::config::Config;
use lambda_forwarder::handler::{self, InvocationMeta};
use lambda_runtime::{service_fn, LambdaEvent};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let config = Config::from_env();
    let level = config
        .as_ref()
        .map(|c| c.log_level.clone())
        .unwrap_or_else(|_| "info".into());
    let local = std::env::args().nth(1).as_deref() == Some("invoke");
    init_logging(&level, !local);
    if let Err(e) = &config {
        // Ticks fail with this error; the custom resource still works without it.
        tracing::error!(error = %e, "invalid configuration");
    }

    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let app = App::new(AwsClients::new(&sdk), config);

    if local {
        return invoke_once(&app).await;
    }
    let app = &app;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let meta = InvocationMeta {
            invoked_function_arn: event.context.invoked_function_arn.clone(),
            remaining: remaining(event.context.deadline),
        };
        handler::handle(app, event.payload, meta)
            .await
            .map_err(lambda_runtime::Error::from)
    }))
    .await
}

fn remaining(deadline_ms: u64) -> Option<Duration> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .ok()?
        .as_millis() as u64;
    (deadline_ms > 0).then(|| Duration::from_millis(deadline_ms.saturating_sub(now)))
}

async fn invoke_once(app: &App) -> Result<(), lambda_runtime::Error> {
    let text = match std::env::args().nth(2).as_deref() {
        None => "{}".to_string(),
        Some("-") => {
            let mut s = String::new();
            std::io::stdin().read_to_string(&mut s)?;
            s
        }
        Some(json) => json.to_string(),
    };
    let event: Value =
        serde_json::from_str(&text).map_err(|e| format!("the event is not JSON: {e}"))?;
    match handler::handle(app, event, InvocationMeta::default()).await {
        Ok(v) => {
            println!("{}", serde_json::to_string_pretty(&v)?);
            Ok(())
        }
        Err(e) => {
            println!("{}", serde_json::json!({"errorMessage": e.to_string()}));
            std::process::exit(1)
        }
    }
}

/// JSON lines on stdout in Lambda (CloudWatch Logs Insights parses them), plain text on stderr
/// locally (stdout carries the `invoke` result). `LOG_LEVEL` sets this crate's level; the SDK
/// and HTTP stack stay at `warn` so their chatter does not bury the stats line.
fn init_logging(level: &str, lambda: bool) {
    let filter = tracing_subscriber::EnvFilter::new(format!(
        "warn,lambda_forwarder={level},bootstrap={level},cq_stage_logging={level}"
    ));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false);
    if lambda {
        builder
            .json()
            .flatten_event(true)
            .without_time()
            .with_writer(std::io::stdout)
            .init();
    } else {
        let color = std::io::IsTerminal::is_terminal(&std::io::stderr());
        builder.with_ansi(color).with_writer(std::io::stderr).init();
    }
}
