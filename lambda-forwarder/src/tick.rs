//! One scheduled run: find the log groups, read each since its checkpoint, build transactions,
//! deliver them, and move each checkpoint only past what was delivered.
//!
//! The pieces are I/O-free where they can be (`plan_group_checkpoint`), so the rules that make
//! delivery lossless are unit-tested here and exercised end to end in `tests/tick_moto.rs`.

use std::collections::{BTreeMap, HashSet};
use std::sync::Mutex as StdMutex;
use std::time::{Duration, Instant};

use futures::StreamExt;

use crate::app::{AwsClients, Forwarding};
use crate::assemble::{assemble_http, assemble_rest, Assembled, Built};
use crate::checkpoint::{self, Checkpoints, GroupCheckpoint, PENDING_BOUND_MS};
use crate::config::{Config, LogGroupSpec, LogKind};
use crate::edge::{batch_body, plan_batches, Outcome, MAX_BATCH_BYTES, MAX_BATCH_TRANSACTIONS};
use crate::fetch::{fetch_group, PAGE_LIMIT};
use crate::parse::{LogEvent, SourceContext};
use crate::stats::{lock, SharedStats};

/// Log groups read at once (the rate limiter keeps the request rate within quota anyway).
const GROUP_CONCURRENCY: usize = 8;
/// Re-check stage capture at most this often per warm container.
const RECONCILE_EVERY: Duration = Duration::from_secs(300);

