//! REST capture, idempotence, discovery and restore against moto, in two regions; HTTP stages
//! captured and restored (moto 5.2.5 has no apigatewayv2 UpdateStage, DeleteAccessLogSettings
//! or stage tags: `scripts/moto_server.py` adds them), customer access logs read in place or
//! left alone.

use std::collections::HashMap;

use aws_sdk_apigateway::types::{MethodSetting, Op, PatchOperation};
use aws_sdk_apigatewayv2::types::ProtocolType;
use aws_types::SdkConfig;
use cq_stage_logging::{
    discover, reconcile, rest_execution_log_group, restore_all, Action, ApiType, CaptureSettings,
    Clients, StageStatus, ADDED_SETTING_TAG, PREVIOUS_LOGGING_TAG,
};
use cq_test_support::MotoServer;

const REGIONS: [&str; 2] = ["us-east-1", "eu-west-1"];
const OUR_ROLE: &str = "arn:aws:iam::123456789012:role/cequence-apigw-cloudwatch";
const CUSTOMER_ROLE: &str = "arn:aws:iam::123456789012:role/customer-apigw-logs";
const CUSTOMER_GROUP: &str = "customer-access-logs";
const CUSTOMER_REST_FORMAT: &str = "$context.identity.sourceIp $context.requestId $context.status";

fn patch(path: &str, value: &str) -> PatchOperation {
    PatchOperation::builder()
        .op(Op::Replace)
        .path(path)
        .value(value)
        .build()
}

/// A REST API with GET /pets (MOCK integration), one deployment and stages `dev` and `prod`.
async fn rest_api(gw: &aws_sdk_apigateway::Client, name: &str) -> String {
    cq_test_support::seed::rest_api(gw, name, &["dev", "prod"]).await
}

/// One stage with the customer's own method settings and access logging.
async fn customer_settings(config: &SdkConfig, gw: &aws_sdk_apigateway::Client, api: &str) {
    let logs = aws_sdk_cloudwatchlogs::Client::new(config);
    logs.create_log_group()
        .log_group_name(CUSTOMER_GROUP)
        .send()
        .await
        .unwrap();
    logs.put_retention_policy()
        .log_group_name(CUSTOMER_GROUP)
        .retention_in_days(30)
        .send()
        .await
        .unwrap();
    let region = config.region().unwrap().to_string();
    gw.update_stage()
        .rest_api_id(api)
        .stage_name("prod")
        .patch_operations(patch("/*/*/logging/loglevel", "ERROR"))
        .patch_operations(patch("/*/*/metrics/enabled", "true"))
        .patch_operations(patch(
            "/accessLogSettings/destinationArn",
            &format!("arn:aws:logs:{region}:123456789012:log-group:{CUSTOMER_GROUP}"),
        ))
        .patch_operations(patch("/accessLogSettings/format", CUSTOMER_REST_FORMAT))
        .send()
        .await
        .unwrap();
}

fn http_json_format() -> String {
    cq_stage_logging::access_log_format()
}

/// HTTP API with a `$default` stage, a stage whose customer JSON access logs are compatible
/// and one whose CLF access logs are not; plus a WebSocket API that must be ignored.
async fn http_apis(config: &SdkConfig) -> String {
    let v2 = aws_sdk_apigatewayv2::Client::new(config);
    let region = config.region().unwrap().to_string();
    let dest = format!("arn:aws:logs:{region}:123456789012:log-group:customer-http-json");
    let id = cq_test_support::seed::http_api(
        &v2,
        "orders-http",
        &dest,
        &[
            ("$default", None),
            ("json", Some(http_json_format())),
            (
                "clf",
                Some("$context.requestId $context.status".to_string()),
            ),
        ],
    )
    .await;
    let ws = v2
        .create_api()
        .name("chat")
        .protocol_type(ProtocolType::Websocket)
        .route_selection_expression("$request.body.action")
        .send()
        .await
        .unwrap();
    v2.create_stage()
        .api_id(ws.api_id().unwrap())
        .stage_name("live")
        .send()
        .await
        .unwrap();
    id
}

#[derive(Debug, PartialEq)]
struct StageSnapshot {
    method_settings: HashMap<String, MethodSetting>,
    access_log: Option<(Option<String>, Option<String>)>,
    tags: HashMap<String, String>,
}

