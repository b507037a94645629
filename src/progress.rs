//! Progress on stderr: live rows on a terminal, plain `▹ ` lines otherwise (CI logs), nothing
//! with `--quiet` or `--output json`.
//!
//! indicatif alone hides everything when stderr is not a terminal, which would leave CI logs
//! empty; hence the line mode.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

#[derive(Clone)]
enum Mode {
    Bars(MultiProgress),
    Lines,
    Silent,
}

/// Shared by all tasks of a command; cheap to clone.
#[derive(Clone)]
pub struct Progress {
    mode: Mode,
    rows: Arc<Mutex<HashMap<String, ProgressBar>>>,
    /// Last message per row in line mode, so a poll that changes nothing prints nothing.
    last: Arc<Mutex<HashMap<String, String>>>,
}

impl Progress {
    /// `silent` for `--quiet` and `--output json`.
    pub fn new(silent: bool) -> Progress {
        let mode = if silent {
            Mode::Silent
        } else if std::io::stderr().is_terminal() {
            Mode::Bars(MultiProgress::with_draw_target(ProgressDrawTarget::stderr()))
        } else {
            Mode::Lines
        };
        Progress {
            mode,
            rows: Arc::default(),
            last: Arc::default(),
        }
    }

    /// A one-off note (a step starting, a URL to keep).
    pub fn note(&self, msg: impl AsRef<str>) {
        match &self.mode {
            Mode::Bars(m) => {
                let _ = m.println(format!("▹ {}", msg.as_ref()));
            }
            Mode::Lines => eprintln!("▹ {}", msg.as_ref()),
            Mode::Silent => {}
        }
    }

    /// Set the message of the row named `row` (created on first use).
    pub fn row(&self, row: &str, msg: impl AsRef<str>) {
        let msg = msg.as_ref();
        match &self.mode {
            Mode::Bars(m) => {
                let mut rows = self.rows.lock().expect("progress rows");
                let bar = rows.entry(row.to_string()).or_insert_with(|| {
                    let bar = m.add(ProgressBar::new_spinner());
                    bar.set_style(
                        ProgressStyle::with_template("{spinner} {prefix:<28} {msg}")
                            .expect("valid template"),
                    );
                    bar.set_prefix(row.to_string());
                    bar.enable_steady_tick(Duration::from_millis(120));
                    bar
                });
                bar.set_message(msg.to_string());
            }
            Mode::Lines => {
                let mut last = self.last.lock().expect("progress lines");
                if last.get(row).map(String::as_str) != Some(msg) {
                    eprintln!("▹ {row}: {msg}");
                    last.insert(row.to_string(), msg.to_string());
                }
            }
            Mode::Silent => {}
        }
    }

    /// Final message of a row; the spinner stops.
    pub fn done(&self, row: &str, msg: impl AsRef<str>) {
        match &self.mode {
            Mode::Bars(_) => {
                self.row(row, msg.as_ref());
                if let Some(bar) = self.rows.lock().expect("progress rows").get(row) {
                    bar.finish();
                }
            }
            _ => self.row(row, msg),
        }
    }

    /// Stop every spinner (before the summary is printed).
    pub fn finish(&self) {
        for bar in self.rows.lock().expect("progress rows").values() {
            if !bar.is_finished() {
                bar.finish();
            }
        }
    }
}
