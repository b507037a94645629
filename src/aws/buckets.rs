//! Artifact buckets: read their settings, apply planned changes, upload, and empty+delete.

use std::sync::Arc;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    BucketLocationConstraint, BucketVersioningStatus, CreateBucketConfiguration, Delete,
    ObjectIdentifier, PublicAccessBlockConfiguration, ServerSideEncryption,
    ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration, ServerSideEncryptionRule,
    VersioningConfiguration,
};
use aws_sdk_s3::Client;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use crate::error::{Error, Result};
use crate::plan::bucket::{BucketAction, BucketState};

/// A file to upload under a content-addressed key.
#[derive(Debug, Clone)]
pub struct Artifact {
    pub key: String,
    pub bytes: Arc<Vec<u8>>,
    pub content_type: &'static str,
}

fn code_is<E: ProvideErrorMetadata>(e: &E, codes: &[&str]) -> bool {
    e.code().is_some_and(|c| codes.contains(&c))
}

/// Read every setting `plan_bucket` looks at; a missing bucket reads as all-false.
pub async fn inspect(s3: &Client, bucket: &str, keys: &[String]) -> Result<BucketState> {
    match s3.head_bucket().bucket(bucket).send().await {
        Ok(_) => {}
        Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found()) => {
            return Ok(BucketState::default());
        }
        Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 403) => {
            return Err(Error::Aws {
                context: format!("S3 HeadBucket {bucket}"),
                message: "access denied: the bucket exists but belongs to another account, \
                          or the caller may not read it"
                    .into(),
            });
        }
        Err(e) => return Err(Error::aws(format!("S3 HeadBucket {bucket}"), e)),
    }
    let ctx = |op: &str| format!("S3 {op} {bucket}");

    let versioning = s3
        .get_bucket_versioning()
        .bucket(bucket)
        .send()
        .await
        .map_err(|e| Error::aws(ctx("GetBucketVersioning"), e))?;
    let versioning_enabled = versioning.status() == Some(&BucketVersioningStatus::Enabled);

    let public_access_blocked = match s3.get_public_access_block().bucket(bucket).send().await {
        Ok(out) => out.public_access_block_configuration().is_some_and(|c| {
            c.block_public_acls() == Some(true)
                && c.ignore_public_acls() == Some(true)
                && c.block_public_policy() == Some(true)
                && c.restrict_public_buckets() == Some(true)
        }),
        Err(e) if code_is(&e, &["NoSuchPublicAccessBlockConfiguration"]) => false,
        Err(e) => return Err(Error::aws(ctx("GetPublicAccessBlock"), e)),
    };

    let sse_s3 = match s3.get_bucket_encryption().bucket(bucket).send().await {
        Ok(out) => out.server_side_encryption_configuration().is_some_and(|c| {
            c.rules().iter().any(|r| {
                r.apply_server_side_encryption_by_default()
                    .is_some_and(|d| d.sse_algorithm() == &ServerSideEncryption::Aes256)
            })
        }),
        Err(e) if code_is(&e, &["ServerSideEncryptionConfigurationNotFoundError"]) => false,
        Err(e) => return Err(Error::aws(ctx("GetBucketEncryption"), e)),
    };

    let policy = match s3.get_bucket_policy().bucket(bucket).send().await {
        Ok(out) => out.policy().map(String::from),
        Err(e) if code_is(&e, &["NoSuchBucketPolicy"]) => None,
        Err(e) => return Err(Error::aws(ctx("GetBucketPolicy"), e)),
    };

    let mut present_keys = Vec::new();
    for key in keys {
        match s3.head_object().bucket(bucket).key(key).send().await {
            Ok(_) => present_keys.push(key.clone()),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found()) => {}
            Err(e) => return Err(Error::aws(format!("S3 HeadObject s3://{bucket}/{key}"), e)),
        }
    }

    Ok(BucketState {
        exists: true,
        versioning_enabled,
        public_access_blocked,
        sse_s3,
        policy,
        present_keys,
    })
}

