//! One row per scenario, printed as one table and written as JSON.

use serde::Serialize;

#[derive(Clone, Debug, Default, Serialize)]
pub struct Row {
    pub scenario: String,
    /// Function memory; `None` = unlimited (no cgroup).
    pub memory_mb: Option<u32>,
    pub tps: Option<f64>,
    pub invocations: u64,
    pub timeouts: u64,
    /// Processes that died (OOM in the cgroup, crash, killed).
    pub kills: u64,
    /// First invocation start to last end.
    pub wall_s: f64,
    /// Sum of invocation durations (what Lambda bills).
    pub billed_s: f64,
    /// user + sys over every process.
    pub cpu_s: f64,
    /// Largest peak RSS of one process.
    pub peak_rss_mb: f64,
    pub fle_requests: u64,
    pub fle_pages: u64,
    pub fle_throttled: u64,
    pub received: u64,
    pub unique: u64,
    pub expected: u64,
    pub missing: u64,
    pub duplicates: u64,
    pub fragments: u64,
    pub processes: usize,
    pub note: String,
}

fn opt<T: std::fmt::Display>(v: Option<T>) -> String {
    v.map_or("-".into(), |x| x.to_string())
}

pub fn render(rows: &[Row]) -> String {
    let header = [
        "scenario",
        "mem MB",
        "TPS",
        "ticks/inv",
        "tmo/kill",
        "wall s",
        "billed s",
        "CPU s",
        "peak RSS MB",
        "FLE req/pages/thr",
        "received",
        "unique",
        "expected",
        "missing",
        "dups",
    ];
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                r.scenario.clone(),
                opt(r.memory_mb),
                opt(r.tps),
                r.invocations.to_string(),
                format!("{}/{}", r.timeouts, r.kills),
                format!("{:.1}", r.wall_s),
                format!("{:.1}", r.billed_s),
                format!("{:.1}", r.cpu_s),
                format!("{:.0}", r.peak_rss_mb),
                format!("{}/{}/{}", r.fle_requests, r.fle_pages, r.fle_throttled),
                r.received.to_string(),
                r.unique.to_string(),
                r.expected.to_string(),
                r.missing.to_string(),
                r.duplicates.to_string(),
            ]
        })
        .collect();
    let widths: Vec<usize> = (0..header.len())
        .map(|i| {
            cells
                .iter()
                .map(|c| c[i].len())
                .chain([header[i].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |c: &[String]| {
        let parts: Vec<String> = c
            .iter()
            .zip(&widths)
            .map(|(s, w)| format!("{s:<w$}"))
            .collect();
        format!("| {} |", parts.join(" | "))
    };
    let mut out = String::new();
    out.push_str(&line(&header.map(String::from)));
    out.push('\n');
    let sep: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
    out.push_str(&line(&sep));
    out.push('\n');
    for c in &cells {
        out.push_str(&line(c));
        out.push('\n');
    }
    let notes: Vec<String> = rows
        .iter()
        .filter(|r| !r.note.is_empty())
        .map(|r| format!("- {}: {}", r.scenario, r.note))
        .collect();
    if !notes.is_empty() {
        out.push('\n');
        out.push_str(&notes.join("\n"));
        out.push('\n');
    }
    out
}
