//! Stage logging through the CLI against moto: `enable` captures every REST stage of the
//! caller's account in both regions and records the customer's settings, `status` shows each
//! stage, a second `enable` changes nothing, `disable` and `disable --destroy` put the
//! customer's settings back. HTTP stages too (moto's missing apigatewayv2 calls are added by
//! `scripts/moto_server.py`); a stage API Gateway refuses (through the fault proxy) shows how
//! a failed stage is reported without stopping the rest.

use crate::common;

use std::collections::HashMap;

use aws_sdk_apigateway::types::{Op, PatchOperation};
use common::{stderr, stdout, Bed, ACCOUNT};
use cq_stage_logging::{access_log_format, rest_execution_log_group, PREVIOUS_LOGGING_TAG};
use serde_json::Value;

const REGIONS: [&str; 2] = ["us-east-1", "eu-west-1"];
const CLOUDWATCH_ROLE: &str = "arn:aws:iam::123456789012:role/customer-apigw-cloudwatch";
const CUSTOMER_HTTP_GROUP: &str = "customer-http-json";

fn replace(path: &str, value: &str) -> PatchOperation {
    PatchOperation::builder()
        .op(Op::Replace)
        .path(path)
        .value(value)
        .build()
}

fn apigw(bed: &Bed, region: &str) -> aws_sdk_apigateway::Client {
    aws_sdk_apigateway::Client::new(&bed.block_on(bed.moto.sdk_config(region)))
}

fn apigw2(bed: &Bed, region: &str) -> aws_sdk_apigatewayv2::Client {
    aws_sdk_apigatewayv2::Client::new(&bed.block_on(bed.moto.sdk_config(region)))
}

/// The account-level CloudWatch role most accounts already have (moto takes the ARN as is).
fn set_account_role(bed: &Bed, region: &str) {
    bed.block_on(
        apigw(bed, region)
            .update_account()
            .patch_operations(replace("/cloudwatchRoleArn", CLOUDWATCH_ROLE))
            .send(),
    )
    .unwrap();
}

/// A REST API with GET /pets (MOCK integration), one deployment and stages `dev` and `prod`.
fn rest_api(bed: &Bed, region: &str, name: &str) -> String {
    let gw = apigw(bed, region);
    bed.block_on(cq_test_support::seed::rest_api(&gw, name, &["dev", "prod"]))
}

/// The customer's own execution logging on one stage: errors only, with metrics.
fn customer_method_settings(bed: &Bed, region: &str, api: &str, stage: &str) {
    bed.block_on(
        apigw(bed, region)
            .update_stage()
            .rest_api_id(api)
            .stage_name(stage)
            .patch_operations(replace("/*/*/logging/loglevel", "ERROR"))
            .patch_operations(replace("/*/*/metrics/enabled", "true"))
            .send(),
    )
    .unwrap();
}

/// An HTTP API whose stages need no UpdateStage: `json` already logs JSON with every field to
/// the customer's group (read in place), `clf` logs in a format the forwarder cannot parse
/// (left alone), `$default` is excluded.
fn http_api_needing_no_change(bed: &Bed, region: &str) -> String {
    let v2 = apigw2(bed, region);
    let dest = format!("arn:aws:logs:{region}:{ACCOUNT}:log-group:{CUSTOMER_HTTP_GROUP}");
    bed.block_on(cq_test_support::seed::http_api(
        &v2,
        "cart-http",
        &dest,
        &[
            ("$default", None),
            ("json", Some(access_log_format())),
            (
                "clf",
                Some("$context.requestId $context.status".to_string()),
            ),
        ],
    ))
}

/// An HTTP API in us-east-1 with one stage and no access logging; its id.
fn unlogged_http_api(bed: &Bed, name: &str, stage: &str) -> String {
    let v2 = apigw2(bed, "us-east-1");
    // No format: the destination is not used.
    bed.block_on(cq_test_support::seed::http_api(
        &v2,
        name,
        "",
        &[(stage, None)],
    ))
}

/// The stage-logging lines of `enable --dry-run --output json`.
fn dry_run_stage_lines(bed: &Bed) -> Vec<String> {
    let plan = run_ok(bed, &["enable", "--yes", "--dry-run", "--output", "json"]);
    common::assert_matches_schema(&plan, "enable");
    let plan: Value = serde_json::from_str(&plan).unwrap();
    plan["stage_logging"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap().to_string())
        .collect()
}