async fn snapshot(gw: &aws_sdk_apigateway::Client, api: &str, stage: &str) -> StageSnapshot {
    let s = gw
        .get_stage()
        .rest_api_id(api)
        .stage_name(stage)
        .send()
        .await
        .unwrap();
    StageSnapshot {
        method_settings: s.method_settings().cloned().unwrap_or_default(),
        access_log: s.access_log_settings().map(|a| {
            (
                a.destination_arn().map(str::to_string),
                a.format().map(str::to_string),
            )
        }),
        tags: s.tags().cloned().unwrap_or_default(),
    }
}

async fn retention(config: &SdkConfig, group: &str) -> Option<Option<i32>> {
    let logs = aws_sdk_cloudwatchlogs::Client::new(config);
    let out = logs
        .describe_log_groups()
        .log_group_name_prefix(group)
        .send()
        .await
        .unwrap();
    out.log_groups()
        .iter()
        .find(|g| g.log_group_name() == Some(group))
        .map(|g| g.retention_in_days())
}

struct Region {
    config: SdkConfig,
    gw: aws_sdk_apigateway::Client,
    rest: Vec<String>,
    http: String,
    before: HashMap<(String, String), StageSnapshot>,
}

#[tokio::test]
async fn rest_capture_is_idempotent_and_restores_exactly_in_two_regions() {
    let moto = MotoServer::start();
    let settings = CaptureSettings {
        cloudwatch_role_arn: Some(OUR_ROLE.to_string()),
        ..CaptureSettings::default()
    };
    let mut regions = Vec::new();
    for (i, region) in REGIONS.iter().enumerate() {
        let config = moto.sdk_config(region).await;
        let gw = aws_sdk_apigateway::Client::new(&config);
        let mut rest = Vec::new();
        for n in 0..3 {
            rest.push(rest_api(&gw, &format!("pets-{region}-{n}")).await);
        }
        if i == 0 {
            customer_settings(&config, &gw, &rest[0]).await;
        } else {
            // The second region's account already has the customer's role: it is kept.
            gw.update_account()
                .patch_operations(patch("/cloudwatchRoleArn", CUSTOMER_ROLE))
                .send()
                .await
                .unwrap();
        }
        let http = http_apis(&config).await;
        let mut before = HashMap::new();
        for api in &rest {
            for stage in ["dev", "prod"] {
                before.insert(
                    (api.clone(), stage.to_string()),
                    snapshot(&gw, api, stage).await,
                );
            }
        }
        regions.push(Region {
            config,
            gw,
            rest,
            http,
            before,
        });
    }

    // --- first reconcile: every REST stage captured ---
    for (i, r) in regions.iter().enumerate() {
        let clients = Clients::new(&r.config);
        let report = reconcile(&clients, &settings).await;
        assert_eq!(report.failed(), 0, "{report:#?}");
        let rest: Vec<_> = report
            .outcomes
            .iter()
            .filter(|o| o.stage.api_type == ApiType::Rest)
            .collect();
        assert_eq!(rest.len(), 6);
        // The exact calls, for the record (`cargo test -- --nocapture` shows them).
        println!("region {i} account calls: {:?}", report.account_calls);
        println!(
            "first apply, stage {}/{}: {:?}",
            rest[0].stage.api_id, rest[0].stage.stage, rest[0].calls
        );
        for o in &rest {
            assert_eq!(o.action, Action::Captured, "{o:#?}");
            assert!(o.stage.captured);
            assert_eq!(
                o.stage.log_group.as_deref(),
                Some(rest_execution_log_group(&o.stage.api_id, &o.stage.stage).as_str())
            );
        }
        assert_eq!(report.changed(), 6);
        let role_updates: Vec<_> = report
            .account_calls
            .iter()
            .filter(|c| c.contains("UpdateAccount"))
            .collect();
        let account = r.gw.get_account().send().await.unwrap();
        if i == 0 {
            assert_eq!(role_updates.len(), 1);
            assert_eq!(account.cloudwatch_role_arn(), Some(OUR_ROLE));
        } else {
            assert!(
                role_updates.is_empty(),
                "the customer's role is never replaced"
            );
            assert_eq!(account.cloudwatch_role_arn(), Some(CUSTOMER_ROLE));
        }
        for api in &r.rest {
            for stage in ["dev", "prod"] {
                let now = snapshot(&r.gw, api, stage).await;
                let all = &now.method_settings["*/*"];
                assert_eq!(all.logging_level(), Some("INFO"));
                assert!(all.data_trace_enabled());
                let was = &r.before[&(api.clone(), stage.to_string())];
                let tag = now
                    .tags
                    .get(PREVIOUS_LOGGING_TAG)
                    .expect("previous-settings tag");
                if was.method_settings.contains_key("*/*") {
                    assert_eq!(tag, "v1 rest loglevel=ERROR datatrace=false");
                    assert!(all.metrics_enabled(), "the customer's other settings stay");
                    assert!(!now.tags.contains_key(ADDED_SETTING_TAG));
                } else {
                    assert_eq!(tag, "v1 rest none");
                    let added = now.tags.get(ADDED_SETTING_TAG).expect("added-setting tag");
                    assert!(added.starts_with("v1 ") && added.len() == 19, "{added}");
                }
                assert_eq!(now.access_log, was.access_log, "access logs untouched");
                let group = rest_execution_log_group(api, stage);
                assert_eq!(retention(&r.config, &group).await, Some(Some(7)), "{group}");
            }
        }
        // HTTP: customer JSON read in place, CLF and $default left alone, WebSocket ignored.
        let http: HashMap<&str, _> = report
            .outcomes
            .iter()
            .filter(|o| o.stage.api_type == ApiType::Http)
            .map(|o| (o.stage.stage.as_str(), o))
            .collect();
        assert_eq!(http.len(), 3, "{http:#?}");
        assert_eq!(http["json"].action, Action::Unchanged);
        assert!(http["json"].stage.captured);
        assert_eq!(
            http["json"].stage.log_group.as_deref(),
            Some("customer-http-json")
        );
        assert_eq!(http["clf"].action, Action::Skipped);
        assert!(!http["clf"].stage.captured);
        assert!(http["clf"]
            .stage
            .reason
            .as_deref()
            .unwrap()
            .contains("not JSON"));
        assert_eq!(http["$default"].action, Action::Skipped);
        assert!(http.values().all(|o| o.stage.api_id == r.http));
    }
    // The customer's log group keeps its retention.
    assert_eq!(
        retention(&regions[0].config, CUSTOMER_GROUP).await,
        Some(Some(30))
    );

    // --- second reconcile: nothing to change, no mutating call ---
    for r in &regions {
        let report = reconcile(&Clients::new(&r.config), &settings).await;
        assert_eq!(report.failed(), 0, "{report:#?}");
        assert_eq!(report.changed(), 0);
        assert!(
            report.mutating_calls().is_empty(),
            "{:?}",
            report.mutating_calls()
        );
        println!(
            "repeated apply: {} calls in all, {} mutating: {:?}",
            report.account_calls.len()
                + report.outcomes.iter().map(|o| o.calls.len()).sum::<usize>(),
            report.mutating_calls().len(),
            report.outcomes.first().map(|o| &o.calls)
        );
        for o in report
            .outcomes
            .iter()
            .filter(|o| o.stage.api_type == ApiType::Rest)
        {
            assert_eq!(o.action, Action::Unchanged);
            assert!(!o.calls.is_empty(), "the read calls are listed");
        }
        assert!(report
            .account_calls
            .iter()
            .any(|c| c == "apigateway:GetAccount"));
    }

    // --- discover: captured, with the log group to read ---
    for r in &regions {
        let stages = discover(&Clients::new(&r.config)).await.unwrap();
        let rest: Vec<&StageStatus> = stages
            .iter()
            .filter(|s| s.api_type == ApiType::Rest)
            .collect();
        assert_eq!(rest.len(), 6);
        assert!(rest.iter().all(|s| s.captured && s.log_group.is_some()));
        let json = stages.iter().find(|s| s.stage == "json").unwrap();
        assert!(json.captured);
        let default = stages.iter().find(|s| s.stage == "$default").unwrap();
        assert!(!default.captured);
        assert!(default.reason.as_deref().unwrap().contains("$default"));
    }

    // Meanwhile the customer adds throttling to the `*/*` override we added on one stage.
    let customer_changed = (regions[0].rest[0].clone(), "dev");
    assert!(
        !regions[0].before[&(customer_changed.0.clone(), "dev".to_string())]
            .method_settings
            .contains_key("*/*")
    );
    regions[0]
        .gw
        .update_stage()
        .rest_api_id(&customer_changed.0)
        .stage_name("dev")
        .patch_operations(patch("/*/*/throttling/rateLimit", "50"))
        .send()
        .await
        .unwrap();

    // --- restore_all: the original settings are back, tags gone ---
    for (i, r) in regions.iter().enumerate() {
        let report = restore_all(&Clients::new(&r.config)).await;
        assert_eq!(report.failed(), 0, "{report:#?}");
        assert_eq!(report.changed(), 6);
        for api in &r.rest {
            for stage in ["dev", "prod"] {
                let now = snapshot(&r.gw, api, stage).await;
                let was = &r.before[&(api.clone(), stage.to_string())];
                assert!(!now.tags.contains_key(PREVIOUS_LOGGING_TAG));
                assert!(!now.tags.contains_key(ADDED_SETTING_TAG));
                assert_eq!(
                    now.access_log, was.access_log,
                    "customer access logs intact"
                );
                if i == 0 && (api, stage) == (&customer_changed.0, customer_changed.1) {
                    // The override is the customer's now: only our logging is taken back.
                    let m = &now.method_settings["*/*"];
                    assert_eq!(m.throttling_rate_limit(), 50.0);
                    assert_eq!(m.logging_level(), Some("OFF"));
                    assert!(!m.data_trace_enabled());
                } else {
                    // With no override before, the one we added (unchanged) is removed.
                    assert_eq!(
                        now.method_settings, was.method_settings,
                        "exactly as before"
                    );
                }
                // Log groups hold data: restore keeps them.
                let group = rest_execution_log_group(api, stage);
                assert!(retention(&r.config, &group).await.is_some());
            }
        }
        let stages = discover(&Clients::new(&r.config)).await.unwrap();
        assert!(stages
            .iter()
            .filter(|s| s.api_type == ApiType::Rest)
            .all(|s| !s.captured));
        // A second restore has nothing left to do.
        let again = restore_all(&Clients::new(&r.config)).await;
        assert!(
            again.mutating_calls().is_empty(),
            "{:?}",
            again.mutating_calls()
        );
    }
}

