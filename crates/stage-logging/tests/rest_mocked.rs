//! REST paths moto cannot produce: API Gateway throttling (TooManyRequestsException) and a
//! stage whose UpdateStage fails while the others succeed. moto never throttles and has no way
//! to make one stage's update fail, hence aws-smithy-mocks here; the normal REST capture and
//! restore run against moto in `moto_stages.rs`.

use aws_sdk_apigateway::operation::get_account::GetAccountOutput;
use aws_sdk_apigateway::operation::get_rest_apis::GetRestApisOutput;
use aws_sdk_apigateway::operation::get_stages::GetStagesOutput;
use aws_sdk_apigateway::operation::tag_resource::TagResourceOutput;
use aws_sdk_apigateway::operation::update_stage::{UpdateStageError, UpdateStageOutput};
use aws_sdk_apigateway::types::{Op, RestApi, Stage};
use aws_sdk_apigatewayv2::operation::get_apis::GetApisOutput;
use aws_sdk_cloudwatchlogs::operation::describe_log_groups::DescribeLogGroupsOutput;
use aws_sdk_cloudwatchlogs::types::LogGroup;
use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};
use aws_smithy_runtime_api::http::{Response, StatusCode};
use aws_smithy_types::body::SdkBody;
use cq_stage_logging::{
    reconcile, rest_execution_log_group, retry_config, Action, CaptureSettings, Clients,
    PREVIOUS_LOGGING_TAG,
};

fn rest_api() -> Rule {
    mock!(aws_sdk_apigateway::Client::get_rest_apis).then_output(|| {
        GetRestApisOutput::builder()
            .items(RestApi::builder().id("r1").name("pets").build())
            .build()
    })
}

fn stages(names: &'static [&'static str]) -> Rule {
    mock!(aws_sdk_apigateway::Client::get_stages)
        .match_requests(|r| r.rest_api_id() == Some("r1"))
        .then_output(move || {
            let mut out = GetStagesOutput::builder();
            for n in names {
                out = out.item(Stage::builder().stage_name(*n).build());
            }
            out.build()
        })
}

fn account_with_role() -> Rule {
    mock!(aws_sdk_apigateway::Client::get_account).then_output(|| {
        GetAccountOutput::builder()
            .cloudwatch_role_arn("arn:aws:iam::123456789012:role/apigw-logs")
            .build()
    })
}

fn tag_ok() -> Rule {
    mock!(aws_sdk_apigateway::Client::tag_resource)
        .match_requests(|r| {
            r.tags()
                .and_then(|t| t.get(PREVIOUS_LOGGING_TAG))
                .map(String::as_str)
                == Some("v1 rest none")
        })
        .then_output(|| TagResourceOutput::builder().build())
}

fn no_http_apis() -> Rule {
    mock!(aws_sdk_apigatewayv2::Client::get_apis).then_output(|| GetApisOutput::builder().build())
}

/// Every execution log group already exists (API Gateway made it on the first request).
fn groups_exist() -> Rule {
    mock!(aws_sdk_cloudwatchlogs::Client::describe_log_groups).then_compute_output(|r| {
        DescribeLogGroupsOutput::builder()
            .log_groups(
                LogGroup::builder()
                    .log_group_name(r.log_group_name_prefix().unwrap_or_default())
                    .build(),
            )
            .build()
    })
}

fn is_capture_update(r: &aws_sdk_apigateway::operation::update_stage::UpdateStageInput) -> bool {
    let ops = r.patch_operations();
    ops.len() == 2
        && ops.iter().all(|o| o.op() == Some(&Op::Replace))
        && ops[0].path() == Some("/*/*/logging/loglevel")
        && ops[0].value() == Some("INFO")
        && ops[1].path() == Some("/*/*/logging/dataTrace")
        && ops[1].value() == Some("true")
}

