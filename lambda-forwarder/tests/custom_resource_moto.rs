//! The custom resource against moto's API Gateway: CloudFormation always gets an answer on the
//! ResponseURL (captured here by a local server standing in for the pre-signed S3 URL).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use cq_test_support::fake_cequence::http::{self, Handler, Request, Response};
use cq_test_support::MotoServer;
use lambda_forwarder::app::{App, AwsClients};
use lambda_forwarder::config::ConfigError;
use lambda_forwarder::invocation::{self as handler, InvocationMeta};
use serde_json::{json, Value};

type Puts = Arc<Mutex<Vec<(String, Option<String>, Value)>>>;

/// A stand-in for the pre-signed URL: records method, Content-Type and JSON body.
async fn response_url() -> (String, Puts) {
    let puts: Puts = Arc::default();
    let p = puts.clone();
    let handler: Handler = Arc::new(move |req: Request| {
        let p = p.clone();
        Box::pin(async move {
            let body = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
            let ct = req.header("content-type").map(str::to_string);
            p.lock().unwrap().push((req.method.clone(), ct, body));
            Response::new(200, "")
        })
    });
    let addr = http::serve(SocketAddr::from(([127, 0, 0, 1], 0)), handler)
        .await
        .unwrap();
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
