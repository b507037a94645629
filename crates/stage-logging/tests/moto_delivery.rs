//! Full REST execution logs against moto: the log delivery made per stage (source on the
//! stage ARN, destination on the stage's own execution group, delivery), kept on re-runs,
//! removed on `standard` and on restore, and a stage with the customer's own delivery source
//! left alone (moto 5.2.5 refuses API Gateway delivery sources: `scripts/moto_server.py` adds
//! them with AWS's rules).

use std::collections::HashMap;

use aws_sdk_apigateway::types::{Op, PatchOperation};
use aws_types::SdkConfig;
use cq_stage_logging::{
    delivery_name, discover, reconcile, rest_execution_log_group, restore_all, Action, ApiType,
    CaptureSettings, Clients, DeliveryKind, DeliveryRecord, RestDelivery, LOG_DELIVERY_TAG,
};
use cq_test_support::MotoServer;

const REGION: &str = "eu-west-1";
const ACCOUNT: &str = "123456789012";
const OUR_ROLE: &str = "arn:aws:iam::123456789012:role/cequence-apigw-cloudwatch";
const CUSTOMER_SOURCE: &str = "customer-exec-logs";

fn settings(rest_delivery: RestDelivery) -> CaptureSettings {
    CaptureSettings {
        cloudwatch_role_arn: Some(OUR_ROLE.to_string()),
        http_enabled: false,
        rest_delivery,
        ..CaptureSettings::default()
    }
}

async fn stage_tags(
    gw: &aws_sdk_apigateway::Client,
    api: &str,
    stage: &str,
) -> HashMap<String, String> {
    gw.get_stage()
        .rest_api_id(api)
        .stage_name(stage)
        .send()
        .await
        .unwrap()
        .tags()
        .cloned()
        .unwrap_or_default()
}

/// Names of every delivery source, destination and the (source, destination ARN) of every
/// delivery in the region.
async fn deliveries(config: &SdkConfig) -> (Vec<String>, Vec<String>, Vec<(String, String)>) {
    let logs = aws_sdk_cloudwatchlogs::Client::new(config);
    let sources = logs.describe_delivery_sources().send().await.unwrap();
    let destinations = logs.describe_delivery_destinations().send().await.unwrap();
    let links = logs.describe_deliveries().send().await.unwrap();
    let mut s: Vec<String> = sources
        .delivery_sources()
        .iter()
        .filter_map(|d| d.name().map(str::to_string))
        .collect();
    let mut d: Vec<String> = destinations
        .delivery_destinations()
        .iter()
        .filter_map(|d| d.name().map(str::to_string))
        .collect();
    let mut l: Vec<(String, String)> = links
        .deliveries()
        .iter()
        .map(|d| {
            (
                d.delivery_source_name().unwrap_or_default().to_string(),
                d.delivery_destination_arn().unwrap_or_default().to_string(),
            )
        })
        .collect();
    s.sort();
    d.sort();
    l.sort();
    (s, d, l)
}

