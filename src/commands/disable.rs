//! `cq-apigw disable`: turn capture off on the selected stack instances (parameter
//! overrides), or with `--destroy` remove instances, StackSet and optionally the buckets.
//!
//! Everything already gone counts as done, so re-running after an interruption finishes.

use std::collections::BTreeSet;
use std::fmt;
use std::process::ExitCode;

use futures::stream::{self, StreamExt, TryStreamExt};
use serde::Serialize;

use super::enable::finish;
use crate::aws::deployment::resolve_regions;
use crate::aws::stackset::{self, OperationOutcome};
use crate::aws::stages;
use crate::aws::{buckets, identity, Aws};
use crate::cli::{DisableArgs, GlobalArgs};
use crate::config::model::{Config, RegionSelection};
use crate::confirm::{confirm, Answerer};
use crate::error::{Error, Result};
use crate::output;
use crate::plan::destroy::{plan_destroy, DestroyPlan};
use crate::plan::parameters::{disable_overrides, HTTP_ENABLED, REST_ENABLED};
use crate::plan::stackset::{
    group_pairs, operation_preferences, override_batches, select_instances, BatchTargets,
    InstanceBatch,
};
use crate::progress::Progress;

#[derive(Debug, Default, Serialize)]
pub struct DisableReport {
    pub stackset_name: String,
    pub destroy: bool,
    /// (account, region) pairs whose capture was turned off now.
    pub disabled: Vec<(String, String)>,
    /// Pairs that were already off.
    pub already_disabled: Vec<(String, String)>,
    pub deleted_instances: Vec<(String, String)>,
    /// Instances outside a scoped destroy's selection: they keep the StackSet and buckets.
    pub kept_instances: Vec<(String, String)>,
    pub stackset_deleted: bool,
    pub buckets_deleted: Vec<String>,
    pub operations: Vec<OperationOutcome>,
    /// The StackSet did not exist.
    pub not_found: bool,
    /// One line per API stage of the caller's account whose recorded settings were restored.
    pub stage_logging: Vec<String>,
    /// Stages (or regions) that could not be restored; they make the exit code 1.
    pub stage_logging_failures: Vec<String>,
}

impl fmt::Display for DisableReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let pairs = |v: &[(String, String)]| {
            v.iter()
                .map(|(a, r)| format!("{a}/{r}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        if self.not_found {
            writeln!(f, "StackSet {} does not exist", self.stackset_name)?;
        }
        if !self.disabled.is_empty() {
            writeln!(f, "capture turned off for: {}", pairs(&self.disabled))?;
        }
        if !self.already_disabled.is_empty() {
            writeln!(f, "already off: {}", pairs(&self.already_disabled))?;
        }
        if !self.deleted_instances.is_empty() {
            writeln!(
                f,
                "stack instances deleted: {}",
                pairs(&self.deleted_instances)
            )?;
        }
        if self.stackset_deleted {
            writeln!(f, "StackSet {} deleted", self.stackset_name)?;
        }
        if !self.kept_instances.is_empty() {
            writeln!(
                f,
                "kept StackSet {} and its buckets for {} instance(s) outside the selection: {}",
                self.stackset_name,
                self.kept_instances.len(),
                pairs(&self.kept_instances)
            )?;
        }
        for b in &self.buckets_deleted {
            writeln!(f, "bucket {b} emptied and deleted")?;
        }
        for s in &self.stage_logging {
            writeln!(f, "stage logging: {s}")?;
        }
        for s in &self.stage_logging_failures {
            writeln!(f, "stage logging FAILED: {s}")?;
        }
        for op in &self.operations {
            writeln!(
                f,
                "operation {} {}: {}",
                op.operation_id, op.action, op.status
            )?;
            for i in op.instances.iter().filter(|i| !i.status_reason.is_empty()) {
                writeln!(
                    f,
                    "  {} {}: {} ({})",
                    i.account, i.region, i.status, i.status_reason
                )?;
            }
        }
        let nothing = self.disabled.is_empty()
            && self.deleted_instances.is_empty()
            && !self.stackset_deleted
            && self.buckets_deleted.is_empty()
            && self.stage_logging.is_empty();
        let failures = self.stage_logging_failures.len();
        if failures > 0 {
            write!(f, "{failures} stage logging failure(s)")
        } else if nothing {
            write!(f, "nothing to change")
        } else {
            write!(f, "disable complete")
        }
    }
}

/// Comma list from `--accounts`, trimmed, empty entries dropped.
pub fn parse_accounts(arg: Option<&str>) -> Result<Vec<String>> {
    let accounts: Vec<String> = arg
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect();
    if let Some(bad) = accounts
        .iter()
        .find(|a| a.len() != 12 || !a.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(Error::Usage(format!(
            "--accounts: `{bad}` is not an AWS account id (12 digits)"
        )));
    }
    Ok(accounts)
}

