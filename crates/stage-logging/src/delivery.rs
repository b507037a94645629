//! Carrying out the delivery decisions of `delivery_plan`: create, check and remove the
//! CloudWatch Logs delivery that gives a REST stage full (1 MB) execution-log events.
//!
//! Order matters for a clean restore after any crash: the source is put first (it is where
//! AWS refuses a stage that already has a delivery of the customer's), the stage tag records
//! its name before anything else is made, and the delivery's id is added to the tag last.

use aws_sdk_cloudwatchlogs::types::{DeliveryDestinationConfiguration, OutputFormat};

use crate::calls::CallLog;
use crate::clients::Clients;
use crate::delivery_plan::{
    account_of_arn, decide_delivery, delivery_name, delivery_source_arn, DeliveryAction,
    DeliveryKind, DeliveryRecord, RestDelivery, EXECUTION_LOGS, LOG_DELIVERY_TAG,
};
use crate::discovery::RestStage;
use crate::error::Error;
use crate::log_groups;
use crate::names::{partition_of, rest_execution_log_group};

/// The format the delivery writes. `plain` keeps the `(<requestId>) <text>` lines of the
/// standard group (the forwarder also reads `json` records, should AWS write those).
const OUTPUT_FORMAT: OutputFormat = OutputFormat::Plain;

/// The stage's delivery after `apply`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct DeliveryState {
    pub kind: DeliveryKind,
    /// A mutating call was made.
    pub changed: bool,
    /// Why an `auto` stage stayed standard.
    pub note: Option<String>,
}

/// Bring a captured stage's delivery to `wanted`. `auto` turns any refusal into a standard
/// stage with the reason in `note`; `full` returns it as the stage's error. `group_arn` is the
/// stage's execution group's ARN when the caller already read it (else it is looked up, only
/// if a delivery is to be made).
pub(crate) async fn apply(
    clients: &Clients,
    s: &RestStage,
    wanted: RestDelivery,
    group_arn: Option<&str>,
    calls: &mut CallLog,
) -> Result<DeliveryState, Error> {
    let recorded = recorded(s)?;
    match decide_delivery(wanted, recorded.as_ref()) {
        DeliveryAction::None => Ok(standard(false, None)),
        DeliveryAction::Remove(record) => {
            remove(clients, s, &record, calls).await?;
            Ok(standard(true, None))
        }
        DeliveryAction::Verify(record) => {
            if let Some(id) = &record.delivery_id {
                if delivery_exists(clients, id, calls).await? {
                    return Ok(DeliveryState {
                        kind: DeliveryKind::Full,
                        changed: false,
                        note: None,
                    });
                }
            }
            create_or_fall_back(clients, s, wanted, group_arn, true, calls).await
        }
        DeliveryAction::Create => {
            create_or_fall_back(clients, s, wanted, group_arn, false, calls).await
        }
    }
}

/// Remove the stage's recorded delivery, if any (restore). True when one was recorded.
pub(crate) async fn remove_recorded(
    clients: &Clients,
    s: &RestStage,
    calls: &mut CallLog,
) -> Result<bool, Error> {
    match recorded(s)? {
        Some(record) => {
            remove(clients, s, &record, calls).await?;
            Ok(true)
        }
        None => Ok(false),
    }
}

fn recorded(s: &RestStage) -> Result<Option<DeliveryRecord>, Error> {
    s.delivery_tag
        .as_deref()
        .map(DeliveryRecord::decode)
        .transpose()
        .map_err(|message| Error::PreviousSettings {
            stage: crate::rest::stage_target(s),
            message,
        })
}

fn standard(changed: bool, note: Option<String>) -> DeliveryState {
    DeliveryState {
        kind: DeliveryKind::Standard,
        changed,
        note,
    }
}

async fn create_or_fall_back(
    clients: &Clients,
    s: &RestStage,
    wanted: RestDelivery,
    group_arn: Option<&str>,
    tagged: bool,
    calls: &mut CallLog,
) -> Result<DeliveryState, Error> {
    match create(clients, s, group_arn, tagged, calls).await {
        Ok(()) => Ok(DeliveryState {
            kind: DeliveryKind::Full,
            changed: true,
            note: None,
        }),
        Err(e) if wanted == RestDelivery::Auto => {
            tracing::info!(stage = %s.stage, api = %s.api_id, error = %e, "full execution logs not available; standard");
            Ok(standard(true, Some(fallback_note(&e))))
        }
        Err(e) => Err(match e.code() {
            Some("ConflictException") => e.with_note(
                "the stage already has a log delivery source of its own; remove it, or set \
                 cequence_rest_log_delivery=standard",
            ),
            _ => e.with_note(
                "full execution logs need the CloudWatch Logs delivery APIs; set \
                 cequence_rest_log_delivery=standard or auto where they are not available",
            ),
        }),
    }
}

/// What `status` says of an `auto` stage left standard.
fn fallback_note(e: &Error) -> String {
    match e.code() {
        Some("ConflictException") => {
            "standard execution logs (1 KB events): the stage already has a log delivery source \
             of its own"
                .to_string()
        }
        code => format!(
            "standard execution logs (1 KB events): a log delivery could not be made ({})",
            code.unwrap_or("no error code")
        ),
    }
}

