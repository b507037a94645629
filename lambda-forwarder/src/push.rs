//! A pushed delivery: a subscription payload invoked straight (asynchronous, at least once,
//! in no particular order) or a Kinesis batch from the event source mapping (in order per
//! shard; a log stream stays on one shard).
//!
//! * Straight: a payload handled before is skipped (a marker per payload); a request split
//!   across payloads is kept as fragments in the state table and sent by whichever invocation
//!   completes it; fragments whose wait is over are sent by the tick, flagged incomplete.
//! * Kinesis: per shard, the last sequence number handled and the requests open at that
//!   point are checkpointed after each delivered batch; a redelivered record is skipped.
//!
//! An Edge failure never fails the invocation (that would make Lambda or the mapping send
//! everything again): what cannot be delivered is spooled. Only when neither works does the
//! invocation fail, so that the delivery is retried.

use std::collections::HashMap;
use std::sync::Mutex as StdMutex;
use std::time::{Duration, Instant};

use aws_lambda_events::event::cloudwatch_logs::LogsEvent;
use aws_lambda_events::event::kinesis::KinesisEvent;
use serde_json::{json, Value};

use crate::app::{AwsClients, Forwarding};
use crate::config::{LogGroupSpec, LogKind};
use crate::flow::Flow;
use crate::ingestion::{event_in_scope, push_ownership};
use crate::pipeline::assemble::{
    has_completed_line, into_finished, merge_fragments, Fed, OpenRequest, Ownership, RestAssembler,
};
use crate::pipeline::{build_access_line, build_finished, Counts};
use crate::sources::push::{from_logs_event, kinesis_items, kinesis_json, PayloadRef};
use crate::state::store::sequence_after;
use crate::state::{Channel, ShardState, StateStore};
use crate::stats::{lock, SharedStats};
use crate::tick::{record_counts, RunContext};

/// A group's channel is re-read at most this often per container.
const CHANNEL_CACHE: Duration = Duration::from_secs(60);
/// A Kinesis batch stops taking new records this long before the deadline.
const KINESIS_MARGIN: Duration = Duration::from_secs(5);
const POSTS: usize = 4;
/// A shard's checkpoint (its open requests, often hundreds of KB) is written at most this
/// often, and once at the end: written after every Edge batch it cost about 5% of the CPU
/// and most of the table's write units (docs/benchmark.md). What a killed process leaves unsaved is re-read and re-sent:
/// at most this long's worth of batches.
const SHARD_SAVE_INTERVAL: Duration = Duration::from_secs(2);

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct PushError(pub String);

fn store(fwd: &Forwarding) -> Result<&StateStore, PushError> {
    fwd.store
        .as_deref()
        .ok_or_else(|| PushError("CEQUENCE_STATE_TABLE is not set".into()))
}

/// The channel of a group as the push side must see it: the state's, or (when the state does
/// not know of our filter yet) the filter's creation time.
async fn ownership_of(aws: &AwsClients, store: &StateStore, log_group: &str) -> Ownership {
    static CACHE: StdMutex<Option<HashMap<String, (Instant, Ownership)>>> = StdMutex::new(None);
    if let Some((at, o)) = CACHE
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .as_ref()
        .and_then(|m| m.get(log_group).copied())
    {
        if at.elapsed() < CHANNEL_CACHE {
            return o;
        }
    }
    let channel = store
        .load_groups(&[log_group.to_string()])
        .await
        .ok()
        .and_then(|mut m| m.remove(log_group))
        .map(|s| s.channel)
        .unwrap_or(Channel::Poll);
    let ownership = match push_ownership(&channel) {
        Some(o) => o,
        // The state has not seen our filter yet (added by the custom resource moments ago):
        // events from its creation on are ours, the tick polls up to it.
        None => match cq_stage_logging::subscriptions(&aws.stage, log_group).await {
            Ok(subs) => subs
                .ours
                .map(|f| Ownership::StartedFrom(f.creation_time_ms))
                .unwrap_or(Ownership::All),
            Err(_) => Ownership::All,
        },
    };
    CACHE
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get_or_insert_with(HashMap::new)
        .insert(log_group.to_string(), (Instant::now(), ownership));
    ownership
}