/// Apply `actions` in order. Returns the mutating calls made, for the summary.
pub async fn apply(
    s3: &Client,
    bucket: &str,
    region: &str,
    actions: &[BucketAction],
    policy: &str,
    artifacts: &[Artifact],
) -> Result<Vec<String>> {
    let mut calls = Vec::new();
    let ctx = |op: &str| format!("S3 {op} {bucket}");
    for action in actions {
        match action {
            BucketAction::Create => {
                let mut req = s3.create_bucket().bucket(bucket);
                // us-east-1 is the default location and rejects an explicit constraint.
                if region != "us-east-1" {
                    req = req.create_bucket_configuration(
                        CreateBucketConfiguration::builder()
                            .location_constraint(BucketLocationConstraint::from(region))
                            .build(),
                    );
                }
                match req.send().await {
                    Ok(_) => calls.push("CreateBucket".to_string()),
                    Err(e) if code_is(&e, &["BucketAlreadyOwnedByYou"]) => {}
                    Err(e) if code_is(&e, &["BucketAlreadyExists"]) => {
                        return Err(Error::Aws {
                            context: ctx("CreateBucket"),
                            message: "the bucket name is taken by another AWS account".into(),
                        })
                    }
                    Err(e) => return Err(Error::aws(ctx("CreateBucket"), e)),
                }
            }
            BucketAction::EnableVersioning => {
                s3.put_bucket_versioning()
                    .bucket(bucket)
                    .versioning_configuration(
                        VersioningConfiguration::builder()
                            .status(BucketVersioningStatus::Enabled)
                            .build(),
                    )
                    .send()
                    .await
                    .map_err(|e| Error::aws(ctx("PutBucketVersioning"), e))?;
                calls.push("PutBucketVersioning".into());
            }
            BucketAction::BlockPublicAccess => {
                s3.put_public_access_block()
                    .bucket(bucket)
                    .public_access_block_configuration(
                        PublicAccessBlockConfiguration::builder()
                            .block_public_acls(true)
                            .ignore_public_acls(true)
                            .block_public_policy(true)
                            .restrict_public_buckets(true)
                            .build(),
                    )
                    .send()
                    .await
                    .map_err(|e| Error::aws(ctx("PutPublicAccessBlock"), e))?;
                calls.push("PutPublicAccessBlock".into());
            }
            BucketAction::EnableEncryption => {
                let by_default = ServerSideEncryptionByDefault::builder()
                    .sse_algorithm(ServerSideEncryption::Aes256)
                    .build()
                    .map_err(|e| Error::aws(ctx("PutBucketEncryption"), e))?;
                let conf = ServerSideEncryptionConfiguration::builder()
                    .rules(
                        ServerSideEncryptionRule::builder()
                            .apply_server_side_encryption_by_default(by_default)
                            .build(),
                    )
                    .build()
                    .map_err(|e| Error::aws(ctx("PutBucketEncryption"), e))?;
                s3.put_bucket_encryption()
                    .bucket(bucket)
                    .server_side_encryption_configuration(conf)
                    .send()
                    .await
                    .map_err(|e| Error::aws(ctx("PutBucketEncryption"), e))?;
                calls.push("PutBucketEncryption".into());
            }
            BucketAction::PutPolicy => {
                s3.put_bucket_policy()
                    .bucket(bucket)
                    .policy(policy)
                    .send()
                    .await
                    .map_err(|e| Error::aws(ctx("PutBucketPolicy"), e))?;
                calls.push("PutBucketPolicy".into());
            }
            BucketAction::Upload { key } => {
                let artifact = artifacts.iter().find(|a| &a.key == key).ok_or_else(|| {
                    Error::Failed(format!("internal: no artifact for planned upload {key}"))
                })?;
                s3.put_object()
                    .bucket(bucket)
                    .key(key)
                    .content_type(artifact.content_type)
                    .body(ByteStream::from(artifact.bytes.as_ref().clone()))
                    .send()
                    .await
                    .map_err(|e| Error::aws(format!("S3 PutObject s3://{bucket}/{key}"), e))?;
                calls.push(format!("PutObject {key}"));
            }
        }
    }
    Ok(calls)
}

