//! `cq-apigw enable` against moto: fresh deploy, idempotent re-run, adding a region,
//! `--dry-run`, JSON output, an AWS Organizations (service-managed) deployment, and the
//! embedded template deployed for real.

use crate::common;

use common::{bucket, stdout, Bed, ACCOUNT, SECRET};
use serde_json::Value;

/// Where `enable` keeps the config digest's key (home region bucket only).
const DIGEST_KEY: &str = "state/config-digest-key";

/// The policy document of this tool's bucket in `region`.
fn bucket_policy(bed: &Bed, region: &str) -> String {
    bed.block_on(
        bed.s3(region)
            .get_bucket_policy()
            .bucket(bucket(region))
            .send(),
    )
    .unwrap()
    .policy()
    .unwrap()
    .to_string()
}

fn enable_ok(bed: &Bed, extra: &[&str]) -> String {
    let mut args = vec!["enable", "--yes"];
    args.extend_from_slice(extra);
    common::stdout_ok(&mut bed.cli(&args))
}

#[test]
fn fresh_enable_creates_buckets_artifacts_stackset_and_instances() {
    let bed = Bed::new();
    let text = enable_ok(&bed, &[]);
    assert!(
        text.contains(&format!(
            "S3 template URL to use in AWS CloudFormation Console: https://{}.s3.us-east-1.amazonaws.com/cloudformation/",
            bucket("us-east-1")
        )),
        "{text}"
    );
    assert!(!text.contains(SECRET));

    assert_eq!(
        bed.buckets(),
        vec![bucket("eu-west-1"), bucket("us-east-1")]
    );
    for region in ["us-east-1", "eu-west-1"] {
        let b = bucket(region);
        let s3 = bed.s3(region);
        let v = bed
            .block_on(s3.get_bucket_versioning().bucket(&b).send())
            .unwrap();
        assert_eq!(v.status().map(|s| s.as_str()), Some("Enabled"));
        let pab = bed
            .block_on(s3.get_public_access_block().bucket(&b).send())
            .unwrap();
        let c = pab.public_access_block_configuration().unwrap();
        assert_eq!(
            [
                c.block_public_acls(),
                c.ignore_public_acls(),
                c.block_public_policy(),
                c.restrict_public_buckets()
            ],
            [Some(true); 4]
        );
        let enc = bed
            .block_on(s3.get_bucket_encryption().bucket(&b).send())
            .unwrap();
        let rule = &enc.server_side_encryption_configuration().unwrap().rules()[0];
        assert_eq!(
            rule.apply_server_side_encryption_by_default()
                .unwrap()
                .sse_algorithm()
                .as_str(),
            "AES256"
        );
        let policy: Value = serde_json::from_str(&bucket_policy(&bed, region)).unwrap();
        let text = policy.to_string();
        assert!(text.contains("aws:SecureTransport"), "{text}");
        assert!(
            text.contains(&format!("arn:aws:iam::{ACCOUNT}:root")),
            "{text}"
        );
        let keys: Vec<String> = bed
            .object_versions(&b, region)
            .into_iter()
            .map(|(k, _)| k)
            .filter(|k| k != DIGEST_KEY)
            .collect();
        assert_eq!(keys.len(), 2, "{keys:?}");
        assert!(keys
            .iter()
            .any(|k| k.starts_with("cloudformation/") && k.ends_with("/template.yaml")));
        assert!(keys.iter().any(
            |k| k.starts_with("lambda/") && k.ends_with("/cequence-apigw-forwarder-arm64.zip")
        ));
    }

    let ss = bed.stackset().expect("StackSet created");
    let param = |k: &str| {
        ss.parameters()
            .iter()
            .find(|p| p.parameter_key() == Some(k))
            .and_then(|p| p.parameter_value())
            .map(String::from)
    };
    assert_eq!(param("S3BucketName"), Some(bucket("us-east-1")));
    assert_eq!(param("S3BucketRegion").as_deref(), Some("us-east-1"));
    assert!(param("S3Key").unwrap().starts_with("lambda/"));
    assert_eq!(param("CequenceRestApiEnabled").as_deref(), Some("true"));
    assert_eq!(param("EventBridgeSchedulerRoleArn").as_deref(), Some(""));
    // Issue 9 parameters at their defaults: reserved concurrency off.
    assert_eq!(param("CequenceIngestion").as_deref(), Some("auto"));
    assert_eq!(param("PushDestination").as_deref(), Some("lambda"));
    assert_eq!(param("KinesisShardCount").as_deref(), Some("1"));
    assert_eq!(param("ReservedConcurrency").as_deref(), Some(""));
    assert_eq!(param("SpoolRetentionDays").as_deref(), Some("7"));
    assert_eq!(param("LambdaMemorySize").as_deref(), Some("1024"));
    assert_eq!(param("LambdaArchitecture").as_deref(), Some("arm64"));
    assert_eq!(
        ss.permission_model().map(|p| p.as_str()),
        Some("SELF_MANAGED")
    );
    let tag = |k: &str| {
        ss.tags()
            .iter()
            .find(|t| t.key() == Some(k))
            .and_then(|t| t.value())
            .map(String::from)
    };
    assert_eq!(tag("cequence_integration").as_deref(), Some("true"));
    assert_eq!(tag("cequence_created").as_deref(), Some("true"));
    assert_eq!(
        tag("cequence-deployment-type").as_deref(),
        Some("cloudformation")
    );
    let digest = tag("cequence-config-digest").unwrap();
    assert_eq!(digest.len(), 64);
    assert_eq!(
        bed.instances(),
        vec![
            (ACCOUNT.to_string(), "eu-west-1".to_string()),
            (ACCOUNT.to_string(), "us-east-1".to_string())
        ]
    );
}