/// A subscription payload invoked straight.
pub async fn run_direct(
    aws: &AwsClients,
    fwd: &Forwarding,
    event: LogsEvent,
    run: &RunContext,
    stats: &SharedStats,
) -> Result<Value, PushError> {
    let store = store(fwd)?;
    let delivery = from_logs_event(event);
    {
        let mut s = lock(stats);
        s.log_group_count = 1;
        s.total_events_fetched = delivery.events.len() as u64;
    }
    if !delivery.is_data() {
        return Ok(json!({"invocation": "subscription", "ignored": delivery.message_type}));
    }
    let digest = delivery.digest();
    if store
        .payload_handled(&digest)
        .await
        .map_err(|e| PushError(e.to_string()))?
    {
        lock(stats).duplicate_deliveries += 1;
        tracing::info!(log_group = %delivery.log_group, "payload delivered before: skipped");
        return Ok(json!({"invocation": "subscription", "duplicate": true}));
    }
    fwd.deliverer.begin_invocation().await;
    let deadline = run
        .deadline()
        .checked_sub(Duration::from_secs(1))
        .unwrap_or_else(Instant::now);
    let ownership = ownership_of(aws, store, &delivery.log_group).await;
    let spec = LogGroupSpec::from_log_group(&delivery.log_group);
    let ctx = run.source(&spec);
    let mut flow: Flow<'_, ()> = Flow::new(&fwd.deliverer, stats, deadline, POSTS);
    let mut counts = Counts::default();
    let group = delivery.log_group.clone();
    match spec.kind {
        LogKind::HttpAccess => {
            for e in delivery
                .events
                .iter()
                .filter(|e| event_in_scope(ownership, e.timestamp))
            {
                if let Some(b) = build_access_line(e, &ctx, &fwd.config.filters, &mut counts) {
                    flow.add(&b);
                }
            }
        }
        LogKind::RestExecution => {
            let mut asm = RestAssembler::new(ownership);
            let mut fragments: Vec<OpenRequest> = Vec::new();
            for e in delivery.events {
                if !event_in_scope(ownership, e.timestamp) {
                    continue;
                }
                match asm.feed(e) {
                    Fed::Finished(f) if f.started => {
                        if let Some(b) = build_finished(&f, &ctx, &fwd.config.filters, &mut counts)
                        {
                            flow.add(&b);
                        }
                    }
                    // The end of a request whose beginning came in another payload.
                    Fed::Finished(f) => fragments.push(OpenRequest {
                        request_id: f.request_id,
                        first_timestamp: f.events.first().map_or(0, |e| e.timestamp),
                        started: false,
                        events: f.events,
                        log_group: String::new(),
                    }),
                    _ => {}
                }
            }
            fragments.extend(asm.open_requests());
            for fragment in fragments {
                let all = store
                    .append_fragment(&group, &fragment)
                    .await
                    .map_err(|e| PushError(e.to_string()))?;
                let Some(merged) = merge_fragments(all) else {
                    continue;
                };
                if merged.started && has_completed_line(&merged) {
                    // Complete now: whoever deletes the fragments sends it.
                    if store
                        .claim_fragments(&group, &merged.request_id)
                        .await
                        .map_err(|e| PushError(e.to_string()))?
                    {
                        let f = into_finished(merged, true);
                        if let Some(b) = build_finished(&f, &ctx, &fwd.config.filters, &mut counts)
                        {
                            flow.add(&b);
                        }
                    }
                }
            }
            lock(stats).pending_requests += asm.open_count() as u64;
        }
    }
    flow.finish().await;
    record_counts(&mut lock(stats), &counts);
    if let Some(e) = flow.failure {
        return Err(PushError(format!(
            "{e}; the payload will be delivered again"
        )));
    }
    store
        .mark_payload_handled(&digest)
        .await
        .map_err(|e| PushError(e.to_string()))?;
    let r = flow_result(stats);
    Ok(json!({"invocation": "subscription", "log_group": group, "delivered": r.0, "spooled": r.1}))
}

fn flow_result(stats: &SharedStats) -> (u64, u64) {
    let s = lock(stats);
    (s.transactions_delivered, s.transactions_spooled)
}

