//! What every scenario runs against: one moto (secret, state table, spool bucket per
//! scenario), a fresh stand-in over the scenario's corpus and a fresh fake Edge in bench mode.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use cq_test_support::corpus::Corpus;
use cq_test_support::fake_cequence::{FakeCequence, FakeConfig};
use cq_test_support::forwarder_env::ForwarderEnv;
use cq_test_support::logs_standin::{LogsStandin, StandinConfig};
use cq_test_support::moto_resources;
use cq_test_support::runtime_api::{FunctionConfig, InvocationRecord, SandboxReport};
use cq_test_support::MotoServer;

use crate::args::Args;
use crate::table::Row;

pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

pub struct Bed {
    pub args: Args,
    pub moto: MotoServer,
}

/// The pieces of one scenario.
pub struct Run {
    pub corpus: Arc<Corpus>,
    pub standin: LogsStandin,
    pub fake: FakeCequence,
    pub env: ForwarderEnv,
}

impl Bed {
    pub fn start(args: Args) -> Self {
        eprintln!("starting moto...");
        let moto = MotoServer::start();
        Self { args, moto }
    }

    /// Stand-in, fake Edge and AWS resources for scenario `name` over `corpus`.
    pub fn run(&self, name: &str, corpus: Corpus, quota_tps: f64) -> Run {
        let corpus = Arc::new(corpus);
        let standin = LogsStandin::start(
            corpus.clone(),
            StandinConfig {
                quota_tps,
                page_latency: self.args.page_latency,
                ..StandinConfig::default()
            },
        );
        let fake = FakeCequence::start_with(
            FakeConfig {
                bench: true,
                latency: self.args.edge_latency,
                workers: 2,
                ..FakeConfig::default()
            },
            0,
        );
        fake.set_expected(corpus.expected_ids());
        let prefix = format!("bench-{name}-{}", now_ms());
        let addr = self.moto.addr();
        let secret_arn =
            moto_resources::create_secret(&addr, &format!("cequence-{prefix}"), "test-secret")
                .expect("create the client secret in moto");
        let mut env = ForwarderEnv::new(&prefix, &self.moto.endpoint(), &standin.endpoint());
        moto_resources::create_state_table(&addr, &env.state_table)
            .expect("create the state table");
        moto_resources::create_bucket(&addr, &env.spool_bucket).expect("create the spool bucket");
        env.secret_arn = secret_arn;
        env.auth_endpoint = fake.auth_endpoint();
        env.edge_endpoint = fake.edge_endpoint();
        env.log_groups = corpus.group_names();
        env.fetch_interval_ms = 10 * 60_000;
        env.filter_log_events_tps = Some(quota_tps);
        Run {
            corpus,
            standin,
            fake,
            env,
        }
    }

    /// The function: memory and timeout as given, `cgroup` when limits should apply.
    pub fn function(
        &self,
        env: &ForwarderEnv,
        memory_mb: u32,
        timeout: Duration,
        limited: bool,
    ) -> FunctionConfig {
        let mut f = FunctionConfig::new(&self.args.bootstrap, env.vars());
        f.memory_mb = memory_mb;
        f.timeout = timeout;
        f.cgroup = limited && self.args.cgroup;
        f.keep_stats = false;
        f.log_lines_cap = 2_000;
        f
    }
}

/// The row of a finished scenario.
#[allow(clippy::too_many_arguments)]
pub fn row(
    scenario: &str,
    memory_mb: Option<u32>,
    tps: Option<f64>,
    records: &[InvocationRecord],
    processes: &[SandboxReport],
    run: &Run,
    totals: &std::collections::BTreeMap<String, f64>,
    note: String,
) -> Row {
    use cq_test_support::runtime_api::Outcome;
    let attempts: Vec<_> = records.iter().flat_map(|r| r.attempts.iter()).collect();
    let first = attempts.iter().map(|a| a.started).min().unwrap_or_default();
    let last = attempts
        .iter()
        .map(|a| a.started + a.elapsed)
        .max()
        .unwrap_or_default();
    let st = run.standin.counters();
    let sum = run.fake.summary();
    let edge = run.fake.counters();
    let mut note = format!(
        "{note}; Edge: {} posts accepted, {:.1} MB on the wire ({:.1} MB of JSON)",
        edge.edge_accepted,
        edge.edge_wire_bytes as f64 / 1e6,
        edge.edge_json_bytes as f64 / 1e6
    );
    // Where the CPU went: user against system time, and the faults behind the latter.
    let usages: Vec<_> = processes.iter().filter_map(|p| p.usage.as_ref()).collect();
    note.push_str(&format!(
        "; CPU {:.1} s user + {:.1} s system, {} minor faults",
        usages.iter().map(|u| u.user.as_secs_f64()).sum::<f64>(),
        usages.iter().map(|u| u.sys.as_secs_f64()).sum::<f64>(),
        usages.iter().map(|u| u.minor_faults).sum::<u64>()
    ));
    // What the checkpoints cost (docs/cost.md): only forwarders that report it.
    if let Some(saves) = totals.get("state_saves") {
        let get = |k: &str| totals.get(k).copied().unwrap_or(0.0);
        note.push_str(&format!(
            "; state: {saves:.0} saves, {:.1} MB to the table, {:.1} MB spilled to S3",
            get("state_write_bytes") / 1e6,
            get("state_spilled_bytes") / 1e6
        ));
    }
    Row {
        scenario: scenario.to_string(),
        memory_mb,
        tps,
        invocations: attempts.len() as u64,
        timeouts: attempts
            .iter()
            .filter(|a| a.outcome == Some(Outcome::Timeout))
            .count() as u64,
        kills: attempts
            .iter()
            .filter(|a| matches!(a.outcome, Some(Outcome::Crash(_))))
            .count() as u64,
        wall_s: last.saturating_sub(first).as_secs_f64(),
        billed_s: attempts.iter().map(|a| a.elapsed.as_secs_f64()).sum(),
        cpu_s: processes
            .iter()
            .filter_map(|p| p.usage.as_ref())
            .map(|u| u.cpu().as_secs_f64())
            .sum(),
        peak_rss_mb: processes
            .iter()
            .filter_map(|p| p.usage.as_ref())
            .map(|u| u.max_rss_kb as f64 / 1024.0)
            .fold(0.0, f64::max),
        fle_requests: st.filter_requests,
        fle_pages: st.pages,
        fle_throttled: st.throttled,
        received: sum.count,
        unique: sum.unique,
        expected: sum.expected,
        missing: sum.missing_count,
        duplicates: sum.duplicate_count,
        fragments: sum.fragments,
        processes: processes.len(),
        note,
    }
}