#[test]
fn second_enable_changes_nothing() {
    let bed = Bed::new();
    enable_ok(&bed, &[]);
    let versions = bed.object_versions(&bucket("us-east-1"), "us-east-1");
    let ops = bed.operation_count();
    let policy_before = bucket_policy(&bed, "eu-west-1");

    let text = enable_ok(&bed, &[]);
    assert!(text.contains("nothing to change"), "{text}");
    assert_eq!(
        bed.object_versions(&bucket("us-east-1"), "us-east-1"),
        versions
    );
    assert_eq!(
        bed.operation_count(),
        ops,
        "no StackSet operation on a re-run"
    );
    let policy_after = bucket_policy(&bed, "eu-west-1");
    assert_eq!(policy_before, policy_after);
}

#[test]
fn changed_secret_updates_the_stackset() {
    let bed = Bed::new();
    enable_ok(&bed, &[]);
    let before = bed.stackset().unwrap();
    let mut env = common::self_managed_env();
    for (k, v) in env.iter_mut() {
        if *k == "cequence_client_secret" {
            *v = "rotated-secret".into();
        }
    }
    bed.write_env(&env);
    let text = enable_ok(&bed, &[]);
    assert!(text.contains("did update StackSet"), "{text}");
    assert!(!text.contains("rotated-secret"));
    let digest = |s: &aws_sdk_cloudformation::types::StackSet| {
        s.tags()
            .iter()
            .find(|t| t.key() == Some("cequence-config-digest"))
            .and_then(|t| t.value())
            .map(String::from)
    };
    assert_ne!(digest(&before), digest(&bed.stackset().unwrap()));
}

#[test]
fn changed_ingestion_settings_update_the_stackset_parameters() {
    let bed = Bed::new();
    enable_ok(&bed, &[]);
    let mut env = common::self_managed_env();
    env.extend([
        ("cequence_ingestion", "push".to_string()),
        ("cequence_push_destination", "kinesis".to_string()),
        ("cequence_kinesis_shard_count", "2".to_string()),
        ("cequence_reserved_concurrency", "4".to_string()),
        ("cequence_spool_retention_days", "14".to_string()),
    ]);
    bed.write_env(&env);
    let text = enable_ok(&bed, &[]);
    assert!(text.contains("did update StackSet"), "{text}");
    let ss = bed.stackset().unwrap();
    let param = |k: &str| {
        ss.parameters()
            .iter()
            .find(|p| p.parameter_key() == Some(k))
            .and_then(|p| p.parameter_value())
            .map(String::from)
    };
    assert_eq!(
        [
            "CequenceIngestion",
            "PushDestination",
            "KinesisShardCount",
            "ReservedConcurrency",
            "SpoolRetentionDays"
        ]
        .map(|k| param(k).unwrap_or_default()),
        ["push", "kinesis", "2", "4", "14"]
    );
    // And nothing more to do after that.
    assert!(enable_ok(&bed, &[]).contains("nothing to change"));
}

#[test]
fn enable_adds_a_region_without_recreating() {
    let bed = Bed::new();
    enable_ok(&bed, &["--regions", "us-east-1"]);
    assert_eq!(bed.instances().len(), 1);
    assert_eq!(bed.buckets(), vec![bucket("us-east-1")]);
    let ops = bed.operation_count();

    let text = enable_ok(&bed, &["--regions", "us-east-1,eu-west-1"]);
    assert!(text.contains("add stack instances"), "{text}");
    assert!(!text.contains("update StackSet"), "{text}");
    assert_eq!(
        bed.instances(),
        vec![
            (ACCOUNT.to_string(), "eu-west-1".to_string()),
            (ACCOUNT.to_string(), "us-east-1".to_string())
        ]
    );
    assert_eq!(
        bed.operation_count(),
        ops + 1,
        "one CreateStackInstances operation"
    );
    assert_eq!(
        bed.buckets(),
        vec![bucket("eu-west-1"), bucket("us-east-1")]
    );
}

#[test]
fn dry_run_prints_the_plan_and_creates_nothing() {
    let bed = Bed::new();
    let text = enable_ok(&bed, &["--dry-run"]);
    assert!(text.contains("would create StackSet"), "{text}");
    assert!(text.contains("create bucket"), "{text}");
    assert!(text.contains("would add stack instances"), "{text}");
    assert!(bed.buckets().is_empty());
    assert!(bed.stackset().is_none());
}

#[test]
fn json_output_is_one_document_on_stdout() {
    let bed = Bed::new();
    let text = enable_ok(&bed, &["--output", "json"]);
    common::assert_matches_schema(&text, "enable");
    let v: Value = serde_json::from_str(&text).expect("stdout is one JSON document");
    assert_eq!(v["account"], ACCOUNT);
    assert_eq!(v["changed"], true);
    assert_eq!(v["stackset_change"], "create");
    assert!(v["template_url"].as_str().unwrap().starts_with("https://"));
    assert_eq!(v["operations"][0]["status"], "SUCCEEDED");
    assert!(!text.contains(SECRET));
}