#[derive(Debug, thiserror::Error)]
pub enum TickError {
    #[error("configuration: {0}")]
    Config(String),
    #[error("discovering API stages: {0}")]
    Discovery(String),
    #[error("checkpoint: {0}")]
    Checkpoint(#[from] checkpoint::CheckpointError),
    #[error("{0} log group(s) could not be read")]
    Fetch(usize),
    #[error("{0} transaction(s) not delivered; they will be sent again")]
    Undelivered(u64),
}

/// Where the run is: account and region go into every transaction's `source_info`.
#[derive(Debug, Clone)]
pub struct RunContext {
    pub account_id: String,
    pub region: String,
    /// Epoch ms.
    pub now_ms: i64,
}

/// The result of reading and assembling one log group.
struct GroupRun {
    spec: LogGroupSpec,
    prev: Option<GroupCheckpoint>,
    window_end: i64,
    fetched: Result<Vec<LogEvent>, String>,
    assembled: Assembled,
}

/// Run one tick; stats are filled in as it goes, also when it fails.
pub async fn run_tick(
    aws: &AwsClients,
    fwd: &Forwarding,
    run: &RunContext,
    stats: &SharedStats,
) -> Result<(), TickError> {
    let cfg = &fwd.config;
    {
        let mut s = lock(stats);
        s.log_fetch_interval_mill_sec = cfg.fetch_interval_ms;
        s.log_fetch_limit = PAGE_LIMIT;
        s.cloudwatch_filter_end_time = run.now_ms;
    }
    let groups = resolve_groups(aws, cfg).await?;
    lock(stats).log_group_count = groups.len();
    if groups.is_empty() {
        tracing::info!("no captured API stages: nothing to read");
        return Ok(());
    }

    let stored = checkpoint::load_text(&aws.ssm, &cfg.checkpoint_parameter).await?;
    let mut checkpoints = match &stored {
        None => Checkpoints::default(),
        Some(text) => Checkpoints::decode(text).unwrap_or_else(|e| {
            // A corrupt checkpoint must not stop forwarding; starting over re-reads one interval.
            tracing::error!(error = %e, "ignoring an unreadable checkpoint");
            Checkpoints::default()
        }),
    };

    let runs: Vec<GroupRun> = futures::stream::iter(groups)
        .map(|spec| {
            let prev = checkpoints.groups.get(&spec.log_group).cloned();
            read_group(aws, cfg, run, stats, spec, prev)
        })
        .buffer_unordered(GROUP_CONCURRENCY)
        .collect()
        .await;

    // Deliver every built transaction, then mark which were not delivered.
    let mut all: Vec<(usize, &Built)> = Vec::new();
    for (g, r) in runs.iter().enumerate() {
        all.extend(r.assembled.built.iter().map(|b| (g, b)));
    }
    let held_ids = deliver(fwd, all.iter().map(|(_, b)| *b), stats).await;

    let mut fetch_failures = 0;
    let mut holds = BTreeMap::new();
    let mut active = HashSet::new();
    for r in &runs {
        active.insert(r.spec.log_group.clone());
        let events = match &r.fetched {
            Ok(e) => e,
            Err(_) => {
                fetch_failures += 1;
                continue;
            }
        };
        let prev = r.prev.clone().unwrap_or_default();
        let (next, earliest_held) =
            plan_group_checkpoint(&prev, events, &r.assembled, &held_ids, r.window_end);
        if let Some(h) = earliest_held {
            holds.insert(r.spec.log_group.clone(), h);
        }
        checkpoints.groups.insert(r.spec.log_group.clone(), next);
    }
    checkpoints.prune(&active, run.now_ms);
    let forced = checkpoints.fit(checkpoint::MAX_STORED_CHARS, &holds);
    if forced > 0 {
        tracing::warn!(
            forced,
            "checkpoint too large for SSM: some recent events may be sent twice"
        );
    }
    // Unchanged (a quiet minute) means no write: SSM writes are throttled per account.
    if stored.as_deref() != Some(checkpoints.encode().as_str()) {
        checkpoint::save(&aws.ssm, &cfg.checkpoint_parameter, &checkpoints).await?;
    }
    lock(stats).checkpoint_saved = true;

    let undelivered = lock(stats).transactions_undelivered;
    if fetch_failures > 0 {
        return Err(TickError::Fetch(fetch_failures));
    }
    if undelivered > 0 {
        return Err(TickError::Undelivered(undelivered));
    }
    Ok(())
}

/// The checkpoint of a group after this run, and its earliest held (undelivered) timestamp.
/// `events` are the group's events of this run (duplicates already dropped); an event is
/// held when its request is still pending or its transaction was not delivered.
pub fn plan_group_checkpoint(
    prev: &GroupCheckpoint,
    events: &[LogEvent],
    assembled: &Assembled,
    held_ids: &HashSet<String>,
    window_end: i64,
) -> (GroupCheckpoint, Option<i64>) {
    let pending: HashSet<&str> = assembled
        .pending
        .iter()
        .flat_map(|p| p.event_ids.iter().map(String::as_str))
        .collect();
    let is_held = |id: &str| pending.contains(id) || held_ids.contains(id);
    let earliest_held = events
        .iter()
        .filter(|e| is_held(&e.event_id))
        .map(|e| e.timestamp)
        .chain(assembled.pending.iter().map(|p| p.first_timestamp))
        .min();
    let handled = events
        .iter()
        .filter(|e| !is_held(&e.event_id))
        .map(|e| (e.timestamp, checkpoint::id_hash(&e.event_id)));
    (
        prev.advance(handled, earliest_held, window_end),
        earliest_held,
    )
}

async fn read_group(
    aws: &AwsClients,
    cfg: &Config,
    run: &RunContext,
    stats: &SharedStats,
    spec: LogGroupSpec,
    prev: Option<GroupCheckpoint>,
) -> GroupRun {
    let window_end = run.now_ms;
    let start = prev
        .as_ref()
        .map(|p| p.start)
        .unwrap_or(run.now_ms - cfg.fetch_interval_ms)
        .min(window_end);
    {
        let mut s = lock(stats);
        if s.cloudwatch_filter_start_time == 0 || start < s.cloudwatch_filter_start_time {
            s.cloudwatch_filter_start_time = start;
        }
    }
    let fetched = fetch_group(
        &aws.logs,
        &aws.limiter,
        stats,
        &spec.log_group,
        start,
        window_end,
    )
    .await;
    let (fetched, assembled) = match fetched {
        Err(e) => {
            tracing::error!(log_group = %spec.log_group, error = %e, "cannot read log group");
            lock(stats).errors.push(e.to_string());
            (Err(e.to_string()), Assembled::default())
        }
        Ok(events) => {
            let (mut fresh, dropped) = match &prev {
                Some(p) => p.unseen(events),
                None => (events, 0),
            };
            fresh.sort_by(|a, b| (a.timestamp, &a.event_id).cmp(&(b.timestamp, &b.event_id)));
            lock(stats).duplicate_events_dropped += dropped as u64;
            let assembled = assemble(&spec, &fresh, cfg, run, Some(run.now_ms - PENDING_BOUND_MS));
            record_assembly(stats, &assembled);
            (Ok(fresh), assembled)
        }
    };
    GroupRun {
        spec,
        prev,
        window_end,
        fetched,
        assembled,
    }
}

/// Build transactions from one group's events with the parser for its kind.
pub fn assemble(
    spec: &LogGroupSpec,
    events: &[LogEvent],
    cfg: &Config,
    run: &RunContext,
    force_before: Option<i64>,
) -> Assembled {
    let ctx = SourceContext {
        account_id: run.account_id.clone(),
        region: run.region.clone(),
        api_id: spec.api_id.clone(),
        stage: spec.stage.clone(),
        log_group: spec.log_group.clone(),
    };
    match spec.kind {
        LogKind::RestExecution => assemble_rest(events, &ctx, &cfg.filters, force_before),
        LogKind::HttpAccess => assemble_http(events, &ctx, &cfg.filters),
    }
}

pub fn record_assembly(stats: &SharedStats, a: &Assembled) {
    let mut s = lock(stats);
    s.total_streams_fetched += a.streams_seen as u64;
    s.total_complete_streams_count += a.complete_streams as u64;
    s.total_incomplete_streams_count += a.incomplete_streams as u64;
    s.total_truncated_streams_count += a.truncated_streams as u64;
    s.total_failed_to_parse_streams += a.failed_to_parse as u64;
    s.total_transactions_parsed_from_streams += a.built.len() as u64;
    s.pending_requests += a.pending.len() as u64;
    s.dropped_static_transactions += a.dropped_static as u64;
}

/// Post `built` in batches; returns the event ids of transactions NOT delivered.
pub async fn deliver<'a>(
    fwd: &Forwarding,
    built: impl Iterator<Item = &'a Built>,
    stats: &SharedStats,
) -> HashSet<String> {
    let built: Vec<&Built> = built.collect();
    let mut held = HashSet::new();
    if built.is_empty() {
        return held;
    }
    let serialized: Vec<Vec<u8>> = built
        .iter()
        .map(|b| serde_json::to_vec(&b.transaction).unwrap_or_default())
        .collect();
    let sizes: Vec<usize> = serialized.iter().map(Vec::len).collect();
    let plan = plan_batches(&sizes, MAX_BATCH_TRANSACTIONS, MAX_BATCH_BYTES);
    let bodies = plan
        .iter()
        .map(|idx| {
            (
                batch_body(idx.iter().map(|&i| serialized[i].as_slice())),
                idx.len(),
            )
        })
        .collect();
    let outcomes = fwd.edge.post_all(bodies, &fwd.tokens, stats).await;
    for (idx, outcome) in plan.iter().zip(outcomes) {
        if let Outcome::Failed(_) = outcome {
            for &i in idx {
                held.extend(built[i].event_ids.iter().cloned());
            }
        }
    }
    held
}