#[tokio::test]
async fn rest_disabled_restores_and_missing_role_is_reported() {
    let moto = MotoServer::start();
    let config = moto.sdk_config("us-west-2").await;
    let gw = aws_sdk_apigateway::Client::new(&config);
    let api = rest_api(&gw, "pets").await;
    let clients = Clients::new(&config);

    // No role on the account and none given: not captured, with the reason, nothing changed.
    let report = reconcile(&clients, &CaptureSettings::default()).await;
    assert_eq!(report.failed(), 0, "{report:#?}");
    assert!(report.mutating_calls().is_empty());
    for o in &report.outcomes {
        assert_eq!(o.action, Action::Skipped);
        assert!(!o.stage.captured);
        assert!(o
            .stage
            .reason
            .as_deref()
            .unwrap()
            .contains("CloudWatch role"));
    }

    // With a role: captured. Then REST disabled: restored.
    let with_role = CaptureSettings {
        cloudwatch_role_arn: Some(OUR_ROLE.into()),
        ..CaptureSettings::default()
    };
    assert_eq!(reconcile(&clients, &with_role).await.changed(), 2);
    let disabled = CaptureSettings {
        rest_enabled: false,
        ..with_role
    };
    let report = reconcile(&clients, &disabled).await;
    assert_eq!(report.failed(), 0, "{report:#?}");
    assert!(report.outcomes.iter().all(|o| o.action == Action::Restored));
    let now = snapshot(&gw, &api, "dev").await;
    assert!(!now.tags.contains_key(PREVIOUS_LOGGING_TAG));
}

