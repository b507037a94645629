//! One execution environment: a `bootstrap` process with its own Runtime API endpoint, its
//! output collected (every stats line parsed as it arrives), and its state as Lambda sees it.

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader, Read};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::sync::Notify;

use crate::process::{Measured, Usage};
use crate::stats_line;

/// An invocation handed to a sandbox, waiting for its `GET /next`.
#[derive(Clone, Debug)]
pub struct Assignment {
    pub invocation: u64,
    pub attempt: usize,
    pub request_id: String,
    pub body: Vec<u8>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SandboxState {
    /// Launched; has not asked for work yet.
    Starting,
    Idle,
    Busy {
        invocation: u64,
        attempt: usize,
        request_id: String,
        deadline: Instant,
    },
    Dead,
}

/// Output of one process. Lines beyond `cap` are counted, not kept.
#[derive(Default)]
pub struct LogSink {
    pub lines: Vec<String>,
    pub dropped: u64,
    /// Every stats line (when kept), in order.
    pub stats: Vec<Value>,
    /// Top-level numeric stats fields summed over every stats line; `errors` counts lines
    /// that reported any.
    pub totals: BTreeMap<String, f64>,
    cap: usize,
    keep_stats: bool,
}

impl LogSink {
    fn push(&mut self, line: String) {
        if let Some(v) = stats_line::parse(&line) {
            if let Some(map) = v.as_object() {
                for (k, x) in map {
                    if let Some(n) = x.as_f64() {
                        *self.totals.entry(k.clone()).or_insert(0.0) += n;
                    }
                }
                let errors = map
                    .get("errors")
                    .and_then(Value::as_array)
                    .is_some_and(|e| !e.is_empty());
                *self.totals.entry("errors".into()).or_insert(0.0) += f64::from(u8::from(errors));
                *self.totals.entry("stats_lines".into()).or_insert(0.0) += 1.0;
            }
            if self.keep_stats {
                self.stats.push(v);
            }
        }
        if self.lines.len() < self.cap {
            self.lines.push(line);
        } else {
            self.dropped += 1;
        }
    }
}

pub struct Sandbox {
    pub index: usize,
    pub process: Measured,
    pub launched: Instant,
    pub state: SandboxState,
    pub assignment: Option<Assignment>,
    pub notify: Arc<Notify>,
    pub logs: Arc<Mutex<LogSink>>,
    /// `(invocation, attempt)` -> k for each answered attempt: the k-th stats line of the
    /// process belongs to it.
    pub answered: HashMap<(u64, usize), usize>,
    /// Process start to its first `GET /next`.
    pub init: Option<Duration>,
    pub usage: Option<Usage>,
    pub served: u32,
}

impl Sandbox {
    pub fn new(index: usize, mut process: Measured, cap: usize, keep_stats: bool) -> Self {
        let logs = Arc::new(Mutex::new(LogSink {
            cap,
            keep_stats,
            ..LogSink::default()
        }));
        if let Some(out) = process.stdout.take() {
            collect(out, logs.clone(), "");
        }
        if let Some(err) = process.stderr.take() {
            collect(err, logs.clone(), "stderr: ");
        }
        Self {
            index,
            process,
            launched: Instant::now(),
            state: SandboxState::Starting,
            assignment: None,
            notify: Arc::new(Notify::new()),
            logs,
            answered: HashMap::new(),
            init: None,
            usage: None,
            served: 0,
        }
    }

    pub fn alive(&self) -> bool {
        self.state != SandboxState::Dead
    }

    /// Idle and not yet given work.
    pub fn free(&self) -> bool {
        self.state == SandboxState::Idle && self.assignment.is_none()
    }
}

fn collect(pipe: impl Read + Send + 'static, logs: Arc<Mutex<LogSink>>, prefix: &'static str) {
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines().map_while(Result::ok) {
            logs.lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(format!("{prefix}{line}"));
        }
    });
}
