//! One scheduled run (a "tick"): under a lease, read each polled log group from its
//! checkpoint up to the settle-lag window end, page by page, delivering as it goes and saving
//! the checkpoint after each delivered batch; stop early enough to finish before the Lambda
//! deadline (the rest is read by the next tick). Also: replay the spool, send split pushed
//! requests whose wait is over, and move groups between polling and pushing.

use std::collections::HashMap;
use std::sync::Mutex as StdMutex;
use std::time::{Duration, Instant};

use futures::StreamExt;
use serde_json::{json, Value};

use crate::app::{AwsClients, Forwarding};
use crate::config::{Config, Ingestion, LogGroupSpec, LogKind, PushDestination};
use crate::flow::Flow;
use crate::ingestion::{self, Decision, GroupView};
use crate::pipeline::assemble::{into_finished, merge_fragments, Fed, OpenRequest, RestAssembler};
use crate::pipeline::parse::SourceContext;
use crate::pipeline::{build_access_line, build_finished, Counts};
use crate::sources::poll::{fetch_page, PageRequest, PAGE_LIMIT};
use crate::state::{Channel, Cursor, GroupState, StateError, StateStore};
use crate::stats::{lock, SharedStats};

/// Log groups read at once (the rate limiter keeps the request rate within quota anyway;
/// enough groups in flight keep it busy although each group pages sequentially).
const GROUP_CONCURRENCY: usize = 10;
/// Deliveries in flight per group.
const POSTS_PER_GROUP: usize = 2;
/// Re-discover stages (and capture new ones) at most this often per warm container.
const DISCOVER_EVERY: Duration = Duration::from_secs(300);
/// Look at the groups' subscription filters at most this often per warm container.
const OBSERVE_EVERY: Duration = Duration::from_secs(300);
/// Without a Lambda deadline (`bootstrap invoke`), a run may take this long.
const LOCAL_BUDGET: Duration = Duration::from_secs(900);
/// Deliveries and saves end this long before the deadline itself.
const FINAL_MARGIN: Duration = Duration::from_secs(2);

#[derive(Debug, thiserror::Error)]
pub enum TickError {
    #[error("configuration: {0}")]
    Config(String),
    #[error("discovering API stages: {0}")]
    Discovery(String),
    #[error("state: {0}")]
    State(#[from] StateError),
}

/// Where and when the run is.
#[derive(Debug, Clone)]
pub struct RunContext {
    pub account_id: String,
    pub region: String,
    /// Epoch ms at the start of the run.
    pub now_ms: i64,
    /// The Lambda deadline, if any.
    pub deadline: Option<Instant>,
    /// Names this invocation (the lease owner).
    pub request_id: String,
    /// This function's ARN (a subscription straight to Lambda targets it).
    pub function_arn: String,
}

impl RunContext {
    pub fn deadline(&self) -> Instant {
        self.deadline
            .unwrap_or_else(|| Instant::now() + LOCAL_BUDGET)
    }

