//! Sample API Gateway resources the tests of several crates need, created through the real SDK.

use aws_sdk_apigateway::types::IntegrationType;
use aws_sdk_apigateway::Client;

/// A REST API with `GET /pets` (MOCK integration), one deployment and the given stages.
/// Returns the API id.
pub async fn rest_api(gw: &Client, name: &str, stages: &[&str]) -> String {
    let api = gw.create_rest_api().name(name).send().await.unwrap();
    let id = api.id().unwrap().to_string();
    let root = gw
        .get_resources()
        .rest_api_id(&id)
        .send()
        .await
        .unwrap()
        .items()
        .iter()
        .find(|r| r.path() == Some("/"))
        .and_then(|r| r.id())
        .unwrap()
        .to_string();
    let pets = gw
        .create_resource()
        .rest_api_id(&id)
        .parent_id(root)
        .path_part("pets")
        .send()
        .await
        .unwrap();
    let res_id = pets.id().unwrap();
    gw.put_method()
        .rest_api_id(&id)
        .resource_id(res_id)
        .http_method("GET")
        .authorization_type("NONE")
        .send()
        .await
        .unwrap();
    gw.put_integration()
        .rest_api_id(&id)
        .resource_id(res_id)
        .http_method("GET")
        .r#type(IntegrationType::Mock)
        .send()
        .await
        .unwrap();
    let deployment = gw
        .create_deployment()
        .rest_api_id(&id)
        .send()
        .await
        .unwrap();
    for stage in stages {
        gw.create_stage()
            .rest_api_id(&id)
            .stage_name(*stage)
            .deployment_id(deployment.id().unwrap())
            .send()
            .await
            .unwrap();
    }
    id
}

/// An HTTP API (protocol HTTP) with the given stages; a stage given a format gets access
/// logging to `destination_arn` in that format, as a customer would have set it up.
/// Returns the API id.
pub async fn http_api(
    v2: &aws_sdk_apigatewayv2::Client,
    name: &str,
    destination_arn: &str,
    stages: &[(&str, Option<String>)],
) -> String {
    use aws_sdk_apigatewayv2::types::{AccessLogSettings, ProtocolType};
    let api = v2
        .create_api()
        .name(name)
        .protocol_type(ProtocolType::Http)
        .send()
        .await
        .unwrap();
    let id = api.api_id().unwrap().to_string();
    for (stage, format) in stages {
        let mut req = v2.create_stage().api_id(&id).stage_name(*stage);
        if let Some(f) = format {
            req = req.access_log_settings(
                AccessLogSettings::builder()
                    .destination_arn(destination_arn)
                    .format(f)
                    .build(),
            );
        }
        req.send().await.unwrap();
    }
    id
}

/// An HTTP stage as API Gateway shows it: its access log (destination, format), if any, and
/// its tags.
pub type HttpStageView = (
    Option<(String, String)>,
    std::collections::HashMap<String, String>,
);

/// Read an HTTP stage's access log and tags (GetStage).
pub async fn http_stage(
    v2: &aws_sdk_apigatewayv2::Client,
    api: &str,
    stage: &str,
) -> HttpStageView {
    let s = v2
        .get_stage()
        .api_id(api)
        .stage_name(stage)
        .send()
        .await
        .unwrap();
    let log = s.access_log_settings().map(|a| {
        (
            a.destination_arn().unwrap_or_default().to_string(),
            a.format().unwrap_or_default().to_string(),
        )
    });
    (log, s.tags().cloned().unwrap_or_default())
}