/// The log groups to read: `CEQUENCE_LOG_GROUPS`, else the captured stages of this region.
/// Stages of an enabled type found uncaptured (deployed after the stack) are captured first.
async fn resolve_groups(aws: &AwsClients, cfg: &Config) -> Result<Vec<LogGroupSpec>, TickError> {
    if let Some(groups) = &cfg.log_groups {
        return Ok(groups.clone());
    }
    let mut stages = cq_stage_logging::discover(&aws.stage)
        .await
        .map_err(|e| TickError::Discovery(e.to_string()))?;
    if needs_reconcile(cfg, &stages) && reconcile_due() {
        let settings = cq_stage_logging::CaptureSettings {
            rest_enabled: cfg.rest_enabled,
            http_enabled: cfg.http_enabled,
            include_http_default_stage: false,
            cloudwatch_role_arn: cfg.apigw_cloudwatch_role_arn.clone(),
        };
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
    Ok(groups_of(cfg, &stages))
}

/// Uncaptured stages of an enabled type (HTTP `$default` is excluded by policy).
pub fn needs_reconcile(cfg: &Config, stages: &[cq_stage_logging::StageStatus]) -> bool {
    use cq_stage_logging::ApiType;
    stages.iter().any(|s| {
        !s.captured
            && match s.api_type {
                ApiType::Rest => cfg.rest_enabled,
                ApiType::Http => cfg.http_enabled && s.stage != "$default",
            }
    })
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

static LAST_RECONCILE: StdMutex<Option<Instant>> = StdMutex::new(None);

fn reconcile_due() -> bool {
    let mut last = LAST_RECONCILE.lock().unwrap_or_else(|p| p.into_inner());
    if last.is_some_and(|t| t.elapsed() < RECONCILE_EVERY) {
        return false;
    }
    *last = Some(Instant::now());
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::assemble::Pending;
    use crate::checkpoint::{id_hash, OVERLAP_MS};

    fn ev(id: &str, ts: i64) -> LogEvent {
        LogEvent {
            event_id: id.into(),
            timestamp: ts,
            message: String::new(),
        }
    }

    #[test]
    fn delivered_events_are_remembered_and_the_window_moves_on() {
        let events = vec![ev("a", 1_000), ev("b", 950_000)];
        let (next, held) = plan_group_checkpoint(
            &GroupCheckpoint::default(),
            &events,
            &Assembled::default(),
            &HashSet::new(),
            1_000_000,
        );
        assert_eq!(held, None);
        assert_eq!(next.start, 1_000_000 - OVERLAP_MS);
        assert_eq!(next.seen, [(950_000, id_hash("b"))].into_iter().collect());
    }

    #[test]
    fn undelivered_and_pending_events_pin_the_start() {
        let events = vec![ev("p1", 500_000), ev("f1", 600_000), ev("ok", 700_000)];
        let assembled = Assembled {
            pending: vec![Pending {
                request_id: "r".into(),
                first_timestamp: 500_000,
                event_ids: vec!["p1".into()],
            }],
            ..Assembled::default()
        };
        let failed = HashSet::from(["f1".to_string()]);
        let (next, held) = plan_group_checkpoint(
            &GroupCheckpoint::default(),
            &events,
            &assembled,
            &failed,
            1_000_000,
        );
        assert_eq!(held, Some(500_000));
        assert_eq!(next.start, 500_000);
        // Only the delivered event is remembered: the others must come back next run.
        assert_eq!(next.seen, [(700_000, id_hash("ok"))].into_iter().collect());
        let (again, dropped) = next.unseen(events);
        assert_eq!(dropped, 1);
        assert_eq!(again.len(), 2);
    }
}