/// A Kinesis event source mapping batch. Returns the mapping's partial-failure answer.
pub async fn run_kinesis(
    aws: &AwsClients,
    fwd: &Forwarding,
    event: KinesisEvent,
    run: &RunContext,
    stats: &SharedStats,
) -> Result<Value, PushError> {
    let store = store(fwd)?;
    let items = kinesis_items(event);
    fwd.deliverer.begin_invocation().await;
    let deadline = run.deadline();
    let stop_at = deadline
        .checked_sub(KINESIS_MARGIN)
        .unwrap_or_else(Instant::now);
    let deliver_until = deadline
        .checked_sub(Duration::from_secs(2))
        .unwrap_or(deadline);
    // A batch holds one shard's records; group them by shard anyway.
    let mut shards: Vec<(String, Vec<crate::sources::push::KinesisItem>)> = Vec::new();
    for item in items {
        let key = format!("{}/{}", item.stream_arn, item.shard);
        match shards.iter_mut().find(|(k, _)| *k == key) {
            Some((_, v)) => v.push(item),
            None => shards.push((key, vec![item])),
        }
    }
    let mut failures: Vec<String> = Vec::new();
    let mut groups_seen: HashMap<String, ()> = HashMap::new();
    for (shard, items) in shards {
        match run_shard(
            aws,
            fwd,
            store,
            run,
            stats,
            &shard,
            items,
            stop_at,
            deliver_until,
            &mut groups_seen,
        )
        .await
        {
            Ok(None) => {}
            Ok(Some(first_unhandled)) => failures.push(first_unhandled),
            Err(e) => return Err(e),
        }
    }
    lock(stats).log_group_count = groups_seen.len();
    Ok(json!({
        "batchItemFailures": failures
            .into_iter()
            .map(|seq| json!({"itemIdentifier": seq}))
            .collect::<Vec<_>>()
    }))
}

