//! `bootstrap`: the forwarder's Lambda entry point (provided.al2023).
//!
//! `bootstrap` serves the Lambda Runtime API. `bootstrap invoke [EVENT_JSON|-]` runs the handler
//! once with the event (default `{}`, `-` reads stdin) and prints the result: the demo and
//! local debugging use it without a runtime emulator.
//! Clients are built once here and shared by every invocation of a warm container.

use std::io::Read;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use lambda_forwarder::app::{self, App, AwsClients};
use lambda_forwarder::config::Config;
use lambda_forwarder::invocation::{self as handler, InvocationMeta};
use lambda_runtime::{service_fn, LambdaEvent};
use serde_json::value::RawValue;
use serde_json::Value;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

// One thread: a function gets under one vCPU below 1,769 MB and nothing here runs in parallel
// (posts overlap as futures of one task), so worker threads only add wake-ups and contention.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    let local = std::env::args().nth(1).as_deref() == Some("invoke");
    let config = Config::from_env(local);
    let level = config
        .as_ref()
        .map(|c| c.log_level.clone())
        .unwrap_or_else(|_| "info".into());
    init_logging(&level, !local);
    if let Err(e) = &config {
        // Ticks fail with this error; the custom resource still works without it.
        tracing::error!(error = %e, "invalid configuration");
    }

    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(app::sdk_https_client())
        .load()
        .await;
    let app = App::new(AwsClients::new(&sdk), config);

    if local {
        return invoke_once(&app).await;
    }
    let app = &app;
    // The event stays raw JSON: a Kinesis batch (up to 6 MB) is parsed once, by its own type.
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<Box<RawValue>>| async move {
            let meta = InvocationMeta {
                request_id: event.context.request_id.clone(),
                invoked_function_arn: event.context.invoked_function_arn.clone(),
                deadline: deadline(event.context.deadline),
            };
            handler::handle(app, event.payload.get(), meta)
                .await
                .map_err(lambda_runtime::Error::from)
        },
    ))
    .await
}

/// The Runtime API gives the deadline as epoch ms; work with a monotonic instant.
fn deadline(deadline_ms: u64) -> Option<Instant> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .ok()?
        .as_millis() as u64;
    (deadline_ms > 0)
        .then(|| Instant::now() + Duration::from_millis(deadline_ms.saturating_sub(now)))
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
    serde_json::from_str::<Value>(&text).map_err(|e| format!("the event is not JSON: {e}"))?;
    match handler::handle(app, &text, InvocationMeta::default()).await {
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
    use tracing_subscriber::filter::{LevelFilter, Targets};
    use tracing_subscriber::prelude::*;
    // Our crates at the configured level (validated by Config), everything else at warn.
    let ours: LevelFilter = level.parse().unwrap_or(LevelFilter::INFO);
    let filter = Targets::new()
        .with_default(LevelFilter::WARN)
        .with_target("lambda_forwarder", ours)
        .with_target("bootstrap", ours)
        .with_target("cq_stage_logging", ours);
    let registry = tracing_subscriber::registry().with(filter);
    if lambda {
        registry
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .flatten_event(true)
                    .without_time()
                    .with_target(false)
                    .with_writer(std::io::stdout),
            )
            .init();
    } else {
        let color = std::io::IsTerminal::is_terminal(&std::io::stderr());
        registry
            .with(
                tracing_subscriber::fmt::layer()
                    .with_target(false)
                    .with_ansi(color)
                    .with_writer(std::io::stderr),
            )
            .init();
    }
}
