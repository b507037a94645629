//! The state table (DynamoDB, on demand, created by the stack): one item per log group, per
//! Kinesis shard, per pushed payload already handled, per split pushed request, and the lease
//! that keeps two ticks from running at once.
//!
//! Keys: `pk` (partition) and `sk` (sort), both strings; `expires_at` (epoch seconds) is the
//! table's TTL attribute, so markers and leftovers clean themselves up.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes, ReturnValue};
use aws_sdk_dynamodb::Client;

use super::group::{
    decode_open, encode_open, from_attributes, to_attributes, GroupState, OpenBlob,
    MAX_INLINE_OPEN_BYTES,
};
use crate::backoff::Backoff;
use crate::pipeline::assemble::OpenRequest;
use crate::sinks::spool::Spool;

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("state table {table}: {op}: {message}")]
    Call {
        table: String,
        op: &'static str,
        message: String,
    },
    #[error("state of {key} changed under us (another invocation wrote it)")]
    Conflict { key: String },
    #[error("state of {key} is unreadable: {message}")]
    Corrupt { key: String, message: String },
}

const RETRY: Backoff = Backoff::new(100, 2_000, 4);
/// How long a pushed payload is remembered as handled: CloudWatch Logs retries a delivery for
/// up to 24 hours and Lambda's async queue keeps an event up to 6 hours.
const PAYLOAD_MEMORY_SECS: i64 = 2 * 86_400;
/// A split pushed request's fragments outlive the wait by far: the sweep sends them; TTL is
/// only the last resort against a table that grows forever.
const FRAGMENT_TTL_SECS: i64 = 7 * 86_400;
/// A compressed fragment above this size is kept in the spool bucket and its key in the item:
/// a fragment item collects every piece of a request, and a DynamoDB item holds at most
/// 400 KB, which a few pieces of full execution logs (bodies up to 1 MB) would exceed.
pub const MAX_INLINE_FRAGMENT_BYTES: usize = 32 * 1024;
/// Fragment items are spread over this many partitions (a hot partition takes ~1,000 writes/s).
pub const FRAGMENT_PARTITIONS: u32 = 32;