/// `*/*` logging level, data trace and tags of a REST stage.
fn rest_stage(
    bed: &Bed,
    region: &str,
    api: &str,
    stage: &str,
) -> (Option<String>, Option<bool>, HashMap<String, String>) {
    let s = bed
        .block_on(
            apigw(bed, region)
                .get_stage()
                .rest_api_id(api)
                .stage_name(stage)
                .send(),
        )
        .unwrap();
    let all = s.method_settings().and_then(|m| m.get("*/*"));
    (
        all.and_then(|m| m.logging_level().map(String::from)),
        all.map(|m| m.data_trace_enabled()),
        s.tags().cloned().unwrap_or_default(),
    )
}

fn run_ok(bed: &Bed, args: &[&str]) -> String {
    common::stdout_ok(&mut bed.cli(args))
}

/// Every log delivery source in both regions (ours are one per captured REST stage).
fn delivery_sources(bed: &Bed) -> Vec<String> {
    let mut names = Vec::new();
    for region in REGIONS {
        let logs = aws_sdk_cloudwatchlogs::Client::new(&bed.block_on(bed.moto.sdk_config(region)));
        let out = bed
            .block_on(logs.describe_delivery_sources().send())
            .unwrap();
        names.extend(
            out.delivery_sources()
                .iter()
                .filter_map(|d| d.name().map(str::to_string)),
        );
    }
    names
}

/// `status --output json`: region → stages.
fn status_stages(bed: &Bed) -> HashMap<String, Vec<Value>> {
    let json = run_ok(bed, &["status", "--output", "json"]);
    common::assert_matches_schema(&json, "status");
    let doc: Value = serde_json::from_str(&json).unwrap();
    doc["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            assert!(r["error"].is_null(), "{r}");
            (
                r["region"].as_str().unwrap().to_string(),
                r["stages"].as_array().unwrap().clone(),
            )
        })
        .collect()
}

fn find<'a>(stages: &'a [Value], api: &str, stage: &str) -> &'a Value {
    stages
        .iter()
        .find(|s| s["api_id"] == api && s["stage"] == stage)
        .unwrap_or_else(|| panic!("no stage {api}/{stage} in {stages:?}"))
}

/// Every REST stage: (region, api id, stage).
type RestStages = Vec<(&'static str, String, &'static str)>;

fn assert_rest_captured(bed: &Bed, all: &RestStages) {
    for (region, api, stage) in all {
        let (level, trace, _) = rest_stage(bed, region, api, stage);
        assert_eq!(
            (level.as_deref(), trace),
            (Some("INFO"), Some(true)),
            "{region} {api}/{stage}"
        );
    }
}

/// Everything back as before `enable`: the customer's ERROR level, no logging elsewhere, no tag.
fn assert_restored(bed: &Bed, all: &RestStages, customer: &(&str, String, &str)) {
    for (region, api, stage) in all {
        let (level, trace, tags) = rest_stage(bed, region, api, stage);
        assert!(
            !tags.contains_key(PREVIOUS_LOGGING_TAG),
            "{region} {api}/{stage}: {tags:?}"
        );
        assert_ne!(trace, Some(true), "{region} {api}/{stage}");
        let expected = if (*region, api, *stage) == (customer.0, &customer.1, customer.2) {
            "ERROR"
        } else {
            "OFF"
        };
        assert_eq!(
            level.as_deref().unwrap_or("OFF"),
            expected,
            "{region} {api}/{stage}"
        );
    }
}

