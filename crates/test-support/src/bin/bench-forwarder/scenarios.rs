//! The scenarios: how each row is produced.
//!
//! Corpus placement (both forwarders must be able to read the minute): today's forwarder
//! reads `[checkpoint, now]` (first run: `now - CEQUENCE_FETCH_INTERVAL_MS`) with a 2-minute
//! overlap; the redesign reads up to `now - CEQUENCE_SETTLE_LAG_MS` (120 s).
//! * poll-once: the minute is `[T-180 s, T-120 s)` for a tick at `T`, long ingested.
//! * steady state: the minute is `[Q-120 s, Q-60 s)` for the quiet tick at `Q`, held
//!   ("not yet ingested") until that tick has run, so the quiet tick sees nothing and leaves a
//!   checkpoint; the tick at `Q + gap` is then the first that either forwarder can read it in.

use std::time::{Duration, Instant};

use cq_test_support::corpus::content::iso8601;
use cq_test_support::corpus::payloads::{self, BatchBuilder};
use cq_test_support::corpus::{Corpus, CorpusSpec};
use cq_test_support::forwarder_env::ForwarderEnv;
use cq_test_support::runtime_api::{InvocationRecord, Outcome, RuntimeApi, Source};

use crate::bed::{now_ms, row, Bed, Run};
use crate::table::Row;

const SETTLE_LAG_MS: i64 = 120_000;

fn scheduler_event(at_ms: i64) -> Vec<u8> {
    serde_json::json!({
        "version": "0",
        "id": format!("bench-{at_ms}"),
        "detail-type": "Scheduled Event",
        "source": "aws.scheduler",
        "account": "123456789012",
        "time": iso8601(at_ms),
        "region": "us-east-1",
        "resources": ["arn:aws:scheduler:us-east-1:123456789012:schedule/default/cequence-apigw-forwarder"],
        "detail": "{}"
    })
    .to_string()
    .into_bytes()
}

/// Time from a steady row's start to its quiet tick, for the corpus and the bed to be built.
const SETUP_ROOM_MS: i64 = 45_000;

fn spec(bed: &Bed, start_ms: i64, half: bool) -> CorpusSpec {
    let mut s = CorpusSpec::vendor(bed.args.scale, bed.args.seed, start_ms);
    if half {
        s.requests /= 2;
        s.duration_ms /= 2;
    }
    s
}

fn outcome_label(r: &InvocationRecord) -> String {
    match r.attempts.last().and_then(|a| a.outcome.as_ref()) {
        Some(Outcome::Response(_)) => "ok".into(),
        Some(Outcome::Error(_)) => "error".into(),
        Some(Outcome::Timeout) => "timeout".into(),
        Some(Outcome::Crash(why)) if why.contains("memory") => "oom".into(),
        Some(Outcome::Crash(_)) => "crash".into(),
        None => "pending".into(),
    }
}

fn wait_until(at: Instant) {
    let now = Instant::now();
    if at > now {
        std::thread::sleep(at - now);
    }
}

/// One tick over the whole minute, no deadline to speak of and no memory limit.
pub fn poll_once(bed: &Bed, tps: f64) -> Row {
    let name = format!("poll-once-{tps}");
    let tick_at = now_ms() + 5_000;
    let corpus = Corpus::build(spec(bed, tick_at - 180_000, false));
    let run = bed.run(&name, corpus, tps);
    let mut f = bed.function(&run.env, 10_240, Duration::from_secs(1_800), false);
    f.max_concurrency = 1;
    let mut api = RuntimeApi::start(f);
    eprintln!("{name}: one tick over {} events", run.corpus.event_count());
    // The minute ends 120 s (the settle lag) before `tick_at`: a tick started earlier would
    // rightly leave its last seconds for the next tick.
    let wait = tick_at - now_ms();
    if wait > 0 {
        std::thread::sleep(Duration::from_millis(wait as u64));
    }
    let rec = api
        .invoke_and_wait(
            scheduler_event(now_ms()),
            Source::Schedule,
            Duration::from_secs(1_900),
        )
        .expect("the tick ends");
    let processes = api.shutdown();
    let totals = api.stats_totals();
    let note = format!(
        "tick {} in {:.0} s; stats: {} events fetched, {} pages, {} cloudwatch retries, {} transactions delivered",
        outcome_label(&rec),
        rec.attempts.last().map_or(0.0, |a| a.elapsed.as_secs_f64()),
        totals.get("total_events_fetched").copied().unwrap_or(0.0),
        totals.get("total_pages").copied().unwrap_or(0.0),
        totals.get("total_cloudwatch_retries").copied().unwrap_or(0.0),
        totals.get("transactions_delivered").copied().unwrap_or(0.0),
    );
    row(
        &name,
        None,
        Some(tps),
        &[rec],
        &processes,
        &run,
        &totals,
        note,
    )
}