pub struct StateStore {
    ddb: Client,
    table: String,
    /// Where open requests too large for an item go.
    spill: Option<Spool>,
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn key(pk: &str, sk: &str) -> HashMap<String, AttributeValue> {
    HashMap::from([("pk".to_string(), s(pk)), ("sk".to_string(), s(sk))])
}

fn group_pk(log_group: &str) -> String {
    format!("group#{log_group}")
}

fn now_secs() -> i64 {
    crate::token::now_secs()
}

/// 64-bit FNV-1a: stable across releases (stored keys depend on it).
/// Where a split request's pieces are kept: its fragment item's partition and its spilled
/// pieces' folder.
fn fragment_hash(log_group: &str, request_id: &str) -> u64 {
    stable_hash(format!("{log_group}\u{1f}{request_id}").as_bytes())
}

pub fn stable_hash(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

impl StateStore {
    pub fn new(ddb: Client, table: String, spill: Option<Spool>) -> Self {
        Self { ddb, table, spill }
    }

    fn err<E: ProvideErrorMetadata + std::error::Error + 'static, R: std::fmt::Debug + 'static>(
        &self,
        op: &'static str,
        e: aws_sdk_dynamodb::error::SdkError<E, R>,
    ) -> StateError {
        StateError::Call {
            table: self.table.clone(),
            op,
            message: cq_stage_logging::error_chain(&e),
        }
    }

    /// The states of `groups` (a group never saved gets the default state).
    pub async fn load_groups(
        &self,
        groups: &[String],
    ) -> Result<HashMap<String, GroupState>, StateError> {
        let mut out = HashMap::new();
        for chunk in groups.chunks(100) {
            let mut keys: Vec<HashMap<String, AttributeValue>> =
                chunk.iter().map(|g| key(&group_pk(g), "state")).collect();
            let mut attempt = 0;
            while !keys.is_empty() {
                let request = KeysAndAttributes::builder()
                    .set_keys(Some(std::mem::take(&mut keys)))
                    .consistent_read(true)
                    .build()
                    .map_err(|e| StateError::Call {
                        table: self.table.clone(),
                        op: "BatchGetItem",
                        message: e.to_string(),
                    })?;
                let resp = self
                    .ddb
                    .batch_get_item()
                    .request_items(&self.table, request)
                    .send()
                    .await
                    .map_err(|e| self.err("BatchGetItem", e))?;
                for item in resp
                    .responses()
                    .and_then(|r| r.get(&self.table))
                    .into_iter()
                    .flatten()
                {
                    let Some(pk) = item.get("pk").and_then(|v| v.as_s().ok()) else {
                        continue;
                    };
                    let name = pk.strip_prefix("group#").unwrap_or(pk).to_string();
                    let decoded = from_attributes(item).map_err(|message| StateError::Corrupt {
                        key: pk.clone(),
                        message,
                    })?;
                    let mut state = decoded.state;
                    if let Some(r) = decoded.open_ref {
                        state.open = self.read_spilled(&r).await?;
                    }
                    out.insert(name, state);
                }
                // Throttled or too large: DynamoDB hands back what it did not read.
                if let Some(rest) = resp
                    .unprocessed_keys()
                    .and_then(|u| u.get(&self.table))
                    .map(|k| k.keys().to_vec())
                    .filter(|k| !k.is_empty())
                {
                    attempt += 1;
                    if attempt > RETRY.max_retries {
                        return Err(StateError::Call {
                            table: self.table.clone(),
                            op: "BatchGetItem",
                            message: format!("{} keys still unprocessed", rest.len()),
                        });
                    }
                    tokio::time::sleep(RETRY.delay(attempt)).await;
                    keys = rest;
                }
            }
        }
        for g in groups {
            out.entry(g.clone()).or_default();
        }
        Ok(out)
    }

    async fn read_spilled(&self, key: &str) -> Result<Vec<OpenRequest>, StateError> {
        let spill = self.spill.as_ref().ok_or_else(|| StateError::Corrupt {
            key: key.into(),
            message: "open requests were spilled to S3 but no bucket is configured".into(),
        })?;
        let bytes = spill.get_raw(key).await.map_err(|e| StateError::Corrupt {
            key: key.into(),
            message: e.to_string(),
        })?;
        decode_open(&bytes).map_err(|message| StateError::Corrupt {
            key: key.into(),
            message,
        })
    }

    /// Write state too large for its item to the spool bucket under `key`. `ops` names the
    /// item write it stands for and the spill itself, for the error.
    async fn spill_raw(
        &self,
        ops: (&'static str, &'static str),
        too_big: String,
        key: &str,
        bytes: Vec<u8>,
    ) -> Result<(), StateError> {
        let spill = self.spill.as_ref().ok_or_else(|| StateError::Call {
            table: self.table.clone(),
            op: ops.0,
            message: too_big,
        })?;
        spill
            .put_raw(key, bytes)
            .await
            .map_err(|e| StateError::Call {
                table: self.table.clone(),
                op: ops.1,
                message: e.to_string(),
            })
    }

    /// Save a group's state, only over the version it was loaded at. Retried on transient
    /// failures; a retry of a save that did land is recognised by its save id.
    pub async fn save_group(
        &self,
        log_group: &str,
        state: &mut GroupState,
    ) -> Result<Written, StateError> {
        let pk = group_pk(log_group);
        let compressed = encode_open(&state.open);
        let mut spilled_bytes = 0;
        let blob = if compressed.len() > MAX_INLINE_OPEN_BYTES {
            let key = format!(
                "state/{:016x}/open-{}.json.gz",
                stable_hash(log_group.as_bytes()),
                state.version + 1
            );
            spilled_bytes = compressed.len() as u64;
            let too_big = format!(
                "{} open requests ({} bytes compressed) exceed an item and no spool bucket is configured",
                state.open.len(),
                compressed.len()
            );
            self.spill_raw(("PutItem", "PutItem (spill)"), too_big, &key, compressed)
                .await?;
            OpenBlob::External(key)
        } else {
            OpenBlob::Inline(compressed)
        };
        let mut item = to_attributes(state, blob);
        item.extend(key(&pk, "state"));
        item.insert("updated_at".into(), n(now_secs()));
        let (version, item_bytes) = self
            .put_versioned(item, pk, state.version, "PutItem")
            .await?;
        state.version = version;
        Ok(Written {
            item_bytes,
            spilled_bytes,
        })
    }

    /// Take the tick lease until `until_ms`, unless another live invocation holds it.
    pub async fn acquire_lease(
        &self,
        owner: &str,
        until_ms: i64,
        now_ms: i64,
    ) -> Result<bool, StateError> {
        let mut item = key("lease", "poll");
        item.insert("owner".into(), s(owner));
        item.insert("until_ms".into(), n(until_ms));
        item.insert("expires_at".into(), n(until_ms / 1000 + 3_600));
        let result = self
            .ddb
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk) OR until_ms < :now OR #o = :me")
            .expression_attribute_names("#o", "owner")
            .expression_attribute_values(":now", n(now_ms))
            .expression_attribute_values(":me", s(owner))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) if e.code() == Some("ConditionalCheckFailedException") => Ok(false),
            Err(e) => Err(self.err("PutItem (lease)", e)),
        }
    }

    pub async fn release_lease(&self, owner: &str) {
        let result = self
            .ddb
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key("lease", "poll")))
            .condition_expression("#o = :me")
            .expression_attribute_names("#o", "owner")
            .expression_attribute_values(":me", s(owner))
            .send()
            .await;
        if let Err(e) = result {
            if e.code() != Some("ConditionalCheckFailedException") {
                // It expires by itself; the next tick only waits for it.
                tracing::warn!(error = %cq_stage_logging::error_chain(&e), "cannot release the tick lease");
            }
        }
    }

    /// A Kinesis shard's checkpoint: the last sequence number handled and the requests open
    /// at that point.
    pub async fn load_shard(&self, shard: &str) -> Result<ShardState, StateError> {
        let pk = format!("shard#{shard}");
        let resp = self
            .ddb
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(&pk, "state")))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| self.err("GetItem (shard)", e))?;
        let Some(item) = resp.item() else {
            return Ok(ShardState::default());
        };
        let open = match item.get("open").and_then(|v| v.as_b().ok()) {
            Some(b) => decode_open(b.as_ref()).map_err(|message| StateError::Corrupt {
                key: pk.clone(),
                message,
            })?,
            None => match item.get("open_ref").and_then(|v| v.as_s().ok()) {
                Some(r) => self.read_spilled(r).await?,
                None => Vec::new(),
            },
        };
        Ok(ShardState {
            last_sequence: item.get("last_seq").and_then(|v| v.as_s().ok()).cloned(),
            open,
            version: item
                .get("version")
                .and_then(|v| v.as_n().ok())
                .and_then(|v| v.parse().ok())
                .unwrap_or(0),
        })
    }

    pub async fn save_shard(
        &self,
        shard: &str,
        state: &mut ShardState,
    ) -> Result<Written, StateError> {
        let pk = format!("shard#{shard}");
        let compressed = encode_open(&state.open);
        let mut item = key(&pk, "state");
        let mut spilled_bytes = 0;
        if compressed.len() > MAX_INLINE_OPEN_BYTES {
            let k = format!(
                "state/{:016x}/open-{}.json.gz",
                stable_hash(pk.as_bytes()),
                state.version + 1
            );
            spilled_bytes = compressed.len() as u64;
            let too_big = "open requests exceed an item and no spool bucket is configured".into();
            self.spill_raw(("PutItem", "PutItem (spill)"), too_big, &k, compressed)
                .await?;
            item.insert("open_ref".into(), s(k));
        } else {
            item.insert("open".into(), AttributeValue::B(Blob::new(compressed)));
        }
        if let Some(seq) = &state.last_sequence {
            item.insert("last_seq".into(), s(seq));
        }
        let (version, item_bytes) = self
            .put_versioned(item, pk, state.version, "PutItem (shard)")
            .await?;
        state.version = version;
        Ok(Written {
            item_bytes,
            spilled_bytes,
        })
    }

    /// Writes a checkpoint item over `version` (optimistic locking), retrying faults. The
    /// `save_id` makes a retried write that did land the first time count as ours rather than as
    /// a conflict. Returns the new version and the item's size.
    async fn put_versioned(
        &self,
        mut item: HashMap<String, AttributeValue>,
        pk: String,
        version: u64,
        op: &'static str,
    ) -> Result<(u64, u64), StateError> {
        let next = version + 1;
        let save_id = format!("{:016x}", rand::random::<u64>());
        item.insert("version".into(), n(next));
        item.insert("save_id".into(), s(&save_id));
        let size = item_bytes(&item);
        let mut attempt = 0;
        loop {
            let result = self
                .ddb
                .put_item()
                .table_name(&self.table)
                .set_item(Some(item.clone()))
                .condition_expression("attribute_not_exists(pk) OR version = :v OR save_id = :sid")
                .expression_attribute_values(":v", n(version))
                .expression_attribute_values(":sid", s(&save_id))
                .send()
                .await;
            match result {
                Ok(_) => return Ok((next, size)),
                Err(e) if e.code() == Some("ConditionalCheckFailedException") => {
                    return Err(StateError::Conflict { key: pk })
                }
                Err(e) if attempt < RETRY.max_retries => {
                    attempt += 1;
                    tracing::warn!(key = %pk, error = %cq_stage_logging::error_chain(&e), attempt, "retrying a state save");
                    tokio::time::sleep(RETRY.delay(attempt)).await;
                }
                Err(e) => return Err(self.err(op, e)),
            }
        }
    }

    /// Has this pushed payload been handled already?
    pub async fn payload_handled(&self, digest: &str) -> Result<bool, StateError> {
        let resp = self
            .ddb
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(&format!("payload#{digest}"), "handled")))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| self.err("GetItem (payload)", e))?;
        Ok(resp.item().is_some())
    }

    pub async fn mark_payload_handled(&self, digest: &str) -> Result<(), StateError> {
        let mut item = key(&format!("payload#{digest}"), "handled");
        item.insert("expires_at".into(), n(now_secs() + PAYLOAD_MEMORY_SECS));
        self.with_retry("PutItem (payload)", || {
            self.ddb
                .put_item()
                .table_name(&self.table)
                .set_item(Some(item.clone()))
                .send()
        })
        .await
        .map(|_| ())
    }

    fn fragment_key(log_group: &str, request_id: &str) -> HashMap<String, AttributeValue> {
        let bucket = fragment_hash(log_group, request_id) % u64::from(FRAGMENT_PARTITIONS);
        key(
            &format!("fragments#{bucket}"),
            &format!("{log_group}\u{1f}{request_id}"),
        )
    }

    /// Add one fragment of a split pushed request; returns every fragment stored so far
    /// (this one included). Atomic, so two invocations holding the two halves both see the
    /// union once both wrote, and exactly one of them sees it complete first.
    pub async fn append_fragment(
        &self,
        log_group: &str,
        fragment: &OpenRequest,
    ) -> Result<Vec<OpenRequest>, StateError> {
        let encoded = encode_open(std::slice::from_ref(fragment));
        let blob = if encoded.len() > MAX_INLINE_FRAGMENT_BYTES {
            // Unique per piece: the same piece pushed twice (at-least-once delivery) is two
            // objects, merged like two inline copies.
            let key = format!(
                "state/fragments/{:016x}/{}-{:016x}.bin",
                fragment_hash(log_group, &fragment.request_id),
                fragment.first_timestamp,
                rand::random::<u64>()
            );
            let too_big = format!(
                "a fragment of {} bytes compressed exceeds what an item holds and no spool bucket is configured",
                encoded.len()
            );
            let ops = ("UpdateItem (fragment)", "UpdateItem (fragment spill)");
            self.spill_raw(ops, too_big, &key, encoded).await?;
            AttributeValue::S(key)
        } else {
            AttributeValue::B(Blob::new(encoded))
        };
        let resp = self
            .with_retry("UpdateItem (fragment)", || {
                self.ddb
                    .update_item()
                    .table_name(&self.table)
                    .set_key(Some(Self::fragment_key(log_group, &fragment.request_id)))
                    .update_expression(
                        "SET frags = list_append(if_not_exists(frags, :empty), :f), \
                         first_seen = if_not_exists(first_seen, :now), \
                         log_group = :g, expires_at = :exp",
                    )
                    .expression_attribute_values(":empty", AttributeValue::L(vec![]))
                    .expression_attribute_values(":f", AttributeValue::L(vec![blob.clone()]))
                    .expression_attribute_values(":now", n(crate::token::now_secs() * 1000))
                    .expression_attribute_values(":g", s(log_group))
                    .expression_attribute_values(":exp", n(now_secs() + FRAGMENT_TTL_SECS))
                    .return_values(ReturnValue::AllNew)
                    .send()
            })
            .await?;
        self.read_fragments(resp.attributes().and_then(|a| a.get("frags")))
            .await
    }

    /// The pieces of a fragment item: inline (binary) or kept in the spool bucket (its key).
    async fn read_fragments(
        &self,
        frags: Option<&AttributeValue>,
    ) -> Result<Vec<OpenRequest>, StateError> {
        let mut out = Vec::new();
        for v in frags.and_then(|v| v.as_l().ok()).into_iter().flatten() {
            match v {
                AttributeValue::B(b) => out.extend(decode_open(b.as_ref()).unwrap_or_default()),
                AttributeValue::S(key) => out.extend(self.read_spilled(key).await?),
                _ => {}
            }
        }
        Ok(out)
    }

    /// Remove a split request's fragments once it is sent; false if someone else did first.
    pub async fn claim_fragments(
        &self,
        log_group: &str,
        request_id: &str,
    ) -> Result<bool, StateError> {
        let result = self
            .ddb
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(Self::fragment_key(log_group, request_id)))
            .condition_expression("attribute_exists(pk)")
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) if e.code() == Some("ConditionalCheckFailedException") => Ok(false),
            Err(e) => Err(self.err("DeleteItem (fragment)", e)),
        }
    }

    /// Split pushed requests first seen before `cutoff_ms`: their wait is over.
    pub async fn stale_fragments(
        &self,
        cutoff_ms: i64,
    ) -> Result<Vec<(String, Vec<OpenRequest>)>, StateError> {
        let mut out = Vec::new();
        for bucket in 0..FRAGMENT_PARTITIONS {
            let mut start: Option<HashMap<String, AttributeValue>> = None;
            loop {
                let resp = self
                    .ddb
                    .query()
                    .table_name(&self.table)
                    .key_condition_expression("pk = :pk")
                    .filter_expression("first_seen < :cut")
                    .expression_attribute_values(":pk", s(format!("fragments#{bucket}")))
                    .expression_attribute_values(":cut", n(cutoff_ms))
                    .set_exclusive_start_key(start.take())
                    .send()
                    .await
                    .map_err(|e| self.err("Query (fragments)", e))?;
                for item in resp.items() {
                    let group = item
                        .get("log_group")
                        .and_then(|v| v.as_s().ok())
                        .cloned()
                        .unwrap_or_default();
                    let frags = self.read_fragments(item.get("frags")).await?;
                    out.push((group, frags));
                }
                match resp.last_evaluated_key() {
                    Some(k) if !k.is_empty() => start = Some(k.clone()),
                    _ => break,
                }
            }
        }
        Ok(out)
    }

    /// A remembered fact about the Edge (e.g. that it refuses gzip), shared by containers.
    pub async fn edge_preference(&self, name: &str) -> Option<String> {
        let resp = self
            .ddb
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key("edge", name)))
            .send()
            .await
            .ok()?;
        resp.item()?.get("value")?.as_s().ok().cloned()
    }

    pub async fn set_edge_preference(&self, name: &str, value: &str) {
        let mut item = key("edge", name);
        item.insert("value".into(), s(value));
        // A week: an Edge behind a proxy that refuses gzip may be fixed one day.
        item.insert("expires_at".into(), n(now_secs() + 7 * 86_400));
        if let Err(e) = self
            .ddb
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
        {
            tracing::warn!(error = %cq_stage_logging::error_chain(&e), "cannot remember an Edge preference");
        }
    }

    async fn with_retry<T, E, R, F, Fut>(
        &self,
        op: &'static str,
        mut call: F,
    ) -> Result<T, StateError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, aws_sdk_dynamodb::error::SdkError<E, R>>>,
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug + 'static,
    {
        let mut attempt = 0;
        loop {
            match call().await {
                Ok(v) => return Ok(v),
                Err(e) if attempt < RETRY.max_retries => {
                    attempt += 1;
                    tracing::debug!(op, error = %cq_stage_logging::error_chain(&e), "retrying");
                    tokio::time::sleep(RETRY.delay(attempt).max(Duration::from_millis(10))).await;
                }
                Err(e) => return Err(self.err(op, e)),
            }
        }
    }
}

