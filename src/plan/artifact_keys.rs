//! Names and content-addressed keys of the artifacts.
//!
//! A changed artifact gets a new key, so CloudFormation never serves a cached template and a
//! stack update always sees new Lambda code; an unchanged artifact keeps its key, so a re-run
//! uploads nothing.

use sha2::{Digest, Sha256};

use super::package;
use crate::config::LambdaArchitecture;

/// File name of the StackSet template in the bucket.
pub const TEMPLATE_NAME: &str = "template.yaml";

/// The per-region artifact bucket of the vendor bundle (kept so existing buckets are reused).
pub fn bucket_name(account: &str, region: &str) -> String {
    format!("cequence-aws-api-artifacts-{account}-{region}")
}

/// First 12 hex digits of the SHA-256 of `bytes`: short, yet collisions are out of reach.
pub fn short_digest(bytes: &[u8]) -> String {
    let full = hex::encode(Sha256::digest(bytes));
    full[..12].to_string()
}

/// `cloudformation/<sha256-12>/template.yaml`
/// The config digest's HMAC key in the home-region bucket: outside the prefixes other
/// accounts may read (`bucket_policy`), so it never leaves the caller's account.
pub const DIGEST_KEY_OBJECT: &str = "state/config-digest-key";

/// The prefixes target accounts read: the templates and the forwarder zips.
pub const SHARED_PREFIXES: [&str; 2] = ["cloudformation/", "lambda/"];

pub fn template_key(template: &[u8]) -> String {
    format!("cloudformation/{}/{TEMPLATE_NAME}", short_digest(template))
}

/// `lambda/<sha256-12>/cequence-apigw-forwarder-<arch>.zip`: the architecture stays visible
/// in the bucket, and one region can hold both builds.
pub fn forwarder_key(zip: &[u8], arch: LambdaArchitecture) -> String {
    format!("lambda/{}/{}", short_digest(zip), package::zip_name(arch))
}

/// The virtual-hosted S3 URL CloudFormation reads the template from.
///
/// The same form is used against a local endpoint: moto's CloudFormation resolves a
/// `<bucket>.s3.<region>.amazonaws.com` URL from its own S3 state without any network access,
/// while an `http://127.0.0.1:<port>/<bucket>/<key>` URL would be misread as bucket `127`.
pub fn template_url(bucket: &str, region: &str, key: &str) -> String {
    let domain = if region.starts_with("cn-") {
        "amazonaws.com.cn"
    } else {
        "amazonaws.com"
    };
    format!("https://{bucket}.s3.{region}.{domain}/{key}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_name_follows_the_vendor_convention() {
        assert_eq!(
            bucket_name("123456789012", "eu-west-1"),
            "cequence-aws-api-artifacts-123456789012-eu-west-1"
        );
    }

    #[test]
    fn keys_change_with_content_only() {
        let a = template_key(b"Resources: {}");
        assert_eq!(a, template_key(b"Resources: {}"));
        assert_ne!(a, template_key(b"Resources: {x: 1}"));
        assert!(a.starts_with("cloudformation/") && a.ends_with("/template.yaml"));
        // sha256("") = e3b0c44298fc1c149afbf4c8996fb924...
        assert_eq!(
            forwarder_key(b"", LambdaArchitecture::Arm64),
            "lambda/e3b0c44298fc/cequence-apigw-forwarder-arm64.zip"
        );
    }

    #[test]
    fn template_url_is_virtual_hosted_and_partition_aware() {
        assert_eq!(
            template_url("b", "us-west-2", "cloudformation/abc/template.yaml"),
            "https://b.s3.us-west-2.amazonaws.com/cloudformation/abc/template.yaml"
        );
        assert_eq!(
            template_url("b", "cn-north-1", "k"),
            "https://b.s3.cn-north-1.amazonaws.com.cn/k"
        );
    }
}