    pub fn source(&self, spec: &LogGroupSpec) -> SourceContext {
        SourceContext {
            account_id: self.account_id.clone(),
            region: self.region.clone(),
            api_id: spec.api_id.clone(),
            stage: spec.stage.clone(),
            log_group: spec.log_group.clone(),
        }
    }
}

/// What reading one group did.
struct GroupRun {
    spec: LogGroupSpec,
    state: GroupState,
    pages: u64,
    covered_ms: i64,
    reached_end: bool,
    window_end: i64,
}

/// Run one tick; stats are filled in as it goes, also when it fails.
pub async fn run_tick(
    aws: &AwsClients,
    fwd: &Forwarding,
    run: &RunContext,
    stats: &SharedStats,
) -> Result<Value, TickError> {
    let cfg = &fwd.config;
    let store = fwd
        .store
        .as_ref()
        .ok_or_else(|| TickError::Config("CEQUENCE_STATE_TABLE is not set".into()))?;
    let deadline = run.deadline();
    let fetch_until = deadline
        .checked_sub(Duration::from_millis(cfg.deadline_margin_ms as u64))
        .unwrap_or_else(Instant::now);
    let deliver_until = deadline.checked_sub(FINAL_MARGIN).unwrap_or(deadline);
    {
        let mut s = lock(stats);
        s.log_fetch_interval_mill_sec = cfg.fetch_interval_ms;
        s.log_fetch_limit = PAGE_LIMIT;
        s.cloudwatch_filter_end_time = run.now_ms - cfg.settle_lag_ms;
    }
    // Lambda ends an invocation at its deadline, so the lease need not outlive it: a killed
    // tick blocks the next one only until its own deadline.
    let lease_until = run.now_ms
        + deadline
            .saturating_duration_since(Instant::now())
            .as_millis() as i64
        + 500;
    if !store
        .acquire_lease(&run.request_id, lease_until, run.now_ms)
        .await?
    {
        tracing::info!("another tick is still running: this one does nothing");
        lock(stats).skipped_lease_held = true;
        return Ok(json!({"invocation": "tick", "skipped": "another tick holds the lease"}));
    }
    let result = locked_tick(aws, fwd, store, run, stats, fetch_until, deliver_until).await;
    store.release_lease(&run.request_id).await;
    result
}

#[allow(clippy::too_many_arguments)]
async fn locked_tick(
    aws: &AwsClients,
    fwd: &Forwarding,
    store: &StateStore,
    run: &RunContext,
    stats: &SharedStats,
    fetch_until: Instant,
    deliver_until: Instant,
) -> Result<Value, TickError> {
    let cfg = &fwd.config;
    fwd.deliverer.begin_invocation().await;
    let groups = resolve_groups(aws, cfg).await?;
    lock(stats).log_group_count = groups.len();
    let names: Vec<String> = groups.iter().map(|g| g.log_group.clone()).collect();
    let mut states = store.load_groups(&names).await?;

    // The spool first: it holds the oldest data. It runs beside the reading, which spools
    // too while the Edge is down.
    let replay = fwd.deliverer.replay(fetch_until, stats);
    let sweep = sweep_fragments(fwd, store, run, stats, &groups, deliver_until);
    let reading = futures::stream::iter(groups.iter().cloned())
        .map(|spec| {
            let state = states.remove(&spec.log_group).unwrap_or_default();
            read_group(
                aws,
                fwd,
                store,
                run,
                stats,
                spec,
                state,
                fetch_until,
                deliver_until,
            )
        })
        .buffer_unordered(GROUP_CONCURRENCY)
        .collect::<Vec<GroupRun>>();
    let (_, _, runs) = futures::join!(replay, sweep, reading);

    let mut runs: HashMap<String, GroupRun> = runs
        .into_iter()
        .map(|r| (r.spec.log_group.clone(), r))
        .collect();
    for r in runs.values_mut() {
        let lag = (r.window_end - r.state.cursor.as_ref().map_or(r.window_end, |c| c.ts)).max(0);
        r.state.load =
            ingestion::update_load(r.state.load, r.pages, r.covered_ms, lag, r.reached_end);
        if let Channel::ToPush { at } = r.state.channel {
            if r.state.channel.poll_done(
                r.state.cursor.as_ref().unwrap_or(&Cursor::at(0)),
                r.state.open.len(),
            ) {
                r.state.channel = Channel::Push { since: at };
            }
        }
    }
    observe_subscriptions(aws, run, &mut runs).await;
    apply_decisions(aws, fwd, run, stats, &mut runs).await;
    let mut backlog = 0;
    let (mut pushed, mut polled) = (0, 0);
    for r in runs.values_mut() {
        if !r.reached_end
            && r.state
                .channel
                .poll_until()
                .is_none_or(|u| r.state.cursor.as_ref().is_none_or(|c| c.ts < u))
        {
            backlog += 1;
        }
        if matches!(
            r.state.channel,
            Channel::Push { .. } | Channel::ToPush { .. }
        ) {
            pushed += 1;
        } else {
            polled += 1;
        }
        match store.save_group(&r.spec.log_group, &mut r.state).await {
            Ok(w) => lock(stats).count_save(w),
            Err(e) => {
                tracing::error!(log_group = %r.spec.log_group, error = %e, "cannot save the group's state");
                lock(stats).errors.push(e.to_string());
            }
        }
    }
    let mut s = lock(stats);
    s.backlog_groups = backlog;
    s.pushed_groups = pushed;
    s.polled_groups = polled;
    s.pending_requests = runs.values().map(|r| r.state.open.len() as u64).sum();
    Ok(json!({
        "invocation": "tick",
        "log_groups": s.log_group_count,
        "events": s.total_events_fetched,
        "delivered": s.transactions_delivered,
        "spooled": s.transactions_spooled,
        "replayed": s.transactions_replayed,
        "backlog_groups": backlog,
    }))
}

/// Read one group from its checkpoint to the window end or the deadline.
#[allow(clippy::too_many_arguments)]
async fn read_group(
    aws: &AwsClients,
    fwd: &Forwarding,
    store: &StateStore,
    run: &RunContext,
    stats: &SharedStats,
    spec: LogGroupSpec,
    mut state: GroupState,
    fetch_until: Instant,
    deliver_until: Instant,
) -> GroupRun {
    let cfg = &fwd.config;
    let mut window_end = run.now_ms - cfg.settle_lag_ms;
    // A group read for the first time looks back one interval from the window end.
    let mut cursor = state
        .cursor
        .clone()
        .unwrap_or_else(|| Cursor::at(window_end - cfg.fetch_interval_ms));
    if let Some(until) = state.channel.poll_until() {
        window_end = window_end.min(until);
    }
    let mut run_out = GroupRun {
        spec: spec.clone(),
        state: GroupState::default(),
        pages: 0,
        covered_ms: 0,
        reached_end: true,
        window_end,
    };
    if state.channel.poll_done(&cursor, state.open.len()) {
        state.cursor = Some(cursor);
        run_out.state = state;
        return run_out;
    }
    {
        let mut s = lock(stats);
        if s.cloudwatch_filter_start_time == 0 || cursor.ts < s.cloudwatch_filter_start_time {
            s.cloudwatch_filter_start_time = cursor.ts;
        }
    }
    let ctx = run.source(&spec);
    let ownership = ingestion::poll_ownership(&state.channel);
    // `state` stays the last durable state: only a successful save replaces it.
    let mut asm = RestAssembler::restore(ownership, state.open.clone());
    let mut flow: Flow<'_, (Cursor, Vec<OpenRequest>)> =
        Flow::new(&fwd.deliverer, stats, deliver_until, POSTS_PER_GROUP);
    let mut counts = Counts::default();
    let started_at = cursor.ts;
    let mut next_token: Option<String> = None;
    let mut reached_end = cursor.ts >= window_end;
    let mut duplicates = 0u64;
    while !reached_end {
        if Instant::now() >= fetch_until {
            lock(stats).deadline_stop = true;
            break;
        }
        if flow.failure.is_some() {
            break;
        }
        let req = PageRequest {
            log_group: &spec.log_group,
            start: cursor.ts,
            end_inclusive: window_end - 1,
            next_token: next_token.clone(),
        };
        let page = match fetch_page(
            &aws.logs,
            &fwd.limiter,
            stats,
            &req,
            fetch_until + Duration::from_secs(2),
        )
        .await
        {
            Ok(p) => p,
            Err(e) => {
                tracing::error!(log_group = %spec.log_group, error = %e, "cannot read the log group; the next tick resumes here");
                lock(stats).errors.push(e.to_string());
                break;
            }
        };
        run_out.pages += 1;
        // The ids consumed at the page's last millisecond, for the checkpoint.
        let tail: Option<(i64, Vec<String>)> = page.events.last().map(|last| {
            let ts = last.timestamp;
            let ids = page
                .events
                .iter()
                .rev()
                .take_while(|e| e.timestamp == ts)
                .map(|e| e.event_id.clone())
                .collect();
            (ts, ids)
        });
        for event in page.events {
            if cursor.consumed(event.timestamp, &event.event_id) {
                duplicates += 1;
                continue;
            }
            match spec.kind {
                LogKind::RestExecution => match asm.feed(event) {
                    Fed::Finished(f) => {
                        if let Some(b) = build_finished(&f, &ctx, &cfg.filters, &mut counts) {
                            flow.add(&b);
                        }
                    }
                    Fed::Duplicate => duplicates += 1,
                    Fed::Open | Fed::NotARequest | Fed::NotOurs | Fed::Elided => {}
                },
                LogKind::HttpAccess => {
                    if let Some(b) = build_access_line(&event, &ctx, &cfg.filters, &mut counts) {
                        flow.add(&b);
                    }
                }
            }
        }
        if let Some((ts, ids)) = tail {
            if ts > cursor.ts {
                cursor = Cursor { ts, ids };
            } else {
                for id in ids {
                    if !cursor.ids.contains(&id) {
                        cursor.ids.push(id);
                    }
                }
            }
        }
        next_token = page.next_token;
        if next_token.is_none() {
            cursor.finish_window(window_end);
            reached_end = true;
        }
        for f in asm.take_older_than(cursor.ts - cfg.pending_wait_ms) {
            if let Some(b) = build_finished(&f, &ctx, &cfg.filters, &mut counts) {
                flow.add(&b);
            }
        }
        flow.snapshot((cursor.clone(), asm.open_requests()));
        if let Some(snap) = flow.pump().await {
            save_snapshot(store, &spec.log_group, &mut state, snap, stats).await;
        }
    }
    if flow.failure.is_none() {
        for f in asm.take_older_than(cursor.ts - cfg.pending_wait_ms) {
            if let Some(b) = build_finished(&f, &ctx, &cfg.filters, &mut counts) {
                flow.add(&b);
            }
        }
        flow.snapshot((cursor.clone(), asm.open_requests()));
    }
    flow.flush();
    while let Some(saveable) = flow.drain().await {
        if let Some(snap) = saveable {
            save_snapshot(store, &spec.log_group, &mut state, snap, stats).await;
        }
    }
    // Nothing was in flight (a quiet window): the last snapshot is saveable as it is.
    if let Some(snap) = flow.saveable() {
        save_snapshot(store, &spec.log_group, &mut state, snap, stats).await;
    }
    if state.cursor.is_none() {
        // Never read (nothing to do yet): start from here next time.
        state.cursor = Some(cursor.clone());
    }
    {
        let mut s = lock(stats);
        s.duplicate_events_dropped += duplicates;
        record_counts(&mut s, &counts);
    }
    run_out.covered_ms = state.cursor.as_ref().map_or(0, |c| c.ts) - started_at;
    run_out.reached_end = reached_end && flow.failure.is_none();
    run_out.state = state;
    run_out
}

async fn save_snapshot(
    store: &StateStore,
    log_group: &str,
    state: &mut GroupState,
    (cursor, open): (Cursor, Vec<OpenRequest>),
    stats: &SharedStats,
) {
    let mut next = GroupState {
        cursor: Some(cursor),
        open,
        channel: state.channel,
        load: state.load,
        push_refused: state.push_refused.clone(),
        version: state.version,
    };
    match store.save_group(log_group, &mut next).await {
        Ok(w) => {
            *state = next;
            lock(stats).count_save(w);
        }
        Err(e) => {
            // Keep the last state that is stored: what came after is read again.
            tracing::error!(log_group, error = %e, "cannot save the checkpoint");
            lock(stats).errors.push(e.to_string());
        }
    }
}

pub fn record_counts(s: &mut crate::stats::Stats, c: &Counts) {
    s.total_streams_fetched += c.streams;
    s.total_complete_streams_count += c.complete;
    s.total_incomplete_streams_count += c.incomplete;
    s.total_truncated_streams_count += c.truncated;
    s.total_failed_to_parse_streams += c.failed_to_parse;
    s.total_transactions_parsed_from_streams += c.built;
    s.dropped_static_transactions += c.dropped_static;
}

/// Split pushed requests (their halves arrived in separate invocations) whose last line never
/// came: sent with what arrived, flagged incomplete.
async fn sweep_fragments(
    fwd: &Forwarding,
    store: &StateStore,
    run: &RunContext,
    stats: &SharedStats,
    groups: &[LogGroupSpec],
    deliver_until: Instant,
) {
    if fwd.config.ingestion == Ingestion::Poll && fwd.config.log_groups.is_some() {
        return;
    }
    let stale = match store
        .stale_fragments(run.now_ms - fwd.config.pending_wait_ms)
        .await
    {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(error = %e, "cannot look for split pushed requests");
            return;
        }
    };
    if stale.is_empty() {
        return;
    }
    let mut flow: Flow<'_, ()> = Flow::new(&fwd.deliverer, stats, deliver_until, POSTS_PER_GROUP);
    let mut counts = Counts::default();
    let mut claimed = Vec::new();
    for (group, frags) in stale {
        let Some(merged) = merge_fragments(frags) else {
            continue;
        };
        if !store
            .claim_fragments(&group, &merged.request_id)
            .await
            .unwrap_or(false)
        {
            continue;
        }
        let spec = groups
            .iter()
            .find(|g| g.log_group == group)
            .cloned()
            .unwrap_or_else(|| LogGroupSpec::from_log_group(&group));
        let completed = crate::pipeline::assemble::has_completed_line(&merged);
        let f = into_finished(merged, completed);
        if let Some(b) = build_finished(&f, &run.source(&spec), &fwd.config.filters, &mut counts) {
            flow.add(&b);
        }
        claimed.push(f.request_id);
    }
    flow.finish().await;
    if let Some(e) = &flow.failure {
        tracing::error!(error = %e, requests = claimed.len(), "split pushed requests could not be delivered nor spooled");
    }
    record_counts(&mut lock(stats), &counts);
}

