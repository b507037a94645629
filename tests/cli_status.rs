//! `cq-apigw status` against moto, in text and JSON, secret masked.

use crate::common;

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

    let json = common::stdout_ok(&mut bed.cli(&["status", "--output", "json"]));
    common::assert_matches_schema(&json, "status");
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

    let out = bed.cli(&["status", "--output", "json"]).output().unwrap();
    assert!(out.status.success());
    let json = stdout(&out);
    assert!(!json.contains(SECRET));
    common::assert_matches_schema(&json, "status");
    let v: Value = serde_json::from_str(&json).expect("one JSON document");
    assert_eq!(v["account"], ACCOUNT);
    assert_eq!(v["stackset"]["status"], "ACTIVE");
    let params = v["stackset"]["parameters"].as_array().unwrap();
    let secret = params
        .iter()
        .find(|p| p[0] == "CequenceClientSecret")
        .expect("secret parameter listed");
    assert_eq!(secret[1], "****");
    let instances = v["instances"].as_array().unwrap();
    assert_eq!(instances.len(), 2);
    assert!(instances.iter().all(|i| i["status"] == "CURRENT"), "{v}");
    let buckets = v["buckets"].as_array().unwrap();
    assert_eq!(buckets.len(), 2);
    assert_eq!(buckets[0]["artifact_keys"].as_array().unwrap().len(), 2);

    // The text says the same as the JSON, line by line.
    let out = bed.cli(&["status"]).output().unwrap();
    assert!(out.status.success(), "{}", common::stderr(&out));
    let text = stdout(&out);
    assert!(!text.contains(SECRET), "{text}");
    let lines: Vec<Vec<&str>> = text
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    let has_line = |words: &[&str]| lines.iter().any(|l| l.as_slice() == words);
    let starts_line = |words: &[&str]| lines.iter().any(|l| l.starts_with(words));
    assert!(
        text.starts_with(&format!("Account {ACCOUNT} · home region us-east-1\n")),
        "{text}"
    );
    assert!(
        starts_line(&["StackSet", "aws-cequence-apigw-integration:", "ACTIVE"]),
        "{text}"
    );
    let template = v["stackset"]["template_key"].as_str().unwrap();
    assert!(template.starts_with("cloudformation/"), "{v}");
    assert!(has_line(&["template:", template]), "{text}");
    for p in params {
        let (k, val) = (p[0].as_str().unwrap(), p[1].as_str().unwrap());
        let words: Vec<&str> = std::iter::once(k).chain(val.split_whitespace()).collect();
        assert!(
            has_line(&words),
            "parameter {k}={val} not shown as a row: {text}"
        );
    }
    assert!(
        starts_line(&["ACCOUNT", "REGION", "STATUS", "DETAILED", "REASON"]),
        "{text}"
    );
    for i in instances {
        let row = [
            i["account"].as_str().unwrap(),
            i["region"].as_str().unwrap(),
            i["status"].as_str().unwrap(),
        ];
        assert!(starts_line(&row), "instance {row:?} not shown: {text}");
    }
    for b in buckets {
        let name = b["bucket"].as_str().unwrap();
        let region = format!("({})", b["region"].as_str().unwrap());
        let at = lines
            .iter()
            .position(|l| l.as_slice() == [name, region.as_str()])
            .unwrap_or_else(|| panic!("bucket {name} not shown: {text}"));
        for (n, key) in b["artifact_keys"].as_array().unwrap().iter().enumerate() {
            assert_eq!(lines[at + 1 + n], [key.as_str().unwrap()], "{text}");
        }
    }
    assert!(buckets.iter().any(|b| b["bucket"] == bucket("us-east-1")));
    let mode = v["ingestion"].as_str().unwrap();
    assert!(starts_line(&["Ingestion:", mode]), "{text}");
}

/// A role and a function for subscription filters to deliver to (moto stores the function but
/// never runs it: subscription filters are tested for their lifecycle, not their delivery).
const DESTINATION_TEMPLATE: &str = r#"AWSTemplateFormatVersion: "2010-09-09"
Resources:
  Role:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Version: "2012-10-17"
        Statement:
          - Effect: Allow
            Principal: { Service: lambda.amazonaws.com }
            Action: sts:AssumeRole
  Forwarder:
    Type: AWS::Lambda::Function
    Properties:
      Runtime: provided.al2023
      Handler: bootstrap
      Role: !GetAtt Role.Arn
      Code:
        ZipFile: "not run"
Outputs:
  FunctionArn:
    Value: !GetAtt Forwarder.Arn
"#;