fn throttled() -> Response {
    let mut r = Response::new(
        StatusCode::try_from(429).unwrap(),
        SdkBody::from(r#"{"message":"Too Many Requests"}"#),
    );
    r.headers_mut()
        .insert("x-amzn-ErrorType", "TooManyRequestsException");
    r.headers_mut().insert("Content-Type", "application/json");
    r
}

#[tokio::test]
async fn throttled_update_stage_is_retried_until_it_succeeds() {
    let update = mock!(aws_sdk_apigateway::Client::update_stage)
        .match_requests(is_capture_update)
        .sequence()
        .http_response(throttled)
        .times(2)
        .output(|| UpdateStageOutput::builder().build())
        .build();
    let (apis, st, acct, tag, http, groups) = (
        rest_api(),
        stages(&["prod"]),
        account_with_role(),
        tag_ok(),
        no_http_apis(),
        groups_exist(),
    );
    // The same retry policy as `Clients::new` (8 attempts, exponential backoff).
    let clients = Clients::from_parts(
        mock_client!(
            aws_sdk_apigateway,
            RuleMode::MatchAny,
            &[&apis, &st, &acct, &tag, &update],
            |c| c.retry_config(retry_config())
        ),
        mock_client!(aws_sdk_apigatewayv2, RuleMode::MatchAny, &[&http]),
        mock_client!(aws_sdk_cloudwatchlogs, RuleMode::MatchAny, &[&groups]),
    );
    let report = reconcile(&clients, &CaptureSettings::default()).await;
    assert_eq!(report.failed(), 0, "{report:#?}");
    let o = &report.outcomes[0];
    assert_eq!(o.action, Action::Captured);
    assert_eq!(
        o.stage.log_group.as_deref(),
        Some(rest_execution_log_group("r1", "prod").as_str())
    );
    assert_eq!(
        update.num_calls(),
        3,
        "two throttled attempts, then success"
    );
    // The retries are the SDK's: the stage's call log lists the operation once.
    assert_eq!(
        o.mutating_calls().collect::<Vec<_>>(),
        vec![
            "apigateway:TagResource arn:aws:apigateway:us-east-1::/restapis/r1/stages/prod",
            "apigateway:UpdateStage restapis/r1/stages/prod"
        ]
    );
}

#[tokio::test]
async fn throttling_beyond_the_attempt_budget_fails_only_that_stage() {
    let update = mock!(aws_sdk_apigateway::Client::update_stage)
        .match_requests(is_capture_update)
        .sequence()
        .http_response(throttled)
        .repeatedly()
        .build();
    let (apis, st, acct, tag, http, groups) = (
        rest_api(),
        stages(&["prod"]),
        account_with_role(),
        tag_ok(),
        no_http_apis(),
        groups_exist(),
    );
    let clients = Clients::from_parts(
        mock_client!(
            aws_sdk_apigateway,
            RuleMode::MatchAny,
            &[&apis, &st, &acct, &tag, &update],
            |c| c.retry_config(
                retry_config()
                    .with_max_attempts(3)
                    .with_initial_backoff(std::time::Duration::from_millis(1))
            )
        ),
        mock_client!(aws_sdk_apigatewayv2, RuleMode::MatchAny, &[&http]),
        mock_client!(aws_sdk_cloudwatchlogs, RuleMode::MatchAny, &[&groups]),
    );
    let report = reconcile(&clients, &CaptureSettings::default()).await;
    let o = &report.outcomes[0];
    assert_eq!(o.action, Action::Failed);
    let err = o.error.as_deref().unwrap();
    assert!(err.contains("UpdateStage"), "{err}");
    assert!(err.contains("TooManyRequests"), "{err}");
    assert_eq!(update.num_calls(), 3);
}

#[tokio::test]
async fn one_failing_stage_does_not_stop_the_others() {
    let broken = mock!(aws_sdk_apigateway::Client::update_stage)
        .match_requests(|r| r.stage_name() == Some("broken"))
        .then_error(|| {
            UpdateStageError::BadRequestException(
                aws_sdk_apigateway::types::error::BadRequestException::builder()
                    .message("Invalid method setting path")
                    .build(),
            )
        });
    let fine = mock!(aws_sdk_apigateway::Client::update_stage)
        .match_requests(|r| r.stage_name() != Some("broken") && is_capture_update(r))
        .then_output(|| UpdateStageOutput::builder().build());
    let (apis, st, acct, tag, http, groups) = (
        rest_api(),
        stages(&["alpha", "broken", "omega"]),
        account_with_role(),
        tag_ok(),
        no_http_apis(),
        groups_exist(),
    );
    let clients = Clients::from_parts(
        mock_client!(
            aws_sdk_apigateway,
            RuleMode::MatchAny,
            &[&apis, &st, &acct, &tag, &broken, &fine]
        ),
        mock_client!(aws_sdk_apigatewayv2, RuleMode::MatchAny, &[&http]),
        mock_client!(aws_sdk_cloudwatchlogs, RuleMode::MatchAny, &[&groups]),
    );
    let report = reconcile(&clients, &CaptureSettings::default()).await;
    let actions: Vec<(&str, Action)> = report
        .outcomes
        .iter()
        .map(|o| (o.stage.stage.as_str(), o.action))
        .collect();
    assert_eq!(
        actions,
        vec![
            ("alpha", Action::Captured),
            ("broken", Action::Failed),
            ("omega", Action::Captured)
        ]
    );
    assert_eq!(report.failed(), 1);
    assert_eq!(report.changed(), 2);
    let err = report.outcomes[1].error.as_deref().unwrap();
    assert!(err.contains("Invalid method setting path"), "{err}");
    assert!(!report.outcomes[1].stage.captured);
}

#[tokio::test]
async fn rest_stage_without_cloudwatch_role_is_reported_not_changed() {
    let (apis, st, http, groups) = (
        rest_api(),
        stages(&["prod"]),
        no_http_apis(),
        groups_exist(),
    );
    let no_role = mock!(aws_sdk_apigateway::Client::get_account)
        .then_output(|| GetAccountOutput::builder().build());
    let clients = Clients::from_parts(
        mock_client!(
            aws_sdk_apigateway,
            RuleMode::MatchAny,
            &[&apis, &st, &no_role]
        ),
        mock_client!(aws_sdk_apigatewayv2, RuleMode::MatchAny, &[&http]),
        mock_client!(aws_sdk_cloudwatchlogs, RuleMode::MatchAny, &[&groups]),
    );
    let report = reconcile(&clients, &CaptureSettings::default()).await;
    let o = &report.outcomes[0];
    assert_eq!(o.action, Action::Skipped);
    assert!(!o.stage.captured);
    assert!(o
        .stage
        .reason
        .as_deref()
        .unwrap()
        .contains("CloudWatch role"));
    assert!(report.mutating_calls().is_empty(), "{report:#?}");
}

#[tokio::test]
async fn unreadable_account_role_fails_every_rest_stage_without_touching_it() {
    let (apis, st, http, groups) = (
        rest_api(),
        stages(&["dev", "prod"]),
        no_http_apis(),
        groups_exist(),
    );
    let denied = mock!(aws_sdk_apigateway::Client::get_account).then_error(|| {
        aws_sdk_apigateway::operation::get_account::GetAccountError::UnauthorizedException(
            aws_sdk_apigateway::types::error::UnauthorizedException::builder()
                .message("not allowed: apigateway:GET /account")
                .build(),
        )
    });
    let clients = Clients::from_parts(
        mock_client!(
            aws_sdk_apigateway,
            RuleMode::MatchAny,
            &[&apis, &st, &denied]
        ),
        mock_client!(aws_sdk_apigatewayv2, RuleMode::MatchAny, &[&http]),
        mock_client!(aws_sdk_cloudwatchlogs, RuleMode::MatchAny, &[&groups]),
    );
    let report = reconcile(&clients, &CaptureSettings::default()).await;
    assert_eq!(report.failed(), 2, "{report:#?}");
    for o in &report.outcomes {
        assert_eq!(o.action, Action::Failed);
        assert!(o.error.as_deref().unwrap().contains("GetAccount"));
        assert!(o.error.as_deref().unwrap().contains("not allowed"));
    }
    assert!(report.mutating_calls().is_empty());
    assert_eq!(groups.num_calls(), 0, "no stage was processed");
}
