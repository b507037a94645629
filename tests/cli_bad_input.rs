//! Bad input exits 2 before anything is created.

use crate::common;

use common::{stderr, Bed};

fn assert_rejected(bed: &Bed, cmd: &mut assert_cmd::Command, needle: &str) {
    let out = cmd.output().unwrap();
    assert_eq!(out.status.code(), Some(2), "stderr: {}", stderr(&out));
    assert!(
        stderr(&out).contains(needle),
        "expected `{needle}` in: {}",
        stderr(&out)
    );
    assert!(out.stdout.is_empty(), "nothing on stdout");
    assert!(bed.buckets().is_empty(), "no bucket created");
    assert!(bed.stackset().is_none(), "no StackSet created");
}

#[test]
fn region_not_enabled_for_the_account_is_named() {
    let bed = Bed::new();
    // The test bed's ListRegions reports me-south-1 DISABLED, as in a new AWS account: the
    // error names the region, its status and the command that enables it.
    assert_rejected(
        &bed,
        &mut bed.cli(&["enable", "--yes", "--regions", "us-east-1,me-south-1"]),
        "me-south-1 is not enabled for this account (status DISABLED); enable it (aws account enable-region --region-name me-south-1)",
    );
}

#[test]
fn missing_forwarder_zip_says_how_to_build_it() {
    let bed = Bed::new();
    let mut cmd = bed.cli(&["enable", "--yes"]);
    cmd.env("CQ_FORWARDER_ZIP", bed.dir.path().join("nope.zip"));
    assert_rejected(&bed, &mut cmd, "nope.zip");
    let mut cmd = bed.cli(&["enable", "--yes"]);
    cmd.env_remove("CQ_FORWARDER_ZIP");
    assert_rejected(&bed, &mut cmd, "scripts/build-lambda.sh");
}

/// A package built for the other architecture deploys cleanly and then fails every invocation
/// (exec format error): refused up front, naming the setting, the file and both fixes.
#[test]
fn a_forwarder_package_for_the_other_architecture_is_refused() {
    use cq_test_support::lambda_zip::{forwarder_zip, EM_X86_64};
    let bed = Bed::new();
    let x86 = bed.dir.path().join("x86.zip");
    std::fs::write(&x86, forwarder_zip(EM_X86_64, b"")).unwrap();
    let mut cmd = bed.cli(&["enable", "--yes"]);
    cmd.env("CQ_FORWARDER_ZIP", &x86);
    assert_rejected(&bed, &mut cmd, "cequence_lambda_architecture=arm64: ");
    let out = bed
        .cli(&["enable", "--yes"])
        .env("CQ_FORWARDER_ZIP", &x86)
        .output()
        .unwrap();
    let err = stderr(&out);
    for want in [
        "x86.zip holds a bootstrap built for x86_64",
        "scripts/build-lambda.sh arm64",
        "set cequence_lambda_architecture=x86_64",
    ] {
        assert!(err.contains(want), "expected `{want}` in: {err}");
    }

    // Said so, the x86_64 package is the right one.
    let mut env = common::self_managed_env();
    env.push(("cequence_lambda_architecture", "x86_64".into()));
    bed.write_env(&env);
    let out = bed
        .cli(&["enable", "--dry-run", "--output", "json"])
        .env("CQ_FORWARDER_ZIP", &x86)
        .output()
        .unwrap();
    assert!(out.status.success(), "stderr: {}", stderr(&out));

    env.pop();
    env.push(("cequence_lambda_architecture", "graviton".into()));
    bed.write_env(&env);
    assert_rejected(
        &bed,
        &mut bed.cli(&["enable", "--yes"]),
        "cequence_lambda_architecture=graviton: expected arm64",
    );
}

/// A delivery kind that does not exist is refused before any AWS call, with the three choices.
#[test]
fn an_unknown_rest_log_delivery_is_refused() {
    let bed = Bed::new();
    let mut env = common::self_managed_env();
    env.push(("cequence_rest_log_delivery", "1mb".into()));
    bed.write_env(&env);
    assert_rejected(
        &bed,
        &mut bed.cli(&["enable", "--yes"]),
        "cequence_rest_log_delivery=1mb: expected standard",
    );
    let out = bed.cli(&["enable", "--yes"]).output().unwrap();
    let err = stderr(&out);
    for want in ["full (events up to 1 MB", "auto (full where"] {
        assert!(err.contains(want), "expected `{want}` in: {err}");
    }
}

#[test]
fn unknown_key_and_missing_secret_are_configuration_errors() {
    let bed = Bed::new();
    let mut env = common::self_managed_env();
    env.push(("cequence_aws_region", "us-east-1".into()));
    bed.write_env(&env);
    assert_rejected(
        &bed,
        &mut bed.cli(&["enable", "--yes"]),
        "cequence_aws_region",
    );

    let env: Vec<_> = common::self_managed_env()
        .into_iter()
        .filter(|(k, _)| *k != "cequence_client_secret")
        .collect();
    bed.write_env(&env);
    assert_rejected(
        &bed,
        &mut bed.cli(&["enable", "--yes"]),
        "cequence_client_secret",
    );
}

#[test]
fn an_unquoted_secret_with_a_space_names_the_line_and_never_the_secret() {
    let bed = Bed::new();
    let env: Vec<_> = common::self_managed_env()
        .into_iter()
        .map(|(k, v)| match k {
            "cequence_client_secret" => (k, "pa55 w0rd".to_string()),
            _ => (k, v),
        })
        .collect();
    bed.write_env(&env);
    let line = env
        .iter()
        .position(|(k, _)| *k == "cequence_client_secret")
        .unwrap()
        + 1;
    let mut cmd = bed.cli(&["enable", "--yes"]);
    assert_rejected(
        &bed,
        &mut cmd,
        &format!("line {line}: the value of cequence_client_secret"),
    );
    let out = bed.cli(&["enable", "--yes"]).output().unwrap();
    assert!(!stderr(&out).contains("pa55") && !stderr(&out).contains("w0rd"));
}

#[test]
fn malformed_accounts_flag_is_rejected() {
    let bed = Bed::new();
    assert_rejected(
        &bed,
        &mut bed.cli(&["disable", "--yes", "--accounts", "12345"]),
        "12345",
    );
}

#[test]
fn unreadable_template_override_is_rejected() {
    let bed = Bed::new();
    let mut cmd = bed.cli(&["enable", "--yes"]);
    cmd.env("CQ_TEMPLATE_FILE", bed.dir.path().join("missing.yaml"));
    assert_rejected(&bed, &mut cmd, "CQ_TEMPLATE_FILE");
}

#[test]
fn bad_ingestion_settings_are_configuration_errors() {
    let bed = Bed::new();
    for (key, value, fix) in [
        ("cequence_ingestion", "pull", "poll, push or auto"),
        ("cequence_push_destination", "firehose", "kinesis"),
        ("cequence_kinesis_shard_count", "100", "from 1 to 64"),
        ("cequence_reserved_concurrency", "0", "leave it empty"),
        ("cequence_spool_retention_days", "0", "from 1 to 365"),
    ] {
        let mut env = common::self_managed_env();
        env.push((key, value.to_string()));
        bed.write_env(&env);
        let mut cmd = bed.cli(&["enable", "--yes"]);
        assert_rejected(&bed, &mut cmd, key);
        let out = bed.cli(&["enable", "--yes"]).output().unwrap();
        let err = stderr(&out);
        assert!(
            err.contains(value) && err.contains(fix),
            "{key}={value}: {err}"
        );
    }
}