/// A stack deleted with its role leaves the account naming a role that no longer exists: REST
/// execution logs would never be written while every stage looks captured. A role under our
/// IAM path is replaced by the current stack's; a customer's role is never touched.
#[tokio::test]
async fn a_role_left_by_an_earlier_stack_is_replaced_a_customers_is_kept() {
    let moto = MotoServer::start();
    let dangling = format!(
        "arn:aws:iam::123456789012:role{}StackSet-old-ApiGatewayCloudWatchRole-GONE",
        cq_stage_logging::OUR_ROLE_PATH
    );
    let current = format!(
        "arn:aws:iam::123456789012:role{}StackSet-new-ApiGatewayCloudWatchRole-NOW",
        cq_stage_logging::OUR_ROLE_PATH
    );
    let settings = CaptureSettings {
        cloudwatch_role_arn: Some(current.clone()),
        ..CaptureSettings::default()
    };
    for (region, before, after) in [
        ("us-east-1", dangling.as_str(), current.as_str()),
        ("eu-west-1", CUSTOMER_ROLE, CUSTOMER_ROLE),
    ] {
        let config = moto.sdk_config(region).await;
        let gw = aws_sdk_apigateway::Client::new(&config);
        rest_api(&gw, &format!("orders-{region}")).await;
        gw.update_account()
            .patch_operations(patch("/cloudwatchRoleArn", before))
            .send()
            .await
            .unwrap();
        let report = reconcile(&Clients::new(&config), &settings).await;
        assert_eq!(report.failed(), 0, "{report:#?}");
        let account = gw.get_account().send().await.unwrap();
        assert_eq!(account.cloudwatch_role_arn(), Some(after), "{region}");
        // Run again: nothing more to change on the account.
        let again = reconcile(&Clients::new(&config), &settings).await;
        assert!(
            !again
                .account_calls
                .iter()
                .any(|c| c.contains("UpdateAccount")),
            "{:?}",
            again.account_calls
        );
    }
}

