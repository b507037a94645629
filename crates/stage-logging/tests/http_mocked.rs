//! HTTP API capture and restore against mocked clients.
//!
//! Why mocks and not moto: moto 5.2.5 does not implement apigatewayv2 UpdateStage (it answers
//! 500) nor DeleteAccessLogSettings, and it cannot tag HTTP stages, so the apply/restore path of
//! HTTP stages cannot run against it. Discovery of HTTP stages is covered against moto in
//! `moto_stages.rs`.

use aws_sdk_apigateway::operation::get_rest_apis::GetRestApisOutput;
use aws_sdk_apigatewayv2::operation::delete_access_log_settings::DeleteAccessLogSettingsOutput;
use aws_sdk_apigatewayv2::operation::get_apis::GetApisOutput;
use aws_sdk_apigatewayv2::operation::get_stages::GetStagesOutput;
use aws_sdk_apigatewayv2::operation::tag_resource::TagResourceOutput;
use aws_sdk_apigatewayv2::operation::untag_resource::UntagResourceOutput;
use aws_sdk_apigatewayv2::operation::update_stage::UpdateStageOutput;
use aws_sdk_apigatewayv2::types::{AccessLogSettings, Api, ProtocolType, Stage};
use aws_sdk_cloudwatchlogs::operation::create_log_group::CreateLogGroupOutput;
use aws_sdk_cloudwatchlogs::operation::describe_log_groups::DescribeLogGroupsOutput;
use aws_sdk_cloudwatchlogs::operation::describe_subscription_filters::DescribeSubscriptionFiltersOutput;
use aws_sdk_cloudwatchlogs::operation::put_retention_policy::PutRetentionPolicyOutput;
use aws_sdk_cloudwatchlogs::types::LogGroup;
use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};
use cq_stage_logging::{
    access_log_format, http_access_log_group, reconcile, restore_all, Action, CaptureSettings,
    Clients, PREVIOUS_LOGGING_TAG,
};

const API: &str = "h1";
const STAGE_ARN: &str = "arn:aws:apigateway:us-east-1::/apis/h1/stages/prod";

fn group_arn() -> String {
    format!(
        "arn:aws:logs:us-east-1:123456789012:log-group:{}",
        http_access_log_group(API, "prod")
    )
}

fn no_rest_apis() -> Rule {
    mock!(aws_sdk_apigateway::Client::get_rest_apis)
        .then_output(|| GetRestApisOutput::builder().build())
}

/// One HTTP API and one WebSocket API (whose stages must never be read).
fn apis() -> Rule {
    mock!(aws_sdk_apigatewayv2::Client::get_apis).then_output(|| {
        GetApisOutput::builder()
            .items(
                Api::builder()
                    .api_id(API)
                    .name("orders")
                    .protocol_type(ProtocolType::Http)
                    .route_selection_expression("$request.method $request.path")
                    .build(),
            )
            .items(
                Api::builder()
                    .api_id("ws1")
                    .name("chat")
                    .protocol_type(ProtocolType::Websocket)
                    .route_selection_expression("$request.body.action")
                    .build(),
            )
            .build()
    })
}

fn websocket_stages() -> Rule {
    mock!(aws_sdk_apigatewayv2::Client::get_stages)
        .match_requests(|r| r.api_id() == Some("ws1"))
        .then_output(|| GetStagesOutput::builder().build())
}

/// A restore looks for our subscription filter on the stage's groups; these have none.
fn no_subscription_filters() -> Rule {
    mock!(aws_sdk_cloudwatchlogs::Client::describe_subscription_filters)
        .then_output(|| DescribeSubscriptionFiltersOutput::builder().build())
}

fn clients(rest: &[&Rule], v2: &[&Rule], logs: &[&Rule]) -> Clients {
    Clients::from_parts(
        mock_client!(aws_sdk_apigateway, RuleMode::MatchAny, rest),
        mock_client!(aws_sdk_apigatewayv2, RuleMode::MatchAny, v2),
        mock_client!(aws_sdk_cloudwatchlogs, RuleMode::MatchAny, logs),
    )
}