/// The log groups to read: `CEQUENCE_LOG_GROUPS`, else the captured stages of this region
/// (re-discovered every few minutes; stages deployed since the stack are captured then).
async fn resolve_groups(aws: &AwsClients, cfg: &Config) -> Result<Vec<LogGroupSpec>, TickError> {
    if let Some(groups) = &cfg.log_groups {
        return Ok(groups.clone());
    }
    static CACHE: StdMutex<Option<(Instant, Vec<LogGroupSpec>)>> = StdMutex::new(None);
    if let Some((at, groups)) = CACHE.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
        if at.elapsed() < DISCOVER_EVERY {
            return Ok(groups.clone());
        }
    }
    let mut stages = cq_stage_logging::discover(&aws.stage)
        .await
        .map_err(|e| TickError::Discovery(e.to_string()))?;
    if needs_reconcile(cfg, &stages) {
        let settings = cfg.capture_settings();
        let report = cq_stage_logging::reconcile(&aws.stage, &settings).await;
        tracing::info!(
            changed = report.changed(),
            failed = report.failed(),
            "captured stages deployed since the last check"
        );
        if report.changed() > 0 {
            stages = cq_stage_logging::discover(&aws.stage)
                .await
                .map_err(|e| TickError::Discovery(e.to_string()))?;
        }
    }
    let groups = groups_of(cfg, &stages);
    *CACHE.lock().unwrap_or_else(|p| p.into_inner()) = Some((Instant::now(), groups.clone()));
    Ok(groups)
}