/// HTTP capture and restore end to end on moto (its missing apigatewayv2 UpdateStage,
/// DeleteAccessLogSettings and stage tags are added by `scripts/moto_server.py`): a stage
/// without access logs gets ours and a record, a re-run changes nothing, `$default` only when
/// asked, and a restore leaves every stage as it was, customer stages never touched.
#[tokio::test]
async fn http_capture_sets_our_access_log_and_restore_takes_exactly_it_away() {
    let moto = MotoServer::start();
    let config = moto.sdk_config("eu-west-1").await;
    let v2 = aws_sdk_apigatewayv2::Client::new(&config);
    let dest = "arn:aws:logs:eu-west-1:123456789012:log-group:customer-http-json";
    let api = cq_test_support::seed::http_api(
        &v2,
        "orders-http",
        dest,
        &[
            ("$default", None),
            ("prod", None),
            ("json", Some(http_json_format())),
            (
                "clf",
                Some("$context.requestId $context.status".to_string()),
            ),
        ],
    )
    .await;
    let stages = ["$default", "prod", "json", "clf"];
    let mut before = HashMap::new();
    for s in stages {
        before.insert(s, cq_test_support::seed::http_stage(&v2, &api, s).await);
    }
    let clients = Clients::new(&config);
    let by_stage = |report: &cq_stage_logging::Report| -> HashMap<String, (Action, bool)> {
        report
            .outcomes
            .iter()
            .filter(|o| o.stage.api_type == ApiType::Http)
            .map(|o| (o.stage.stage.clone(), (o.action, o.stage.captured)))
            .collect()
    };

    let settings = CaptureSettings::default();
    let report = reconcile(&clients, &settings).await;
    assert_eq!(report.failed(), 0, "{report:#?}");
    let got = by_stage(&report);
    assert_eq!(got["prod"], (Action::Captured, true), "{report:#?}");
    assert_eq!(got["json"], (Action::Unchanged, true));
    assert_eq!(got["clf"], (Action::Skipped, false));
    assert_eq!(got["$default"], (Action::Skipped, false));

    let own = cq_stage_logging::http_access_log_group(&api, "prod");
    let (log, tags) = cq_test_support::seed::http_stage(&v2, &api, "prod").await;
    let (destination, format) = log.expect("our access log is set");
    assert!(
        destination.starts_with("arn:aws:logs:eu-west-1:123456789012:log-group:")
            && destination
                .trim_end_matches(":*")
                .ends_with(&format!(":{own}")),
        "{destination}"
    );
    assert_eq!(format, cq_stage_logging::access_log_format());
    assert_eq!(
        tags.get(PREVIOUS_LOGGING_TAG).map(String::as_str),
        Some("v1 http none")
    );
    assert!(retention(&config, &own).await.is_some(), "the group exists");
    for s in ["$default", "json", "clf"] {
        assert_eq!(
            cq_test_support::seed::http_stage(&v2, &api, s).await,
            before[s],
            "{s} untouched"
        );
    }

    // A re-run finds prod captured and makes no call that changes anything.
    let report = reconcile(&clients, &settings).await;
    assert_eq!(report.changed(), 0, "{report:#?}");
    assert_eq!(by_stage(&report)["prod"], (Action::Unchanged, true));
    let prod = report
        .outcomes
        .iter()
        .find(|o| o.stage.stage == "prod")
        .unwrap();
    assert!(
        prod.calls
            .iter()
            .all(|c| !c.contains("UpdateStage") && !c.contains("TagResource")),
        "{:?}",
        prod.calls
    );

    // Asked to, `$default` is captured too.
    let with_default = CaptureSettings {
        include_http_default_stage: true,
        ..CaptureSettings::default()
    };
    let report = reconcile(&clients, &with_default).await;
    assert_eq!(by_stage(&report)["$default"], (Action::Captured, true));

    // Discovery agrees before the restore.
    let found: Vec<StageStatus> = discover(&clients).await.unwrap();
    let captured: Vec<&str> = found
        .iter()
        .filter(|s| s.api_type == ApiType::Http && s.captured)
        .map(|s| s.stage.as_str())
        .collect();
    assert_eq!(captured.len(), 3, "{found:#?}");

    let report = restore_all(&clients).await;
    assert_eq!(report.failed(), 0, "{report:#?}");
    let got = by_stage(&report);
    assert_eq!(got["prod"].0, Action::Restored);
    assert_eq!(got["$default"].0, Action::Restored);
    for s in stages {
        assert_eq!(
            cq_test_support::seed::http_stage(&v2, &api, s).await,
            before[s],
            "{s} as before"
        );
    }
    // The group holds data: a restore never deletes it.
    assert!(
        retention(&config, &own).await.is_some(),
        "the group is kept"
    );
    // A second restore has nothing left to do.
    let report = restore_all(&clients).await;
    assert_eq!(report.changed(), 0, "{report:#?}");
}