#[tokio::test]
async fn http_stage_without_access_logs_is_captured_then_restored() {
    // --- capture ---
    let rest_apis = no_rest_apis();
    let get_apis = apis();
    let ws = websocket_stages();
    let stages = mock!(aws_sdk_apigatewayv2::Client::get_stages)
        .match_requests(|r| r.api_id() == Some(API))
        .then_output(|| {
            GetStagesOutput::builder()
                .items(Stage::builder().stage_name("prod").build())
                .items(Stage::builder().stage_name("$default").build())
                .build()
        });
    let tag = mock!(aws_sdk_apigatewayv2::Client::tag_resource)
        .match_requests(|r| {
            r.resource_arn() == Some(STAGE_ARN)
                && r.tags()
                    .and_then(|t| t.get(PREVIOUS_LOGGING_TAG))
                    .map(String::as_str)
                    == Some("v1 http none")
        })
        .then_output(|| TagResourceOutput::builder().build());
    let update = mock!(aws_sdk_apigatewayv2::Client::update_stage)
        .match_requests(|r| {
            let settings = r.access_log_settings();
            r.api_id() == Some(API)
                && r.stage_name() == Some("prod")
                && settings.and_then(|s| s.destination_arn()) == Some(group_arn().as_str())
                && settings.and_then(|s| s.format()) == Some(access_log_format().as_str())
        })
        .then_output(|| UpdateStageOutput::builder().build());
    let describe = mock!(aws_sdk_cloudwatchlogs::Client::describe_log_groups)
        .match_requests(|r| {
            r.log_group_name_prefix() == Some(http_access_log_group(API, "prod").as_str())
        })
        .sequence()
        .output(|| DescribeLogGroupsOutput::builder().build())
        .output(|| {
            DescribeLogGroupsOutput::builder()
                .log_groups(
                    LogGroup::builder()
                        .log_group_name(http_access_log_group(API, "prod"))
                        .arn(format!("{}:*", group_arn()))
                        .retention_in_days(7)
                        .build(),
                )
                .build()
        })
        .repeatedly()
        .build();
    let create = mock!(aws_sdk_cloudwatchlogs::Client::create_log_group)
        .match_requests(|r| r.log_group_name() == Some(http_access_log_group(API, "prod").as_str()))
        .then_output(|| CreateLogGroupOutput::builder().build());
    let retention = mock!(aws_sdk_cloudwatchlogs::Client::put_retention_policy)
        .match_requests(|r| r.retention_in_days() == Some(7))
        .then_output(|| PutRetentionPolicyOutput::builder().build());

    let c = clients(
        &[&rest_apis],
        &[&get_apis, &ws, &stages, &tag, &update],
        &[&describe, &create, &retention],
    );
    let report = reconcile(&c, &CaptureSettings::default()).await;

    assert_eq!(report.failed(), 0, "{report:#?}");
    assert_eq!(report.outcomes.len(), 2, "the WebSocket API is not listed");
    // Outcomes come in key order (`$default` before `prod`).
    let prod = &report.outcomes[1];
    assert_eq!(prod.stage.stage, "prod");
    assert_eq!(prod.action, Action::Captured);
    assert!(prod.stage.captured);
    assert_eq!(
        prod.stage.log_group.as_deref(),
        Some(http_access_log_group(API, "prod").as_str())
    );
    let group = http_access_log_group(API, "prod");
    assert_eq!(
        prod.calls,
        vec![
            format!("apigatewayv2:GetStages apis/{API}"),
            format!("logs:DescribeLogGroups {group}"),
            format!("logs:CreateLogGroup {group}"),
            format!("logs:PutRetentionPolicy {group}"),
            format!("logs:DescribeLogGroups {group}"),
            format!("apigatewayv2:TagResource {STAGE_ARN}"),
            format!("apigatewayv2:UpdateStage apis/{API}/stages/prod"),
        ]
    );
    // `$default` is excluded by default: nothing but the read.
    let default = &report.outcomes[0];
    assert_eq!(default.stage.stage, "$default");
    assert_eq!(default.action, Action::Skipped);
    assert!(!default.stage.captured);
    assert!(default
        .stage
        .reason
        .as_deref()
        .unwrap()
        .contains("$default"));
    assert_eq!(default.mutating_calls().count(), 0);
    assert_eq!(ws.num_calls(), 0, "WebSocket stages are never read");
    assert_eq!(
        (
            tag.num_calls(),
            update.num_calls(),
            create.num_calls(),
            retention.num_calls()
        ),
        (1, 1, 1, 1)
    );
    assert_eq!(report.changed(), 1);

    // --- restore: the stage now carries our settings and the tag ---
    let rest_apis = no_rest_apis();
    let get_apis = apis();
    let ws = websocket_stages();
    let captured = mock!(aws_sdk_apigatewayv2::Client::get_stages)
        .match_requests(|r| r.api_id() == Some(API))
        .then_output(|| {
            GetStagesOutput::builder()
                .items(
                    Stage::builder()
                        .stage_name("prod")
                        .access_log_settings(
                            AccessLogSettings::builder()
                                .destination_arn(group_arn())
                                .format(access_log_format())
                                .build(),
                        )
                        .tags(PREVIOUS_LOGGING_TAG, "v1 http none")
                        .build(),
                )
                .build()
        });
    let delete = mock!(aws_sdk_apigatewayv2::Client::delete_access_log_settings)
        .match_requests(|r| r.api_id() == Some(API) && r.stage_name() == Some("prod"))
        .then_output(|| DeleteAccessLogSettingsOutput::builder().build());
    let untag = mock!(aws_sdk_apigatewayv2::Client::untag_resource)
        .match_requests(|r| {
            r.resource_arn() == Some(STAGE_ARN)
                && r.tag_keys() == [PREVIOUS_LOGGING_TAG.to_string()]
        })
        .then_output(|| UntagResourceOutput::builder().build());
    let filters = no_subscription_filters();
    let c = clients(
        &[&rest_apis],
        &[&get_apis, &ws, &captured, &delete, &untag],
        &[&filters],
    );
    let report = restore_all(&c).await;
    assert_eq!(report.failed(), 0, "{report:#?}");
    let prod = &report.outcomes[0];
    assert_eq!(prod.action, Action::Restored);
    assert!(!prod.stage.captured);
    assert_eq!(
        prod.calls,
        vec![
            format!("apigatewayv2:GetStages apis/{API}"),
            format!("apigatewayv2:DeleteAccessLogSettings apis/{API}/stages/prod"),
            format!("apigatewayv2:UntagResource {STAGE_ARN}"),
            // Our subscription filter is looked for (none here: nothing deleted).
            format!(
                "logs:DescribeSubscriptionFilters {}",
                http_access_log_group(API, "prod")
            ),
        ]
    );
    assert_eq!((delete.num_calls(), untag.num_calls()), (1, 1));
    // The log group holds data: restore never deletes it (no DeleteLogGroup rule is provided).
}