pub async fn run(global: &GlobalArgs, args: &DisableArgs, config: Config) -> Result<ExitCode> {
    let accounts = parse_accounts(args.accounts.as_deref())?;
    let progress = Progress::new(!output::progress_wanted(global, args.output));
    let aws = Aws::load(global).await?;
    let caller = identity::caller(&aws.sts()).await?;
    let cfn = aws.cloudformation();
    let name = config.stackset_name.clone();
    let mut report = DisableReport {
        stackset_name: name.clone(),
        destroy: args.destroy,
        ..Default::default()
    };
    let current = stackset::describe(&cfn, &name).await?;
    report.not_found = current.is_none();
    let instances = match &current {
        Some(_) => stackset::list_instances(&cfn, &name).await?,
        None => vec![],
    };
    let pairs: Vec<(String, String)> = instances
        .iter()
        .map(|i| (i.account.clone(), i.region.clone()))
        .collect();
    // Service-managed StackSets address instances through their OUs.
    let ous: Option<Vec<String>> = current.as_ref().and_then(|s| {
        (s.permission_model == "SERVICE_MANAGED").then(|| {
            let mut ous: BTreeSet<String> = s.organizational_unit_ids.iter().cloned().collect();
            ous.extend(
                instances
                    .iter()
                    .map(|i| i.organizational_unit_id.clone())
                    .filter(|o| !o.is_empty()),
            );
            ous.extend(config.target_ous.iter().cloned());
            ous.into_iter().collect()
        })
    });

    let selected_regions = match &config.regions {
        RegionSelection::All => vec![],
        RegionSelection::List(l) => l.clone(),
    };
    // Everything a destroy deletes is decided, shown and confirmed before the first change.
    let destroying = match args.destroy {
        false => None,
        true => {
            let plan = plan_destroy(
                &pairs,
                &accounts,
                &selected_regions,
                current.is_some(),
                config.auto_delete_from_s3,
            );
            let our_buckets = match plan.delete_buckets {
                true => buckets::list_ours(&aws.s3(aws.home_region()), &caller.account).await?,
                false => vec![],
            };
            if !plan.instances.is_empty() || plan.delete_stackset || !our_buckets.is_empty() {
                let summary = destroy_summary(&name, &plan, &our_buckets);
                let answerer = Answerer::detect(args.assume_yes());
                let stdin = std::io::stdin();
                let go = confirm(
                    answerer,
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
            Some((plan, our_buckets))
        }
    };

    if caller_selected(&config, &accounts, &pairs, &caller.account) {
        let regions = resolve_regions(&aws, &config.regions, &caller.partition).await?;
        progress.note(format!(
            "restoring API stage logging in account {} ({} region(s))",
            caller.account,
            regions.len()
        ));
        let changes = if args.destroy {
            stages::restore_all(&aws, &regions).await
        } else {
            stages::reconcile(&aws, &regions, &stages::disabled_settings()).await
        };
        for failure in &changes.failures {
            tracing::warn!("stage logging failed: {failure}");
        }
        report.stage_logging = changes.changes;
        report.stage_logging_failures = changes.failures;
    }

    if let Some((plan, our_buckets)) = destroying {
        destroy(
            &aws,
            &cfn,
            &name,
            &plan,
            our_buckets,
            ous.as_deref(),
            &progress,
            &mut report,
        )
        .await?;
    } else if current.is_some() {
        let selected = select_instances(&pairs, &accounts, &selected_regions);
        let mut to_disable = Vec::new();
        for (account, region) in selected {
            if already_disabled(&cfn, &name, &account, &region).await? {
                report.already_disabled.push((account, region));
            } else {
                to_disable.push((account, region));
            }
        }
        for batch in override_batches(&to_disable, ous.as_deref()) {
            progress.note(format!("turning capture off: {batch}"));
            let prefs = operation_preferences(batch_accounts(&batch));
            let op = stackset::override_instances(&cfn, &name, &batch, &disable_overrides(), prefs)
                .await?;
            report
                .operations
                .push(finish(&cfn, &name, op, "UPDATE", false, &progress).await?);
        }
        report.disabled = to_disable;
    }
    progress.finish();
    output::print_result(args.output, &report)?;
    let failures: Vec<String> = report
        .operations
        .iter()
        .flat_map(OperationOutcome::failures)
        .collect();
    if !failures.is_empty() {
        return Err(Error::Failed(format!(
            "{} StackSet operation(s) failed:\n  {}",
            report.operations.iter().filter(|o| o.failed()).count(),
            failures.join("\n  ")
        )));
    }
    if !report.stage_logging_failures.is_empty() {
        return Err(Error::Failed(format!(
            "{} API stage(s) could not be restored:\n  {}",
            report.stage_logging_failures.len(),
            report.stage_logging_failures.join("\n  ")
        )));
    }
    Ok(ExitCode::SUCCESS)
}

/// Whether the caller's own stages are in scope: `--accounts` (when given) names the caller,
/// and the caller is a target — it has a stack instance, or it is a listed (or, with no list,
/// the implied) target of a self-managed deployment. Only stages carrying this tool's
/// previous-settings tag are changed, so a generous answer never touches a customer's stage.
fn caller_selected(
    config: &Config,
    accounts: &[String],
    instances: &[(String, String)],
    caller: &str,
) -> bool {
    let chosen = accounts.is_empty() || accounts.iter().any(|a| a == caller);
    let has_instance = instances.iter().any(|(a, _)| a == caller);
    let listed = !config.is_organization_deployment
        && (config.target_accounts.is_empty()
            || config.target_accounts.iter().any(|a| a == caller));
    chosen && (has_instance || listed)
}

fn batch_accounts(batch: &InstanceBatch) -> usize {
    match &batch.targets {
        BatchTargets::Accounts(a) => a.len(),
        BatchTargets::OrganizationalUnits(_) => batch.only_accounts.len(),
    }
}

/// Whether both capture parameters are already overridden to false on this instance.
async fn already_disabled(
    cfn: &aws_sdk_cloudformation::Client,
    name: &str,
    account: &str,
    region: &str,
) -> Result<bool> {
    let overrides = stackset::instance_overrides(cfn, name, account, region).await?;
    let is_false = |key: &str| overrides.iter().any(|(k, v)| k == key && v == "false");
    Ok(is_false(REST_ENABLED) && is_false(HTTP_ENABLED))
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

#[allow(clippy::too_many_arguments)]
async fn destroy(
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
                let outcome = finish(cfn, name, op, "DELETE", false, progress).await?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accounts_flag_is_a_comma_list_of_account_ids() {
        assert_eq!(
            parse_accounts(Some(" 111111111111, 222222222222 ,")).unwrap(),
            vec!["111111111111", "222222222222"]
        );
        assert!(parse_accounts(None).unwrap().is_empty());
        let err = parse_accounts(Some("12345")).unwrap_err();
        assert_eq!(err.exit_code(), 2);
        assert!(err.to_string().contains("12345"));
    }

    #[test]
    fn caller_is_selected_when_chosen_and_a_target() {
        let me = "111111111111".to_string();
        let other = "222222222222".to_string();
        let mut config = crate::plan::parameters::tests::sample_config();
        config.target_accounts = vec![];
        let inst = vec![(other.clone(), "us-east-1".to_string())];
        // Self-managed with no account list: the caller is the implied target.
        assert!(caller_selected(&config, &[], &[], &me));
        // `--accounts` naming someone else leaves the caller's stages alone.
        assert!(!caller_selected(
            &config,
            std::slice::from_ref(&other),
            &inst,
            &me
        ));
        config.target_accounts = vec![other.clone()];
        assert!(!caller_selected(&config, &[], &inst, &me));
        // A stack instance in the caller's account makes it a target whatever the list says.
        let mine = vec![(me.clone(), "eu-west-1".to_string())];
        assert!(caller_selected(&config, &[], &mine, &me));
        config.is_organization_deployment = true;
        config.target_accounts = vec![];
        assert!(!caller_selected(&config, &[], &inst, &me));
        assert!(caller_selected(
            &config,
            std::slice::from_ref(&me),
            &mine,
            &me
        ));
    }

    #[test]
    fn stage_lines_and_failures_are_shown() {
        let r = DisableReport {
            stackset_name: "s".into(),
            stage_logging: vec!["us-east-1 rest a (x) stage prod: restored".into()],
            ..Default::default()
        };
        let text = r.to_string();
        assert!(text.contains("stage logging: us-east-1 rest a (x) stage prod"));
        assert!(text.ends_with("disable complete"));
        let failed = DisableReport {
            stage_logging_failures: vec!["eu-west-1: denied".into()],
            ..r
        };
        let text = failed.to_string();
        assert!(text.contains("stage logging FAILED: eu-west-1: denied"));
        assert!(text.ends_with("1 stage logging failure(s)"));
    }

    #[test]
    fn empty_report_says_nothing_to_change() {
        let r = DisableReport {
            stackset_name: "s".into(),
            not_found: true,
            ..Default::default()
        };
        let text = r.to_string();
        assert!(text.contains("does not exist"));
        assert!(text.ends_with("nothing to change"));
    }
}