#[test]
fn enable_captures_rest_stages_and_disable_restores_the_customers_settings() {
    let bed = Bed::new();
    let mut all: RestStages = Vec::new();
    for region in REGIONS {
        set_account_role(&bed, region);
        for name in ["orders", "payments"] {
            let id = rest_api(&bed, region, name);
            for stage in ["dev", "prod"] {
                all.push((region, id.clone(), stage));
            }
        }
    }
    let customer = all
        .iter()
        .find(|(r, _, s)| *r == "us-east-1" && *s == "prod")
        .cloned()
        .unwrap();
    customer_method_settings(&bed, customer.0, &customer.1, customer.2);
    let http = http_api_needing_no_change(&bed, "us-east-1");

    // A dry run lists every REST stage and changes none.
    let plan = run_ok(&bed, &["enable", "--yes", "--dry-run"]);
    for (region, api, stage) in &all {
        let wanted = format!("({api}) stage {stage}: would capture (now: ");
        assert!(
            plan.lines()
                .any(|l| l.contains(&format!("{region} rest ")) && l.contains(&wanted)),
            "{region} {api}/{stage} missing from:\n{plan}"
        );
    }
    assert!(!plan.contains(&format!("({http})")), "{plan}");
    assert_eq!(
        rest_stage(&bed, customer.0, &customer.1, customer.2)
            .0
            .as_deref(),
        Some("ERROR")
    );

    let text = run_ok(&bed, &["enable", "--yes"]);
    assert!(
        text.contains(&format!(
            "stage logging: us-east-1 rest orders ({}) stage prod: captured, logs to {}",
            customer.1,
            rest_execution_log_group(&customer.1, "prod")
        )),
        "{text}"
    );
    assert!(
        text.contains("(full execution logs, events up to 1 MB)"),
        "{text}"
    );
    assert_rest_captured(&bed, &all);
    assert_eq!(delivery_sources(&bed).len(), all.len());
    let (_, _, tags) = rest_stage(&bed, customer.0, &customer.1, customer.2);
    let recorded = tags
        .get(PREVIOUS_LOGGING_TAG)
        .expect("previous settings tag");
    assert!(!recorded.is_empty());

    let stages = status_stages(&bed);
    for (region, api, stage) in &all {
        let s = find(&stages[*region], api, stage);
        assert_eq!(s["captured"], true, "{s}");
        assert_eq!(s["api_type"], "rest");
        assert_eq!(s["log_group"], rest_execution_log_group(api, stage));
        // The default (auto) gives full execution logs where the delivery APIs answer.
        assert_eq!(s["execution_logs"], "full", "{s}");
    }
    // Deployed with the default ingestion (auto): nothing subscribed yet, so every captured
    // group is polled, and says why; uncaptured stages have no ingestion.
    for (region, api, stage) in &all {
        let i = &find(&stages[*region], api, stage)["ingestion"];
        assert_eq!(i["delivery"], "polled", "{i}");
        assert_eq!(i["reason"]["why"], "auto_polling", "{i}");
    }
    let east = &stages["us-east-1"];
    assert!(find(east, &http, "clf")["ingestion"].is_null());
    let json = find(east, &http, "json");
    assert_eq!(json["captured"], true, "{json}");
    assert_eq!(json["log_group"], CUSTOMER_HTTP_GROUP);
    for stage in ["clf", "$default"] {
        let s = find(east, &http, stage);
        assert_eq!(s["captured"], false, "{s}");
        assert!(!s["reason"].as_str().unwrap_or_default().is_empty(), "{s}");
    }
    assert!(find(east, &http, "$default")["reason"]
        .as_str()
        .unwrap()
        .contains("$default"));

    let table = run_ok(&bed, &["status"]);
    assert!(
        table.contains("API stages in us-east-1: 7 (5 captured: 0 pushed, 5 polled)"),
        "{table}"
    );
    assert!(table.contains("LOG GROUP"), "{table}");
    assert!(
        table.contains(&rest_execution_log_group(&customer.1, "prod")),
        "{table}"
    );

    let again = run_ok(&bed, &["enable", "--yes"]);
    assert!(again.contains("nothing to change"), "{again}");
    assert_eq!(
        tags,
        rest_stage(&bed, customer.0, &customer.1, customer.2).2,
        "a second enable must not re-record"
    );

    let off = run_ok(&bed, &["disable", "--yes"]);
    assert!(off.contains("previous logging settings restored"), "{off}");
    assert_restored(&bed, &all, &customer);
    assert!(delivery_sources(&bed).is_empty(), "the deliveries go too");
    let stages = status_stages(&bed);
    for (region, api, stage) in &all {
        assert_eq!(find(&stages[*region], api, stage)["captured"], false);
    }

    // Capture again, then tear everything down: the stages come back as the customer had them.
    let text = run_ok(&bed, &["enable", "--yes"]);
    assert!(text.contains(": captured, logs to "), "{text}");
    assert_rest_captured(&bed, &all);
    let gone = run_ok(&bed, &["disable", "--yes", "--destroy"]);
    assert!(
        gone.contains("previous logging settings restored"),
        "{gone}"
    );
    assert_restored(&bed, &all, &customer);
    assert!(delivery_sources(&bed).is_empty());
    assert!(bed.stackset().is_none());
}