/// Uncaptured stages in scope (`CaptureSettings::wants`: HTTP `$default` only when included).
pub fn needs_reconcile(cfg: &Config, stages: &[cq_stage_logging::StageStatus]) -> bool {
    let settings = cfg.capture_settings();
    stages
        .iter()
        .any(|s| !s.captured && settings.wants(s.api_type, &s.stage))
}

/// The log groups of captured stages whose type is enabled.
pub fn groups_of(cfg: &Config, stages: &[cq_stage_logging::StageStatus]) -> Vec<LogGroupSpec> {
    use cq_stage_logging::ApiType;
    stages
        .iter()
        .filter(|s| s.captured)
        .filter_map(|s| {
            let (kind, enabled) = match s.api_type {
                ApiType::Rest => (LogKind::RestExecution, cfg.rest_enabled),
                ApiType::Http => (LogKind::HttpAccess, cfg.http_enabled),
            };
            if !enabled {
                return None;
            }
            Some(LogGroupSpec {
                log_group: s.log_group.clone()?,
                kind,
                api_id: s.api_id.clone(),
                stage: s.stage.clone(),
            })
        })
        .collect()
}

/// How long the next subscribe of a run may wait for a push destination that is not usable yet
/// (its role or permission still propagating): at most `max`, never past `until`, and nothing
/// once one group found it still not ready, so the run's other groups are tried once each.
pub struct DestinationWait {
    max: Duration,
    until: Option<Instant>,
}

