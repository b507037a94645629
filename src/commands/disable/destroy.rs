//! `disable --destroy`: everything it deletes is decided (`plan::destroy`), shown and
//! confirmed before the first change, then deleted instances first, StackSet, buckets.

use std::collections::BTreeSet;

use futures::stream::{self, StreamExt, TryStreamExt};

use super::report::DisableReport;
use crate::aws::stackset;
use crate::aws::{buckets, Aws};
use crate::commands::operation_wait::wait_or_submit;
use crate::confirm::{confirm, Answerer};
use crate::error::{Error, Result};
use crate::plan::destroy::{plan_destroy, DestroyPlan};
use crate::plan::stackset::{
    group_pairs, operation_preferences, override_batches, BatchTargets, InstanceBatch,
};
use crate::progress::Progress;

/// What the selection asks for in a destroy: planned from what is deployed, before anything
/// is changed.
pub(super) struct Selection<'a> {
    pub pairs: &'a [(String, String)],
    pub accounts: &'a [String],
    pub regions: &'a [String],
    pub stackset_exists: bool,
    pub delete_buckets: bool,
}

/// Plan the destroy, list the buckets it would delete, and ask (unless `assume_yes`). A
/// refusal is an error that says nothing was changed.
pub(super) async fn plan_and_confirm(
    aws: &Aws,
    account: &str,
    name: &str,
    selection: &Selection<'_>,
    assume_yes: bool,
) -> Result<(DestroyPlan, Vec<(String, String)>)> {
    let plan = plan_destroy(
        selection.pairs,
        selection.accounts,
        selection.regions,
        selection.stackset_exists,
        selection.delete_buckets,
    );
    let our_buckets = match plan.delete_buckets {
        true => buckets::list_ours(&aws.s3(aws.home_region()), account).await?,
        false => vec![],
    };
    if !plan.instances.is_empty() || plan.delete_stackset || !our_buckets.is_empty() {
        let summary = destroy_summary(name, &plan, &our_buckets);
        let stdin = std::io::stdin();
        let go = confirm(
            Answerer::detect(assume_yes),
            "cq-apigw disable --destroy",
            &summary,
            &mut stdin.lock(),
            &mut std::io::stderr(),
        )?;
        if !go {
            return Err(Error::Failed(
                "disable --destroy cancelled: nothing was changed".into(),
            ));
        }
    }
    Ok((plan, our_buckets))
}

/// The confirmation text: every instance, the StackSet and each bucket that will go, and
/// what stays.
fn destroy_summary(name: &str, plan: &DestroyPlan, our_buckets: &[(String, String)]) -> String {
    let mut lines = Vec::new();
    if !plan.instances.is_empty() {
        lines.push(format!("  {} stack instance(s):", plan.instances.len()));
        lines.extend(plan.instances.iter().map(|(a, r)| format!("    {a} {r}")));
    }
    if plan.delete_stackset {
        lines.push(format!("  StackSet {name}"));
    }
    for (bucket, region) in our_buckets {
        lines.push(format!("  bucket {bucket} ({region}) and everything in it"));
    }
    if !plan.kept.is_empty() {
        lines.push(format!(
            "  (kept: StackSet {name} and its buckets, for {} instance(s) outside the selection)",
            plan.kept.len()
        ));
    }
    lines.join("\n")
}

/// Delete the planned instances (all at once through the OUs when everything goes), then the
/// StackSet and the buckets; stops before the StackSet when an instance could not be deleted.
#[allow(clippy::too_many_arguments)]
pub(super) async fn apply(
    aws: &Aws,
    cfn: &aws_sdk_cloudformation::Client,
    name: &str,
    plan: &DestroyPlan,
    our_buckets: Vec<(String, String)>,
    ous: Option<&[String]>,
    progress: &Progress,
    report: &mut DisableReport,
) -> Result<()> {
    if !plan.instances.is_empty() {
        let batches = match ous {
            None => group_pairs(&plan.instances),
            // Deleting everything addresses the whole OUs (accounts that joined them since
            // included); a selection narrows the OUs to the selected accounts.
            Some(ous) if plan.everything => {
                let regions: BTreeSet<String> =
                    plan.instances.iter().map(|(_, r)| r.clone()).collect();
                vec![InstanceBatch {
                    targets: BatchTargets::OrganizationalUnits(ous.to_vec()),
                    only_accounts: vec![],
                    regions: regions.into_iter().collect(),
                }]
            }
            Some(ous) => override_batches(&plan.instances, Some(ous)),
        };
        let accounts: BTreeSet<&String> = plan.instances.iter().map(|(a, _)| a).collect();
        let prefs = operation_preferences(accounts.len());
        for batch in batches {
            progress.note(format!("deleting stack instances: {batch}"));
            if let Some(op) = stackset::delete_instances(cfn, name, &batch, prefs).await? {
                let outcome = wait_or_submit(cfn, name, op, "DELETE", false, progress).await?;
                let failed = outcome.failed();
                report.operations.push(outcome);
                if failed {
                    // The StackSet cannot be deleted while instances remain.
                    return Ok(());
                }
            }
        }
        report.deleted_instances = plan.instances.clone();
    }
    report.kept_instances = plan.kept.clone();
    if plan.delete_stackset {
        progress.note(format!("deleting StackSet {name}"));
        report.stackset_deleted = stackset::delete(cfn, name).await?;
    }
    if plan.delete_buckets {
        let deleted: Vec<Option<String>> = stream::iter(our_buckets)
            .map(|(bucket, region)| async move {
                let row = format!("bucket {region}");
                progress.row(&row, "emptying and deleting");
                let gone = buckets::destroy(&aws.s3(&region), &bucket).await?;
                progress.done(&row, if gone { "deleted" } else { "already gone" });
                Ok::<_, Error>(gone.then_some(bucket))
            })
            .buffer_unordered(8)
            .try_collect()
            .await?;
        let mut deleted: Vec<String> = deleted.into_iter().flatten().collect();
        deleted.sort();
        report.buckets_deleted = deleted;
    }
    Ok(())
}
