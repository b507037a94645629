//! The public result types: what the CLI prints and the forwarder reads.

use serde::Serialize;

use crate::delivery_plan::{DeliveryKind, RestDelivery};

/// What the caller wants for the stages of one account and region.
#[derive(Clone, Debug)]
pub struct CaptureSettings {
    /// Capture REST API stages (template parameter CequenceRestApiEnabled).
    pub rest_enabled: bool,
    /// Capture HTTP API stages (template parameter CequenceHttpApiEnabled).
    pub http_enabled: bool,
    /// Also capture the `$default` stage of HTTP APIs (excluded by default, as in the vendor guide).
    pub include_http_default_stage: bool,
    /// Role API Gateway uses to write execution logs; set on the account when it has none, or
    /// when the one it names is ours from an earlier stack (`plan::OUR_ROLE_PATH`).
    pub cloudwatch_role_arn: Option<String>,
    /// A role this caller set before and now replaces (a custom resource Update's previous
    /// `CloudWatchRoleArn`): it may be replaced too.
    pub replaces_role_arn: Option<String>,
    /// Standard (1 KB) or full (1 MB, a log delivery per stage) REST execution logs.
    pub rest_delivery: RestDelivery,
}

impl CaptureSettings {
    /// Both stage types off: every stage this library captured is restored (plain `disable`).
    pub fn disabled() -> Self {
        Self {
            rest_enabled: false,
            http_enabled: false,
            include_http_default_stage: false,
            cloudwatch_role_arn: None,
            replaces_role_arn: None,
            // Unused: REST stages are restored, which removes a delivery whatever this says.
            rest_delivery: RestDelivery::Standard,
        }
    }

    /// Whether a stage of `api_type` named `stage` is in scope: its type is enabled, and an
    /// HTTP API's `$default` stage only when opted in (the vendor guide captures named stages).
    /// The one place that rule is written; the reconcile, the plan and the forwarder's tick
    /// all ask here.
    pub fn wants(&self, api_type: ApiType, stage: &str) -> bool {
        match api_type {
            ApiType::Rest => self.rest_enabled,
            ApiType::Http => {
                self.http_enabled
                    && (stage != cq_contract::log_groups::DEFAULT_STAGE
                        || self.include_http_default_stage)
            }
        }
    }
}

impl Default for CaptureSettings {
    fn default() -> Self {
        Self {
            rest_enabled: true,
            http_enabled: true,
            include_http_default_stage: false,
            cloudwatch_role_arn: None,
            replaces_role_arn: None,
            rest_delivery: RestDelivery::default(),
        }
    }
}

#[derive(Clone, Copy, Debug, Serialize, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum ApiType {
    Rest,
    Http,
}

impl std::fmt::Display for ApiType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ApiType::Rest => "rest",
            ApiType::Http => "http",
        })
    }
}

/// One stage and whether its logs reach a group the forwarder reads.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct StageStatus {
    pub api_type: ApiType,
    pub api_id: String,
    pub api_name: String,
    pub stage: String,
    /// True when the stage logs what the forwarder needs into `log_group`.
    pub captured: bool,
    /// The log group the forwarder reads for this stage (set when `captured`).
    pub log_group: Option<String>,
    /// Why the stage is not captured (or why it is read from the customer's own group, or
    /// why a REST stage's execution logs stayed standard).
    pub reason: Option<String>,
    /// For a captured REST stage: standard (1 KB) or full (1 MB) execution-log events.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub execution_logs: Option<DeliveryKind>,
}

/// A stage with, when it is captured, how its group reaches the forwarder.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct StageIngestion {
    #[serde(flatten)]
    pub stage: StageStatus,
    /// Pushed or polled, and why (None: the stage is not captured, so nothing is read).
    pub ingestion: Option<crate::subscription_plan::Ingestion>,
}

