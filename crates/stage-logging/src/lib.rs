//! Turn Cequence log capture on and off for the API Gateway stages of one account and region.
//!
//! The CLI (`enable`, `disable`, `status`) and the forwarder (custom resource, log discovery)
//! share this one implementation so the two can never disagree on where logs land or how a
//! customer's previous settings are kept. Pure decisions (what to change, the previous-settings
//! tag, the access log format, whether to put a subscription filter) live in `plan`,
//! `region_plan`, `previous`, `access_format` and `subscription_plan`; the modules `discovery`, `rest`,
//! `http`, `subscriptions` and `ingestion` make the calls.

mod access_format;
mod calls;
mod clients;
mod delivery;
mod delivery_plan;
mod discovery;
mod error;
mod error_text;
mod http;
mod log_groups;
mod model;
mod names;
mod plan;
mod previous;
mod reconcile;
mod region_plan;
mod rest;
mod stage_status;
mod subscription_plan;
mod subscriptions;

pub use access_format::{access_log_format, check_access_log_format, FormatCheck, REQUIRED_FIELDS};
pub use clients::{retry_config, Clients, MAX_ATTEMPTS};
pub use delivery_plan::{
    delivery_name, DeliveryKind, DeliveryRecord, RestDelivery, EXECUTION_LOGS, LOG_DELIVERY_TAG,
};
pub use error::Error;
pub use error_text::error_chain;
pub use model::{
    Action, ApiType, CaptureSettings, Chunk, Report, StageIngestion, StageOutcome, StageStatus,
};
pub use names::{
    http_access_log_group, http_stage_arn, rest_execution_log_group, rest_stage_arn,
    ADDED_SETTING_TAG, HTTP_ACCESS_LOG_GROUP_PREFIX, PREVIOUS_LOGGING_TAG,
};
pub use plan::{DEFAULT_STAGE_REASON, OUR_ROLE_PATH};
pub use previous::{AccessLog, PreviousLogging, RestLogging};
pub use region_plan::{Plan, StagePlan, Step};
pub use subscription_plan::{
    ingestion_of, GroupSubscriptions, Ingestion, IngestionMode, OurFilter, PollReason,
    PushDestination, SubscribeOutcome, SUBSCRIPTION_FILTER_NAME,
};

/// Retention (days) for log groups this library creates; enough for the forwarder to catch up
/// after an outage, short enough not to pile up cost.
pub const CREATED_GROUP_RETENTION_DAYS: i32 = 7;

/// How many stages are changed at a time: API Gateway's control-plane quotas are per account.
pub const STAGE_CONCURRENCY: usize = 2;

/// Read-only: every REST/HTTP stage in the client's region with its capture state and the log group to read.
pub async fn discover(clients: &Clients) -> Result<Vec<StageStatus>, Error> {
    discovery::discover(clients).await
}

/// Read-only: what [`reconcile`] with `settings` would change (the CLI's dry run), decided
/// by the same rules from the same reads.
pub async fn plan(clients: &Clients, settings: &CaptureSettings) -> Result<Plan, Error> {
    region_plan::plan(clients, settings).await
}

/// Bring every stage to the desired state: capture where its type is enabled, restore where disabled.
pub async fn reconcile(clients: &Clients, settings: &CaptureSettings) -> Report {
    reconcile::reconcile(clients, settings, &Chunk::default()).await
}

/// `reconcile` for the stages of `chunk` only (the custom resource, which has less time than
/// a region with hundreds of stages needs).
pub async fn reconcile_chunk(
    clients: &Clients,
    settings: &CaptureSettings,
    chunk: &Chunk,
) -> Report {
    reconcile::reconcile(clients, settings, chunk).await
}

/// Restore every stage this library captured (custom-resource Delete, `disable --destroy`),
/// and remove our subscription filter from each stage's groups.
pub async fn restore_all(clients: &Clients) -> Report {
    reconcile::restore_all(clients, &Chunk::default()).await
}

/// `restore_all` for the stages of `chunk` only.
pub async fn restore_all_chunk(clients: &Clients, chunk: &Chunk) -> Report {
    reconcile::restore_all(clients, chunk).await
}

/// Our filter and the names of the others on `log_group` (a missing group has none).
pub async fn subscriptions(
    clients: &Clients,
    log_group: &str,
) -> Result<GroupSubscriptions, Error> {
    subscriptions::subscriptions(clients, log_group).await
}

/// Put our subscription filter (pattern "", distribution ByLogStream) on `log_group`, or update
/// ours in place; a customer's filters are never touched. `NoFreeSlot` when the account's quota
/// refuses it (LimitExceededException): then poll the group. A destination that is not usable
/// yet (its role or permission still propagating) is tried again with backoff for up to
/// `wait_for_destination`; past that the error says so ([`Error::destination_not_ready`]).
pub async fn subscribe(
    clients: &Clients,
    log_group: &str,
    dest: &PushDestination,
    wait_for_destination: std::time::Duration,
) -> Result<SubscribeOutcome, Error> {
    subscriptions::subscribe(clients, log_group, dest, wait_for_destination).await
}

/// Remove our filter from `log_group` (only ours, by name). True when one was removed.
pub async fn unsubscribe(clients: &Clients, log_group: &str) -> Result<bool, Error> {
    subscriptions::unsubscribe(clients, log_group, &mut calls::CallLog::default()).await
}

/// Read-only, for `cq-apigw status`: every stage as [`plan`] under `settings` sees it, with
/// each captured group's ingestion under `mode` (none when no forwarder is deployed).
pub async fn status(
    clients: &Clients,
    settings: &CaptureSettings,
    mode: Option<IngestionMode>,
) -> Result<Vec<StageIngestion>, Error> {
    stage_status::status(clients, settings, mode).await
}

/// `discover`, with each captured group's ingestion (pushed or polled, and why) under `mode`.
pub async fn discover_ingestion(
    clients: &Clients,
    mode: IngestionMode,
) -> Result<Vec<StageIngestion>, Error> {
    stage_status::discover_ingestion(clients, mode).await
}