/// A quiet tick, then ticks `tick_gap` apart with the function's deadline and memory, until
/// the minute is delivered or `steady_ticks` ticks have run.
pub fn steady(bed: &Bed, tps: f64, half: bool) -> Row {
    let name = if half {
        format!("poll-half-{tps}")
    } else {
        format!("poll-steady-{tps}")
    };
    // Room for building the corpus and the bed before tick 0: a scale-1 corpus takes seconds,
    // and right after another scale-1 row (moto and the allocator busy) setup once took over
    // 20 s, which ran tick 0 late and cost the row 2 s of its minute (see `SETUP_ROOM_MS`).
    let quiet_at = now_ms() + SETUP_ROOM_MS;
    let mut corpus = Corpus::build(spec(bed, quiet_at - SETTLE_LAG_MS, half));
    corpus.hold(1, |_, _| true);
    let run = bed.run(&name, corpus, tps);
    let memory = bed.args.memory_mb;
    let f = bed.function(&run.env, memory, bed.args.timeout, true);
    let mut api = RuntimeApi::start(f);
    if let Some(note) = api.cgroup_note() {
        eprintln!("{name}: {note}");
    }
    let gap = bed.args.tick_gap;
    // The minute is placed relative to `quiet_at`: tick 0 runs 2 s before it, so that its
    // window (up to now - settle lag) ends before the minute begins even after a cold start,
    // and tick `k` runs 1 s after `quiet_at + k * gap`, so that tick 1's window reaches past the
    // minute's end. Tick 0 running late would make the minute's first milliseconds "ingested
    // after the settle lag" (never read, by design); tick 1 running early would leave the
    // minute's last seconds to tick 2.
    let start = Instant::now() + Duration::from_millis((quiet_at - now_ms()).max(0) as u64);
    let tick_at = |k: u32| {
        if k == 0 {
            start.checked_sub(Duration::from_secs(2)).unwrap_or(start)
        } else {
            start + gap * k + Duration::from_secs(1)
        }
    };
    let mut records = Vec::new();
    let mut labels = Vec::new();
    let mut delivered_by = None;
    let mut late_quiet_ms = 0;
    for k in 0..=bed.args.steady_ticks {
        wait_until(tick_at(k));
        if k == 0 {
            // A quiet tick at or after `quiet_at` reads into the (still held) minute and moves
            // its checkpoint past events it could not see: correct for the forwarder, a lost
            // share of the minute for the row. Say so rather than report it as the forwarder's.
            late_quiet_ms = (now_ms() - (quiet_at - 1_000)).max(0);
            if late_quiet_ms > 0 {
                eprintln!(
                    "{name}: setup overran its room: tick 0 starts {late_quiet_ms} ms late, so up \
                     to that much of the minute's start is read before it is ingested; this row \
                     measures the bench, not the forwarder (raise SETUP_ROOM_MS)"
                );
            }
        }
        let rec = api
            .invoke_and_wait(
                scheduler_event(now_ms()),
                Source::Schedule,
                bed.args.timeout + Duration::from_secs(30),
            )
            .expect("a tick ends by its deadline");
        let label = outcome_label(&rec);
        let sum = run.fake.summary();
        eprintln!(
            "{name}: tick {k} {label} after {:.1} s; received {} of {} expected ({} missing)",
            rec.attempts.last().map_or(0.0, |a| a.elapsed.as_secs_f64()),
            sum.unique,
            sum.expected,
            sum.missing_count
        );
        if std::env::var_os("CQ_BENCH_STATS").is_some() {
            // Debugging a row: the forwarder's own account of this tick.
            for lines in api.logs() {
                if let Some(l) = lines.iter().rev().find(|l| l.contains("Stats of the run")) {
                    eprintln!("{name}: tick {k} stats: {l}");
                }
            }
        }
        labels.push(label);
        records.push(rec);
        if k == 0 {
            // The minute is ingested now: the quiet tick has left its checkpoint.
            run.standin.release(1);
        } else if sum.missing_count == 0 {
            delivered_by = Some(k);
            break;
        }
    }
    let processes = api.shutdown();
    let mut note = format!("ticks (0 = quiet): {}; ", labels.join(", "));
    note.push_str(&match delivered_by {
        Some(k) => format!("all delivered by tick {k}"),
        None => format!("not delivered after {} ticks", bed.args.steady_ticks),
    });
    if let Some(n) = api.cgroup_note() {
        note.push_str(&format!("; no cgroup: {n}"));
    }
    if late_quiet_ms > 0 {
        note.push_str(&format!(
            "; INVALID: tick 0 ran {late_quiet_ms} ms late (setup overran its room)"
        ));
    }
    let totals = api.stats_totals();
    row(
        &name,
        Some(memory),
        Some(tps),
        &records,
        &processes,
        &run,
        &totals,
        note,
    )
}

/// The minute, long ingested, for a push row: the stand-in serves no FilterLogEvents (a push
/// forwarder must not poll) and the forwarder is set to push.
fn push_bed(bed: &Bed, name: &str) -> (Run, ForwarderEnv) {
    let corpus = Corpus::build(spec(bed, now_ms() - 300_000, false));
    let run = bed.run(name, corpus, 25.0);
    run.standin.set_serving(false);
    let mut env = run.env.clone();
    env.ingestion = "push".into();
    (run, env)
}