/// What happened to one stage.
#[derive(Clone, Copy, Debug, Serialize, PartialEq, Eq)]
pub enum Action {
    /// Logging was turned on (or the customer's compatible logging adopted with a change elsewhere).
    Captured,
    /// The settings recorded before capture were put back.
    Restored,
    /// Already in the desired state: only read calls were made.
    Unchanged,
    /// Out of scope (e.g. `$default` HTTP stage) or cannot be captured without taking the
    /// customer's logs away; `stage.reason` says why.
    Skipped,
    /// An AWS call failed; `error` holds it. Other stages were still processed.
    Failed,
}

impl StageStatus {
    /// A stage's place in the order chunks follow: type, API id, stage name.
    pub fn key(&self) -> String {
        stage_key(self.api_type, &self.api_id, &self.stage)
    }
}

pub(crate) fn stage_key(api_type: ApiType, api_id: &str, stage: &str) -> String {
    format!("{api_type}/{api_id}/{stage}")
}

/// One stage's result, with every API call made for it (read and write) in order.
#[derive(Clone, Debug, Serialize)]
pub struct StageOutcome {
    pub stage: StageStatus,
    pub action: Action,
    pub error: Option<String>,
    /// e.g. `apigateway:GetStage restapis/abc/stages/prod`; mutating calls are listed too.
    pub calls: Vec<String>,
}

impl StageOutcome {
    /// The calls in `calls` that changed something (not Get/List/Describe).
    pub fn mutating_calls(&self) -> impl Iterator<Item = &str> {
        self.calls
            .iter()
            .map(String::as_str)
            .filter(|c| crate::calls::is_mutating(c))
    }
}

/// Which part of a region's stages one call handles, so a region with more stages than one
/// Lambda invocation can change (API Gateway allows 10 control-plane calls a second per
/// account) is done over several: stages are taken in the order of `StageStatus::key`.
#[derive(Clone, Debug, Default)]
pub struct Chunk {
    /// Start after the stage with this key (`Report::resume_after` of the previous chunk).
    pub after: Option<String>,
    /// Start no stage at or after this instant; the ones left are reported in
    /// `Report::resume_after`. Stages already started are finished.
    pub stop_starting_at: Option<std::time::Instant>,
    /// Read the stages of no more APIs than hold this many stages still to do: a chunk need
    /// not list (10 calls a second) what only later chunks can change.
    pub max_stages: Option<usize>,
}

impl Chunk {
    pub(crate) fn scope(&self) -> crate::discovery::Scope<'_> {
        crate::discovery::Scope {
            after: self.after.as_deref(),
            max_stages: self.max_stages,
        }
    }
}

/// The result of `reconcile` / `restore_all` for one account and region.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Report {
    pub outcomes: Vec<StageOutcome>,
    /// Set when `Chunk::stop_starting_at` came before every stage was started: the key of the
    /// last stage handled (or the chunk's own `after` when none was); pass it as the next
    /// chunk's `after`.
    pub resume_after: Option<String>,
    /// Calls not tied to one stage (listing APIs, the account's CloudWatch role), in order.
    pub account_calls: Vec<String>,
    /// Failures that hit no single stage (e.g. an API list that could not be read): those
    /// stages are absent from `outcomes`, so the failure must still be visible.
    pub errors: Vec<String>,
}

impl Report {
    /// Stages whose processing failed, plus failures outside any stage (`errors`).
    pub fn failed(&self) -> usize {
        self.count(Action::Failed) + self.errors.len()
    }

    /// Stages that were changed (captured or restored).
    pub fn changed(&self) -> usize {
        self.count(Action::Captured) + self.count(Action::Restored)
    }

    /// Every mutating call made, in stage order (for the closing note).
    pub fn mutating_calls(&self) -> Vec<&str> {
        self.account_calls
            .iter()
            .map(String::as_str)
            .filter(|c| crate::calls::is_mutating(c))
            .chain(self.outcomes.iter().flat_map(StageOutcome::mutating_calls))
            .collect()
    }

    fn count(&self, action: Action) -> usize {
        self.outcomes.iter().filter(|o| o.action == action).count()
    }
}