/// A record of the customer's own access logging (as an earlier version that replaced it wrote)
/// is put back exactly when HTTP capture is turned off, and the record is removed.
#[tokio::test]
async fn http_restore_puts_back_recorded_customer_settings() {
    let moto = MotoServer::start();
    let config = moto.sdk_config("us-east-1").await;
    let v2 = aws_sdk_apigatewayv2::Client::new(&config);
    let api =
        cq_test_support::seed::http_api(&v2, "orders-http", "unused", &[("prod", None)]).await;
    let clients = Clients::new(&config);
    let report = reconcile(&clients, &CaptureSettings::default()).await;
    assert_eq!(report.changed(), 1, "{report:#?}");

    let customer_dest = "arn:aws:logs:us-east-1:123456789012:log-group:customer-http";
    let customer_format = "$context.requestId $context.status";
    let record = cq_stage_logging::PreviousLogging::Http {
        access_log: Some(cq_stage_logging::AccessLog {
            destination_arn: customer_dest.to_string(),
            format: customer_format.to_string(),
        }),
    }
    .encode()
    .unwrap();
    let arn = cq_stage_logging::http_stage_arn("aws", "us-east-1", &api, "prod");
    v2.tag_resource()
        .resource_arn(&arn)
        .tags(PREVIOUS_LOGGING_TAG, record)
        .send()
        .await
        .unwrap();

    let off = CaptureSettings {
        http_enabled: false,
        ..CaptureSettings::default()
    };
    let report = reconcile(&clients, &off).await;
    assert_eq!(report.failed(), 0, "{report:#?}");
    let prod = &report.outcomes[0];
    assert_eq!(prod.action, Action::Restored);
    // The customer's CLF format is not readable by the forwarder: not captured afterwards.
    assert!(!prod.stage.captured);
    let (log, tags) = cq_test_support::seed::http_stage(&v2, &api, "prod").await;
    assert_eq!(
        log,
        Some((customer_dest.to_string(), customer_format.to_string()))
    );
    assert!(!tags.contains_key(PREVIOUS_LOGGING_TAG), "{tags:?}");
}