impl DestinationWait {
    pub fn new(max: Duration, until: Option<Instant>) -> Self {
        Self { max, until }
    }

    pub fn next(&self) -> Duration {
        self.until
            .map_or(self.max, |t| t.saturating_duration_since(Instant::now()))
            .min(self.max)
    }

    /// The destination did not become usable in time.
    pub fn spent(&mut self) {
        self.max = Duration::ZERO;
    }
}

/// The destination our subscription filters deliver to.
pub fn push_destination(cfg: &Config, function_arn: &str) -> cq_stage_logging::PushDestination {
    match &cfg.push_destination {
        PushDestination::Lambda => cq_stage_logging::PushDestination {
            arn: unqualified_function_arn(function_arn),
            role_arn: None,
        },
        PushDestination::Kinesis {
            stream_arn,
            role_arn,
        } => cq_stage_logging::PushDestination {
            arn: stream_arn.clone(),
            role_arn: Some(role_arn.clone()),
        },
    }
}

/// `arn:aws:lambda:r:a:function:name[:qualifier]` without the qualifier.
pub fn unqualified_function_arn(arn: &str) -> String {
    arn.split(':').take(7).collect::<Vec<_>>().join(":")
}

/// Learn about filters added or removed outside the forwarder (the custom resource in push
/// mode, an operator), every few minutes.
async fn observe_subscriptions(
    aws: &AwsClients,
    run: &RunContext,
    runs: &mut HashMap<String, GroupRun>,
) {
    static LAST: StdMutex<Option<Instant>> = StdMutex::new(None);
    {
        let mut last = LAST.lock().unwrap_or_else(|p| p.into_inner());
        if last.is_some_and(|t| t.elapsed() < OBSERVE_EVERY) {
            return;
        }
        *last = Some(Instant::now());
    }
    for r in runs.values_mut() {
        let subs = match cq_stage_logging::subscriptions(&aws.stage, &r.spec.log_group).await {
            Ok(s) => s,
            Err(e) => {
                tracing::debug!(log_group = %r.spec.log_group, error = %e, "cannot read subscription filters");
                continue;
            }
        };
        match (subs.ours, r.state.channel) {
            (Some(f), Channel::Poll) => {
                tracing::info!(log_group = %r.spec.log_group, "our subscription filter exists: polling until its creation, pushed from then on");
                r.state.channel = Channel::ToPush {
                    at: f
                        .creation_time_ms
                        .max(r.state.cursor.as_ref().map_or(0, |c| c.ts)),
                };
            }
            (None, Channel::Push { .. } | Channel::ToPush { .. }) => {
                // Removed by someone else: poll again from a few minutes back (a duplicate
                // is preferred to a gap; when exactly deliveries stopped is unknown).
                tracing::warn!(log_group = %r.spec.log_group, "our subscription filter is gone: polling again");
                let from = run.now_ms - OBSERVE_EVERY.as_millis() as i64;
                r.state.channel = Channel::Poll;
                r.state.cursor = Some(Cursor::at(
                    from.max(r.state.cursor.as_ref().map_or(from, |c| c.ts.min(from))),
                ));
            }
            _ => {}
        }
    }
}

