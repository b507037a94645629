//! What to do to one artifact bucket so it matches the desired settings.
//!
//! Every setting is read first and only a differing one is written, so a second `enable`
//! issues no mutating S3 call at all.

use serde::Serialize;
use serde_json::Value;

use super::policy;

/// What S3 reported about a bucket (`None` fields were not readable because it does not exist).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BucketState {
    pub exists: bool,
    pub versioning_enabled: bool,
    /// All four public-access-block flags are on.
    pub public_access_blocked: bool,
    /// Default encryption is SSE-S3 (AES256).
    pub sse_s3: bool,
    pub policy: Option<String>,
    /// Artifact keys already present.
    pub present_keys: Vec<String>,
}

/// One change to a bucket, in the order they must be applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum BucketAction {
    Create,
    EnableVersioning,
    BlockPublicAccess,
    EnableEncryption,
    PutPolicy,
    Upload { key: String },
}

impl std::fmt::Display for BucketAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BucketAction::Create => f.write_str("create bucket"),
            BucketAction::EnableVersioning => f.write_str("enable versioning"),
            BucketAction::BlockPublicAccess => f.write_str("block public access"),
            BucketAction::EnableEncryption => f.write_str("enable default encryption (SSE-S3)"),
            BucketAction::PutPolicy => f.write_str("set bucket policy"),
            BucketAction::Upload { key } => write!(f, "upload {key}"),
        }
    }
}

/// The actions that bring `state` to the desired settings with `uploads` present.
pub fn plan_bucket(
    state: &BucketState,
    desired_policy: &Value,
    uploads: &[String],
) -> Vec<BucketAction> {
    let mut actions = Vec::new();
    if !state.exists {
        actions.push(BucketAction::Create);
    }
    if !state.versioning_enabled {
        actions.push(BucketAction::EnableVersioning);
    }
    if !state.public_access_blocked {
        actions.push(BucketAction::BlockPublicAccess);
    }
    if !state.sse_s3 {
        actions.push(BucketAction::EnableEncryption);
    }
    let policy_ok = state
        .policy
        .as_deref()
        .is_some_and(|p| policy::same_policy(p, desired_policy));
    if !policy_ok {
        actions.push(BucketAction::PutPolicy);
    }
    for key in uploads {
        if !state.present_keys.contains(key) {
            actions.push(BucketAction::Upload { key: key.clone() });
        }
    }
    actions
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::policy::{bucket_policy, Readers};

    #[test]
    fn missing_bucket_gets_everything() {
        let desired = bucket_policy("b", "aws", &Readers::Organization("o-1".into()));
        let actions = plan_bucket(&BucketState::default(), &desired, &["k1".into()]);
        assert_eq!(
            actions,
            vec![
                BucketAction::Create,
                BucketAction::EnableVersioning,
                BucketAction::BlockPublicAccess,
                BucketAction::EnableEncryption,
                BucketAction::PutPolicy,
                BucketAction::Upload { key: "k1".into() },
            ]
        );
    }

    #[test]
    fn matching_bucket_needs_nothing_and_a_new_artifact_only_its_upload() {
        let desired = bucket_policy("b", "aws", &Readers::Organization("o-1".into()));
        let state = BucketState {
            exists: true,
            versioning_enabled: true,
            public_access_blocked: true,
            sse_s3: true,
            policy: Some(desired.to_string()),
            present_keys: vec!["k1".into()],
        };
        assert!(plan_bucket(&state, &desired, &["k1".into()]).is_empty());
        assert_eq!(
            plan_bucket(&state, &desired, &["k1".into(), "k2".into()]),
            vec![BucketAction::Upload { key: "k2".into() }]
        );
        let other = bucket_policy("b", "aws", &Readers::Organization("o-2".into()));
        assert_eq!(
            plan_bucket(&state, &other, &[]),
            vec![BucketAction::PutPolicy]
        );
    }
}
