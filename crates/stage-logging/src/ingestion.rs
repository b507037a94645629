//! The status view of push and poll: for every captured stage, whether its group is pushed
//! (our filter, its destination, since when) or polled, and why. Read calls only.

use std::collections::HashMap;

use crate::calls::CallLog;
use crate::clients::Clients;
use crate::error::Error;
use crate::model::StageIngestion;
use crate::subscription_plan::{ingestion_of, split, Ingestion, IngestionMode};
use crate::subscriptions::describe;

/// `discover`, plus each captured group's ingestion under `mode`. A group whose filters
/// cannot be read is `Ingestion::Unknown` (the other stages are still shown); groups shared
/// by several stages are read once.
pub(crate) async fn discover_ingestion(
    clients: &Clients,
    mode: IngestionMode,
) -> Result<Vec<StageIngestion>, Error> {
    let stages = crate::discovery::discover(clients).await?;
    let mut seen: HashMap<String, Ingestion> = HashMap::new();
    let mut out = Vec::with_capacity(stages.len());
    for stage in stages {
        let group = stage.log_group.clone().filter(|_| stage.captured);
        let ingestion = match group {
            None => None,
            Some(group) => {
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
        };
        out.push(StageIngestion { stage, ingestion });
    }
    Ok(out)
}