/// The longest a tick waits for a push destination that is not usable yet.
const SUBSCRIBE_WAIT: Duration = Duration::from_secs(10);

/// Carry out what `ingestion::plan` decides.
async fn apply_decisions(
    aws: &AwsClients,
    fwd: &Forwarding,
    run: &RunContext,
    stats: &SharedStats,
    runs: &mut HashMap<String, GroupRun>,
) {
    let cfg = &fwd.config;
    let views: Vec<GroupView> = runs
        .values()
        .map(|r| GroupView {
            name: r.spec.log_group.clone(),
            channel: r.state.channel,
            load: r.state.load,
            refused_until: r.state.push_refused.as_ref().map(|(_, t)| *t),
        })
        .collect();
    let usable =
        (Duration::from_secs(55).as_secs_f64() - cfg.deadline_margin_ms as f64 / 1000.0).max(5.0);
    let capacity = ingestion::capacity_pages_per_minute(cfg.filter_log_events_tps, usable);
    let decisions = ingestion::plan(cfg.ingestion, &views, capacity, run.now_ms);
    if decisions.is_empty() {
        return;
    }
    let dest = push_destination(cfg, &run.function_arn);
    // A tick polls too: a destination still propagating gets a few seconds, then the next
    // tick (a minute later) tries again.
    let mut wait = DestinationWait::new(
        SUBSCRIBE_WAIT,
        run.deadline()
            .checked_sub(Duration::from_millis(cfg.deadline_margin_ms as u64)),
    );
    for d in decisions {
        match d {
            Decision::Subscribe { group, why } => {
                let Some(r) = runs.get_mut(&group) else {
                    continue;
                };
                if dest.arn.is_empty() || !dest.arn.starts_with("arn:") {
                    tracing::warn!(log_group = %group, "cannot push: this function's ARN is unknown (local run)");
                    continue;
                }
                match cq_stage_logging::subscribe(&aws.stage, &group, &dest, wait.next()).await {
                    Ok(cq_stage_logging::SubscribeOutcome::Subscribed { creation_time_ms })
                    | Ok(cq_stage_logging::SubscribeOutcome::AlreadySubscribed {
                        creation_time_ms,
                    }) => {
                        tracing::info!(log_group = %group, reason = %why, "pushing this log group from now on");
                        r.state.channel = Channel::ToPush {
                            at: creation_time_ms.max(r.state.cursor.as_ref().map_or(0, |c| c.ts)),
                        };
                        r.state.push_refused = None;
                    }
                    Ok(cq_stage_logging::SubscribeOutcome::NoFreeSlot { others }) => {
                        let reason = format!(
                            "no free subscription filter slot (held by: {}); polled instead",
                            others.join(", ")
                        );
                        tracing::warn!(log_group = %group, "{reason}");
                        r.state.push_refused =
                            Some((reason, run.now_ms + ingestion::RETRY_REFUSED_MS));
                    }
                    Err(e) => {
                        tracing::error!(log_group = %group, error = %e, "cannot add the subscription filter");
                        lock(stats).errors.push(e.to_string());
                        // A full group stays full for a while; a failed call is tried again
                        // soon, and a destination still propagating at the next tick.
                        let again = if e.destination_not_ready() {
                            wait.spent();
                            0
                        } else {
                            ingestion::RETRY_FAILED_MS
                        };
                        r.state.push_refused = Some((e.to_string(), run.now_ms + again));
                    }
                }
            }
            Decision::ToPoll { group } => {
                if let Some(r) = runs.get_mut(&group) {
                    r.state.channel = Channel::ToPoll { at: run.now_ms };
                    r.state.cursor = Some(Cursor::at(run.now_ms));
                    r.state.open.clear();
                }
            }
            Decision::Unsubscribe { group } => {
                match cq_stage_logging::unsubscribe(&aws.stage, &group).await {
                    Ok(_) => {
                        if let Some(r) = runs.get_mut(&group) {
                            r.state.channel = Channel::Poll;
                        }
                    }
                    Err(e) => {
                        tracing::warn!(log_group = %group, error = %e, "cannot remove our subscription filter; trying again next tick")
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_destination_wait_is_bounded_and_spent_once_it_failed() {
        let max = Duration::from_secs(10);
        let mut open = DestinationWait::new(max, None);
        assert_eq!(open.next(), max);
        let later = DestinationWait::new(max, Some(Instant::now() + Duration::from_secs(3)));
        assert!(later.next() <= Duration::from_secs(3) && later.next() > Duration::ZERO);
        let past = DestinationWait::new(max, Instant::now().checked_sub(Duration::from_secs(1)));
        assert_eq!(past.next(), Duration::ZERO);
        open.spent();
        assert_eq!(open.next(), Duration::ZERO);
    }

    #[test]
    fn an_uncaptured_default_stage_is_reconciled_only_when_included() {
        let vars = |include: &str| {
            let include = include.to_string();
            move |k: &str| match k {
                "CEQUENCE_AUTH_ENDPOINT" => Some("https://auth.example.com/t".to_string()),
                "CEQUENCE_EDGE_ENDPOINT" => Some("https://edge.example.com/t".to_string()),
                "CEQUENCE_CLIENT_ID" => Some("cid".to_string()),
                "CEQUENCE_CLIENT_SECRET_ARN" => Some("arn:aws:secretsmanager:r:1:secret:x".into()),
                "CEQUENCE_INCLUDE_HTTP_DEFAULT_STAGE" => Some(include.clone()),
                _ => None,
            }
        };
        let stage = cq_stage_logging::StageStatus {
            api_type: cq_stage_logging::ApiType::Http,
            api_id: "h1".into(),
            api_name: "h".into(),
            stage: "$default".into(),
            captured: false,
            log_group: None,
            reason: None,
            execution_logs: None,
        };
        let off = Config::from_lookup(vars("false"), false).unwrap();
        assert!(!needs_reconcile(&off, std::slice::from_ref(&stage)));
        let on = Config::from_lookup(vars("true"), false).unwrap();
        assert!(needs_reconcile(&on, &[stage]));
    }

    #[test]
    fn function_arn_loses_its_qualifier() {
        assert_eq!(
            unqualified_function_arn("arn:aws:lambda:us-east-1:1:function:f:$LATEST"),
            "arn:aws:lambda:us-east-1:1:function:f"
        );
        assert_eq!(
            unqualified_function_arn("arn:aws:lambda:us-east-1:1:function:f"),
            "arn:aws:lambda:us-east-1:1:function:f"
        );
    }
}
