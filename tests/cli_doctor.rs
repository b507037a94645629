//! `cq-apigw doctor` against moto and the fake Cequence auth server: every check passing on a
//! ready account, and each failure named with its fix, the secret never shown.
//!
//! moto lacks Lambda GetAccountSettings and IAM SimulatePrincipalPolicy; the test bed
//! (scripts/moto_server.py) answers both from moto's own state and policy engine.

use crate::common;

use common::{Bed, ACCOUNT, SECRET};
use cq_test_support::fake_cequence::FakeConfig;
use cq_test_support::FakeCequence;
use serde_json::Value;

const OPERATOR_POLICY: &str = include_str!("../docs/iam-policy.json");

/// An IAM user with `policy` attached inline, and its access key.
fn operator(bed: &Bed, policy: &str) -> (String, String) {
    let iam = aws_sdk_iam::Client::new(&bed.block_on(bed.moto.sdk_config("us-east-1")));
    bed.block_on(iam.create_user().user_name("operator").send())
        .unwrap();
    bed.block_on(
        iam.put_user_policy()
            .user_name("operator")
            .policy_name("cq-apigw")
            .policy_document(policy)
            .send(),
    )
    .unwrap();
    let key = bed
        .block_on(iam.create_access_key().user_name("operator").send())
        .unwrap();
    let key = key.access_key().unwrap();
    (
        key.access_key_id().to_string(),
        key.secret_access_key().to_string(),
    )
}

/// A role `service` may assume.
fn role(bed: &Bed, name: &str, service: &str) {
    let iam = aws_sdk_iam::Client::new(&bed.block_on(bed.moto.sdk_config("us-east-1")));
    bed.block_on(
        iam.create_role()
            .role_name(name)
            .assume_role_policy_document(format!(
                r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"Service":"{service}"}},"Action":"sts:AssumeRole"}}]}}"#
            ))
            .send(),
    )
    .unwrap();
}

fn admin_role(bed: &Bed) {
    role(
        bed,
        "AWSCloudFormationStackSetAdministrationRole",
        "cloudformation.amazonaws.com",
    );
}