#[test]
fn no_wait_returns_submitted_operations() {
    let bed = Bed::new();
    let text = enable_ok(&bed, &["--no-wait", "--output", "json"]);
    common::assert_matches_schema(&text, "enable");
    let v: Value = serde_json::from_str(&text).unwrap();
    let op = &v["operations"][0];
    assert_eq!(op["status"], "SUBMITTED");
    assert!(!op["operation_id"].as_str().unwrap().is_empty());
}

#[test]
fn organization_deployment_targets_the_root_with_service_managed_stackset() {
    let bed = Bed::new();
    let orgs = bed.organizations();
    let org = bed
        .block_on(
            orgs.create_organization()
                .feature_set(aws_sdk_organizations::types::OrganizationFeatureSet::All)
                .send(),
        )
        .unwrap();
    let org_id = org.organization().unwrap().id().unwrap().to_string();
    let created = bed
        .block_on(
            orgs.create_account()
                .account_name("workload")
                .email("workload@example.com")
                .send(),
        )
        .unwrap();
    let member = created
        .create_account_status()
        .unwrap()
        .account_id()
        .unwrap()
        .to_string();
    let roots = bed.block_on(orgs.list_roots().send()).unwrap();
    let root = roots.roots()[0].id().unwrap().to_string();
    let env: Vec<(&str, String)> = common::self_managed_env()
        .into_iter()
        .filter(|(k, _)| !k.starts_with("cequence_is_") && *k != "cequence_target_accounts")
        .chain([
            (
                "cequence_is_aws_organization_deployment",
                "true".to_string(),
            ),
            ("cequence_is_multi_account_deployment", "false".to_string()),
            ("cequence_target_ous", root),
        ])
        .collect();
    bed.write_env(&env);

    enable_ok(&bed, &["--regions", "us-east-1"]);
    let ss = bed.stackset().unwrap();
    assert_eq!(
        ss.permission_model().map(|p| p.as_str()),
        Some("SERVICE_MANAGED")
    );
    let policy = bucket_policy(&bed, "us-east-1");
    assert!(
        policy.contains("aws:PrincipalOrgID") && policy.contains(&org_id),
        "{policy}"
    );
    assert!(
        bed.instances()
            .contains(&(member.clone(), "us-east-1".to_string())),
        "{:?}",
        bed.instances()
    );

    let text = enable_ok(&bed, &["--regions", "us-east-1"]);
    assert!(text.contains("nothing to change"), "{text}");
}

/// The client secret travels in CreateStackSet/UpdateStackSet parameters, and at their most
/// verbose levels the SDK and the HTTP stack log requests. Every byte of stdout and stderr of
/// enable, status and disable is searched for it (also URL-encoded, as a query body carries
/// it), at `-vvv` and at `RUST_LOG=trace`, which opens every crate's trace logs.
#[test]
fn the_secret_appears_in_no_output_at_any_verbosity() {
    let bed = Bed::new();
    let encoded: String = url_encoded(SECRET);
    let runs: [(&[&str], Option<&str>); 6] = [
        (&["-vvv", "enable", "--yes"], None),
        (&["-vvv", "status"], None),
        (&["-vvv", "disable", "--yes"], None),
        // After the disable this enable also clears the instances' overrides.
        (&["enable", "--yes"], Some("trace")),
        (&["status", "--output", "json"], Some("trace")),
        (&["disable", "--destroy", "--yes"], Some("trace")),
    ];
    for (args, rust_log) in runs {
        let mut cmd = bed.cli(args);
        if let Some(level) = rust_log {
            cmd.env("RUST_LOG", level);
        }
        let out = cmd.output().unwrap();
        let all = format!("{}{}", stdout(&out), common::stderr(&out));
        assert!(out.status.success(), "{args:?}: {all}");
        // Not a vacuous check: the logs were on.
        assert!(all.len() > 2_000, "{args:?} logged little: {all}");
        let lines: Vec<String> = all
            .lines()
            .filter(|l| l.contains(SECRET))
            .map(|l| l.chars().take(300).collect())
            .collect();
        assert!(
            lines.is_empty(),
            "{args:?} printed the secret:\n{}",
            lines.join("\n")
        );
        assert!(
            !all.contains(&encoded),
            "{args:?} printed the secret URL-encoded"
        );
    }
}

