//! The dry-run plan against moto: the stages `plan` says `reconcile` would change are exactly
//! the ones `reconcile` then changes, step after step (capture, `$default` opted in, restore),
//! and once a step is done its plan is empty.

use std::collections::BTreeSet;

use cq_stage_logging::{
    plan, reconcile, Action, CaptureSettings, Clients, Plan, Report, RestDelivery, Step,
};
use cq_test_support::MotoServer;

const REGION: &str = "eu-west-1";
const OUR_ROLE: &str = "arn:aws:iam::123456789012:role/cequence-apigw-cloudwatch";

/// (stage key, step) of every stage the plan would change.
fn planned(p: &Plan) -> BTreeSet<(String, &'static str)> {
    p.changes()
        .map(|s| {
            let step = match s.step {
                Step::Capture { .. } | Step::SwitchExecutionLogs { .. } => "capture",
                Step::Restore => "restore",
                Step::Keep => "keep",
            };
            (s.stage.key(), step)
        })
        .collect()
}

/// (stage key, what happened) of every stage reconcile changed.
fn changed(r: &Report) -> BTreeSet<(String, &'static str)> {
    assert_eq!(r.failed(), 0, "{r:#?}");
    r.outcomes
        .iter()
        .filter_map(|o| match o.action {
            Action::Captured => Some((o.stage.key(), "capture")),
            Action::Restored => Some((o.stage.key(), "restore")),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn the_plan_names_exactly_what_reconcile_then_changes() {
    let moto = MotoServer::start();
    let config = moto.sdk_config(REGION).await;
    let gw = aws_sdk_apigateway::Client::new(&config);
    let v2 = aws_sdk_apigatewayv2::Client::new(&config);
    let rest = cq_test_support::seed::rest_api(&gw, "pets", &["dev", "prod"]).await;
    let http = cq_test_support::seed::http_api(
        &v2,
        "orders-http",
        &format!("arn:aws:logs:{REGION}:123456789012:log-group:customer-http-json"),
        &[
            ("$default", None),
            ("prod", None),
            ("json", Some(cq_stage_logging::access_log_format())),
            (
                "clf",
                Some("$context.requestId $context.status".to_string()),
            ),
        ],
    )
    .await;
    let clients = Clients::new(&config);
    let key = |kind: &str, api: &str, stage: &str, step: &'static str| {
        (format!("{kind}/{api}/{stage}"), step)
    };

    // Capture: both REST stages and the unlogged HTTP stage; the compatible customer stage is
    // read in place, the CLF one left alone, `$default` out of scope. The account has no
    // CloudWatch role, so the given one would be set.
    let settings = CaptureSettings {
        cloudwatch_role_arn: Some(OUR_ROLE.into()),
        ..CaptureSettings::default()
    };
    let first = plan(&clients, &settings).await.unwrap();
    assert_eq!(first.set_account_role.as_deref(), Some(OUR_ROLE));
    let expected: BTreeSet<_> = [
        key("rest", &rest, "dev", "capture"),
        key("rest", &rest, "prod", "capture"),
        key("http", &http, "prod", "capture"),
    ]
    .into();
    assert_eq!(planned(&first), expected, "{first:#?}");
    assert_eq!(changed(&reconcile(&clients, &settings).await), expected);
    let again = plan(&clients, &settings).await.unwrap();
    assert_eq!(again.set_account_role, None);
    assert_eq!(planned(&again), BTreeSet::new());

    // Standard execution logs: the two REST stages lose the deliveries capture made (reconcile
    // reports them as captured again, with standard logs); then full brings them back.
    let expected: BTreeSet<_> = [
        key("rest", &rest, "dev", "capture"),
        key("rest", &rest, "prod", "capture"),
    ]
    .into();
    for rest_delivery in [RestDelivery::Standard, RestDelivery::Full] {
        let switched = CaptureSettings {
            rest_delivery,
            ..settings.clone()
        };
        let p = plan(&clients, &switched).await.unwrap();
        assert_eq!(planned(&p), expected, "{rest_delivery:?}: {p:#?}");
        assert_eq!(changed(&reconcile(&clients, &switched).await), expected);
        assert_eq!(
            planned(&plan(&clients, &switched).await.unwrap()),
            BTreeSet::new()
        );
    }

    // Opted in, `$default` is the one change.
    let with_default = CaptureSettings {
        include_http_default_stage: true,
        ..settings.clone()
    };
    let expected: BTreeSet<_> = [key("http", &http, "$default", "capture")].into();
    assert_eq!(
        planned(&plan(&clients, &with_default).await.unwrap()),
        expected
    );
    assert_eq!(changed(&reconcile(&clients, &with_default).await), expected);

    // Disabled: exactly the stages this library captured are restored.
    let off = CaptureSettings::disabled();
    let expected: BTreeSet<_> = [
        key("rest", &rest, "dev", "restore"),
        key("rest", &rest, "prod", "restore"),
        key("http", &http, "prod", "restore"),
        key("http", &http, "$default", "restore"),
    ]
    .into();
    assert_eq!(planned(&plan(&clients, &off).await.unwrap()), expected);
    assert_eq!(changed(&reconcile(&clients, &off).await), expected);
    assert_eq!(
        planned(&plan(&clients, &off).await.unwrap()),
        BTreeSet::new()
    );
}