/// One shard's records. Returns the sequence number of the first record not handled (the
/// mapping retries from there), if the deadline came first.
#[allow(clippy::too_many_arguments)]
async fn run_shard(
    aws: &AwsClients,
    fwd: &Forwarding,
    store: &StateStore,
    run: &RunContext,
    stats: &SharedStats,
    shard: &str,
    items: Vec<crate::sources::push::KinesisItem>,
    stop_at: Instant,
    deliver_until: Instant,
    groups_seen: &mut HashMap<String, ()>,
) -> Result<Option<String>, PushError> {
    let mut state = store
        .load_shard(shard)
        .await
        .map_err(|e| PushError(e.to_string()))?;
    // Open requests of this shard, per log group.
    let mut assemblers: HashMap<String, RestAssembler> = HashMap::new();
    for r in std::mem::take(&mut state.open) {
        assemblers
            .entry(r.log_group.clone())
            .or_default()
            .restore_one(r);
    }
    let mut flow: Flow<'_, ShardState> = Flow::new(&fwd.deliverer, stats, deliver_until, POSTS);
    let mut counts = Counts::default();
    let mut specs: HashMap<String, (LogGroupSpec, Ownership)> = HashMap::new();
    let mut last_seq = state.last_sequence.clone();
    let mut sealed_at_snapshot = flow.sealed();
    let mut snapshot_at = Instant::now();
    let mut first_unhandled = None;
    let mut events = 0u64;
    for item in items {
        if last_seq
            .as_deref()
            .is_some_and(|last| !sequence_after(&item.sequence_number, last))
        {
            lock(stats).duplicate_deliveries += 1;
            continue;
        }
        if Instant::now() >= stop_at || flow.failure.is_some() {
            first_unhandled = Some(item.sequence_number);
            break;
        }
        let payload_json = match kinesis_json(&item.data) {
            Ok(j) => j,
            Err(e) => {
                // Not a CloudWatch Logs payload: nothing to forward, never retry it.
                tracing::error!(sequence = %item.sequence_number, error = %e, "skipping a Kinesis record");
                last_seq = Some(item.sequence_number);
                continue;
            }
        };
        let payload = match PayloadRef::parse(&payload_json) {
            Ok(p) => p,
            Err(e) => {
                tracing::error!(sequence = %item.sequence_number, error = %e, "skipping a Kinesis record");
                last_seq = Some(item.sequence_number);
                continue;
            }
        };
        if payload.is_data() {
            events += payload.log_events.len() as u64;
            let log_group: &str = &payload.log_group;
            if !groups_seen.contains_key(log_group) {
                groups_seen.insert(log_group.to_string(), ());
            }
            if !specs.contains_key(log_group) {
                let o = ownership_of(aws, store, log_group).await;
                specs.insert(
                    log_group.to_string(),
                    (LogGroupSpec::from_log_group(log_group), o),
                );
            }
            let (spec, ownership) = specs[log_group].clone();
            let ctx = run.source(&spec);
            if !assemblers.contains_key(log_group) {
                assemblers.insert(log_group.to_string(), RestAssembler::default());
            }
            let asm = assemblers.get_mut(log_group).expect("inserted above");
            asm.set_ownership(ownership);
            let mut newest = 0;
            for e in payload.log_events {
                newest = newest.max(e.timestamp);
                if !event_in_scope(ownership, e.timestamp) {
                    continue;
                }
                match spec.kind {
                    LogKind::HttpAccess => {
                        let e = e.into_owned();
                        if let Some(b) =
                            build_access_line(&e, &ctx, &fwd.config.filters, &mut counts)
                        {
                            flow.add(&b);
                        }
                    }
                    LogKind::RestExecution => {
                        if let Fed::Finished(f) = asm.feed_parts(e.id, e.timestamp, e.message) {
                            if let Some(b) =
                                build_finished(&f, &ctx, &fwd.config.filters, &mut counts)
                            {
                                flow.add(&b);
                            }
                        }
                    }
                }
            }
            for f in asm.take_older_than(newest - fwd.config.pending_wait_ms) {
                if let Some(b) = build_finished(&f, &ctx, &fwd.config.filters, &mut counts) {
                    flow.add(&b);
                }
            }
        }
        last_seq = Some(item.sequence_number);
        // Snapshot only when a batch went out, and not more often than the save interval:
        // copying the open requests after every record would cost more than the work itself.
        // Pump at every sealed batch all the same: that is what bounds the posts in flight.
        if flow.sealed() != sealed_at_snapshot {
            sealed_at_snapshot = flow.sealed();
            if snapshot_at.elapsed() >= SHARD_SAVE_INTERVAL {
                snapshot_at = Instant::now();
                flow.snapshot(shard_snapshot(&assemblers, &last_seq, state.version));
            }
            if let Some(snap) = flow.pump().await {
                save_shard(store, shard, &mut state, snap, stats).await;
            }
        }
    }
    flow.snapshot(shard_snapshot(&assemblers, &last_seq, state.version));
    flow.flush();
    while let Some(saveable) = flow.drain().await {
        if let Some(snap) = saveable {
            save_shard(store, shard, &mut state, snap, stats).await;
        }
    }
    // Nothing was in flight (a quiet window): the last snapshot is saveable as it is.
    if let Some(snap) = flow.saveable() {
        save_shard(store, shard, &mut state, snap, stats).await;
    }
    {
        let mut s = lock(stats);
        s.total_events_fetched += events;
        s.pending_requests += assemblers
            .values()
            .map(|a| a.open_count() as u64)
            .sum::<u64>();
        record_counts(&mut s, &counts);
    }
    if let Some(e) = flow.failure {
        // Nothing after the last saved checkpoint is durable: retry from there.
        tracing::error!(error = %e, "a Kinesis batch could not be delivered nor spooled");
        return Err(PushError(e));
    }
    Ok(first_unhandled)
}

fn shard_snapshot(
    assemblers: &HashMap<String, RestAssembler>,
    last_seq: &Option<String>,
    version: u64,
) -> ShardState {
    let mut open = Vec::new();
    for (group, a) in assemblers {
        for mut r in a.open_requests() {
            r.log_group = group.clone();
            open.push(r);
        }
    }
    ShardState {
        last_sequence: last_seq.clone(),
        open,
        version,
    }
}

async fn save_shard(
    store: &StateStore,
    shard: &str,
    state: &mut ShardState,
    snap: ShardState,
    stats: &SharedStats,
) {
    let mut next = ShardState {
        version: state.version,
        ..snap
    };
    match store.save_shard(shard, &mut next).await {
        Ok(w) => {
            *state = next;
            lock(stats).count_save(w);
        }
        Err(e) => {
            tracing::error!(shard, error = %e, "cannot save the shard checkpoint");
            lock(stats).errors.push(e.to_string());
        }
    }
}
