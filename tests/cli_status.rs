//! `cq-apigw status` against moto, in text and JSON, secret masked.

mod common;

use common::{bucket, stdout, Bed, ACCOUNT, SECRET};
use serde_json::Value;

#[test]
fn status_before_enable_says_not_deployed() {
    let bed = Bed::new();
    let out = bed.cli(&["status"]).output().unwrap();
    assert!(out.status.success(), "{}", common::stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("not deployed"), "{text}");
    assert!(text.contains("Artifact buckets: none"), "{text}");
}

#[test]
fn status_shows_stackset_instances_and_buckets_with_the_secret_masked() {
    let bed = Bed::new();
    assert!(bed
        .cli(&["enable", "--yes"])
        .output()
        .unwrap()
        .status
        .success());

    let out = bed.cli(&["status"]).output().unwrap();
    assert!(out.status.success(), "{}", common::stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("StackSet aws-cequence-apigw-integration: ACTIVE"),
        "{text}"
    );
    assert!(text.contains("cloudformation/"), "{text}");
    assert!(
        text.contains("ACCOUNT") && text.contains("eu-west-1"),
        "{text}"
    );
    assert!(text.contains(&bucket("us-east-1")), "{text}");
    assert!(text.contains("****"), "{text}");
    assert!(!text.contains(SECRET), "{text}");

    let out = bed.cli(&["status", "--output", "json"]).output().unwrap();
    assert!(out.status.success());
    let json = stdout(&out);
    assert!(!json.contains(SECRET));
    let v: Value = serde_json::from_str(&json).expect("one JSON document");
    assert_eq!(v["account"], ACCOUNT);
    assert_eq!(v["stackset"]["status"], "ACTIVE");
    let params = v["stackset"]["parameters"].as_array().unwrap();
    let secret = params
        .iter()
        .find(|p| p[0] == "CequenceClientSecret")
        .expect("secret parameter listed");
    assert_eq!(secret[1], "****");
    assert_eq!(v["instances"].as_array().unwrap().len(), 2);
    assert_eq!(v["instances"][0]["status"], "CURRENT");
    let buckets = v["buckets"].as_array().unwrap();
    assert_eq!(buckets.len(), 2);
    assert_eq!(buckets[0]["artifact_keys"].as_array().unwrap().len(), 2);
}
