//! Waiting for a StackSet operation with one progress row per account and region, shared by
//! `enable` and `disable`.

use crate::aws::stackset::{self, OperationOutcome};
use crate::error::Result;
use crate::progress::Progress;

/// Wait for an operation (showing one row per account/region), or with `--no-wait` just
/// record it as submitted.
pub async fn wait_or_submit(
    cfn: &aws_sdk_cloudformation::Client,
    name: &str,
    operation_id: String,
    action: &str,
    no_wait: bool,
    progress: &Progress,
) -> Result<OperationOutcome> {
    if no_wait {
        progress.note(format!("submitted operation {operation_id} ({action})"));
        return Ok(OperationOutcome {
            operation_id,
            action: action.to_string(),
            status: "SUBMITTED".into(),
            instances: vec![],
        });
    }
    stackset::wait(cfn, name, &operation_id, |results| {
        for r in results {
            let row = format!("{} {}", r.account, r.region);
            let msg = if r.status_reason.is_empty() {
                r.status.clone()
            } else {
                format!("{} — {}", r.status, r.status_reason)
            };
            if matches!(r.status.as_str(), "SUCCEEDED" | "FAILED" | "CANCELLED") {
                progress.done(&row, msg);
            } else {
                progress.row(&row, msg);
            }
        }
    })
    .await
}