fn url_encoded(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The digest tag covers the client secret and anyone with DescribeStackSet reads it: it is
/// keyed with 32 random bytes kept in the home bucket, outside what other accounts may read.
#[test]
fn the_config_digest_is_keyed_with_a_key_that_stays_in_the_account() {
    let bed = Bed::new();
    enable_ok(&bed, &[]);
    let home = bucket("us-east-1");
    let s3 = bed.s3("us-east-1");
    let key = |bed: &Bed| -> Option<Vec<u8>> {
        bed.block_on(s3.get_object().bucket(&home).key(DIGEST_KEY).send())
            .ok()
            .map(|o| {
                bed.block_on(o.body.collect())
                    .unwrap()
                    .into_bytes()
                    .to_vec()
            })
    };
    let first = key(&bed).expect("key created");
    assert_eq!(first.len(), 32);
    assert!(
        bed.object_versions(&bucket("eu-west-1"), "eu-west-1")
            .iter()
            .all(|(k, _)| k != DIGEST_KEY),
        "only the home region holds it"
    );
    let policy: Value = serde_json::from_str(&bucket_policy(&bed, "us-east-1")).unwrap();
    for st in policy["Statement"].as_array().unwrap() {
        if st["Effect"] == "Allow" {
            let text = st["Resource"].to_string();
            assert!(
                !text.contains(&format!(":::{home}/*\"")),
                "whole bucket: {text}"
            );
            assert!(!text.contains("state/"), "{text}");
        }
    }
    let tag = |bed: &Bed| {
        bed.stackset()
            .unwrap()
            .tags()
            .iter()
            .find(|t| t.key() == Some("cequence-config-digest"))
            .and_then(|t| t.value().map(String::from))
            .unwrap()
    };
    let digest = tag(&bed);
    assert_eq!(digest.len(), 64);

    // Stable while the key is: a re-run changes nothing.
    let text = enable_ok(&bed, &[]);
    assert!(text.contains("nothing to change"), "{text}");
    assert_eq!(key(&bed).unwrap(), first);

    // A lost key costs one StackSet update (a new key, a new tag), then it is stable again.
    bed.block_on(s3.delete_object().bucket(&home).key(DIGEST_KEY).send())
        .unwrap();
    let text = enable_ok(&bed, &[]);
    assert!(text.contains("update StackSet"), "{text}");
    assert_ne!(tag(&bed), digest);
    assert_ne!(key(&bed).unwrap(), first);
    let text = enable_ok(&bed, &[]);
    assert!(text.contains("nothing to change"), "{text}");
}

/// An upgrade run with `--regions` for one region still updates the whole StackSet, and every
/// instance reads the new forwarder from its own region's bucket: the new artifacts go to
/// every region that has an instance, not only the listed ones.
#[test]
fn an_upgrade_limited_to_one_region_uploads_to_every_region_with_an_instance() {
    let bed = Bed::new();
    enable_ok(&bed, &[]);
    assert!(bed.instances().iter().any(|(_, r)| r == "eu-west-1"));

    // A new forwarder build: another content-addressed key.
    let zip = cq_test_support::lambda_zip::forwarder_zip(
        cq_test_support::lambda_zip::EM_AARCH64,
        b"new build",
    );
    std::fs::write(bed.dir.path().join("forwarder.zip"), &zip).unwrap();
    let text = enable_ok(&bed, &["--regions", "us-east-1"]);
    assert!(text.contains("update StackSet"), "{text}");

    let zips = |region: &str| -> Vec<String> {
        bed.object_versions(&bucket(region), region)
            .into_iter()
            .map(|(k, _)| k)
            .filter(|k| k.starts_with("lambda/"))
            .collect()
    };
    let east = zips("us-east-1");
    assert_eq!(east.len(), 2, "{east:?}");
    let mut west = zips("eu-west-1");
    let mut east_sorted = east.clone();
    west.sort();
    east_sorted.sort();
    assert_eq!(west, east_sorted, "eu-west-1 has the new zip too");
}

/// The forwarder functions in `region` (moto names them after the stack), with their
/// environment.
fn forwarders(bed: &Bed, region: &str) -> Vec<std::collections::BTreeMap<String, String>> {
    let conf = bed.block_on(bed.moto.sdk_config(region));
    let lambda = aws_sdk_lambda::Client::new(&conf);
    let out = bed.block_on(lambda.list_functions().send()).unwrap();
    out.functions()
        .iter()
        .filter_map(|f| f.environment().and_then(|e| e.variables()))
        .filter(|v| v.contains_key("CEQUENCE_CLIENT_ID"))
        .map(|v| v.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .collect()
}

/// The StackSet's parameters as DescribeStackSet gives them (NoEcho masked).
fn stackset_parameters(bed: &Bed) -> Vec<(String, String)> {
    bed.stackset()
        .expect("a StackSet")
        .parameters()
        .iter()
        .map(|p| {
            (
                p.parameter_key().unwrap_or_default().to_string(),
                p.parameter_value().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

/// Every parameter value meets the template's AllowedValues, AllowedPattern (a whole-value
/// match), Min/MaxLength and Min/MaxValue, as CloudFormation checks them. `masked` gives the
/// values DescribeStackSet hides (NoEcho).
fn assert_meets_constraints(template: &str, sent: &[(String, String)], masked: &[(&str, &str)]) {
    let doc: yaml_serde::Value = yaml_serde::from_str(template).expect("template parses");
    let declared = doc["Parameters"].as_mapping().expect("Parameters");
    assert!(!sent.is_empty());
    for (key, value) in sent {
        let value = masked
            .iter()
            .find(|(k, _)| k == key)
            .map_or(value.as_str(), |(_, v)| *v);
        let p = &declared[key.as_str()];
        assert!(!p.is_null(), "{key} is not declared by the template");
        if let Some(allowed) = p["AllowedValues"].as_sequence() {
            let allowed: Vec<String> = allowed
                .iter()
                .map(|a| match a {
                    yaml_serde::Value::String(s) => s.clone(),
                    other => yaml_serde::to_string(other).unwrap().trim().to_string(),
                })
                .collect();
            assert!(
                allowed.iter().any(|a| a == value),
                "{key}={value:?} not in {allowed:?}"
            );
        }
        if let Some(pattern) = p["AllowedPattern"].as_str() {
            let re = regex::Regex::new(&format!("^(?:{pattern})$")).expect("pattern compiles");
            assert!(
                re.is_match(value),
                "{key}={value:?} does not match {pattern}"
            );
        }
        let len = value.chars().count() as u64;
        if let Some(min) = p["MinLength"].as_u64() {
            assert!(len >= min, "{key}: shorter than {min}");
        }
        if let Some(max) = p["MaxLength"].as_u64() {
            assert!(len <= max, "{key}: longer than {max}");
        }
        for (bound, below) in [("MinValue", true), ("MaxValue", false)] {
            if let Some(b) = p[bound].as_f64() {
                let n: f64 = value
                    .parse()
                    .unwrap_or_else(|_| panic!("{key}={value:?}: a number"));
                assert!(
                    if below { n >= b } else { n <= b },
                    "{key}={n} vs {bound} {b}"
                );
            }
        }
    }
}

/// The template the CLI embeds (`templates/template.yaml`), not the tests' stand-in: the
/// parameters the CLI sends are the ones it declares, and each region's stack gets the real
/// forwarder, configured from `.env`, with the secret out of its environment. moto stores the
/// function but never runs it, and never gets the custom resource's answer (tests/template.rs
/// says why), so the stacks stay in progress; destroy still removes them. (moto does not apply
/// instance parameter overrides to the stacks either: `disable` is checked on the overrides in
/// `cli_disable.rs`.)
#[test]
fn enable_deploys_the_embedded_template_and_destroy_removes_it() {
    let bed = Bed::new();
    let real = |args: &[&str]| common::stdout_ok(bed.cli(args).env_remove("CQ_TEMPLATE_FILE"));
    real(&["enable", "--yes"]);
    assert_eq!(
        bed.instances(),
        vec![
            (ACCOUNT.to_string(), "eu-west-1".to_string()),
            (ACCOUNT.to_string(), "us-east-1".to_string())
        ]
    );
    let template = bed
        .block_on(
            bed.cfn()
                .describe_stack_set()
                .stack_set_name(common::STACKSET)
                .send(),
        )
        .unwrap()
        .stack_set()
        .and_then(|s| s.template_body().map(str::to_string))
        .unwrap_or_default();
    assert!(
        template.contains("Custom::CequenceStageLogging"),
        "the embedded template is deployed"
    );
    for region in ["us-east-1", "eu-west-1"] {
        let fns = forwarders(&bed, region);
        assert_eq!(fns.len(), 1, "{region}: {fns:#?}");
        let env = &fns[0];
        assert_eq!(env["CEQUENCE_CLIENT_ID"], "test-client");
        assert_eq!(env["CEQUENCE_REST_API_ENABLED"], "true");
        assert!(env.contains_key("CEQUENCE_TOKEN_PARAMETER"), "{env:?}");
        assert!(env.values().all(|v| !v.contains(SECRET)), "{env:?}");
    }
    let status = real(&["status", "--output", "json"]);
    let v: Value = serde_json::from_str(&status).unwrap();
    assert_eq!(v["instances"].as_array().unwrap().len(), 2);
    // moto does not enforce parameter constraints; CloudFormation would fail the stacks.
    let sent = stackset_parameters(&bed);
    assert_meets_constraints(&template, &sent, &[("CequenceClientSecret", SECRET)]);

    // The other end of every setting the template constrains: still accepted.
    let mut env = common::self_managed_env();
    env.extend([
        ("cequence_ingestion", "push".to_string()),
        ("cequence_push_destination", "kinesis".to_string()),
        ("cequence_kinesis_shard_count", "4".to_string()),
        ("cequence_lambda_memory_mb", "512".to_string()),
        ("cequence_lambda_log_level", "debug".to_string()),
        ("cequence_reserved_concurrency", "10".to_string()),
        ("cequence_spool_retention_days", "30".to_string()),
        ("cequence_include_http_default_stage", "true".to_string()),
    ]);
    bed.write_env(&env);
    real(&["enable", "--yes"]);
    let sent = stackset_parameters(&bed);
    assert!(
        sent.contains(&("KinesisShardCount".to_string(), "4".to_string())),
        "{sent:?}"
    );
    assert_meets_constraints(&template, &sent, &[("CequenceClientSecret", SECRET)]);

    real(&["disable", "--destroy", "--yes"]);
    assert!(bed.stackset().is_none());
    assert!(bed.buckets().is_empty(), "{:?}", bed.buckets());
    for region in ["us-east-1", "eu-west-1"] {
        assert!(forwarders(&bed, region).is_empty(), "{region}");
    }
}

/// An operator's Ctrl-C, a CI job cancelled, a laptop closed: `enable` killed in the middle of
/// any step leaves a state the next `enable` finishes, and the one after has nothing to do.
/// Each kill lands while the named request is held by the fault proxy; the held request still
/// reaches moto afterwards (it left before the process died), before the re-run starts.
#[test]
fn an_enable_killed_at_any_step_is_finished_by_the_next() {
    use cq_test_support::fault_proxy::{Action, FaultProxy, Rule};
    use std::time::{Duration, Instant};

    let hold = Duration::from_secs(4);
    type Step = (&'static str, fn(Rule) -> Rule);
    let steps: [Step; 4] = [
        ("bucket creation", |r| {
            r.method("PUT")
                .path_prefix(&format!("/{}", bucket("eu-west-1")))
        }),
        ("forwarder upload", |r| {
            r.method("PUT")
                .path_prefix(&format!("/{}/lambda/", bucket("us-east-1")))
        }),
        ("CreateStackSet", |r| {
            r.body_contains("Action=CreateStackSet")
        }),
        ("CreateStackInstances", |r| {
            r.body_contains("Action=CreateStackInstances")
        }),
    ];
    for (step, rule) in steps {
        let bed = Bed::new();
        let proxy = FaultProxy::start(bed.moto.addr().parse().unwrap(), 5);
        proxy.add_rule(rule(Rule::new("held", Action::Delay(hold))).count(1));
        let mut child = bed
            .cli_process(&["enable", "--yes"])
            .env("AWS_ENDPOINT_URL", proxy.endpoint())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let start = Instant::now();
        while proxy.injected("held") == 0 {
            assert!(
                child.try_wait().unwrap().is_none(),
                "{step}: enable ended before the step"
            );
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "{step}: never reached"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        child.kill().unwrap();
        child.wait().unwrap();
        std::thread::sleep(hold + Duration::from_millis(500));

        let text = enable_ok(&bed, &[]);
        assert_eq!(bed.instances().len(), 2, "{step}: {text}");
        let status = bed.cli(&["status", "--output", "json"]).output().unwrap();
        let v: Value = serde_json::from_slice(&status.stdout).unwrap();
        let instances = v["instances"].as_array().unwrap();
        assert!(
            instances.iter().all(|i| i["status"] == "CURRENT"),
            "{step}: {v}"
        );
        assert_eq!(v["buckets"].as_array().unwrap().len(), 2, "{step}: {v}");
        let again = enable_ok(&bed, &[]);
        assert!(again.contains("nothing to change"), "{step}: {again}");
    }
}

/// CloudFormation's answer for `op` (query protocol, XML), as the fault proxy gives it.
fn cfn_xml(op: &str, result: &str) -> cq_test_support::fault_proxy::Action {
    let body = format!(
        "<{op}Response xmlns=\"http://cloudformation.amazonaws.com/doc/2010-05-15/\">\
         <{op}Result>{result}</{op}Result>\
         <ResponseMetadata><RequestId>injected</RequestId></ResponseMetadata></{op}Response>"
    );
    cq_test_support::fault_proxy::Action::Respond(
        cq_test_support::http::Response::new(200, body).with_header("content-type", "text/xml"),
    )
}

/// A StackSet operation that ends FAILED (one region's stack could not be created) or
/// STOPPED (an operator stopped it in the console): CloudFormation's answers come from the
/// fault proxy, since moto's operations always succeed (and the binary runs as its own
/// process, out of reach of aws-smithy-mocks). The progress lines name each instance's state
/// as it changes over the polls, the summary and the error name the region and the
/// reason, the exit code is 1, and the next enable, against CloudFormation as it really is,
/// finishes the job.
#[test]
fn a_failed_or_stopped_operation_exits_1_with_the_reason_and_the_next_enable_finishes() {
    use cq_test_support::fault_proxy::{FaultProxy, Rule};
    const REASON: &str = "ResourceLogicalId:ForwarderFunction, ResourceType:AWS::Lambda::Function, ResourceStatusReason:Code storage limit exceeded.";
    for status in ["FAILED", "STOPPED"] {
        let bed = Bed::new();
        let proxy = FaultProxy::start(bed.moto.addr().parse().unwrap(), 9);
        let member = |region: &str, s: &str, reason: &str| {
            format!(
                "<member><Account>{ACCOUNT}</Account><Region>{region}</Region>\
                 <Status>{s}</Status><StatusReason>{reason}</StatusReason></member>"
            )
        };
        // Two polls while it runs (us-east-1 done first), then the end.
        proxy.add_rule(
            Rule::new(
                "running",
                cfn_xml(
                    "DescribeStackSetOperation",
                    "<StackSetOperation><OperationId>op-1</OperationId>\
                     <Action>CREATE</Action><Status>RUNNING</Status></StackSetOperation>",
                ),
            )
            .body_contains("Action=DescribeStackSetOperation")
            .count(2),
        );
        proxy.add_rule(
            Rule::new(
                "running-results",
                cfn_xml(
                    "ListStackSetOperationResults",
                    &format!(
                        "<Summaries>{}{}</Summaries>",
                        member("eu-west-1", "RUNNING", ""),
                        member("us-east-1", "SUCCEEDED", "")
                    ),
                ),
            )
            .body_contains("Action=ListStackSetOperationResults")
            .count(2),
        );
        proxy.add_rule(
            Rule::new(
                "operation",
                cfn_xml(
                    "DescribeStackSetOperation",
                    &format!(
                        "<StackSetOperation><OperationId>op-1</OperationId>\
                         <Action>CREATE</Action><Status>{status}</Status></StackSetOperation>"
                    ),
                ),
            )
            .body_contains("Action=DescribeStackSetOperation"),
        );
        let eu = if status == "FAILED" {
            "FAILED"
        } else {
            "CANCELLED"
        };
        let eu_reason = if status == "FAILED" {
            REASON
        } else {
            "Cancelled since operation was stopped"
        };
        proxy.add_rule(
            Rule::new(
                "results",
                cfn_xml(
                    "ListStackSetOperationResults",
                    &format!(
                        "<Summaries>{}{}</Summaries>",
                        member("eu-west-1", eu, eu_reason),
                        member("us-east-1", "SUCCEEDED", "")
                    ),
                ),
            )
            .body_contains("Action=ListStackSetOperationResults"),
        );
        let out = bed
            .cli(&["enable", "--yes"])
            .env("AWS_ENDPOINT_URL", proxy.endpoint())
            .output()
            .unwrap();
        let (text, err) = (stdout(&out), common::stderr(&out));
        assert_eq!(out.status.code(), Some(1), "{status}: {text}\n{err}");
        let running = err
            .find(&format!("▹ {ACCOUNT} eu-west-1: RUNNING"))
            .unwrap_or_else(|| panic!("{status}: the running state is shown: {err}"));
        let end = err
            .find(&format!("▹ {ACCOUNT} eu-west-1: {eu}"))
            .unwrap_or_else(|| panic!("{status}: {err}"));
        assert!(running < end, "{err}");
        assert_eq!(
            err.matches(&format!("▹ {ACCOUNT} us-east-1: SUCCEEDED"))
                .count(),
            1,
            "a state is shown once, not at every poll: {err}"
        );
        assert!(text.contains(status), "{status}: {text}");
        if status == "FAILED" {
            assert!(
                err.contains(&format!("CREATE {ACCOUNT}/eu-west-1: {REASON}")),
                "{err}"
            );
        } else {
            assert!(
                err.contains(&format!(
                    "CREATE {ACCOUNT}/eu-west-1: not done, the operation ended STOPPED"
                )),
                "{err}"
            );
        }

        // The next enable sees what CloudFormation shows after such an operation (eu-west-1
        // OUTDATED, its last operation FAILED or CANCELLED; moto shows it CURRENT, so the
        // proxy answers the first listing) and updates that instance, though nothing in the
        // configuration changed.
        proxy.clear();
        let instance = |region: &str, st: &str, detailed: &str| {
            format!(
                "<member><Account>{ACCOUNT}</Account><Region>{region}</Region>\
                 <Status>{st}</Status><StatusReason></StatusReason>\
                 <StackInstanceStatus><DetailedStatus>{detailed}</DetailedStatus>\
                 </StackInstanceStatus></member>"
            )
        };
        proxy.add_rule(
            Rule::new(
                "outdated",
                cfn_xml(
                    "ListStackInstances",
                    &format!(
                        "<Summaries>{}{}</Summaries>",
                        instance("eu-west-1", "OUTDATED", eu),
                        instance("us-east-1", "CURRENT", "SUCCEEDED")
                    ),
                ),
            )
            .body_contains("Action=ListStackInstances")
            .count(1),
        );
        let out = bed
            .cli(&["enable", "--yes"])
            .env("AWS_ENDPOINT_URL", proxy.endpoint())
            .output()
            .unwrap();
        let (text, err) = (stdout(&out), common::stderr(&out));
        assert!(out.status.success(), "{status}: {text}\n{err}");
        assert!(
            err.contains("updating stack instances to the StackSet's values")
                && err.contains("eu-west-1")
                && !text.contains("nothing to change"),
            "{status}: the OUTDATED instance is updated: {text}\n{err}"
        );
        assert_eq!(bed.instances().len(), 2, "{text}");
        // CloudFormation as it is (moto) now: nothing left to do.
        let again = enable_ok(&bed, &[]);
        assert!(again.contains("nothing to change"), "{status}: {again}");
    }
}

/// Another operation on the StackSet (a console user, a second pipeline) makes CloudFormation
/// answer OperationInProgressException (409) until it ends; moto cannot, so the fault proxy
/// answers so twice. enable waits it out with backoff, says so at -v, and finishes.
#[test]
fn another_operation_in_progress_is_waited_out() {
    use cq_test_support::fault_proxy::{Action, FaultProxy, Rule};
    let bed = Bed::new();
    let proxy = FaultProxy::start(bed.moto.addr().parse().unwrap(), 11);
    let body = "<ErrorResponse xmlns=\"http://cloudformation.amazonaws.com/doc/2010-05-15/\">\
        <Error><Type>Sender</Type><Code>OperationInProgressException</Code>\
        <Message>Another Operation on StackSet aws-cequence-apigw-integration is in progress</Message>\
        </Error><RequestId>injected</RequestId></ErrorResponse>";
    proxy.add_rule(
        Rule::new(
            "in-progress",
            Action::Respond(
                cq_test_support::http::Response::new(409, body)
                    .with_header("content-type", "text/xml"),
            ),
        )
        .body_contains("Action=CreateStackInstances")
        .count(2),
    );
    let out = bed
        .cli(&["enable", "--yes", "-v"])
        .env("AWS_ENDPOINT_URL", proxy.endpoint())
        .output()
        .unwrap();
    let err = common::stderr(&out);
    assert!(out.status.success(), "{}\n{err}", stdout(&out));
    assert_eq!(proxy.injected("in-progress"), 2);
    assert_eq!(
        err.matches("OperationInProgressException — retrying in")
            .count(),
        2,
        "{err}"
    );
    assert_eq!(bed.instances().len(), 2);
}

/// With no region list, every region enabled for the account (20 in moto's, which counts three
/// opt-in regions as enabled by default) is done in one run: a bucket and an instance each, eight
/// regions at a time; the re-run has nothing to do and destroy removes all of it.
#[test]
fn every_enabled_region_is_done_when_none_are_listed() {
    let env: Vec<_> = common::self_managed_env()
        .into_iter()
        .filter(|(k, _)| *k != "cequence_aws_regions")
        .collect();
    let bed = Bed::with_env(&env);
    // What Account ListRegions says is enabled, read page by page (the test bed pages at 20,
    // so the CLI's paging is exercised): not a region the account has not enabled, and in
    // the caller's partition only.
    let account = aws_sdk_account::Client::new(&bed.block_on(bed.moto.sdk_config("us-east-1")));
    let pages: Vec<_> = bed
        .block_on(account.list_regions().into_paginator().send().try_collect())
        .unwrap();
    assert!(pages.len() > 1, "one page: paging is not exercised");
    let listed: Vec<_> = pages.iter().flat_map(|p| p.regions()).collect();
    let mut enabled: Vec<String> = listed
        .iter()
        .filter(|r| {
            matches!(
                r.region_opt_status().map(|s| s.as_str()),
                Some("ENABLED" | "ENABLED_BY_DEFAULT")
            )
        })
        .filter_map(|r| r.region_name().map(String::from))
        .collect();
    enabled.sort();
    assert!(enabled.len() >= 17, "{enabled:?}");
    assert!(
        !enabled
            .iter()
            .any(|r| r == "me-south-1" || r.starts_with("cn-")),
        "moto: me-south-1 is DISABLED, China is another partition"
    );

    let out = bed.cli(&["enable", "--yes"]).output().unwrap();
    let (text, progress) = (stdout(&out), common::stderr(&out));
    assert!(out.status.success(), "{text}\n{progress}");
    let regions: Vec<String> = bed.instances().into_iter().map(|(_, r)| r).collect();
    assert_eq!(regions, enabled, "{text}");
    // Buckets are done eight regions at a time: eight start before the first one ends, and
    // every region starts.
    let lines: Vec<&str> = progress
        .lines()
        .filter(|l| l.starts_with("▹ bucket "))
        .collect();
    let first_done = lines
        .iter()
        .position(|l| l.ends_with("change(s)") || l.ends_with("up to date"))
        .expect("a bucket done");
    let started = |ls: &[&str]| ls.iter().filter(|l| l.ends_with(": checking")).count();
    assert_eq!(started(&lines[..first_done]), 8, "{progress}");
    assert_eq!(started(&lines), enabled.len(), "{progress}");
    let mut buckets = bed.buckets();
    buckets.sort();
    let mut expected: Vec<String> = regions.iter().map(|r| bucket(r)).collect();
    expected.sort();
    assert_eq!(buckets, expected);
    let again = enable_ok(&bed, &[]);
    assert!(again.contains("nothing to change"), "{again}");
    let out = bed
        .cli(&["disable", "--destroy", "--yes"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", common::stderr(&out));
    assert!(bed.buckets().is_empty() && bed.stackset().is_none());
}

/// On a terminal (a pseudo-terminal from util-linux `script`), progress is live rows, one per
/// bucket and instance, redrawn in place; notes stay `▹` lines. Off a terminal (every other
/// test here), the same progress is plain `▹ row: state` lines.
#[test]
fn on_a_terminal_progress_is_live_rows_redrawn_in_place() {
    let bed = Bed::new();
    let inner = bed.cli_process(&["enable", "--yes"]);
    let quote = |a: &std::ffi::OsStr| format!("'{}'", a.to_string_lossy().replace('\'', r"'\''"));
    let line: Vec<String> = std::iter::once(inner.get_program())
        .chain(inner.get_args())
        .map(quote)
        .collect();
    let out = std::process::Command::new("script")
        .args(["-qefc", &line.join(" "), "/dev/null"])
        .env_clear()
        .envs(inner.get_envs().filter_map(|(k, v)| v.map(|v| (k, v))))
        .env("TERM", "xterm-256color")
        .env("COLUMNS", "160")
        .current_dir(bed.dir.path())
        .output()
        .expect("util-linux script (Debian: bsdutils, essential)");
    let tty = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{tty}");
    assert!(
        tty.contains("\u{1b}["),
        "redrawn with escape sequences: {tty}"
    );
    assert!(
        tty.contains("bucket us-east-1") && tty.contains("7 change(s)"),
        "{tty}"
    );
    assert!(
        !tty.contains("▹ bucket us-east-1: checking"),
        "rows are redrawn, not printed as lines: {tty}"
    );
    assert!(tty.contains("▹ creating StackSet"), "{tty}");
    assert_eq!(bed.instances().len(), 2);
}