#[test]
fn status_shows_pushed_and_polled_groups_and_why() {
    use aws_sdk_apigateway::types::{Op, PatchOperation};
    use cq_stage_logging::{rest_execution_log_group, PushDestination, SubscribeOutcome};

    let mut env = common::self_managed_env();
    env.push(("cequence_ingestion", "push".into()));
    let bed = Bed::with_env(&env);
    let config = bed.block_on(bed.moto.sdk_config("us-east-1"));
    let gw = aws_sdk_apigateway::Client::new(&config);
    bed.block_on(
        gw.update_account()
            .patch_operations(
                PatchOperation::builder()
                    .op(Op::Replace)
                    .path("/cloudwatchRoleArn")
                    .value(format!("arn:aws:iam::{ACCOUNT}:role/apigw-cloudwatch"))
                    .build(),
            )
            .send(),
    )
    .unwrap();
    let api = bed.block_on(cq_test_support::seed::rest_api(
        &gw,
        "pets",
        &["dev", "prod"],
    ));
    let out = bed.cli(&["enable", "--yes"]).output().unwrap();
    assert!(out.status.success(), "{}", common::stderr(&out));

    // What the forwarder does in push mode: subscribe `dev` to itself; `prod`'s two slots are
    // already the customer's, so it stays polled.
    let cfn = bed.cfn();
    bed.block_on(
        cfn.create_stack()
            .stack_name("destination")
            .template_body(DESTINATION_TEMPLATE)
            .send(),
    )
    .unwrap();
    let function_arn = bed
        .block_on(cfn.describe_stacks().stack_name("destination").send())
        .unwrap()
        .stacks()[0]
        .outputs()
        .iter()
        .find(|o| o.output_key() == Some("FunctionArn"))
        .and_then(|o| o.output_value())
        .unwrap()
        .to_string();
    let clients = cq_stage_logging::Clients::new(&config);
    let dev = rest_execution_log_group(&api, "dev");
    let prod = rest_execution_log_group(&api, "prod");
    let lambda = PushDestination {
        arn: function_arn.clone(),
        role_arn: None,
    };
    let subscribed = bed
        .block_on(cq_stage_logging::subscribe(
            &clients,
            &dev,
            &lambda,
            std::time::Duration::ZERO,
        ))
        .unwrap();
    assert!(matches!(subscribed, SubscribeOutcome::Subscribed { .. }));
    let logs = aws_sdk_cloudwatchlogs::Client::new(&config);
    for name in ["siem", "datadog"] {
        bed.block_on(
            logs.put_subscription_filter()
                .log_group_name(&prod)
                .filter_name(name)
                .filter_pattern("")
                .destination_arn(&function_arn)
                .send(),
        )
        .unwrap();
    }
    let refused = bed
        .block_on(cq_stage_logging::subscribe(
            &clients,
            &prod,
            &lambda,
            std::time::Duration::ZERO,
        ))
        .unwrap();
    assert!(
        matches!(refused, SubscribeOutcome::NoFreeSlot { .. }),
        "{refused:?}"
    );

    let out = bed
        .cli(&["status", "--regions", "us-east-1"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", common::stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("Ingestion: push"), "{text}");
    assert!(
        text.contains("API stages in us-east-1: 2 (2 captured: 1 pushed, 1 polled)"),
        "{text}"
    );
    let row = |stage: &str| {
        text.lines()
            .find(|l| l.contains(&format!(" {stage} ")) && l.contains(&api))
            .unwrap_or_else(|| panic!("no {stage} row in {text}"))
            .to_string()
    };
    assert!(
        row("dev").contains(&format!("pushed to {function_arn} since ")),
        "{text}"
    );
    assert!(
        row("prod").contains("polled: no free subscription filter slot (held by datadog, siem)"),
        "{text}"
    );

    let out = bed
        .cli(&["status", "--regions", "us-east-1", "--output", "json"])
        .output()
        .unwrap();
    assert!(out.status.success());
    common::assert_matches_schema(&stdout(&out), "status");
    let v: Value = serde_json::from_str(&stdout(&out)).expect("one JSON document");
    assert_eq!(v["ingestion"], "push");
    let stages = v["stages"][0]["stages"].as_array().unwrap();
    let by_stage = |name: &str| {
        stages
            .iter()
            .find(|s| s["stage"] == name)
            .unwrap_or_else(|| panic!("{name} in {stages:?}"))
    };
    let dev_json = &by_stage("dev")["ingestion"];
    assert_eq!(dev_json["delivery"], "pushed");
    assert_eq!(dev_json["destination_arn"], function_arn);
    assert!(dev_json["since_ms"].as_i64().unwrap() > 0);
    let prod_json = &by_stage("prod")["ingestion"];
    assert_eq!(prod_json["delivery"], "polled");
    assert_eq!(prod_json["reason"]["why"], "no_free_slot");
    assert_eq!(
        prod_json["reason"]["others"],
        serde_json::json!(["datadog", "siem"])
    );
}
