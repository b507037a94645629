//! Command-line flags of `bench-forwarder` (few and plain: no argument-parser dependency).

use std::path::PathBuf;
use std::time::Duration;

pub const ALL_SCENARIOS: &[&str] = &[
    "poll-once-5",
    "poll-once-10",
    "poll-once-25",
    "poll-steady-5",
    "poll-steady-10",
    "poll-steady-25",
    "poll-half-5",
    "push-direct",
    "push-kinesis",
];

pub const USAGE: &str = "\
usage: bench-forwarder --bootstrap PATH [options]

  --bootstrap PATH       the forwarder binary to measure (release build)
  --scale X              requests per minute relative to the vendor's 223,500 (0.1, 1, 10; default 1)
  --scenario A,B         rows to run (default: all) — poll-once-{5,10,25}, poll-steady-{5,10,25},
                         poll-half-5, push-direct, push-kinesis
  --tick-gap SECS        time between steady-state ticks (default 60)
  --steady-ticks N       ticks after the quiet one before giving up (default 5)
  --memory MB            function memory for deadline runs and push (default 1024, the template's)
  --timeout SECS         function timeout for deadline runs and push (default 55)
  --push-concurrency N   execution environments for push-direct (default 8)
  --kinesis-shards N     shards for push-kinesis (default 4)
  --page-latency-ms MS   stand-in latency per FilterLogEvents page (default 200)
  --edge-latency-ms MS   fake Edge time per accepted post (default 50)
  --seed N               corpus seed (default 1)
  --no-cgroup            never limit memory/CPU (cgroups are used when writable)
  --json PATH            also write the table as JSON (default target/bench-forwarder.json)
  --describe             print the corpus model's numbers and exit
  --verbose              print each invocation as it ends
";

#[derive(Clone, Debug)]
pub struct Args {
    pub bootstrap: PathBuf,
    pub scale: f64,
    pub scenarios: Vec<String>,
    pub tick_gap: Duration,
    pub steady_ticks: u32,
    pub memory_mb: u32,
    pub timeout: Duration,
    pub push_concurrency: usize,
    pub kinesis_shards: usize,
    pub page_latency: Duration,
    pub edge_latency: Duration,
    pub seed: u64,
    pub cgroup: bool,
    pub json: PathBuf,
    pub describe: bool,
    pub verbose: bool,
}

fn fail(msg: &str) -> ! {
    eprintln!("bench-forwarder: {msg}\n\n{USAGE}");
    std::process::exit(2)
}

fn num<T: std::str::FromStr>(flag: &str, v: Option<String>) -> T {
    v.as_deref()
        .unwrap_or_else(|| fail(&format!("{flag} needs a value")))
        .parse()
        .unwrap_or_else(|_| fail(&format!("bad value for {flag}")))
}

pub fn parse(mut it: impl Iterator<Item = String>) -> Args {
    let mut a = Args {
        bootstrap: PathBuf::new(),
        scale: 1.0,
        scenarios: ALL_SCENARIOS.iter().map(|s| s.to_string()).collect(),
        tick_gap: Duration::from_secs(60),
        steady_ticks: 5,
        memory_mb: 1024,
        timeout: Duration::from_secs(55),
        push_concurrency: 8,
        kinesis_shards: 4,
        page_latency: Duration::from_millis(200),
        edge_latency: Duration::from_millis(50),
        seed: 1,
        cgroup: true,
        json: PathBuf::from("target/bench-forwarder.json"),
        describe: false,
        verbose: false,
    };
    while let Some(flag) = it.next() {
        match flag.as_str() {
            "--bootstrap" => a.bootstrap = PathBuf::from(num::<String>(&flag, it.next())),
            "--scale" => a.scale = num(&flag, it.next()),
            "--scenario" => {
                let list: String = num(&flag, it.next());
                a.scenarios = list.split(',').map(|s| s.trim().to_string()).collect();
                for s in &a.scenarios {
                    if !ALL_SCENARIOS.contains(&s.as_str()) {
                        fail(&format!("unknown scenario {s}"));
                    }
                }
            }
            "--tick-gap" => a.tick_gap = Duration::from_secs(num(&flag, it.next())),
            "--steady-ticks" => a.steady_ticks = num(&flag, it.next()),
            "--memory" => a.memory_mb = num(&flag, it.next()),
            "--timeout" => a.timeout = Duration::from_secs(num(&flag, it.next())),
            "--push-concurrency" => a.push_concurrency = num(&flag, it.next()),
            "--kinesis-shards" => a.kinesis_shards = num(&flag, it.next()),
            "--page-latency-ms" => a.page_latency = Duration::from_millis(num(&flag, it.next())),
            "--edge-latency-ms" => a.edge_latency = Duration::from_millis(num(&flag, it.next())),
            "--seed" => a.seed = num(&flag, it.next()),
            "--no-cgroup" => a.cgroup = false,
            "--json" => a.json = PathBuf::from(num::<String>(&flag, it.next())),
            "--describe" => a.describe = true,
            "--verbose" => a.verbose = true,
            "-h" | "--help" => {
                print!("{USAGE}");
                std::process::exit(0)
            }
            other => fail(&format!("unknown argument {other}")),
        }
    }
    if !a.describe && !a.bootstrap.is_file() {
        fail(&format!("no bootstrap at {:?}", a.bootstrap));
    }
    if a.scale <= 0.0 || a.scale > 10.0 {
        fail("--scale must be in (0, 10]");
    }
    a
}
