//! The custom resource against moto's API Gateway: CloudFormation always gets an answer on the
//! ResponseURL (captured here by a local server standing in for the pre-signed S3 URL), once
//! per request however many invocations a large region takes.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;

use cq_test_support::fake_cequence::http::{self, Handler, Request, Response};
use cq_test_support::MotoServer;
use lambda_forwarder::app::{App, AwsClients};
use lambda_forwarder::config::ConfigError;
use lambda_forwarder::invocation::{self as handler, InvocationMeta};
use serde_json::{json, Value};

type Puts = Arc<Mutex<Vec<(String, Option<String>, Value)>>>;

/// A local server that records what `take` makes of each request and answers `status`, or
/// 400 when `take` refuses the request.
async fn recorder<T: Send + 'static>(
    status: u16,
    take: fn(&Request) -> Option<T>,
) -> (SocketAddr, Arc<Mutex<Vec<T>>>) {
    let seen: Arc<Mutex<Vec<T>>> = Arc::default();
    let s = seen.clone();
    let handler: Handler = Arc::new(move |req: Request| {
        let s = s.clone();
        Box::pin(async move {
            match take(&req) {
                Some(t) => {
                    s.lock().unwrap().push(t);
                    Response::new(status, "")
                }
                None => Response::new(400, "{\"message\":\"unexpected request\"}"),
            }
        })
    });
    let addr = http::serve(SocketAddr::from(([127, 0, 0, 1], 0)), handler)
        .await
        .unwrap();
    (addr, seen)
}

fn json_body(req: &Request) -> Value {
    serde_json::from_slice(&req.body).unwrap_or(Value::Null)
}

/// A stand-in for the pre-signed URL: records method, Content-Type and JSON body.
async fn response_url() -> (String, Puts) {
    let (addr, puts) = recorder(200, |req| {
        let ct = req.header("content-type").map(str::to_string);
        Some((req.method.clone(), ct, json_body(req)))
    })
    .await;
    (
        format!("http://{addr}/cfn-response?X-Amz-Signature=abc"),
        puts,
    )
}

