//! `cq-apigw enable`: buckets and artifacts, stage logging, StackSet and its instances —
//! each step reads first and changes only what differs, so a re-run changes nothing.
//!
//! The run is observe (who and where, what is deployed) → plan (pure, `crate::plan`) → apply
//! (skipped with `--dry-run`) → report.

mod buckets;
mod report;
mod stackset_step;

use std::process::ExitCode;

pub use report::{BucketReport, EnableReport};

use crate::artifacts;
use crate::aws::deployment::{self, Deployment};
use crate::aws::stackset;
use crate::aws::stages;
use crate::aws::Aws;
use crate::commands::stage_changes::{self, StageChanges};
use crate::commands::Session;
use crate::config::model::{Config, DeploymentType};
use crate::error::{Error, Result};
use crate::output::{self, OutputFormat};
use crate::plan::artifact_keys as keys;
use crate::progress::Progress;

/// `enable`'s flags, as plain values.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Read and plan only; change nothing.
    pub dry_run: bool,
    /// Submit StackSet operations without waiting for them.
    pub no_wait: bool,
    pub output: OutputFormat,
}

pub async fn run(session: &Session, opts: &Options, config: Config) -> Result<ExitCode> {
    check_deployment_type(&config)?;
    let progress = Progress::new(!output::progress_wanted(session.quiet, opts.output));
    // Local inputs first: a missing zip must fail before anything is created.
    let artifacts = artifacts::load(config.lambda_architecture)?;
    let aws = Aws::load(&session.aws).await?;

    // Observe: who and where; then what is deployed, read first because a StackSet update
    // reaches every instance, also those in regions outside `--regions`.
    let dep = deployment::resolve(&aws, &config).await?;
    progress.note(format!(
        "account {} ({}), home region {}, {} region(s): {}",
        dep.caller.account,
        dep.caller.partition,
        aws.home_region(),
        dep.regions.len(),
        dep.regions.join(",")
    ));
    let cfn = aws.cloudformation();
    let current = stackset::read(&cfn, &config.stackset_name).await?;

    // Buckets: each region is planned and (unless a dry run) fixed on its own.
    let instance_regions: Vec<String> =
        current.instances.iter().map(|i| i.region.clone()).collect();
    let buckets = buckets::prepare(
        &aws,
        &config,
        &dep,
        &instance_regions,
        &artifacts,
        opts.dry_run,
        &progress,
    )
    .await?;
    let home = aws.home_region().to_string();
    let template_url = keys::template_url(
        &keys::bucket_name(&dep.caller.account, &home),
        &home,
        &artifacts.template.key,
    );
    progress.note(format!(
        "S3 template URL to use in AWS CloudFormation Console: {template_url}"
    ));

    let stage_logging = enable_stage_logging(&aws, &config, &dep, opts.dry_run).await;

    // Plan the StackSet, report it, and apply it unless this is a dry run.
    let step = stackset_step::plan(
        &aws,
        &config,
        &dep,
        &current,
        &artifacts,
        template_url.clone(),
        opts.dry_run,
    )
    .await?;
    let mut report = EnableReport {
        account: dep.caller.account.clone(),
        home_region: home,
        stackset_name: config.stackset_name.clone(),
        regions: dep.regions.clone(),
        template_url,
        dry_run: opts.dry_run,
        changed: !step.is_empty()
            || buckets.iter().any(|b| !b.actions.is_empty())
            || !stage_logging.changes.is_empty()
            || !stage_logging.failures.is_empty(),
        buckets,
        stackset_change: step.plan.change,
        add_instances: step.plan.add_instances.clone(),
        reset_instances: step.reset.clone(),
        stage_logging: stage_logging.changes,
        stage_logging_failures: stage_logging.failures,
        operations: vec![],
    };
    if !opts.dry_run {
        report.operations =
            stackset_step::apply(&cfn, &step, &dep, opts.no_wait, &progress).await?;
    }
    progress.finish();
    output::print_result(opts.output, &report)?;
    let failures = report.failures();
    if failures.is_empty() {
        Ok(ExitCode::SUCCESS)
    } else {
        Err(Error::Failed(format!(
            "{} operation(s) failed:\n  {}",
            failures.len(),
            failures.join("\n  ")
        )))
    }
}

/// cq-apigw deploys with CloudFormation only; Terraform users get the fix, not a half-run.
fn check_deployment_type(config: &Config) -> Result<()> {
    if config.deployment_type == DeploymentType::Terraform {
        return Err(Error::Config {
            key: "cequence_deployment_type".into(),
            value: "terraform".into(),
            fix: "cq-apigw deploys with CloudFormation StackSets; set cloudformation".into(),
        });
    }
    Ok(())
}

/// Logging on the API Gateway stages of the caller's account, when it is a target.
///
/// `changes` has one line per stage changed (or, with `dry_run`, that would change); empty
/// means nothing changed, which keeps the "nothing to change" answer exact. A failed stage
/// or region is in `failures` and does not stop the others nor the StackSet work.
async fn enable_stage_logging(
    aws: &Aws,
    config: &Config,
    dep: &Deployment,
    dry_run: bool,
) -> StageChanges {
    if !dep.caller_is_target() {
        return StageChanges::default();
    }
    let settings = stage_changes::capture_settings(config);
    let changes = if dry_run {
        stage_changes::from_plans(&stages::plan(aws, &dep.regions, &settings).await)
    } else {
        stage_changes::from_reports(&stages::reconcile(aws, &dep.regions, &settings).await)
    };
    for failure in &changes.failures {
        tracing::warn!("stage logging failed: {failure}");
    }
    changes
}
