//! The stats of one run, printed as the last log line of every run
//! (`LAMBDA FINISHED PROCESSING. Stats of the run: {json}`). Field names are the vendor's
//! (docs/operator-guide.md, "The forwarder's run statistics"), including its `average_async_cequene_edge_latency` spelling, so existing
//! dashboards and log queries keep working.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use serde::Serialize;

pub const FINISHED_PREFIX: &str = "LAMBDA FINISHED PROCESSING. Stats of the run:";

#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Stats {
    /// What ran: `tick`, `subscription` or `custom_resource`.
    pub invocation: String,
    pub log_group_count: usize,
    pub cloudwatch_filter_start_time: i64,
    pub cloudwatch_filter_end_time: i64,
    pub log_fetch_interval_mill_sec: i64,
    pub log_fetch_limit: i32,
    /// HTTP status (or `throttled`/`timeout`/`error`) → count, over every FilterLogEvents call.
    pub cloudwatch_statuses: BTreeMap<String, u64>,
    pub total_cloudwatch_fetch_attempts: u64,
    pub average_async_cloudwatch_latency: f64,
    pub total_async_cloudwatch_latency: u64,
    pub total_cloudwatch_retries: u64,
    pub total_cloudwatch_successes: u64,
    pub total_cloudwatch_failures: u64,
    pub total_events_fetched: u64,
    pub total_pages: u64,
    pub additional_pages_fetched: u64,
    pub total_streams_fetched: u64,
    pub total_incomplete_streams_count: u64,
    pub total_truncated_streams_count: u64,
    pub total_complete_streams_count: u64,
    pub total_transactions_parsed_from_streams: u64,
    pub total_failed_to_parse_streams: u64,
    pub total_batches: u64,
    pub successful_batches: u64,
    pub failed_batches: u64,
    pub cequence_auth_latency: u64,
    pub total_cequence_auth_retries: u64,
    pub total_cequence_edge_retries: u64,
    pub min_batch_sent: u64,
    pub max_batch_sent: u64,
    pub average_batch_size: u64,
    pub average_async_cequene_edge_latency: f64,
    pub total_async_cequence_edge_latency: u64,
    pub total_async_network_time: u64,
    pub estimated_lambda_execution_time: u64,
    /// `latency/batch_size` per batch, comma separated (vendor format).
    pub cequence_edge_latencies_per_batch: String,
    /// Milliseconds per CloudWatch page, comma separated (vendor format).
    pub cloudwatch_latencies: String,
    pub latencies: Latencies,
    // What the vendor's stats do not show but an operator of a checkpointed forwarder needs.
    pub duplicate_events_dropped: u64,
    /// REST requests still open (waiting for their last line) when the run ended.
    pub pending_requests: u64,
    pub dropped_static_transactions: u64,
    pub transactions_delivered: u64,
    /// Put in the spool (Edge unavailable); replayed by later ticks.
    pub transactions_spooled: u64,
    /// Taken from the spool and delivered by this run.
    pub transactions_replayed: u64,
    /// Refused by the Edge for their content; kept under `rejected/` with its reason.
    pub transactions_rejected: u64,
    /// Neither delivered nor spooled (Edge and spool both failing): read again later.
    pub transactions_undelivered: u64,
    pub token_source: String,
    pub state_saves: u64,
    /// Bytes of state items written to the table (write units ≈ KB) and of open requests
    /// spilled to S3: what the checkpoints cost.
    pub state_write_bytes: u64,
    pub state_spilled_bytes: u64,
    /// The run stopped reading before its window end to finish before the Lambda deadline.
    pub deadline_stop: bool,
    /// Groups whose reading is behind the window end when the run ended (a backlog).
    pub backlog_groups: u64,
    /// Pushed payloads (or Kinesis records) already handled before: skipped.
    pub duplicate_deliveries: u64,
    /// Groups pushed (subscription filter) / polled after this run.
    pub pushed_groups: u64,
    pub polled_groups: u64,
    /// Another tick held the lease: this one did nothing.
    pub skipped_lease_held: bool,
    pub errors: Vec<String>,
}

/// Raw latencies in milliseconds (the vendor's comma strings are derived from these).
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Latencies {
    pub cloudwatch_pages_ms: Vec<u64>,
    pub cequence_edge_batches_ms: Vec<u64>,
    pub cequence_edge_batch_sizes: Vec<u64>,
}

/// Shared by the concurrent fetch and post tasks of one run.
pub type SharedStats = Arc<Mutex<Stats>>;

pub fn shared(invocation: &str) -> SharedStats {
    Arc::new(Mutex::new(Stats {
        invocation: invocation.to_string(),
        ..Stats::default()
    }))
}

/// Lock, shrugging off poisoning: a panicked task must not hide the stats of the run.
pub fn lock(stats: &SharedStats) -> std::sync::MutexGuard<'_, Stats> {
    stats.lock().unwrap_or_else(|p| p.into_inner())
}