#[test]
fn a_stage_that_cannot_be_changed_fails_the_run_but_not_the_other_stages() {
    let bed = Bed::new();
    set_account_role(&bed, "us-east-1");
    let rest = rest_api(&bed, "us-east-1", "orders");
    let http = unlogged_http_api(&bed, "beta-http", "beta");
    // API Gateway refuses access logging when the caller may not write to CloudWatch Logs;
    // the fault proxy gives that answer to this one stage's UpdateStage, moto does the rest.
    let proxy =
        cq_test_support::fault_proxy::FaultProxy::start(bed.moto.addr().parse().unwrap(), 1);
    proxy.add_rule(
        cq_test_support::fault_proxy::Rule::new(
            "beta-refused",
            cq_test_support::fault_proxy::Action::aws_json_error(
                400,
                "BadRequestException",
                "Insufficient permissions to enable logging",
            ),
        )
        .method("PATCH")
        .path_prefix(&format!("/v2/apis/{http}/stages/beta")),
    );

    // Status shows why the stage is not captured rather than failing.
    let stages = status_stages(&bed);
    let beta = find(&stages["us-east-1"], &http, "beta");
    assert_eq!(beta["captured"], false);
    assert!(
        beta["reason"]
            .as_str()
            .unwrap()
            .contains("access logging is off"),
        "{beta}"
    );
    assert!(stages["eu-west-1"].is_empty());

    let lines = dry_run_stage_lines(&bed);
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert!(lines
        .iter()
        .any(|l| l.contains(&format!("({http}) stage beta: would capture"))));

    let out = bed
        .cli(&["enable", "--yes"])
        .env("AWS_ENDPOINT_URL", proxy.endpoint())
        .output()
        .unwrap();
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}\n{}", stderr(&out));
    assert!(
        text.contains(&format!(
            "stage logging FAILED: us-east-1 http beta-http ({http}) stage beta:"
        )) && text.contains("Insufficient permissions to enable logging"),
        "{text}"
    );
    assert!(
        stderr(&out).contains("stage logging failed"),
        "{}",
        stderr(&out)
    );
    // The other stages and the StackSet were still done.
    for stage in ["dev", "prod"] {
        let (level, trace, _) = rest_stage(&bed, "us-east-1", &rest, stage);
        assert_eq!((level.as_deref(), trace), (Some("INFO"), Some(true)));
    }
    assert!(bed.stackset().is_some());
    assert_eq!(bed.instances().len(), 2);
}

/// Many HTTP APIs have only `$default`: excluded by default (the vendor guide captures named
/// stages, and status says which setting changes that), planned for capture with
/// `cequence_include_http_default_stage=true`.
#[test]
fn the_default_http_stage_is_captured_only_when_included() {
    let bed = Bed::new();
    let http = unlogged_http_api(&bed, "default-only", "$default");

    let stages = status_stages(&bed);
    let default = find(&stages["us-east-1"], &http, "$default");
    assert_eq!(default["captured"], false);
    assert!(
        default["reason"]
            .as_str()
            .unwrap()
            .contains("cequence_include_http_default_stage=true"),
        "{default}"
    );
    assert!(
        !dry_run_stage_lines(&bed).iter().any(|l| l.contains(&http)),
        "excluded by default"
    );

    let mut env = common::self_managed_env();
    env.push(("cequence_include_http_default_stage", "true".to_string()));
    bed.write_env(&env);
    let lines = dry_run_stage_lines(&bed);
    assert!(
        lines
            .iter()
            .any(|l| l.contains(&http) && l.contains("$default")),
        "{lines:?}"
    );

    // Enabled, it is captured with our access log; disabled, it is as it was.
    run_ok(&bed, &["enable", "--yes"]);
    let (log, tags) = http_stage(&bed, &http, "$default");
    assert_eq!(log.map(|(_, f)| f), Some(access_log_format()));
    assert!(tags.contains_key(PREVIOUS_LOGGING_TAG), "{tags:?}");
    assert_eq!(
        find(&status_stages(&bed)["us-east-1"], &http, "$default")["captured"],
        true
    );
    run_ok(&bed, &["disable", "--yes"]);
    assert_eq!(http_stage(&bed, &http, "$default"), (None, HashMap::new()));
}

/// An HTTP stage's access log and tags in us-east-1.
fn http_stage(bed: &Bed, api: &str, stage: &str) -> cq_test_support::seed::HttpStageView {
    bed.block_on(cq_test_support::seed::http_stage(
        &apigw2(bed, "us-east-1"),
        api,
        stage,
    ))
}