/// A Kinesis shard's checkpoint.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ShardState {
    pub last_sequence: Option<String>,
    pub open: Vec<OpenRequest>,
    pub version: u64,
}

/// Kinesis sequence numbers are decimal strings of up to 128 bits: compare as numbers.
pub fn sequence_after(seq: &str, last: &str) -> bool {
    let (a, b) = (seq.trim_start_matches('0'), last.trim_start_matches('0'));
    (a.len(), a) > (b.len(), b)
}

/// What one checkpoint save wrote: the item (DynamoDB bills a write unit per started KB) and
/// the open requests spilled to S3 when they exceed an item. Reported in the stats line so the
/// state's cost is measured, not guessed (docs/cost.md).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Written {
    pub item_bytes: u64,
    pub spilled_bytes: u64,
}

/// DynamoDB's item size: attribute names plus values (numbers counted as their text, close
/// enough for billing estimates).
pub fn item_bytes(item: &HashMap<String, AttributeValue>) -> u64 {
    fn value(v: &AttributeValue) -> u64 {
        match v {
            AttributeValue::S(s) | AttributeValue::N(s) => s.len() as u64,
            AttributeValue::B(b) => b.as_ref().len() as u64,
            AttributeValue::L(l) => 3 + l.iter().map(|v| 1 + value(v)).sum::<u64>(),
            AttributeValue::M(m) => {
                3 + m
                    .iter()
                    .map(|(k, v)| 1 + k.len() as u64 + value(v))
                    .sum::<u64>()
            }
            AttributeValue::Ss(l) | AttributeValue::Ns(l) => l.iter().map(|s| s.len() as u64).sum(),
            AttributeValue::Bs(l) => l.iter().map(|b| b.as_ref().len() as u64).sum(),
            _ => 1,
        }
    }
    item.iter().map(|(k, v)| k.len() as u64 + value(v)).sum()
}

