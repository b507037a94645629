//! The durable spool: batches the Edge could not take now (`spool/`), transactions it refused
//! for their content (`rejected/`, with its reason, for an operator to inspect) and spilled
//! state (`state/`), in the stack's S3 bucket (SSE, TLS only, expiring by lifecycle rule).
//!
//! Spooled keys start with the time they were written, so a listing is oldest first and the
//! replay keeps the original order.

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::Client;

use crate::compress::{gunzip, gzip};

pub const SPOOL_PREFIX: &str = "spool/";
pub const REJECTED_PREFIX: &str = "rejected/";

#[derive(Debug, thiserror::Error)]
#[error("spool bucket {bucket}: {op} {key}: {message}")]
pub struct SpoolError {
    pub bucket: String,
    pub op: &'static str,
    pub key: String,
    pub message: String,
}

#[derive(Clone)]
pub struct Spool {
    s3: Client,
    bucket: String,
}

/// One spooled batch as listed.
#[derive(Clone, Debug)]
pub struct SpooledBatch {
    pub key: String,
}

fn time_key(prefix: &str, now_ms: i64) -> String {
    let secs = now_ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let hour = secs.rem_euclid(86_400) / 3_600;
    format!(
        "{prefix}{y:04}/{m:02}/{d:02}/{hour:02}/{now_ms:013}-{:016x}.json.gz",
        rand::random::<u64>()
    )
}

/// Days since 1970-01-01 to (year, month, day) (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

impl Spool {
    pub fn new(s3: Client, bucket: String) -> Self {
        Self { s3, bucket }
    }

    fn err(&self, op: &'static str, key: &str, e: impl std::error::Error + 'static) -> SpoolError {
        SpoolError {
            bucket: self.bucket.clone(),
            op,
            key: key.to_string(),
            message: cq_stage_logging::error_chain(&e),
        }
    }

    /// Keep an undelivered batch body (`{"data":[...]}`) for a later replay.
    pub async fn put_batch(
        &self,
        body: &[u8],
        reason: &str,
        now_ms: i64,
    ) -> Result<String, SpoolError> {
        self.put(SPOOL_PREFIX, body, reason, now_ms).await
    }

    /// Keep transactions the Edge refused, with its answer.
    pub async fn put_rejected(
        &self,
        body: &[u8],
        reason: &str,
        now_ms: i64,
    ) -> Result<String, SpoolError> {
        self.put(REJECTED_PREFIX, body, reason, now_ms).await
    }

    async fn put(
        &self,
        prefix: &str,
        body: &[u8],
        reason: &str,
        now_ms: i64,
    ) -> Result<String, SpoolError> {
        let key = time_key(prefix, now_ms);
        // Metadata values must be printable ASCII.
        let reason: String = reason
            .chars()
            .map(|c| {
                if c.is_ascii_graphic() || c == ' ' {
                    c
                } else {
                    '?'
                }
            })
            .take(1_000)
            .collect();
        self.s3
            .put_object()
            .bucket(&self.bucket)
            .key(&key)
            .content_type("application/json")
            .content_encoding("gzip")
            .metadata("reason", reason)
            .body(ByteStream::from(gzip(body)))
            .send()
            .await
            .map_err(|e| self.err("PutObject", &key, e))?;
        Ok(key)
    }

    /// Up to `max` spooled batches, oldest first.
    pub async fn list_batches(&self, max: i32) -> Result<Vec<SpooledBatch>, SpoolError> {
        let out = self
            .s3
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(SPOOL_PREFIX)
            .max_keys(max)
            .send()
            .await
            .map_err(|e| self.err("ListObjectsV2", SPOOL_PREFIX, e))?;
        Ok(out
            .contents()
            .iter()
            .filter_map(|o| o.key())
            .map(|k| SpooledBatch { key: k.to_string() })
            .collect())
    }

    /// A spooled batch's body (`{"data":[...]}`), decompressed.
    pub async fn get_batch(&self, key: &str) -> Result<Vec<u8>, SpoolError> {
        let raw = self.get_raw(key).await?;
        gunzip(&raw).map_err(|e| self.err("GetObject", key, e))
    }

    pub async fn get_raw(&self, key: &str) -> Result<Vec<u8>, SpoolError> {
        let out = self
            .s3
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| self.err("GetObject", key, e))?;
        let bytes = out
            .body
            .collect()
            .await
            .map_err(|e| self.err("GetObject", key, e))?;
        Ok(bytes.into_bytes().to_vec())
    }

    pub async fn put_raw(&self, key: &str, bytes: Vec<u8>) -> Result<(), SpoolError> {
        self.s3
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .body(ByteStream::from(bytes))
            .send()
            .await
            .map_err(|e| self.err("PutObject", key, e))?;
        Ok(())
    }

    pub async fn delete(&self, key: &str) -> Result<(), SpoolError> {
        self.s3
            .delete_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| self.err("DeleteObject", key, e))?;
        Ok(())
    }

    /// Remove every object (the stack is being deleted: the bucket must be empty to go).
    pub async fn empty(&self) -> Result<usize, SpoolError> {
        let mut removed = 0;
        loop {
            let out = self
                .s3
                .list_objects_v2()
                .bucket(&self.bucket)
                .max_keys(1000)
                .send()
                .await
                .map_err(|e| self.err("ListObjectsV2", "", e))?;
            let keys: Vec<String> = out
                .contents()
                .iter()
                .filter_map(|o| o.key())
                .map(str::to_string)
                .collect();
            if keys.is_empty() {
                return Ok(removed);
            }
            for k in &keys {
                self.delete(k).await?;
                removed += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_sort_by_time_and_name_the_day() {
        // 2026-12-01T10:00:00Z
        let t = 1_796_119_200_000;
        let a = time_key(SPOOL_PREFIX, t);
        let b = time_key(SPOOL_PREFIX, t + 1);
        assert!(a.starts_with("spool/2026/12/01/10/1796119200000-"), "{a}");
        assert!(a < b);
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_723), (2024, 1, 1));
    }
}
