//! `bench-forwarder`: the forwarder's release `bootstrap` at the vendor's published volume
//! (issue 8), measured as whole processes under a local Lambda, against a CloudWatch Logs
//! stand-in, moto and a fake Edge, all on 127.0.0.1. Prints one table (and writes it as
//! JSON). `scripts/bench-forwarder.sh` builds and runs it; docs/benchmark.md explains it.

mod args;
mod bed;
mod scenarios;
mod table;

use std::time::Instant;

use cq_test_support::corpus::{Corpus, CorpusSpec};

fn describe(a: &args::Args) {
    let started = Instant::now();
    let c = Corpus::build(CorpusSpec::vendor(a.scale, a.seed, 1_700_000_000_000));
    let built = started.elapsed();
    let (bytes, pages) = c.page_estimate(10_000, 1024 * 1024);
    let streams: usize = c.groups.iter().map(|g| g.streams.len()).sum();
    let payloads = cq_test_support::corpus::payloads::payloads(&c, 1_000).count();
    let statics = c.requests.iter().filter(|r| r.is_static).count();
    println!(
        "scale {}: {} groups, {} requests ({} static), {} events ({:.1} per request), {:.0} MB of messages, ~{} FilterLogEvents pages, {} log streams, {} subscription payloads ({:.1} requests each); built in {:.1} s",
        a.scale,
        c.groups.len(),
        c.requests.len(),
        statics,
        c.event_count(),
        c.event_count() as f64 / c.requests.len().max(1) as f64,
        bytes as f64 / 1e6,
        pages,
        streams,
        payloads,
        c.requests.len() as f64 / payloads.max(1) as f64,
        built.as_secs_f64()
    );
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines().find_map(|l| {
                l.strip_prefix("model name")
                    .map(|r| r.trim_start_matches([' ', '\t', ':']).to_string())
            })
        })
        .unwrap_or_default();
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let mem_kb: u64 = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.trim().trim_end_matches(" kB").parse().ok())
        })
        .unwrap_or(0);
    format!("{cores} cores ({cpu}), {} GB", mem_kb / 1_000_000)
}

fn main() {
    let a = args::parse(std::env::args().skip(1));
    if a.describe {
        describe(&a);
        return;
    }
    let bed = bed::Bed::start(a.clone());
    let mut rows = Vec::new();
    for s in &a.scenarios {
        let started = Instant::now();
        let row = match s.as_str() {
            "poll-once-5" => scenarios::poll_once(&bed, 5.0),
            "poll-once-10" => scenarios::poll_once(&bed, 10.0),
            "poll-once-25" => scenarios::poll_once(&bed, 25.0),
            "poll-steady-5" => scenarios::steady(&bed, 5.0, false),
            "poll-steady-10" => scenarios::steady(&bed, 10.0, false),
            "poll-steady-25" => scenarios::steady(&bed, 25.0, false),
            "poll-half-5" => scenarios::steady(&bed, 5.0, true),
            "push-direct" => scenarios::push_direct(&bed),
            "push-kinesis" => scenarios::push_kinesis(&bed),
            other => unreachable!("scenario {other} was validated"),
        };
        eprintln!(
            "{s}: done in {:.0} s\n{}",
            started.elapsed().as_secs_f64(),
            table::render(std::slice::from_ref(&row))
        );
        rows.push(row);
    }
    let out = table::render(&rows);
    println!(
        "\nforwarder {} at scale {} (seed {}), {}\n\n{out}",
        a.bootstrap.display(),
        a.scale,
        a.seed,
        machine()
    );
    let json = serde_json::json!({
        "bootstrap": a.bootstrap.display().to_string(),
        "scale": a.scale,
        "seed": a.seed,
        "machine": machine(),
        "page_latency_ms": a.page_latency.as_millis() as u64,
        "edge_latency_ms": a.edge_latency.as_millis() as u64,
        "rows": rows,
    });
    match std::fs::write(
        &a.json,
        serde_json::to_string_pretty(&json).unwrap_or_default(),
    ) {
        Ok(()) => eprintln!("wrote {}", a.json.display()),
        Err(e) => eprintln!("cannot write {}: {e}", a.json.display()),
    }
}
