//! The config digest's HMAC key: 32 random bytes in the home-region artifact bucket, created
//! by the first `enable` and read by every later one.
//!
//! It lives outside the prefixes other accounts may read (`plan::policy`), so the digest tag,
//! which anyone with DescribeStackSet sees, cannot be recomputed elsewhere to test a guessed
//! client secret. Losing the key (the bucket deleted) costs one StackSet update, nothing else.

use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::Client;
use rand::RngCore;

use crate::error::{Error, Result};
use crate::plan::artifact_keys::DIGEST_KEY_OBJECT;

const KEY_BYTES: usize = 32;

/// The key, or `None` when none was created yet (or the bucket does not exist).
pub async fn load(s3: &Client, bucket: &str) -> Result<Option<Vec<u8>>> {
    match s3
        .get_object()
        .bucket(bucket)
        .key(DIGEST_KEY_OBJECT)
        .send()
        .await
    {
        Ok(out) => {
            let bytes = out
                .body
                .collect()
                .await
                .map_err(|e| Error::aws(format!("S3 GetObject {bucket}/{DIGEST_KEY_OBJECT}"), e))?
                .into_bytes();
            // A truncated or foreign object is not a key: replace it rather than use it.
            Ok((bytes.len() == KEY_BYTES).then(|| bytes.to_vec()))
        }
        Err(e) if matches!(e.code(), Some("NoSuchKey" | "NoSuchBucket" | "NotFound")) => Ok(None),
        Err(e) => Err(Error::aws(
            format!("S3 GetObject {bucket}/{DIGEST_KEY_OBJECT}"),
            e,
        )),
    }
}

/// The key, created first if missing. Two runs creating it at once both end up with the
/// one that was written last, read back after the write.
pub async fn load_or_create(s3: &Client, bucket: &str) -> Result<Vec<u8>> {
    if let Some(key) = load(s3, bucket).await? {
        return Ok(key);
    }
    let mut key = vec![0u8; KEY_BYTES];
    rand::rng().fill_bytes(&mut key);
    s3.put_object()
        .bucket(bucket)
        .key(DIGEST_KEY_OBJECT)
        .body(ByteStream::from(key.clone()))
        .send()
        .await
        .map_err(|e| Error::aws(format!("S3 PutObject {bucket}/{DIGEST_KEY_OBJECT}"), e))?;
    Ok(load(s3, bucket).await?.unwrap_or(key))
}
