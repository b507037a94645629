//! The forwarder's last log line of every invocation, `LAMBDA FINISHED PROCESSING. Stats of
//! the run: {json}`, found in its output: a JSON log record (under the Runtime API) whose
//! message carries it, or a plain text line (`bootstrap invoke`).

use serde_json::Value;

pub const PREFIX: &str = "LAMBDA FINISHED PROCESSING. Stats of the run:";

/// The stats object of `line`, if it is a stats line.
pub fn parse(line: &str) -> Option<Value> {
    if !line.contains(PREFIX) {
        return None;
    }
    if let Ok(Value::Object(record)) = serde_json::from_str::<Value>(line) {
        for v in record.values() {
            if let Some(found) = v.as_str().and_then(from_text) {
                return Some(found);
            }
        }
        if let Some(fields) = record.get("fields").and_then(Value::as_object) {
            for v in fields.values() {
                if let Some(found) = v.as_str().and_then(from_text) {
                    return Some(found);
                }
            }
        }
    }
    from_text(line)
}

fn from_text(text: &str) -> Option<Value> {
    let rest = &text[text.find(PREFIX)? + PREFIX.len()..];
    let mut de = serde_json::Deserializer::from_str(rest.trim_start()).into_iter::<Value>();
    match de.next() {
        Some(Ok(v)) if v.is_object() => Some(v),
        _ => None,
    }
}

/// A counter of a stats object (0 when absent).
pub fn count(stats: &Value, field: &str) -> u64 {
    stats.get(field).and_then(Value::as_u64).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_stats_in_json_records_and_plain_lines() {
        let record = serde_json::json!({
            "level": "INFO",
            "message": format!("{PREFIX} {{\"total_pages\":3,\"errors\":[]}}"),
        })
        .to_string();
        assert_eq!(count(&parse(&record).unwrap(), "total_pages"), 3);
        let plain = format!("2024-01-01T00:00:00Z INFO {PREFIX} {{\"failed_batches\":2}} trailing");
        assert_eq!(count(&parse(&plain).unwrap(), "failed_batches"), 2);
        assert!(parse("{\"message\":\"something else\"}").is_none());
    }
}