/// Every object key and version in the bucket (all versions and delete markers).
pub async fn list_versions(
    s3: &Client,
    bucket: &str,
) -> Result<Option<Vec<(String, Option<String>)>>> {
    let mut out = Vec::new();
    let mut key_marker: Option<String> = None;
    let mut version_marker: Option<String> = None;
    loop {
        let page = match s3
            .list_object_versions()
            .bucket(bucket)
            .set_key_marker(key_marker.clone())
            .set_version_id_marker(version_marker.clone())
            .send()
            .await
        {
            Ok(p) => p,
            Err(e) if code_is(&e, &["NoSuchBucket"]) => return Ok(None),
            Err(e) => return Err(Error::aws(format!("S3 ListObjectVersions {bucket}"), e)),
        };
        for v in page.versions() {
            if let Some(k) = v.key() {
                out.push((k.to_string(), v.version_id().map(String::from)));
            }
        }
        for m in page.delete_markers() {
            if let Some(k) = m.key() {
                out.push((k.to_string(), m.version_id().map(String::from)));
            }
        }
        if page.is_truncated() != Some(true) {
            break;
        }
        key_marker = page.next_key_marker().map(String::from);
        version_marker = page.next_version_id_marker().map(String::from);
        if key_marker.is_none() && version_marker.is_none() {
            break;
        }
    }
    Ok(Some(out))
}

/// Empty the bucket (every version and delete marker) and delete it. `false` when it was
/// already gone, so a re-run after an interruption just finishes.
pub async fn destroy(s3: &Client, bucket: &str) -> Result<bool> {
    let Some(versions) = list_versions(s3, bucket).await? else {
        return Ok(false);
    };
    for chunk in versions.chunks(1000) {
        let ids = chunk
            .iter()
            .map(|(k, v)| {
                ObjectIdentifier::builder()
                    .key(k)
                    .set_version_id(v.clone())
                    .build()
            })
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| Error::aws(format!("S3 DeleteObjects {bucket}"), e))?;
        let delete = Delete::builder()
            .set_objects(Some(ids))
            .quiet(true)
            .build()
            .map_err(|e| Error::aws(format!("S3 DeleteObjects {bucket}"), e))?;
        let out = s3
            .delete_objects()
            .bucket(bucket)
            .delete(delete)
            .send()
            .await
            .map_err(|e| Error::aws(format!("S3 DeleteObjects {bucket}"), e))?;
        if let Some(err) = out.errors().first() {
            return Err(Error::Aws {
                context: format!("S3 DeleteObjects {bucket}"),
                message: format!(
                    "{} ({}): {}",
                    err.key().unwrap_or_default(),
                    err.code().unwrap_or_default(),
                    err.message().unwrap_or_default()
                ),
            });
        }
    }
    match s3.delete_bucket().bucket(bucket).send().await {
        Ok(_) => Ok(true),
        Err(e) if code_is(&e, &["NoSuchBucket"]) => Ok(false),
        Err(e) => Err(Error::aws(format!("S3 DeleteBucket {bucket}"), e)),
    }
}

/// Artifact keys under `cloudformation/` and `lambda/` (current versions), for `status`.
pub async fn artifact_keys(s3: &Client, bucket: &str) -> Result<Option<Vec<String>>> {
    let mut keys = Vec::new();
    let mut pages = s3.list_objects_v2().bucket(bucket).into_paginator().send();
    while let Some(page) = pages.next().await {
        match page {
            Ok(p) => keys.extend(
                p.contents()
                    .iter()
                    .filter_map(|o| o.key())
                    .filter(|k| {
                        crate::plan::artifact_keys::SHARED_PREFIXES
                            .iter()
                            .any(|p| k.starts_with(p))
                    })
                    .map(String::from),
            ),
            Err(e) if code_is(&e, &["NoSuchBucket"]) => return Ok(None),
            Err(e) => return Err(Error::aws(format!("S3 ListObjectsV2 {bucket}"), e)),
        }
    }
    keys.sort();
    Ok(Some(keys))
}

/// This account's artifact buckets as (bucket, region), found by name so `status` and
/// `disable --destroy` see every region ever enabled, whatever the configuration says now.
pub async fn list_ours(s3: &Client, account: &str) -> Result<Vec<(String, String)>> {
    let prefix = crate::plan::artifact_keys::bucket_name(account, "");
    let mut found = Vec::new();
    let mut pages = s3.list_buckets().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| Error::aws("S3 ListBuckets", e))?;
        for b in page.buckets() {
            if let Some(region) = b.name().and_then(|n| n.strip_prefix(&prefix)) {
                found.push((b.name().unwrap_or_default().to_string(), region.to_string()));
            }
        }
    }
    found.sort();
    Ok(found)
}