/// Every payload as an async invocation (2 retries), at `push_concurrency`.
pub fn push_direct(bed: &Bed) -> Row {
    let name = "push-direct";
    let (run, env) = push_bed(bed, name);
    let memory = bed.args.memory_mb;
    let mut f = bed.function(&env, memory, bed.args.timeout, true);
    f.max_concurrency = bed.args.push_concurrency;
    let mut api = RuntimeApi::start(f);
    let window = 1_000;
    let total = payloads::payloads(&run.corpus, window).count();
    eprintln!(
        "{name}: {total} payloads at concurrency {}",
        bed.args.push_concurrency
    );
    let source = Source::Async { retries: 2 };
    api.invoke(
        payloads::awslogs_event(&payloads::control_message(&run.corpus)),
        source.clone(),
    );
    let depth = bed.args.push_concurrency * 4;
    let started = Instant::now();
    for (n, p) in payloads::payloads(&run.corpus, window).enumerate() {
        while api.unsettled() > depth {
            std::thread::sleep(Duration::from_millis(2));
        }
        let gz = payloads::gzip(&payloads::payload_json(&run.corpus, &p));
        api.invoke(payloads::awslogs_event(&gz), source.clone());
        if bed.args.verbose && n % 5_000 == 0 {
            eprintln!(
                "{name}: {n} payloads queued after {:.0} s",
                started.elapsed().as_secs_f64()
            );
        }
    }
    api.wait_all(Duration::from_secs(24 * 3600));
    let processes = api.shutdown();
    let records = api.records();
    let failed = records
        .iter()
        .filter(|r| !r.outcome.as_ref().is_some_and(Outcome::is_success))
        .count();
    let totals = api.stats_totals();
    let note = format!(
        "{} payloads + 1 control message; {failed} invocations failed after retries; {} edge posts ({} failed batches); {} fragments (status 0)",
        total,
        run.fake.counters().edge_requests,
        totals.get("failed_batches").copied().unwrap_or(0.0),
        run.fake.summary().fragments,
    );
    row(
        name,
        Some(memory),
        None,
        &records,
        &processes,
        &run,
        &totals,
        note,
    )
}

/// The same payloads as Kinesis records: a stream always on the same shard, batches of up
/// to 10,000 records / 6 MB, one batch in flight per shard.
pub fn push_kinesis(bed: &Bed) -> Row {
    let name = "push-kinesis";
    let (run, env) = push_bed(bed, name);
    let shards = bed.args.kinesis_shards.max(1);
    let memory = bed.args.memory_mb;
    let mut f = bed.function(&env, memory, bed.args.timeout, true);
    f.max_concurrency = shards;
    let mut api = RuntimeApi::start(f);
    let mut builders: Vec<BatchBuilder> = (0..shards).map(|_| BatchBuilder::default()).collect();
    let mut seqs = vec![0u64; shards];
    let mut batches = 0;
    for p in payloads::payloads(&run.corpus, 1_000) {
        let shard = payloads::shard_of(&run.corpus, &p, shards);
        seqs[shard] += 1;
        let last = *p.events.last().expect("a payload has events");
        let arrival = run.corpus.ingestion_time(&run.corpus.events[p.group][last]);
        let key = run.corpus.groups[p.group].streams[usize::from(p.stream)].clone();
        let gz = payloads::gzip(&payloads::payload_json(&run.corpus, &p));
        let record = payloads::kinesis_record(shard, seqs[shard], &key, &gz, arrival);
        if let Some(batch) = builders[shard].push(record) {
            while api.unsettled() > shards * 2 {
                std::thread::sleep(Duration::from_millis(5));
            }
            api.invoke_kinesis(&format!("shardId-{shard:012}"), batch);
            batches += 1;
        }
    }
    for (shard, b) in builders.iter_mut().enumerate() {
        if let Some(batch) = b.finish() {
            api.invoke_kinesis(&format!("shardId-{shard:012}"), batch);
            batches += 1;
        }
    }
    api.wait_all(Duration::from_secs(24 * 3600));
    let processes = api.shutdown();
    let records = api.records();
    let totals = api.stats_totals();
    let answers: Vec<&str> = records
        .iter()
        .flat_map(|r| r.attempts.iter())
        .filter_map(|a| match &a.outcome {
            Some(Outcome::Response(body)) => Some(body.as_str()),
            _ => None,
        })
        .collect();
    let knows = answers.iter().any(|b| b.contains("batchItemFailures"));
    let mut note = format!("{batches} batches over {shards} shards");
    if !knows {
        let sample = answers
            .first()
            .map_or("nothing", |b| &b[..b.len().min(120)]);
        note.push_str(&format!(
            "; the forwarder does not know the Kinesis event: it answered {sample}"
        ));
    }
    row(
        name,
        Some(memory),
        None,
        &records,
        &processes,
        &run,
        &totals,
        note,
    )
}