#[tokio::test]
async fn http_restore_puts_back_recorded_customer_settings() {
    // A tag recording customer access logging (e.g. written by an earlier version that replaced
    // it) is put back exactly with UpdateStage.
    let customer_dest = "arn:aws:logs:us-east-1:123456789012:log-group:customer-http";
    let customer_format = "$context.requestId $context.status";
    let tag_value = cq_stage_logging::PreviousLogging::Http {
        access_log: Some(cq_stage_logging::AccessLog {
            destination_arn: customer_dest.to_string(),
            format: customer_format.to_string(),
        }),
    }
    .encode()
    .unwrap();
    let rest_apis = no_rest_apis();
    let get_apis = apis();
    let ws = websocket_stages();
    let tv = tag_value.clone();
    let stages = mock!(aws_sdk_apigatewayv2::Client::get_stages)
        .match_requests(|r| r.api_id() == Some(API))
        .then_output(move || {
            GetStagesOutput::builder()
                .items(
                    Stage::builder()
                        .stage_name("prod")
                        .access_log_settings(
                            AccessLogSettings::builder()
                                .destination_arn(group_arn())
                                .format(access_log_format())
                                .build(),
                        )
                        .tags(PREVIOUS_LOGGING_TAG, tv.clone())
                        .build(),
                )
                .build()
        });
    let update = mock!(aws_sdk_apigatewayv2::Client::update_stage)
        .match_requests(move |r| {
            let s = r.access_log_settings();
            s.and_then(|s| s.destination_arn()) == Some(customer_dest)
                && s.and_then(|s| s.format()) == Some(customer_format)
        })
        .then_output(|| UpdateStageOutput::builder().build());
    let untag = mock!(aws_sdk_apigatewayv2::Client::untag_resource)
        .then_output(|| UntagResourceOutput::builder().build());
    // HTTP capture disabled: reconcile restores.
    let settings = CaptureSettings {
        http_enabled: false,
        ..CaptureSettings::default()
    };
    let filters = no_subscription_filters();
    let c = clients(
        &[&rest_apis],
        &[&get_apis, &ws, &stages, &update, &untag],
        &[&filters],
    );
    let report = reconcile(&c, &settings).await;
    assert_eq!(report.failed(), 0, "{report:#?}");
    assert_eq!(report.outcomes[0].action, Action::Restored);
    // The customer's CLF format is not readable by the forwarder: not captured afterwards.
    assert!(!report.outcomes[0].stage.captured);
    assert_eq!((update.num_calls(), untag.num_calls()), (1, 1));
}
