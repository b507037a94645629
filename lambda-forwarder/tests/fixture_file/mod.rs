//! The fixture format shared by the parser tests: one log event a line.

use lambda_forwarder::parse::LogEvent;

/// Reads `<timestamp ms>\t<message>` lines; event id = `<prefix>-<line number>`.
pub fn load(name: &str, prefix: &str) -> Vec<LogEvent> {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.is_empty() && !line.starts_with("# "))
        .map(|(n, line)| {
            let (ts, message) = line.split_once('\t').expect("timestamp<TAB>message");
            LogEvent {
                event_id: format!("{prefix}-{}", n + 1),
                timestamp: ts.parse().expect("timestamp"),
                message: message.to_string(),
            }
        })
        .collect()
}