async fn create(
    clients: &Clients,
    s: &RestStage,
    group_arn: Option<&str>,
    tagged: bool,
    calls: &mut CallLog,
) -> Result<(), Error> {
    let group_arn = match group_arn {
        Some(arn) => arn.to_string(),
        None => {
            let group = rest_execution_log_group(&s.api_id, &s.stage);
            log_groups::find(&clients.logs, &group, calls)
                .await?
                .and_then(|g| g.arn)
                .ok_or_else(|| Error::Aws {
                    call: format!("logs:DescribeLogGroups {group}"),
                    code: None,
                    message: "the stage's execution log group has no ARN to deliver to".into(),
                })?
        }
    };
    let region = clients.region();
    let partition = partition_of(&region);
    let account = account_of_arn(&group_arn).unwrap_or_default();
    let name = delivery_name(&s.api_id, &s.stage);

    let source_arn = delivery_source_arn(partition, &region, account, &s.api_id, &s.stage);
    let call = calls.record("logs", "PutDeliverySource", &name);
    clients
        .logs
        .put_delivery_source()
        .name(&name)
        .resource_arn(&source_arn)
        .log_type(EXECUTION_LOGS)
        .send()
        .await
        .map_err(|e| Error::aws(&call, e))?;

    let mut record = DeliveryRecord {
        source: name.clone(),
        destination: name.clone(),
        delivery_id: None,
    };
    if !tagged {
        tag(clients, s, &record, calls).await?;
    }

    let call = calls.record("logs", "PutDeliveryDestination", &name);
    let config = DeliveryDestinationConfiguration::builder()
        .destination_resource_arn(&group_arn)
        .build()
        .map_err(|e| Error::Aws {
            call: call.clone(),
            code: None,
            message: e.to_string(),
        })?;
    let destination = clients
        .logs
        .put_delivery_destination()
        .name(&name)
        .output_format(OUTPUT_FORMAT)
        .delivery_destination_configuration(config)
        .send()
        .await
        .map_err(|e| Error::aws(&call, e))?;
    let destination_arn = destination
        .delivery_destination()
        .and_then(|d| d.arn())
        .unwrap_or_default()
        .to_string();

    let call = calls.record("logs", "CreateDelivery", &name);
    let id = match clients
        .logs
        .create_delivery()
        .delivery_source_name(&name)
        .delivery_destination_arn(&destination_arn)
        .send()
        .await
    {
        Ok(out) => out.delivery().and_then(|d| d.id()).map(str::to_string),
        // Made by an earlier run that stopped before recording its id.
        Err(e)
            if e.as_service_error()
                .is_some_and(|se| se.is_conflict_exception()) =>
        {
            find_delivery(clients, &name, calls).await?
        }
        Err(e) => return Err(Error::aws(&call, e)),
    };
    record.delivery_id = id;
    tag(clients, s, &record, calls).await
}

async fn delivery_exists(clients: &Clients, id: &str, calls: &mut CallLog) -> Result<bool, Error> {
    let call = calls.record("logs", "GetDelivery", id);
    crate::error::found(&call, clients.logs.get_delivery().id(id).send().await).map(|d| d.is_some())
}

/// The id of the delivery whose source is `source` (DescribeDeliveries has no filter).
async fn find_delivery(
    clients: &Clients,
    source: &str,
    calls: &mut CallLog,
) -> Result<Option<String>, Error> {
    let mut token: Option<String> = None;
    loop {
        let call = calls.record("logs", "DescribeDeliveries", "");
        let page = clients
            .logs
            .describe_deliveries()
            .set_next_token(token.clone())
            .send()
            .await
            .map_err(|e| Error::aws(&call, e))?;
        if let Some(d) = page
            .deliveries()
            .iter()
            .find(|d| d.delivery_source_name() == Some(source))
        {
            return Ok(d.id().map(str::to_string));
        }
        match page.next_token() {
            Some(t) if !t.is_empty() && Some(t) != token.as_deref() => token = Some(t.to_string()),
            _ => return Ok(None),
        }
    }
}

/// Delete the delivery, then its source and destination (AWS refuses those while a delivery
/// uses them), then the tag. Already-gone parts are fine: a restore may be re-run.
async fn remove(
    clients: &Clients,
    s: &RestStage,
    record: &DeliveryRecord,
    calls: &mut CallLog,
) -> Result<(), Error> {
    let id = match &record.delivery_id {
        Some(id) => Some(id.clone()),
        None => find_delivery(clients, &record.source, calls).await?,
    };
    if let Some(id) = id {
        let call = calls.record("logs", "DeleteDelivery", &id);
        crate::error::found(&call, clients.logs.delete_delivery().id(&id).send().await)?;
    }
    let call = calls.record("logs", "DeleteDeliverySource", &record.source);
    crate::error::found(
        &call,
        clients
            .logs
            .delete_delivery_source()
            .name(&record.source)
            .send()
            .await,
    )?;
    let call = calls.record("logs", "DeleteDeliveryDestination", &record.destination);
    crate::error::found(
        &call,
        clients
            .logs
            .delete_delivery_destination()
            .name(&record.destination)
            .send()
            .await,
    )?;
    let arn = crate::rest::arn(clients, s);
    let call = calls.record("apigateway", "UntagResource", &arn);
    clients
        .apigateway
        .untag_resource()
        .resource_arn(&arn)
        .tag_keys(LOG_DELIVERY_TAG)
        .send()
        .await
        .map_err(|e| Error::aws(&call, e))?;
    Ok(())
}

async fn tag(
    clients: &Clients,
    s: &RestStage,
    record: &DeliveryRecord,
    calls: &mut CallLog,
) -> Result<(), Error> {
    crate::rest::tag_stage(clients, s, LOG_DELIVERY_TAG, &record.encode(), calls).await
}
