//! Carrying out the subscription decisions: describe, put and delete our filter on a log group.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_sdk_cloudwatchlogs::operation::put_subscription_filter::PutSubscriptionFilterError;
use aws_sdk_cloudwatchlogs::types::Distribution;
use aws_smithy_runtime_api::client::interceptors::context::InterceptorContext;
use aws_smithy_runtime_api::client::orchestrator::OrchestratorError;
use aws_smithy_runtime_api::client::retries::classifiers::{
    ClassifyRetry, RetryAction, RetryClassifierPriority,
};
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use crate::calls::CallLog;
use crate::clients::Clients;
use crate::error::Error;
use crate::model::{Action, StageOutcome};
use crate::subscription_plan::{
    self as plan, FilterView, GroupSubscriptions, PushDestination, SubscribeDecision,
    SubscribeOutcome, FILTER_PATTERN, SUBSCRIPTION_FILTER_NAME,
};

/// Every filter of `log_group`; a group that does not exist (yet) has none.
pub(crate) async fn describe(
    clients: &Clients,
    log_group: &str,
    calls: &mut CallLog,
) -> Result<Vec<FilterView>, Error> {
    let mut filters = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let call = calls.record("logs", "DescribeSubscriptionFilters", log_group);
        let page = match clients
            .logs
            .describe_subscription_filters()
            .log_group_name(log_group)
            .set_next_token(token.clone())
            .send()
            .await
        {
            Ok(page) => page,
            Err(e)
                if e.as_service_error()
                    .is_some_and(|se| se.is_resource_not_found_exception()) =>
            {
                return Ok(Vec::new());
            }
            Err(e) => return Err(Error::aws(&call, e)),
        };
        for f in page.subscription_filters() {
            let Some(name) = f.filter_name() else {
                continue;
            };
            filters.push(FilterView {
                name: name.to_string(),
                destination_arn: f.destination_arn().unwrap_or_default().to_string(),
                role_arn: f.role_arn().map(str::to_string),
                pattern: f.filter_pattern().unwrap_or_default().to_string(),
                by_log_stream: f.distribution() != Some(&Distribution::Random),
                creation_time_ms: f.creation_time().unwrap_or_default(),
            });
        }
        match page.next_token() {
            Some(t) if !t.is_empty() && Some(t) != token.as_deref() => token = Some(t.to_string()),
            _ => return Ok(filters),
        }
    }
}

pub(crate) async fn subscriptions(
    clients: &Clients,
    log_group: &str,
) -> Result<GroupSubscriptions, Error> {
    let mut calls = CallLog::default();
    Ok(plan::split(
        &describe(clients, log_group, &mut calls).await?,
    ))
}

pub(crate) async fn subscribe(
    clients: &Clients,
    log_group: &str,
    dest: &PushDestination,
    wait_for_destination: Duration,
) -> Result<SubscribeOutcome, Error> {
    let mut calls = CallLog::default();
    let filters = describe(clients, log_group, &mut calls).await?;
    if let SubscribeDecision::Keep { creation_time_ms } = plan::decide_subscribe(&filters, dest) {
        return Ok(SubscribeOutcome::AlreadySubscribed { creation_time_ms });
    }
    let started = Instant::now();
    let mut waits = plan::not_ready_waits(wait_for_destination);
    loop {
        let call = calls.record("logs", "PutSubscriptionFilter", log_group);
        let put = clients
            .logs
            .put_subscription_filter()
            .log_group_name(log_group)
            .filter_name(SUBSCRIPTION_FILTER_NAME)
            .filter_pattern(FILTER_PATTERN)
            .destination_arn(&dest.arn)
            .set_role_arn(dest.role_arn.clone().filter(|r| !r.is_empty()))
            // One log stream's payloads stay on one Kinesis shard, in order.
            .distribution(Distribution::ByLogStream)
            .customize()
            .config_override(
                aws_sdk_cloudwatchlogs::config::Builder::default()
                    .retry_classifier(QuotaIsNotThrottling),
            )
            .send()
            .await;
        let Err(e) = put else { break };
        if e.as_service_error()
            .is_some_and(|se| se.is_limit_exceeded_exception())
        {
            return Ok(SubscribeOutcome::NoFreeSlot {
                others: plan::split(&filters).others,
            });
        }
        let not_ready = plan::destination_not_ready(e.code(), e.message().unwrap_or_default());
        match waits.next() {
            Some(wait) if not_ready => {
                tracing::info!(
                    log_group,
                    wait_ms = wait.as_millis() as u64,
                    error = e.message().unwrap_or_default(),
                    "the push destination is not ready yet (a new role or permission is still propagating); trying again"
                );
                tokio::time::sleep(wait).await;
            }
            _ => {
                let mut err = Error::aws(&call, e);
                if not_ready {
                    err = err.with_note(&format!(
                        "the destination was still not ready after {} s; a role or permission created moments ago can take a minute to reach CloudWatch Logs, and the forwarder tries again on a later tick",
                        started.elapsed().as_secs()
                    ));
                }
                return Err(err);
            }
        }
    }
    // PutSubscriptionFilter answers nothing: read the creation time back.
    let after = plan::split(&describe(clients, log_group, &mut calls).await?);
    let creation_time_ms = after
        .ours
        .map(|o| o.creation_time_ms)
        .filter(|t| *t > 0)
        .unwrap_or_else(now_ms);
    Ok(SubscribeOutcome::Subscribed { creation_time_ms })
}

