//! What the fake Edge accepted: every transaction in full (tests read fields), or in bench
//! mode only its id, how often it came and a few flags, so the vendor's minute (223,500+
//! transactions) fits in a few tens of MB.

use std::collections::{HashMap, HashSet};

use serde::Serialize;
use serde_json::Value;

/// Flags kept per transaction in bench mode.
pub const FLAG_STATUS_ZERO: u8 = 1;
pub const FLAG_NO_CLIENT_IP: u8 = 2;
pub const FLAG_TRUNCATED_MARKER: u8 = 4;

#[derive(Default)]
pub struct Received {
    bench: bool,
    full: Vec<Value>,
    /// id -> (times received, flags of the first)
    ids: HashMap<String, (u32, u8)>,
    order: Vec<String>,
    total: u64,
    /// The longest request body received (`request.body.length`): full execution logs show here.
    largest_request_body: u64,
}

/// `/_received`: what arrived, against what was expected when the test said.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct Summary {
    pub count: u64,
    pub unique: u64,
    /// Ids received more than once (at most 1,000 listed).
    pub duplicates: Vec<String>,
    pub duplicate_count: u64,
    pub expected: u64,
    pub missing_count: u64,
    /// Expected ids never received (at most 1,000 listed).
    pub missing: Vec<String>,
    /// Received ids nobody expected.
    pub unexpected_count: u64,
    /// Received with status "0" (a request sent before its end was seen).
    pub fragments: u64,
    /// Received with the truncation marker as their request body.
    pub truncated_bodies: u64,
    /// The longest request body received, in bytes.
    pub largest_request_body: u64,
}

pub fn transaction_id(v: &Value) -> &str {
    v.get("transaction-id")
        .and_then(Value::as_str)
        .unwrap_or_default()
}

fn flags(v: &Value) -> u8 {
    let mut f = 0;
    if v["response"]["status-code"].as_str() == Some("0") {
        f |= FLAG_STATUS_ZERO;
    }
    if v["request"]["client-ip"].as_str().is_none_or(str::is_empty) {
        f |= FLAG_NO_CLIENT_IP;
    }
    // base64 of {"cq_body_truncated":"true"}
    if v["request"]["body"]["data"].as_str() == Some("eyJjcV9ib2R5X3RydW5jYXRlZCI6InRydWUifQ==") {
        f |= FLAG_TRUNCATED_MARKER;
    }
    f
}

impl Received {
    pub fn new(bench: bool) -> Self {
        Self {
            bench,
            ..Self::default()
        }
    }

    pub fn add(&mut self, transactions: Vec<Value>) {
        for t in transactions {
            self.total += 1;
            let length = t["request"]["body"]["length"].as_u64().unwrap_or(0);
            self.largest_request_body = self.largest_request_body.max(length);
            let id = transaction_id(&t).to_string();
            let entry = self.ids.entry(id.clone()).or_insert((0, flags(&t)));
            entry.0 += 1;
            if !self.bench {
                self.order.push(id);
                self.full.push(t);
            }
        }
    }

    pub fn full(&self) -> &[Value] {
        &self.full
    }

    /// Ids in arrival order (full mode only).
    pub fn ids_in_order(&self) -> &[String] {
        &self.order
    }

    pub fn count_of(&self, id: &str) -> u32 {
        self.ids.get(id).map_or(0, |e| e.0)
    }

    pub fn duplicate_ids(&self) -> Vec<String> {
        let mut d: Vec<String> = self
            .ids
            .iter()
            .filter(|(_, (n, _))| *n > 1)
            .map(|(k, _)| k.clone())
            .collect();
        d.sort();
        d
    }

    pub fn summary(&self, expected: Option<&HashSet<String>>) -> Summary {
        let duplicates = self.duplicate_ids();
        let mut s = Summary {
            count: self.total,
            unique: self.ids.len() as u64,
            duplicate_count: duplicates.len() as u64,
            duplicates: duplicates.into_iter().take(1_000).collect(),
            fragments: self
                .ids
                .values()
                .filter(|(_, f)| f & FLAG_STATUS_ZERO != 0)
                .count() as u64,
            truncated_bodies: self
                .ids
                .values()
                .filter(|(_, f)| f & FLAG_TRUNCATED_MARKER != 0)
                .count() as u64,
            largest_request_body: self.largest_request_body,
            ..Summary::default()
        };
        if let Some(exp) = expected {
            s.expected = exp.len() as u64;
            let mut missing: Vec<&String> = exp
                .iter()
                .filter(|id| !self.ids.contains_key(*id))
                .collect();
            missing.sort();
            s.missing_count = missing.len() as u64;
            s.missing = missing.into_iter().take(1_000).cloned().collect();
            s.unexpected_count = self.ids.keys().filter(|id| !exp.contains(*id)).count() as u64;
        }
        s
    }

    pub fn clear(&mut self) {
        *self = Self::new(self.bench);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn summary_counts_duplicates_missing_and_fragments_in_both_modes() {
        for bench in [false, true] {
            let mut r = Received::new(bench);
            let t = |id: &str, status: &str| json!({"transaction-id": id, "response": {"status-code": status}, "request": {"client-ip": "1.2.3.4"}});
            r.add(vec![t("a", "200"), t("b", "0"), t("a", "200")]);
            let expected: HashSet<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
            let s = r.summary(Some(&expected));
            assert_eq!((s.count, s.unique, s.duplicate_count), (3, 2, 1));
            assert_eq!(s.missing, vec!["c".to_string()]);
            assert_eq!(s.fragments, 1);
            assert_eq!(r.full().len(), if bench { 0 } else { 3 });
        }
    }
}
