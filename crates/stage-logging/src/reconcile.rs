//! Orchestration: list the stages, decide per stage, run a bounded number of stages at a time,
//! and never let one stage's failure stop the others. Every restore also removes our
//! subscription filter from the stage's groups: a stage no longer captured is never pushed.

use futures::future::BoxFuture;
use futures::stream::{self, StreamExt};

use crate::calls::CallLog;
use crate::clients::Clients;
use crate::discovery::{self, Inventory};
use crate::model::{CaptureSettings, Report, StageOutcome};
use crate::{http, rest, subscriptions, STAGE_CONCURRENCY};

/// Capture where the stage type is enabled, restore where it is disabled.
pub(crate) async fn reconcile(clients: &Clients, settings: &CaptureSettings) -> Report {
    let mut account = CallLog::default();
    let inv = match discovery::inventory(clients, &mut account).await {
        Ok(inv) => inv,
        Err(e) => return failed_listing(account, e),
    };
    // The role matters only when REST stages are about to be captured.
    let mut can_log = false;
    let mut role_error = None;
    if settings.rest_enabled && !inv.rest.is_empty() {
        match rest::ensure_account_role(
            clients,
            settings.cloudwatch_role_arn.as_deref(),
            settings.replaces_role_arn.as_deref(),
            &mut account,
        )
        .await
        {
            Ok(ok) => can_log = ok,
            Err(e) => role_error = Some(e.to_string()),
        }
    }
    let Inventory {
        rest: rest_stages,
        http: http_stages,
        errors: listing_errors,
    } = inv;
    let errors = listing_errors.iter().map(ToString::to_string).collect();

    let mut jobs: Vec<BoxFuture<'_, StageOutcome>> = Vec::new();
    for s in rest_stages {
        if !settings.rest_enabled {
            jobs.push(Box::pin(async move {
                let outcome = rest::restore(clients, &s, true).await;
                subscriptions::release(clients, &s.read_groups(), outcome).await
            }));
        } else if let Some(e) = &role_error {
            // Without knowing the account's role no stage is touched; each shows why.
            let outcome = rest::blocked(&s, e);
            jobs.push(Box::pin(async move { outcome }));
        } else {
            jobs.push(Box::pin(async move {
                rest::capture(clients, &s, can_log).await
            }));
        }
    }
    for s in http_stages {
        if !settings.http_enabled {
            jobs.push(Box::pin(async move {
                let outcome = http::restore(clients, &s).await;
                subscriptions::release(clients, &s.read_groups(), outcome).await
            }));
        } else if s.is_default_stage() && !settings.include_http_default_stage {
            // Released only when it was ours to restore: an untagged `$default` stage whose
            // customer logs are read in place stays readable (and pushable) as it is.
            jobs.push(Box::pin(async move {
                let outcome = http::excluded_default(clients, &s).await;
                if s.previous_tag.is_some() {
                    subscriptions::release(clients, &s.read_groups(), outcome).await
                } else {
                    outcome
                }
            }));
        } else {
            jobs.push(Box::pin(async move { http::capture(clients, &s).await }));
        }
    }
    Report {
        outcomes: run(jobs).await,
        account_calls: account.into_vec(),
        errors,
    }
}

/// Restore every stage that carries this library's previous-settings tag, and take our
/// subscription filter off every stage's groups.
pub(crate) async fn restore_all(clients: &Clients) -> Report {
    let mut account = CallLog::default();
    let inv = match discovery::inventory(clients, &mut account).await {
        Ok(inv) => inv,
        Err(e) => return failed_listing(account, e),
    };
    let errors = inv.errors.iter().map(ToString::to_string).collect();
    let mut jobs: Vec<BoxFuture<'_, StageOutcome>> = Vec::new();
    for s in inv.rest {
        // The role is not looked up here: the status after restore is what matters, and a
        // restored stage logs whatever its owner configured.
        jobs.push(Box::pin(async move {
            let outcome = rest::restore(clients, &s, true).await;
            subscriptions::release(clients, &s.read_groups(), outcome).await
        }));
    }
    for s in inv.http {
        jobs.push(Box::pin(async move {
            let outcome = http::restore(clients, &s).await;
            subscriptions::release(clients, &s.read_groups(), outcome).await
        }));
    }
    Report {
        outcomes: run(jobs).await,
        account_calls: account.into_vec(),
        errors,
    }
}

/// At most STAGE_CONCURRENCY stages at a time, results in listing order.
async fn run(jobs: Vec<BoxFuture<'_, StageOutcome>>) -> Vec<StageOutcome> {
    stream::iter(jobs)
        .buffered(STAGE_CONCURRENCY)
        .collect()
        .await
}

fn failed_listing(account: CallLog, e: crate::Error) -> Report {
    tracing::warn!(error = %e, "listing API Gateway stages failed");
    Report {
        outcomes: Vec::new(),
        account_calls: account.into_vec(),
        errors: vec![e.to_string()],
    }
}