#[cfg(test)]
mod tests {
    #[test]
    fn item_size_counts_names_and_values_as_dynamodb_bills_them() {
        use aws_sdk_dynamodb::primitives::Blob;
        use aws_sdk_dynamodb::types::AttributeValue;
        let mut item = std::collections::HashMap::new();
        item.insert("pk".to_string(), AttributeValue::S("group#abc".into())); // 2 + 9
        item.insert("version".to_string(), AttributeValue::N("12".into())); // 7 + 2
        item.insert(
            "open".to_string(),
            AttributeValue::B(Blob::new(vec![0u8; 1000])),
        ); // 4 + 1000
        assert_eq!(super::item_bytes(&item), 11 + 9 + 1004);
    }

    use super::*;

    #[test]
    fn sequence_numbers_compare_as_numbers() {
        assert!(sequence_after(
            "49590338271490256608559692538361571095921575989136588899",
            "49590338271490256608559692538361571095921575989136588898"
        ));
        assert!(sequence_after("100", "99"));
        assert!(!sequence_after("99", "100"));
        assert!(!sequence_after("5", "5"));
    }

    #[test]
    fn stable_hash_is_pinned() {
        // Stored keys depend on it: a change would orphan fragments after an upgrade.
        assert_eq!(stable_hash(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(stable_hash(b"a"), 0xaf63_dc4c_8601_ec8c);
    }
}
