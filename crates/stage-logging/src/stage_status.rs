//! The status view: every stage (as the plan sees it, or as discovered) and, for the captured
//! ones, whether its group is pushed
//! (our filter, its destination, since when) or polled, and why. Read calls only.

use std::collections::HashMap;

use crate::calls::CallLog;
use crate::clients::Clients;
use crate::error::Error;
use crate::model::{CaptureSettings, StageIngestion, StageStatus};
use crate::subscription_plan::{ingestion_of, split, Ingestion, IngestionMode};
use crate::subscriptions::describe;

/// `discover`, plus each captured group's ingestion under `mode`.
pub(crate) async fn discover_ingestion(
    clients: &Clients,
    mode: IngestionMode,
) -> Result<Vec<StageIngestion>, Error> {
    let stages = crate::discovery::discover(clients).await?;
    Ok(with_ingestion(clients, stages, Some(mode)).await)
}

/// The status view under `settings`: every stage as the plan sees it (so an HTTP `$default`
/// stage reads as out of scope only when it is), with its group's ingestion under `mode` when
/// a forwarder is deployed.
pub(crate) async fn status(
    clients: &Clients,
    settings: &CaptureSettings,
    mode: Option<IngestionMode>,
) -> Result<Vec<StageIngestion>, Error> {
    let plan = crate::region_plan::plan(clients, settings).await?;
    let stages = plan.stages.into_iter().map(|p| p.stage).collect();
    Ok(with_ingestion(clients, stages, mode).await)
}

/// Each captured group's ingestion under `mode` (none without a mode). A group whose filters
/// cannot be read is `Ingestion::Unknown` (the other stages are still shown); groups shared
/// by several stages are read once.
async fn with_ingestion(
    clients: &Clients,
    stages: Vec<StageStatus>,
    mode: Option<IngestionMode>,
) -> Vec<StageIngestion> {
    let mut seen: HashMap<String, Ingestion> = HashMap::new();
    let mut out = Vec::with_capacity(stages.len());
    for stage in stages {
        let group = stage.log_group.clone().filter(|_| stage.captured);
        let ingestion = match (group, mode) {
            (Some(group), Some(mode)) => {
                if !seen.contains_key(&group) {
                    let mut calls = CallLog::default();
                    let i = match describe(clients, &group, &mut calls).await {
                        Ok(filters) => ingestion_of(mode, &split(&filters)),
                        Err(e) => Ingestion::Unknown {
                            error: e.to_string(),
                        },
                    };
                    seen.insert(group.clone(), i);
                }
                seen.get(&group).cloned()
            }
            _ => None,
        };
        out.push(StageIngestion { stage, ingestion });
    }
    out
}