/// The customer's own delivery source on `api`'s prod stage (logging must be on for AWS to
/// accept it, as for ours).
async fn customer_delivery_source(config: &SdkConfig, gw: &aws_sdk_apigateway::Client, api: &str) {
    gw.update_stage()
        .rest_api_id(api)
        .stage_name("prod")
        .patch_operations(
            PatchOperation::builder()
                .op(Op::Replace)
                .path("/*/*/logging/loglevel")
                .value("ERROR")
                .build(),
        )
        .send()
        .await
        .unwrap();
    aws_sdk_cloudwatchlogs::Client::new(config)
        .put_delivery_source()
        .name(CUSTOMER_SOURCE)
        .log_type("EXECUTION_LOGS")
        .resource_arn(format!(
            "arn:aws:apigateway:{REGION}:{ACCOUNT}:/restapis/{api}/stages/prod"
        ))
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn full_execution_logs_are_delivered_kept_switched_off_and_restored_exactly() {
    let moto = MotoServer::start();
    let config = moto.sdk_config(REGION).await;
    let gw = aws_sdk_apigateway::Client::new(&config);
    let api = cq_test_support::seed::rest_api(&gw, "pets", &["dev", "prod"]).await;
    let clients = Clients::new(&config);

    // --- full: a delivery per stage into the stage's own execution group ---
    let report = reconcile(&clients, &settings(RestDelivery::Full)).await;
    assert_eq!(report.failed(), 0, "{report:#?}");
    for o in &report.outcomes {
        assert_eq!(o.action, Action::Captured, "{o:#?}");
        assert!(o.stage.captured);
        assert_eq!(o.stage.execution_logs, Some(DeliveryKind::Full), "{o:#?}");
        assert_eq!(o.stage.reason, None);
        // The source is made after the logging level (AWS refuses it for a stage that does
        // not log), and recorded on the stage before the rest.
        let at = |op: &str| {
            o.calls
                .iter()
                .position(|c| c.starts_with(op))
                .unwrap_or_else(|| panic!("{op} in {:?}", o.calls))
        };
        assert!(at("apigateway:UpdateStage") < at("logs:PutDeliverySource"));
        let source_at = at("logs:PutDeliverySource");
        assert_eq!(
            o.calls[source_at + 1].split(' ').next(),
            Some("apigateway:TagResource"),
            "{:?}",
            o.calls
        );
        assert!(at("logs:PutDeliveryDestination") < at("logs:CreateDelivery"));
        let last_tag = o
            .calls
            .iter()
            .rposition(|c| c.starts_with("apigateway:TagResource"))
            .unwrap();
        assert!(
            at("logs:CreateDelivery") < last_tag,
            "the id is recorded last"
        );
    }
    let names: Vec<String> = ["dev", "prod"]
        .iter()
        .map(|s| delivery_name(&api, s))
        .collect();
    let (sources, destinations, links) = deliveries(&config).await;
    assert_eq!(sources, names);
    assert_eq!(destinations, names);
    assert_eq!(links.len(), 2);
    let logs = aws_sdk_cloudwatchlogs::Client::new(&config);
    for stage in ["dev", "prod"] {
        let name = delivery_name(&api, stage);
        let source = logs.get_delivery_source().name(&name).send().await.unwrap();
        let source = source.delivery_source().unwrap();
        assert_eq!(
            source.resource_arns(),
            [format!(
                "arn:aws:apigateway:{REGION}:{ACCOUNT}:/restapis/{api}/stages/{stage}"
            )]
        );
        assert_eq!(source.log_type(), Some("EXECUTION_LOGS"));
        let destination = logs
            .get_delivery_destination()
            .name(&name)
            .send()
            .await
            .unwrap();
        let destination = destination.delivery_destination().unwrap();
        assert_eq!(
            destination.output_format().map(|f| f.as_str()),
            Some("plain")
        );
        let group = rest_execution_log_group(&api, stage);
        assert_eq!(
            destination
                .delivery_destination_configuration()
                .map(|c| c.destination_resource_arn()),
            Some(format!("arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{group}").as_str()),
            "into the stage's own group: the forwarder reads it as before"
        );
        let tags = stage_tags(&gw, &api, stage).await;
        let record = DeliveryRecord::decode(&tags[LOG_DELIVERY_TAG]).unwrap();
        assert_eq!(
            (record.source.as_str(), record.destination.as_str()),
            (name.as_str(), name.as_str())
        );
        let id = record.delivery_id.expect("the delivery id is recorded");
        let delivery = logs.get_delivery().id(&id).send().await.unwrap();
        assert_eq!(
            delivery.delivery().and_then(|d| d.delivery_source_name()),
            Some(name.as_str())
        );
    }
    let status = discover(&clients).await.unwrap();
    assert!(status
        .iter()
        .all(|s| s.captured && s.execution_logs == Some(DeliveryKind::Full)));

    // --- again: nothing to change ---
    let report = reconcile(&clients, &settings(RestDelivery::Full)).await;
    assert_eq!(report.failed(), 0, "{report:#?}");
    assert!(
        report.mutating_calls().is_empty(),
        "{:?}",
        report.mutating_calls()
    );
    assert!(report.outcomes.iter().all(
        |o| o.action == Action::Unchanged && o.stage.execution_logs == Some(DeliveryKind::Full)
    ));

    // --- a delivery deleted behind our back is made again ---
    let record =
        DeliveryRecord::decode(&stage_tags(&gw, &api, "dev").await[LOG_DELIVERY_TAG]).unwrap();
    logs.delete_delivery()
        .id(record.delivery_id.unwrap())
        .send()
        .await
        .unwrap();
    let report = reconcile(&clients, &settings(RestDelivery::Auto)).await;
    assert_eq!(report.failed(), 0, "{report:#?}");
    let dev = report
        .outcomes
        .iter()
        .find(|o| o.stage.stage == "dev")
        .unwrap();
    assert_eq!(dev.action, Action::Captured, "{dev:#?}");
    assert_eq!(deliveries(&config).await.2.len(), 2);

    // --- standard: our deliveries go, the stages stay captured with standard logs ---
    let report = reconcile(&clients, &settings(RestDelivery::Standard)).await;
    assert_eq!(report.failed(), 0, "{report:#?}");
    for o in &report.outcomes {
        assert_eq!(o.action, Action::Captured, "{o:#?}");
        assert_eq!(o.stage.execution_logs, Some(DeliveryKind::Standard));
        assert!(o
            .calls
            .iter()
            .any(|c| c.starts_with("logs:DeleteDelivery ")));
    }
    assert_eq!(deliveries(&config).await, (vec![], vec![], vec![]));
    for stage in ["dev", "prod"] {
        assert!(!stage_tags(&gw, &api, stage)
            .await
            .contains_key(LOG_DELIVERY_TAG));
    }

    // --- full again, then restore: exactly what we made is removed ---
    let other = cq_test_support::seed::rest_api(&gw, "orders", &["dev", "prod"]).await;
    customer_delivery_source(&config, &gw, &other).await;
    let report = reconcile(&clients, &settings(RestDelivery::Full)).await;
    let by_stage: HashMap<(String, String), _> = report
        .outcomes
        .iter()
        .map(|o| ((o.stage.api_id.clone(), o.stage.stage.clone()), o))
        .collect();
    let refused = by_stage[&(other.clone(), "prod".to_string())];
    assert_eq!(refused.action, Action::Failed, "{refused:#?}");
    let error = refused.error.as_deref().unwrap();
    assert!(
        error.contains("delivery source of its own")
            && error.contains("cequence_rest_log_delivery=standard"),
        "{error}"
    );
    assert_eq!(
        report.failed(),
        1,
        "only the stage with the customer's source"
    );

    // auto: that stage stays standard and says why; the customer's source is untouched.
    let report = reconcile(&clients, &settings(RestDelivery::Auto)).await;
    assert_eq!(report.failed(), 0, "{report:#?}");
    let kept = report
        .outcomes
        .iter()
        .find(|o| o.stage.api_id == other && o.stage.stage == "prod")
        .unwrap();
    assert!(kept.stage.captured);
    assert_eq!(kept.stage.execution_logs, Some(DeliveryKind::Standard));
    assert!(
        kept.stage
            .reason
            .as_deref()
            .is_some_and(|r| r.contains("delivery source of its own")),
        "{kept:#?}"
    );
    let (sources, _, links) = deliveries(&config).await;
    assert!(sources.contains(&CUSTOMER_SOURCE.to_string()));
    assert_eq!(links.len(), 3, "ours on the three other stages");

    let report = restore_all(&clients).await;
    assert_eq!(report.failed(), 0, "{report:#?}");
    assert!(report
        .outcomes
        .iter()
        .filter(|o| o.stage.api_type == ApiType::Rest)
        .all(|o| o.action == Action::Restored));
    assert_eq!(
        deliveries(&config).await,
        (vec![CUSTOMER_SOURCE.to_string()], vec![], vec![]),
        "only the customer's source is left"
    );
    for a in [&api, &other] {
        for stage in ["dev", "prod"] {
            let tags = stage_tags(&gw, a, stage).await;
            assert!(tags.is_empty(), "{a}/{stage}: {tags:?}");
        }
    }
}