fn event(kind: &str, url: &str, rest: &str) -> Value {
    let mut e = json!({
        "RequestType": kind,
        "ResponseURL": url,
        "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/cequence/1",
        "RequestId": format!("req-{kind}"),
        "LogicalResourceId": "StageLogging",
        "ResourceType": "Custom::CequenceStageLogging",
        "PhysicalResourceId": if kind == "Create" { Value::Null } else { json!("cequence-stage-logging-us-east-1") },
        "ResourceProperties": {
            "ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:f",
            "RestApiEnabled": rest,
            "HttpApiEnabled": "true",
            "CloudWatchRoleArn": ""
        }
    });
    if kind == "Update" {
        // CloudFormation always sends the previous properties with an Update.
        e["OldResourceProperties"] = e["ResourceProperties"].clone();
    }
    e
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn custom_resource_always_answers_cloudformation() {
    let moto = MotoServer::start();
    let sdk = moto.sdk_config("us-east-1").await;
    // The Cequence settings are not needed to configure stage logging: a missing one must
    // not stop the stack from being created or deleted.
    let app = App::new(
        AwsClients::new(&sdk),
        Err(ConfigError::Missing {
            var: "CEQUENCE_AUTH_ENDPOINT",
            hint: "test",
        }),
    );
    let (url, puts) = response_url().await;

    for kind in ["Create", "Update", "Delete"] {
        let out = handler::handle(
            &app,
            &event(kind, &url, "true").to_string(),
            InvocationMeta::default(),
        )
        .await
        .unwrap_or_else(|e| panic!("{kind}: {e}"));
        assert_eq!(out["Status"], "SUCCESS", "{kind}: {out}");
    }
    let bad = handler::handle(
        &app,
        &event("Create", &url, "maybe").to_string(),
        InvocationMeta::default(),
    )
    .await
    .unwrap();
    assert_eq!(bad["Status"], "FAILED");

    let puts = puts.lock().unwrap();
    assert_eq!(puts.len(), 4);
    for (method, content_type, body) in puts.iter() {
        assert_eq!(method, "PUT");
        // The URL is signed without a Content-Type; sending one breaks the signature.
        assert_eq!(content_type, &None);
        for k in [
            "Status",
            "Reason",
            "PhysicalResourceId",
            "StackId",
            "RequestId",
            "LogicalResourceId",
            "Data",
        ] {
            assert!(body.get(k).is_some(), "{k} missing in {body}");
        }
        assert_eq!(
            body["PhysicalResourceId"],
            "cequence-stage-logging-us-east-1"
        );
    }
    let failed = &puts[3].2;
    assert_eq!(failed["RequestId"], "req-Create");
    assert!(failed["Reason"]
        .as_str()
        .unwrap()
        .contains("RestApiEnabled"));
}

type Invokes = Arc<Mutex<Vec<(String, Value)>>>;

/// Lambda's Invoke API, for the chunked requests below: moto cannot run a function (there is
/// no Docker here), so this stand-in records each asynchronous invocation (`X-Amz-Invocation-Type:
/// Event`, answered 202 as Lambda does) and the test delivers it as the next invocation, as
/// Lambda's event queue would.
async fn lambda_invoke_standin() -> (String, Invokes) {
    let (addr, invokes) = recorder(202, |req| {
        (req.header("x-amz-invocation-type") == Some("Event"))
            .then(|| (req.target.clone(), json_body(req)))
    })
    .await;
    (format!("http://{addr}"), invokes)
}

const FUNCTION_ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:cequence-forwarder";

/// An app whose AWS calls go to `sdk` and whose Lambda client is the stand-in.
fn chunking_app(sdk: &aws_config::SdkConfig, lambda_endpoint: &str) -> App {
    let mut aws = AwsClients::new(sdk);
    aws.lambda = aws_sdk_lambda::Client::from_conf(
        aws_sdk_lambda::config::Builder::from(sdk)
            .endpoint_url(lambda_endpoint)
            .build(),
    );
    App::new(
        aws,
        Err(ConfigError::Missing {
            var: "CEQUENCE_AUTH_ENDPOINT",
            hint: "test",
        }),
    )
}

/// Deliver `event` and every continuation it causes, each invocation with `chunk` before its
/// stop (plus the 10 s the handler keeps back and the 8 s it leaves stages in flight).
/// Returns the answer and how many invocations it took.
async fn run_request(
    app: &App,
    invokes: &Invokes,
    event: Value,
    chunk: Duration,
) -> (Value, usize) {
    let mut event = event;
    for invocation in 1..=500 {
        let meta = InvocationMeta {
            request_id: format!("inv-{invocation}"),
            invoked_function_arn: FUNCTION_ARN.into(),
            deadline: Some(Instant::now() + Duration::from_secs(18) + chunk),
        };
        let out = handler::handle(app, &event.to_string(), meta)
            .await
            .unwrap_or_else(|e| panic!("invocation {invocation}: {e}"));
        if out.get("Continued").is_none() {
            assert!(invokes.lock().unwrap().is_empty(), "answered and continued");
            return (out, invocation);
        }
        let (target, next) = invokes.lock().unwrap().pop().expect("a continuation");
        assert_eq!(
            target,
            format!(
                "/2015-03-31/functions/{}/invocations",
                FUNCTION_ARN.replace(':', "%3A")
            ),
        );
        event = next;
    }
    panic!("no answer after 500 invocations");
}

/// Every REST stage of `apis` with our previous-settings tag, and with INFO logging on `*/*`.
async fn captured_rest(gw: &aws_sdk_apigateway::Client, apis: &[String]) -> (usize, usize) {
    let (mut tagged, mut info) = (0, 0);
    for api in apis {
        let out = gw.get_stages().rest_api_id(api).send().await.unwrap();
        for s in out.item() {
            tagged += usize::from(
                s.tags()
                    .is_some_and(|t| t.contains_key(cq_stage_logging::PREVIOUS_LOGGING_TAG)),
            );
            info += usize::from(
                s.method_settings()
                    .and_then(|m| m.get("*/*"))
                    .is_some_and(|m| m.logging_level() == Some("INFO")),
            );
        }
    }
    (tagged, info)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_stages_are_done_in_chunks_and_a_delete_answers_once_all_are_restored() {
    const APIS: usize = 100;
    const STAGES_PER_API: usize = 10; // API Gateway's limit per REST API
    let moto = MotoServer::start();
    let sdk = moto.sdk_config("us-east-1").await;
    let gw = aws_sdk_apigateway::Client::new(&sdk);
    let stage_names: Vec<String> = (0..STAGES_PER_API).map(|i| format!("s{i}")).collect();
    let names: Vec<&str> = stage_names.iter().map(String::as_str).collect();
    let apis: Vec<String> = futures::stream::iter(0..APIS)
        .map(|i| {
            let (gw, names) = (gw.clone(), names.clone());
            async move { cq_test_support::seed::rest_api(&gw, &format!("api-{i}"), &names).await }
        })
        .buffer_unordered(8)
        .collect()
        .await;
    let total = APIS * STAGES_PER_API;

    let (lambda, invokes) = lambda_invoke_standin().await;
    let app = chunking_app(&sdk, &lambda);
    let (url, puts) = response_url().await;
    let mut create = event("Create", &url, "true");
    create["ResourceProperties"]["CloudWatchRoleArn"] =
        json!("arn:aws:iam::123456789012:role/cequence-apigw/cloudwatch");
    create["ResourceProperties"]["ServiceToken"] = json!(FUNCTION_ARN);

    // Two seconds of stages per invocation: far fewer than 1,000.
    let (answer, invocations) =
        run_request(&app, &invokes, create.clone(), Duration::from_secs(2)).await;
    assert_eq!(answer["Status"], "SUCCESS", "{answer}");
    assert!(invocations > 2, "{invocations} invocation(s): not chunked");
    // Each stage was handled by exactly one chunk: the chunks' counts add up to the region.
    assert_eq!(answer["Data"]["Stages"], total, "{answer}");
    assert_eq!(answer["Data"]["Changed"], total, "{answer}");
    assert_eq!(captured_rest(&gw, &apis).await, (total, total));
    assert_eq!(
        puts.lock().unwrap().len(),
        1,
        "one answer for the whole request"
    );

    // A delete during which one stage cannot be restored must not let the stack go.
    let proxy = cq_test_support::fault_proxy::FaultProxy::start(moto.addr().parse().unwrap(), 7);
    proxy.add_rule(
        cq_test_support::fault_proxy::Rule::new(
            "one-update-stage-refused",
            cq_test_support::fault_proxy::Action::aws_json_error(
                400,
                "BadRequestException",
                "injected refusal",
            ),
        )
        .method("PATCH")
        .path_prefix("/restapis/")
        .count(1),
    );
    let proxied = sdk.to_builder().endpoint_url(proxy.endpoint()).build();
    let app = chunking_app(&proxied, &lambda);
    let delete = event("Delete", &url, "true");
    let (answer, invocations) =
        run_request(&app, &invokes, delete.clone(), Duration::from_secs(2)).await;
    assert!(invocations > 2, "{invocations} invocation(s): not chunked");
    assert_eq!(answer["Status"], "FAILED", "{answer}");
    let reason = answer["Reason"].as_str().unwrap();
    assert!(
        reason.starts_with("stages may still be captured") && reason.contains("injected refusal"),
        "{reason}"
    );
    assert_eq!(answer["Data"]["Failed"], 1, "{answer}");
    assert_eq!(captured_rest(&gw, &apis).await, (1, 1));

    // CloudFormation's retried delete restores the last one and lets the stack go.
    let (answer, _) = run_request(&app, &invokes, delete, Duration::from_secs(2)).await;
    assert_eq!(answer["Status"], "SUCCESS", "{answer}");
    assert_eq!(answer["Data"]["Changed"], 1, "{answer}");
    assert_eq!(captured_rest(&gw, &apis).await, (0, 0));
    assert_eq!(puts.lock().unwrap().len(), 3);
}

/// API Gateway hangs on the first chunk's listing past the invocation's budget: that chunk
/// reports nothing, the next invocation redoes it from the start, and CloudFormation gets
/// one SUCCESS. A region that stays stuck fails after a few tries instead of looping.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_first_chunk_that_runs_out_of_time_is_redone_not_failed() {
    use cq_test_support::fault_proxy::{Action, FaultProxy, Rule};
    let moto = MotoServer::start();
    let sdk = moto.sdk_config("us-east-1").await;
    let gw = aws_sdk_apigateway::Client::new(&sdk);
    let api = cq_test_support::seed::rest_api(&gw, "slow", &["prod"]).await;
    let proxy = FaultProxy::start(moto.addr().parse().unwrap(), 3);
    // Longer than the 9 s budget below (1 s of stages + 8 s in flight); once.
    proxy.add_rule(
        Rule::new("slow-listing", Action::Delay(Duration::from_secs(10)))
            .method("GET")
            .path_prefix("/restapis")
            .count(1),
    );
    let proxied = sdk.to_builder().endpoint_url(proxy.endpoint()).build();
    let (lambda, invokes) = lambda_invoke_standin().await;
    let app = chunking_app(&proxied, &lambda);
    let (url, puts) = response_url().await;
    let mut create = event("Create", &url, "true");
    create["ResourceProperties"]["ServiceToken"] = json!(FUNCTION_ARN);
    create["ResourceProperties"]["CloudWatchRoleArn"] =
        json!("arn:aws:iam::123456789012:role/cequence-apigw/cloudwatch");

    let (answer, invocations) =
        run_request(&app, &invokes, create.clone(), Duration::from_secs(1)).await;
    assert_eq!(answer["Status"], "SUCCESS", "{answer}");
    assert_eq!(invocations, 2, "the stalled chunk, then its redo");
    assert_eq!(answer["Data"]["Stages"], 1, "{answer}");
    assert_eq!(captured_rest(&gw, &[api]).await, (1, 1));
    assert_eq!(puts.lock().unwrap().len(), 1, "one answer");

    // Stuck for good: a few redos, then FAILED with why.
    proxy.add_rule(
        Rule::new("stuck", Action::Delay(Duration::from_secs(10)))
            .method("GET")
            .path_prefix("/restapis"),
    );
    let (answer, invocations) = run_request(&app, &invokes, create, Duration::from_secs(1)).await;
    assert_eq!(answer["Status"], "FAILED", "{answer}");
    assert_eq!(invocations, 4, "three redos, then the answer");
    assert!(
        answer["Reason"]
            .as_str()
            .unwrap()
            .contains("ran out of time in 4 invocation(s) in a row"),
        "{answer}"
    );
}
