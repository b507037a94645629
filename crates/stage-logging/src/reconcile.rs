//! Orchestration: list the stages, decide per stage, run a bounded number of stages at a time,
//! and never let one stage's failure stop the others. Every restore also removes our
//! subscription filter from the stage's groups: a stage no longer captured is never pushed.
//! Stages are taken in key order so a region too large for one call is done in chunks.

use std::time::Instant;

use futures::future::BoxFuture;
use futures::stream::{self, StreamExt};

use crate::calls::CallLog;
use crate::clients::Clients;
use crate::discovery::{self, Inventory};
use crate::model::{stage_key, ApiType, CaptureSettings, Chunk, Report, StageOutcome};
use crate::{http, rest, subscriptions, STAGE_CONCURRENCY};

/// One stage's work, not started yet, with its place in the chunk order.
type Job<'a> = (String, BoxFuture<'a, StageOutcome>);

/// Capture where the stage type is enabled, restore where it is disabled.
pub(crate) async fn reconcile(
    clients: &Clients,
    settings: &CaptureSettings,
    chunk: &Chunk,
) -> Report {
    let mut account = CallLog::default();
    let inv = match discovery::inventory_in(clients, &mut account, chunk.scope()).await {
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
        truncated,
    } = inv;
    let errors = listing_errors.iter().map(ToString::to_string).collect();

    let mut jobs: Vec<Job<'_>> = Vec::new();
    for s in rest_stages {
        let key = stage_key(ApiType::Rest, &s.api_id, &s.stage);
        if !settings.rest_enabled {
            jobs.push((
                key,
                Box::pin(async move {
                    let outcome = rest::restore(clients, &s, true).await;
                    subscriptions::release(clients, &s.read_groups(), outcome).await
                }),
            ));
        } else if let Some(e) = &role_error {
            // Without knowing the account's role no stage is touched; each shows why.
            let outcome = rest::blocked(&s, e);
            jobs.push((key, Box::pin(async move { outcome })));
        } else {
            jobs.push((
                key,
                Box::pin(async move {
                    rest::capture(clients, &s, can_log, settings.rest_delivery).await
                }),
            ));
        }
    }
    for s in http_stages {
        let key = stage_key(ApiType::Http, &s.api_id, &s.stage);
        if !settings.http_enabled {
            jobs.push((
                key,
                Box::pin(async move {
                    let outcome = http::restore(clients, &s).await;
                    subscriptions::release(clients, &s.read_groups(), outcome).await
                }),
            ));
        } else if !settings.wants(ApiType::Http, &s.stage) {
            // Released only when it was ours to restore: an untagged `$default` stage whose
            // customer logs are read in place stays readable (and pushable) as it is.
            jobs.push((
                key,
                Box::pin(async move {
                    let outcome = http::excluded_default(clients, &s).await;
                    if s.previous_tag.is_some() {
                        subscriptions::release(clients, &s.read_groups(), outcome).await
                    } else {
                        outcome
                    }
                }),
            ));
        } else {
            jobs.push((
                key,
                Box::pin(async move { http::capture(clients, &s).await }),
            ));
        }
    }
    finish(jobs, chunk, truncated, account, errors).await
}

/// Restore every stage that carries this library's previous-settings tag, and take our
/// subscription filter off every stage's groups.
pub(crate) async fn restore_all(clients: &Clients, chunk: &Chunk) -> Report {
    let mut account = CallLog::default();
    let inv = match discovery::inventory_in(clients, &mut account, chunk.scope()).await {
        Ok(inv) => inv,
        Err(e) => return failed_listing(account, e),
    };
    let errors = inv.errors.iter().map(ToString::to_string).collect();
    let truncated = inv.truncated;
    let mut jobs: Vec<Job<'_>> = Vec::new();
    for s in inv.rest {
        // The role is not looked up here: the status after restore is what matters, and a
        // restored stage logs whatever its owner configured.
        let key = stage_key(ApiType::Rest, &s.api_id, &s.stage);
        jobs.push((
            key,
            Box::pin(async move {
                let outcome = rest::restore(clients, &s, true).await;
                subscriptions::release(clients, &s.read_groups(), outcome).await
            }),
        ));
    }
    for s in inv.http {
        let key = stage_key(ApiType::Http, &s.api_id, &s.stage);
        jobs.push((
            key,
            Box::pin(async move {
                let outcome = http::restore(clients, &s).await;
                subscriptions::release(clients, &s.read_groups(), outcome).await
            }),
        ));
    }
    finish(jobs, chunk, truncated, account, errors).await
}

async fn finish(
    mut jobs: Vec<Job<'_>>,
    chunk: &Chunk,
    truncated: bool,
    account: CallLog,
    errors: Vec<String>,
) -> Report {
    jobs.sort_by(|a, b| a.0.cmp(&b.0));
    let last = jobs.last().map(|(k, _)| k.clone());
    let (outcomes, mut resume_after) = run(jobs, chunk).await;
    // Every listed stage done, but APIs after them were not read.
    if truncated && resume_after.is_none() {
        resume_after = last.or_else(|| chunk.after.clone());
    }
    Report {
        outcomes,
        resume_after,
        account_calls: account.into_vec(),
        errors,
    }
}

/// At most STAGE_CONCURRENCY stages at a time, results in key order. Past
/// `stop_starting_at` no stage is started; since `buffered` starts them in order, the ones
/// left are exactly those after the last outcome, so its key is where the next chunk resumes.
async fn run(jobs: Vec<Job<'_>>, chunk: &Chunk) -> (Vec<StageOutcome>, Option<String>) {
    let stop = chunk.stop_starting_at;
    let started: Vec<Option<(String, StageOutcome)>> = stream::iter(jobs)
        .map(|(key, job)| async move {
            if stop.is_some_and(|t| Instant::now() >= t) {
                return None;
            }
            Some((key, job.await))
        })
        .buffered(STAGE_CONCURRENCY)
        .collect()
        .await;
    let left = started.iter().any(Option::is_none);
    let done: Vec<(String, StageOutcome)> = started.into_iter().flatten().collect();
    // A job is skipped only once the deadline has passed, and every later one starts later:
    // the skipped ones are a suffix.
    let resume_after = left.then(|| {
        done.last()
            .map(|(k, _)| k.clone())
            .or_else(|| chunk.after.clone())
            .unwrap_or_default()
    });
    (done.into_iter().map(|(_, o)| o).collect(), resume_after)
}

fn failed_listing(account: CallLog, e: crate::Error) -> Report {
    tracing::warn!(error = %e, "listing API Gateway stages failed");
    Report {
        outcomes: Vec::new(),
        resume_after: None,
        account_calls: account.into_vec(),
        errors: vec![e.to_string()],
    }
}