fn bed_with_auth(fake: &FakeCequence, extra: &[(&'static str, String)]) -> Bed {
    let mut env = common::self_managed_env();
    env.retain(|(k, _)| *k != "cequence_auth_endpoint");
    env.push(("cequence_auth_endpoint", fake.auth_endpoint()));
    env.extend(extra.iter().cloned());
    Bed::with_env(&env)
}

fn doctor(bed: &Bed, key: &(String, String), args: &[&str]) -> std::process::Output {
    let mut all = vec!["doctor"];
    all.extend_from_slice(args);
    bed.cli(&all)
        .env("AWS_ACCESS_KEY_ID", &key.0)
        .env("AWS_SECRET_ACCESS_KEY", &key.1)
        .output()
        .unwrap()
}

#[test]
fn a_ready_account_passes_every_check() {
    let fake = FakeCequence::start_with(
        FakeConfig {
            client_secret: SECRET.into(),
            ..FakeConfig::default()
        },
        0,
    );
    let bed = bed_with_auth(&fake, &[]);
    admin_role(&bed);
    let key = operator(&bed, OPERATOR_POLICY);

    let out = doctor(&bed, &key, &["--output", "json"]);
    let json = common::stdout(&out);
    assert!(out.status.success(), "{json}\n{}", common::stderr(&out));
    assert!(!json.contains(SECRET) && !common::stderr(&out).contains(SECRET));
    common::assert_matches_schema(&json, "doctor");
    let v: Value = serde_json::from_str(&json).unwrap();
    let status = |name: &str| {
        v["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name)
            .unwrap_or_else(|| panic!("no check {name}: {v}"))
            .clone()
    };
    for name in [
        "forwarder package",
        "home region",
        "credentials",
        "regions",
        "administration role",
        "operator permissions",
        "lambda concurrency us-east-1",
        "lambda concurrency eu-west-1",
        "cequence auth",
    ] {
        assert_eq!(status(name)["status"], "ok", "{name}: {}", status(name));
    }
    assert_eq!(status("execution roles")["status"], "skipped");
    assert_eq!(v["failed"], 0);
    assert!(status("credentials")["detail"]
        .as_str()
        .unwrap()
        .contains(&format!("arn:aws:iam::{ACCOUNT}:user/operator")));
    let simulated = status("operator permissions")["detail"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        simulated.contains("actions of docs/iam-policy.json allowed"),
        "{simulated}"
    );
    assert_eq!(fake.counters().token_requests, 1);

    let text = common::stdout(&doctor(&bed, &key, &[]));
    assert!(
        text.contains("ok    regions: 2 region(s): us-east-1,eu-west-1"),
        "{text}"
    );
    assert!(text.contains("All checks passed"), "{text}");
    // Read-only: nothing was created.
    assert!(bed.buckets().is_empty());
    assert!(bed.stackset().is_none());
}

#[test]
fn each_problem_is_a_failed_check_with_its_fix() {
    // The wrong secret: the auth server answers invalid_client.
    let fake = FakeCequence::start();
    let bed = bed_with_auth(&fake, &[("cequence_reserved_concurrency", "20".into())]);
    // No administration role; an operator policy without the StackSet statement.
    let mut policy: Value = serde_json::from_str(OPERATOR_POLICY).unwrap();
    policy["Statement"]
        .as_array_mut()
        .unwrap()
        .retain(|s| s["Sid"] != "StackSet");
    let key = operator(&bed, &policy.to_string());
    // 900 of the account's 1000 executions reserved by another function in us-east-1.
    role(&bed, "busy", "lambda.amazonaws.com");
    let config = bed.block_on(bed.moto.sdk_config("us-east-1"));
    let lambda = aws_sdk_lambda::Client::new(&config);
    bed.block_on(
        lambda
            .create_function()
            .function_name("busy")
            .runtime(aws_sdk_lambda::types::Runtime::Python312)
            .role(format!("arn:aws:iam::{ACCOUNT}:role/busy"))
            .handler("index.handler")
            .code(
                aws_sdk_lambda::types::FunctionCode::builder()
                    .zip_file(aws_smithy_types::Blob::new(
                        b"PK\x05\x06\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0".to_vec(),
                    ))
                    .build(),
            )
            .send(),
    )
    .unwrap();
    bed.block_on(
        lambda
            .put_function_concurrency()
            .function_name("busy")
            .reserved_concurrent_executions(900)
            .send(),
    )
    .unwrap();

    let out = doctor(&bed, &key, &[]);
    let text = common::stdout(&out);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{text}\n{}",
        common::stderr(&out)
    );
    assert!(!text.contains(SECRET) && !common::stderr(&out).contains(SECRET));
    let block = |name: &str| {
        let start = text
            .find(&format!("FAIL  {name}:"))
            .unwrap_or_else(|| panic!("{name} did not fail:\n{text}"));
        text[start..].lines().take(2).collect::<Vec<_>>().join("\n")
    };
    assert!(block("administration role").contains("administration-role.yaml"));
    let denied = block("operator permissions");
    assert!(
        denied.contains("cloudformation:CreateStackSet (implicitDeny)"),
        "{denied}"
    );
    assert!(denied.contains("attach docs/iam-policy.json"), "{denied}");
    let lambda = block("lambda concurrency us-east-1");
    assert!(lambda.contains("unreserved 100"), "{lambda}");
    assert!(lambda.contains("cequence_reserved_concurrency"), "{lambda}");
    assert!(
        text.contains("ok    lambda concurrency eu-west-1"),
        "{text}"
    );
    let auth = block("cequence auth");
    assert!(auth.contains("HTTP 401 (invalid_client)"), "{auth}");
    assert!(auth.contains("cequence_client_secret"), "{auth}");
    assert!(text.contains("4 check(s) failed"), "{text}");

    // A region the account has not enabled is a failed check, not a usage error.
    let out = doctor(&bed, &key, &["--regions", "me-south-1"]);
    let text = common::stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        block_in(&text, "regions").contains("status DISABLED"),
        "{text}"
    );
}

fn block_in(text: &str, name: &str) -> String {
    let start = text.find(&format!("FAIL  {name}:")).unwrap_or(0);
    text[start..].lines().take(2).collect::<Vec<_>>().join("\n")
}