/// Remove our filter from `log_group` (never another's). Returns whether one was removed.
pub(crate) async fn unsubscribe(
    clients: &Clients,
    log_group: &str,
    calls: &mut CallLog,
) -> Result<bool, Error> {
    let filters = describe(clients, log_group, calls).await?;
    if plan::split(&filters).ours.is_none() {
        return Ok(false);
    }
    let call = calls.record(
        "logs",
        "DeleteSubscriptionFilter",
        &format!("{log_group} {SUBSCRIPTION_FILTER_NAME}"),
    );
    // Removed meanwhile (another restore, or the forwarder): the goal is reached.
    let removed = clients
        .logs
        .delete_subscription_filter()
        .log_group_name(log_group)
        .filter_name(SUBSCRIPTION_FILTER_NAME)
        .send()
        .await;
    crate::error::found(&call, removed).map(|r| r.is_some())
}

/// After a stage was restored (or found not ours), take our filter off every group its logs
/// were read from, so nothing is pushed for a stage that is no longer captured. The calls join
/// the stage's outcome; a removed filter makes an unchanged stage `Restored`, a failure makes
/// it `Failed`.
pub(crate) async fn release(
    clients: &Clients,
    groups: &[String],
    mut outcome: StageOutcome,
) -> StageOutcome {
    let mut calls = CallLog::default();
    let mut removed = false;
    let mut errors = Vec::new();
    for group in groups {
        match unsubscribe(clients, group, &mut calls).await {
            Ok(r) => removed |= r,
            Err(e) => {
                tracing::warn!(log_group = %group, error = %e, "removing the Cequence subscription filter failed");
                errors.push(e.to_string());
            }
        }
    }
    outcome.calls.extend(calls.into_vec());
    if !errors.is_empty() {
        outcome.action = Action::Failed;
        outcome.error = Some(
            outcome
                .error
                .into_iter()
                .chain(errors)
                .collect::<Vec<_>>()
                .join("; "),
        );
    } else if removed && matches!(outcome.action, Action::Unchanged | Action::Skipped) {
        outcome.action = Action::Restored;
    }
    outcome
}

/// The SDK counts `LimitExceededException` as throttling and retries it with backoff (about
/// 30 s with this crate's retry policy). On PutSubscriptionFilter it means the group's filter
/// quota is used up, which no retry changes: answer `NoFreeSlot` at once.
#[derive(Debug)]
struct QuotaIsNotThrottling;

impl ClassifyRetry for QuotaIsNotThrottling {
    fn classify_retry(&self, ctx: &InterceptorContext) -> RetryAction {
        let quota = ctx
            .output_or_error()
            .and_then(Result::err)
            .and_then(OrchestratorError::as_operation_error)
            .and_then(|e| e.downcast_ref::<PutSubscriptionFilterError>())
            .is_some_and(PutSubscriptionFilterError::is_limit_exceeded_exception);
        if quota {
            RetryAction::RetryForbidden
        } else {
            RetryAction::NoActionIndicated
        }
    }

    fn name(&self) -> &'static str {
        "subscription filter quota is not throttling"
    }

    fn priority(&self) -> RetryClassifierPriority {
        RetryClassifierPriority::run_after(RetryClassifierPriority::transient_error_classifier())
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default()
}
