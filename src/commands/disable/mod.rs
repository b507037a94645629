//! `cq-apigw disable`: turn capture off on the selected stack instances (parameter
//! overrides), or with `--destroy` remove instances, StackSet and optionally the buckets.
//!
//! Everything already gone counts as done, so re-running after an interruption finishes. The
//! run is observe (caller, StackSet, instances) → plan (`plan::stackset`, `plan::destroy`,
//! confirmed before any change) → apply (stage logging, then the StackSet) → report.

mod destroy;
mod report;

use std::collections::BTreeSet;
use std::process::ExitCode;

pub use report::DisableReport;

use crate::aws::deployment::resolve_regions;
use crate::aws::identity::{self, Caller};
use crate::aws::stackset::{self, Current, OperationOutcome};
use crate::aws::stages;
use crate::aws::Aws;
use crate::commands::operation_wait::wait_or_submit;
use crate::commands::stage_changes;
use crate::commands::Session;
use crate::config::model::{Config, RegionSelection};
use crate::error::{Error, Result};
use crate::output::{self, OutputFormat};
use crate::plan::parameters::{disable_overrides, HTTP_ENABLED, REST_ENABLED};
use crate::plan::stackset::{
    operation_preferences, override_batches, select_instances, BatchTargets, InstanceBatch,
};
use crate::progress::Progress;
use cq_stage_logging::CaptureSettings;

/// `disable`'s flags, as plain values.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// `--accounts`: a comma list of account ids (all when unset).
    pub accounts: Option<String>,
    pub destroy: bool,
    /// `--yes`, or running under CI: no confirmation prompt.
    pub assume_yes: bool,
    pub output: OutputFormat,
}

pub async fn run(session: &Session, opts: &Options, config: Config) -> Result<ExitCode> {
    let accounts = parse_accounts(opts.accounts.as_deref())?;
    let progress = Progress::new(!output::progress_wanted(session.quiet, opts.output));
    let aws = Aws::load(&session.aws).await?;

    // Observe.
    let caller = identity::caller(&aws.sts()).await?;
    let cfn = aws.cloudformation();
    let name = config.stackset_name.clone();
    let current = stackset::read(&cfn, &name).await?;
    let pairs = current.pairs();
    let ous = service_managed_ous(&current, &config);
    let selected_regions = match &config.regions {
        RegionSelection::All => vec![],
        RegionSelection::List(l) => l.clone(),
    };
    let mut report = DisableReport {
        stackset_name: name.clone(),
        destroy: opts.destroy,
        not_found: current.stackset.is_none(),
        ..Default::default()
    };

    // Plan: everything a destroy deletes is decided, shown and confirmed before the first change.
    let destroying = match opts.destroy {
        false => None,
        true => {
            let selection = destroy::Selection {
                pairs: &pairs,
                accounts: &accounts,
                regions: &selected_regions,
                stackset_exists: current.stackset.is_some(),
                delete_buckets: config.auto_delete_from_s3,
            };
            Some(
                destroy::plan_and_confirm(
                    &aws,
                    &caller.account,
                    &name,
                    &selection,
                    opts.assume_yes,
                )
                .await?,
            )
        }
    };

    // Apply: the caller's own stages first, then the StackSet.
    if caller_selected(&config, &accounts, &pairs, &caller.account) {
        restore_stage_logging(&aws, &config, &caller, opts.destroy, &progress, &mut report).await?;
    }
    if let Some((plan, our_buckets)) = destroying {
        destroy::apply(
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
    } else if current.stackset.is_some() {
        let selected = select_instances(&pairs, &accounts, &selected_regions);
        turn_capture_off(
            &cfn,
            &name,
            selected,
            ous.as_deref(),
            &progress,
            &mut report,
        )
        .await?;
    }
    progress.finish();
    output::print_result(opts.output, &report)?;
    exit_code(&report)
}

/// Service-managed StackSets address instances through their OUs: the StackSet's, the
/// instances', and the configured ones.
fn service_managed_ous(current: &Current, config: &Config) -> Option<Vec<String>> {
    let s = current.stackset.as_ref()?;
    (s.permission_model == "SERVICE_MANAGED").then(|| {
        let mut ous: BTreeSet<String> = s.organizational_unit_ids.iter().cloned().collect();
        ous.extend(
            current
                .instances
                .iter()
                .map(|i| i.organizational_unit_id.clone())
                .filter(|o| !o.is_empty()),
        );
        ous.extend(config.target_ous.iter().cloned());
        ous.into_iter().collect()
    })
}

/// Restore the stages of the caller's account: every one this tool captured with `--destroy`,
/// else as both capture settings off.
async fn restore_stage_logging(
    aws: &Aws,
    config: &Config,
    caller: &Caller,
    destroy: bool,
    progress: &Progress,
    report: &mut DisableReport,
) -> Result<()> {
    let regions = resolve_regions(aws, &config.regions, &caller.partition).await?;
    progress.note(format!(
        "restoring API stage logging in account {} ({} region(s))",
        caller.account,
        regions.len()
    ));
    let reports = if destroy {
        stages::restore_all(aws, &regions).await
    } else {
        stages::reconcile(aws, &regions, &CaptureSettings::disabled()).await
    };
    let changes = stage_changes::from_reports(&reports);
    for failure in &changes.failures {
        tracing::warn!("stage logging failed: {failure}");
    }
    report.stage_logging = changes.changes;
    report.stage_logging_failures = changes.failures;
    Ok(())
}

/// Override both capture parameters to false on the selected instances not already off.
async fn turn_capture_off(
    cfn: &aws_sdk_cloudformation::Client,
    name: &str,
    selected: Vec<(String, String)>,
    ous: Option<&[String]>,
    progress: &Progress,
    report: &mut DisableReport,
) -> Result<()> {
    let mut to_disable = Vec::new();
    for (account, region) in selected {
        if already_disabled(cfn, name, &account, &region).await? {
            report.already_disabled.push((account, region));
        } else {
            to_disable.push((account, region));
        }
    }
    for batch in override_batches(&to_disable, ous) {
        progress.note(format!("turning capture off: {batch}"));
        let prefs = operation_preferences(batch_accounts(&batch));
        let op =
            stackset::override_instances(cfn, name, &batch, &disable_overrides(), prefs).await?;
        report
            .operations
            .push(wait_or_submit(cfn, name, op, "UPDATE", false, progress).await?);
    }
    report.disabled = to_disable;
    Ok(())
}

/// 1 when a StackSet operation failed or a stage could not be restored, saying which.
fn exit_code(report: &DisableReport) -> Result<ExitCode> {
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
}