impl Stats {
    pub fn count_save(&mut self, w: crate::state::store::Written) {
        self.state_saves += 1;
        self.state_write_bytes += w.item_bytes;
        self.state_spilled_bytes += w.spilled_bytes;
    }

    pub fn record_cloudwatch_page(&mut self, latency_ms: u64) {
        self.latencies.cloudwatch_pages_ms.push(latency_ms);
    }

    pub fn record_batch(&mut self, size: usize, latency_ms: u64) {
        self.latencies.cequence_edge_batches_ms.push(latency_ms);
        self.latencies.cequence_edge_batch_sizes.push(size as u64);
    }

    pub fn count_status(&mut self, status: &str) {
        *self
            .cloudwatch_statuses
            .entry(status.to_string())
            .or_default() += 1;
    }

    /// Derive the aggregate fields from the raw ones; call once at the end of the run.
    pub fn finish(&mut self, elapsed_ms: u64) {
        let cw = &self.latencies.cloudwatch_pages_ms;
        self.total_async_cloudwatch_latency = cw.iter().sum();
        self.average_async_cloudwatch_latency = if self.log_group_count > 0 {
            self.total_async_cloudwatch_latency as f64 / self.log_group_count as f64
        } else {
            0.0
        };
        self.cloudwatch_latencies = join(cw.iter().map(u64::to_string));

        let edge = &self.latencies.cequence_edge_batches_ms;
        let sizes = &self.latencies.cequence_edge_batch_sizes;
        self.total_async_cequence_edge_latency = edge.iter().sum();
        self.average_async_cequene_edge_latency = if edge.is_empty() {
            0.0
        } else {
            self.total_async_cequence_edge_latency as f64 / edge.len() as f64
        };
        self.cequence_edge_latencies_per_batch =
            join(edge.iter().zip(sizes).map(|(l, s)| format!("{l}/{s}")));
        self.min_batch_sent = sizes.iter().copied().min().unwrap_or(0);
        self.max_batch_sent = sizes.iter().copied().max().unwrap_or(0);
        self.average_batch_size = if sizes.is_empty() {
            0
        } else {
            sizes.iter().sum::<u64>() / sizes.len() as u64
        };
        self.additional_pages_fetched =
            self.total_pages.saturating_sub(self.log_group_count as u64);
        self.total_async_network_time =
            self.total_async_cloudwatch_latency + self.total_async_cequence_edge_latency;
        self.estimated_lambda_execution_time = elapsed_ms;
    }

    /// The last log line of every run.
    pub fn finished_line(&self) -> String {
        let json = serde_json::to_string(self).unwrap_or_else(|_| "{}".into());
        format!("{FINISHED_PREFIX} {json}")
    }
}

fn join(items: impl Iterator<Item = String>) -> String {
    items.collect::<Vec<_>>().join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finish_derives_vendor_aggregates() {
        let mut s = Stats {
            log_group_count: 2,
            total_pages: 5,
            ..Stats::default()
        };
        s.record_cloudwatch_page(10);
        s.record_cloudwatch_page(30);
        s.record_batch(250, 100);
        s.record_batch(17, 20);
        s.finish(999);
        assert_eq!(s.cloudwatch_latencies, "10,30");
        assert_eq!(s.average_async_cloudwatch_latency, 20.0);
        assert_eq!(s.cequence_edge_latencies_per_batch, "100/250,20/17");
        assert_eq!((s.min_batch_sent, s.max_batch_sent), (17, 250));
        assert_eq!(s.average_batch_size, 133);
        assert_eq!(s.additional_pages_fetched, 3);
        assert_eq!(s.total_async_network_time, 160);
        assert_eq!(s.estimated_lambda_execution_time, 999);
    }

    #[test]
    fn finished_line_has_every_spec_field() {
        let line = Stats::default().finished_line();
        let json = line.strip_prefix(FINISHED_PREFIX).unwrap().trim();
        let v: serde_json::Value = serde_json::from_str(json).unwrap();
        for field in [
            "log_group_count",
            "cloudwatch_filter_start_time",
            "cloudwatch_filter_end_time",
            "log_fetch_interval_mill_sec",
            "log_fetch_limit",
            "cloudwatch_statuses",
            "total_cloudwatch_fetch_attempts",
            "total_cloudwatch_retries",
            "total_cloudwatch_successes",
            "total_cloudwatch_failures",
            "total_events_fetched",
            "total_pages",
            "additional_pages_fetched",
            "total_streams_fetched",
            "total_incomplete_streams_count",
            "total_truncated_streams_count",
            "total_complete_streams_count",
            "total_transactions_parsed_from_streams",
            "total_failed_to_parse_streams",
            "total_batches",
            "successful_batches",
            "failed_batches",
            "cequence_auth_latency",
            "total_cequence_auth_retries",
            "total_cequence_edge_retries",
            "min_batch_sent",
            "max_batch_sent",
            "average_batch_size",
            "latencies",
        ] {
            assert!(v.get(field).is_some(), "missing {field}");
        }
    }
}
