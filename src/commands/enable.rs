//! `cq-apigw enable`: buckets and artifacts, stage logging, StackSet and its instances —
//! each step reads first and changes only what differs, so a re-run changes nothing.

use std::fmt;
use std::process::ExitCode;

use futures::stream::{self, StreamExt, TryStreamExt};
use serde::Serialize;

use crate::aws::artifacts::{self, Artifacts};
use crate::aws::buckets;
use crate::aws::deployment::{self, Deployment};
use crate::aws::digest_key;
use crate::aws::stackset::{self, OperationOutcome, StackSetSpec};
use crate::aws::stages::{self, StageChanges};
use crate::aws::Aws;
use crate::cli::{EnableArgs, GlobalArgs};
use crate::config::model::{Config, DeploymentType};
use crate::error::{Error, Result};
use crate::output;
use crate::plan::bucket::{plan_bucket, BucketAction};
use crate::plan::parameters::{self, CodeLocation, DIGEST_TAG, TEMPLATE_KEY_TAG};
use crate::plan::stackset::{
    instances_to_reset, operation_preferences, outdated_instances, override_batches, plan_stackset,
    selected_existing, Deployed, Desired, InstanceBatch, InstanceOverrides, InstanceStatus,
    StackSetChange, Targets,
};
use crate::plan::{artifact_keys as keys, policy};
use crate::progress::Progress;

/// How many regions are prepared at once.
const REGION_CONCURRENCY: usize = 8;

#[derive(Debug, Serialize)]
pub struct BucketReport {
    pub region: String,
    pub bucket: String,
    pub actions: Vec<BucketAction>,
}

/// The result of `enable`, printed as text or JSON.
#[derive(Debug, Serialize)]
pub struct EnableReport {
    pub account: String,
    pub home_region: String,
    pub stackset_name: String,
    pub regions: Vec<String>,
    pub template_url: String,
    pub dry_run: bool,
    /// Whether anything was (or, with `--dry-run`, would be) changed.
    pub changed: bool,
    pub buckets: Vec<BucketReport>,
    pub stackset_change: Option<StackSetChange>,
    pub add_instances: Vec<InstanceBatch>,
    /// Instances brought back to the StackSet's values: overrides left by `disable` cleared,
    /// instances a partly failed operation left OUTDATED updated.
    pub reset_instances: Vec<InstanceBatch>,
    /// One line per API stage whose logging changed (or would change).
    pub stage_logging: Vec<String>,
    /// Stages (or regions) whose logging could not be changed; they make the exit code 1.
    pub stage_logging_failures: Vec<String>,
    pub operations: Vec<OperationOutcome>,
}

impl EnableReport {
    fn failures(&self) -> Vec<String> {
        let stages = self
            .stage_logging_failures
            .iter()
            .map(|f| format!("stage logging {f}"));
        self.operations
            .iter()
            .flat_map(OperationOutcome::failures)
            .chain(stages)
            .collect()
    }
}

impl fmt::Display for EnableReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "S3 template URL to use in AWS CloudFormation Console: {}",
            self.template_url
        )?;
        if !self.changed {
            return write!(
                f,
                "nothing to change: StackSet {} is up to date in {} region(s)",
                self.stackset_name,
                self.regions.len()
            );
        }
        let verb = if self.dry_run { "would" } else { "did" };
        if self.dry_run {
            writeln!(f, "Plan (dry run, nothing changed):")?;
        }
        for b in self.buckets.iter().filter(|b| !b.actions.is_empty()) {
            let actions: Vec<String> = b.actions.iter().map(ToString::to_string).collect();
            writeln!(
                f,
                "  bucket {} ({}): {}",
                b.bucket,
                b.region,
                actions.join(", ")
            )?;
        }
        match self.stackset_change {
            Some(StackSetChange::Create) => {
                writeln!(f, "  {verb} create StackSet {}", self.stackset_name)?
            }
            Some(StackSetChange::Update) => {
                writeln!(f, "  {verb} update StackSet {}", self.stackset_name)?
            }
            None => {}
        }
        for batch in &self.add_instances {
            writeln!(f, "  {verb} add stack instances: {batch}")?;
        }
        for batch in &self.reset_instances {
            writeln!(
                f,
                "  {verb} bring stack instances back to the StackSet's values (overrides cleared, outdated updated): {batch}"
            )?;
        }
        for s in &self.stage_logging {
            writeln!(f, "  stage logging: {s}")?;
        }
        for s in &self.stage_logging_failures {
            writeln!(f, "  stage logging FAILED: {s}")?;
        }
        for op in &self.operations {
            writeln!(
                f,
                "  operation {} {}: {}",
                op.operation_id, op.action, op.status
            )?;
            for i in &op.instances {
                write!(f, "    {} {}: {}", i.account, i.region, i.status)?;
                if !i.status_reason.is_empty() {
                    write!(f, " ({})", i.status_reason)?;
                }
                writeln!(f)?;
            }
        }
        let failures = self.failures();
        if failures.is_empty() {
            write!(
                f,
                "{}",
                if self.dry_run {
                    "dry run complete"
                } else {
                    "enable complete"
                }
            )
        } else {
            write!(f, "{} failure(s)", failures.len())
        }
    }
}

pub async fn run(global: &GlobalArgs, args: &EnableArgs, config: Config) -> Result<ExitCode> {
    if config.deployment_type == DeploymentType::Terraform {
        return Err(Error::Config {
            key: "cequence_deployment_type".into(),
            value: "terraform".into(),
            fix: "cq-apigw deploys with CloudFormation StackSets; set cloudformation".into(),
        });
    }
    let progress = Progress::new(!output::progress_wanted(global, args.output));
    // Local inputs first: a missing zip must fail before anything is created.
    let artifacts = artifacts::load(config.lambda_architecture)?;
    let aws = Aws::load(global).await?;
    let dep = deployment::resolve(&aws, &config).await?;
    progress.note(format!(
        "account {} ({}), home region {}, {} region(s): {}",
        dep.caller.account,
        dep.caller.partition,
        aws.home_region(),
        dep.regions.len(),
        dep.regions.join(",")
    ));

    // Read first: a StackSet update reaches every instance, also those in regions outside
    // `--regions`, and each reads the artifacts from its own region's bucket.
    let cfn = aws.cloudformation();
    let current = stackset::describe(&cfn, &config.stackset_name).await?;
    let instances = match &current {
        Some(_) => stackset::list_instances(&cfn, &config.stackset_name).await?,
        None => vec![],
    };
    let instance_regions: Vec<String> = instances.iter().map(|i| i.region.clone()).collect();
    let buckets = prepare_buckets(
        &aws,
        &config,
        &dep,
        &instance_regions,
        &artifacts,
        args.dry_run,
        &progress,
    )
    .await?;
    let home = aws.home_region().to_string();
    let home_bucket = keys::bucket_name(&dep.caller.account, &home);
    let template_url = keys::template_url(&home_bucket, &home, &artifacts.template.key);
    progress.note(format!(
        "S3 template URL to use in AWS CloudFormation Console: {template_url}"
    ));

    let stage_logging = if dep.caller_is_target() {
        enable_stage_logging(&aws, &config, &dep.regions, args.dry_run).await
    } else {
        StageChanges::default()
    };
    for failure in &stage_logging.failures {
        tracing::warn!("stage logging failed: {failure}");
    }

    let code = CodeLocation {
        bucket: home_bucket,
        region: home.clone(),
        zip_key: artifacts.forwarder.key.clone(),
    };
    let params = parameters::template_parameters(&config, &code);
    // Dry run: read the key only; without one yet the digest matches nothing (a real run
    // creates the key and updates the StackSet's tag once).
    let home_s3 = aws.s3(&home);
    let key = match args.dry_run {
        true => digest_key::load(&home_s3, &code.bucket).await?,
        false => Some(digest_key::load_or_create(&home_s3, &code.bucket).await?),
    };
    let digest = match &key {
        Some(key) => parameters::config_digest(key, &artifacts.template.key, &params),
        None => String::new(),
    };
    let existing: Vec<(String, String)> = instances
        .iter()
        .map(|i| (i.account.clone(), i.region.clone()))
        .collect();
    let deployed = current.as_ref().map(|s| Deployed {
        digest: s.tags.get(DIGEST_TAG).cloned(),
    });
    let desired = Desired {
        digest: digest.clone(),
        targets: dep.targets.clone(),
        regions: dep.regions.clone(),
    };
    let plan = plan_stackset(deployed.as_ref(), &desired, &existing);
    let reset = match &current {
        Some(_) => {
            let statuses: Vec<InstanceStatus> = instances
                .iter()
                .map(|i| InstanceStatus {
                    pair: (i.account.clone(), i.region.clone()),
                    status: i.status.clone(),
                    detailed_status: i.detailed_status.clone(),
                })
                .collect();
            plan_resets(&cfn, &config.stackset_name, &desired, &statuses, &params).await?
        }
        None => vec![],
    };

    let mut report = EnableReport {
        account: dep.caller.account.clone(),
        home_region: home,
        stackset_name: config.stackset_name.clone(),
        regions: dep.regions.clone(),
        template_url: template_url.clone(),
        dry_run: args.dry_run,
        changed: !plan.is_empty()
            || !reset.is_empty()
            || buckets.iter().any(|b| !b.actions.is_empty())
            || !stage_logging.changes.is_empty()
            || !stage_logging.failures.is_empty(),
        buckets,
        stackset_change: plan.change,
        add_instances: plan.add_instances.clone(),
        reset_instances: reset.clone(),
        stage_logging: stage_logging.changes,
        stage_logging_failures: stage_logging.failures,
        operations: vec![],
    };

    if !args.dry_run {
        let spec = StackSetSpec {
            name: config.stackset_name.clone(),
            template_url,
            parameters: params,
            tags: vec![
                ("cequence_integration".into(), "true".into()),
                ("cequence_created".into(), "true".into()),
                ("cequence-deployment-type".into(), "cloudformation".into()),
                (DIGEST_TAG.into(), digest),
                (TEMPLATE_KEY_TAG.into(), artifacts.template.key.clone()),
            ],
            permission_model: config.permission_model(),
            admin_role_arn: config.admin_role_arn(&dep.caller.partition, &dep.caller.account),
            execution_role_name: config.stackset_execution_role_name.clone(),
        };
        let prefs = operation_preferences(dep.targets.accounts().len());
        match plan.change {
            Some(StackSetChange::Create) => {
                progress.note(format!("creating StackSet {}", spec.name));
                stackset::create(&cfn, &spec).await?;
            }
            Some(StackSetChange::Update) => {
                progress.note(format!("updating StackSet {}", spec.name));
                let op = stackset::update(&cfn, &spec, prefs).await?;
                report
                    .operations
                    .push(finish(&cfn, &spec.name, op, "UPDATE", args.no_wait, &progress).await?);
            }
            None => {}
        }
        for batch in &plan.add_instances {
            progress.note(format!("adding stack instances: {batch}"));
            let op = stackset::create_instances(&cfn, &spec.name, batch, prefs).await?;
            report
                .operations
                .push(finish(&cfn, &spec.name, op, "CREATE", args.no_wait, &progress).await?);
        }
        // After the StackSet update, so the cleared instances take its new values.
        for batch in &reset {
            progress.note(format!(
                "updating stack instances to the StackSet's values: {batch}"
            ));
            let op = stackset::override_instances(&cfn, &spec.name, batch, &[], prefs).await?;
            report
                .operations
                .push(finish(&cfn, &spec.name, op, "UPDATE", args.no_wait, &progress).await?);
        }
    }
    progress.finish();
    output::print_result(args.output, &report)?;
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

/// The selected instances that do not run the configuration: overrides pinning other values
/// (left by `disable`), or left OUTDATED by an operation that failed part-way. As
/// UpdateStackInstances batches: an empty override list brings an instance to the StackSet's
/// current template and values. Overrides are read with one DescribeStackInstance each.
async fn plan_resets(
    cfn: &aws_sdk_cloudformation::Client,
    name: &str,
    desired: &Desired,
    statuses: &[InstanceStatus],
    params: &[parameters::Parameter],
) -> Result<Vec<InstanceBatch>> {
    let existing: Vec<(String, String)> = statuses.iter().map(|s| s.pair.clone()).collect();
    let selected = selected_existing(desired, &existing);
    let outdated: Vec<(String, String)> = outdated_instances(statuses)
        .into_iter()
        .filter(|p| selected.contains(p))
        .collect();
    let found: Vec<InstanceOverrides> = stream::iter(selected)
        .map(|(account, region)| async move {
            let overrides = stackset::instance_overrides(cfn, name, &account, &region).await?;
            Ok::<_, Error>(((account, region), overrides))
        })
        .buffered(REGION_CONCURRENCY)
        .try_collect()
        .await?;
    let mut pairs = instances_to_reset(&found, params);
    for p in outdated {
        if !pairs.contains(&p) {
            pairs.push(p);
        }
    }
    Ok(match &desired.targets {
        Targets::Accounts(_) => override_batches(&pairs, None),
        Targets::OrganizationalUnits { ous, .. } => override_batches(&pairs, Some(ous)),
    })
}

/// Wait for an operation (showing one row per account/region), or with `--no-wait` just
/// record it as submitted.
pub(crate) async fn finish(
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

/// Inspect (and unless `dry_run`, fix) the artifact bucket of every region and the home
/// region, concurrently.
/// Buckets and artifacts in the selected regions, the home region, and every region that
/// already has a stack instance (`instance_regions`).
async fn prepare_buckets(
    aws: &Aws,
    config: &Config,
    dep: &Deployment,
    instance_regions: &[String],
    artifacts: &Artifacts,
    dry_run: bool,
    progress: &Progress,
) -> Result<Vec<BucketReport>> {
    let mut regions = dep.regions.clone();
    for r in std::iter::once(aws.home_region()).chain(instance_regions.iter().map(String::as_str)) {
        if !regions.iter().any(|x| x == r) {
            regions.push(r.to_string());
        }
    }
    let readers = dep.readers();
    let artifact_keys = artifacts.keys();
    let uploads = artifacts.as_slice();
    let results: Vec<BucketReport> = stream::iter(regions)
        .map(|region| {
            let (readers, wanted, uploads) = (&readers, &artifact_keys, &uploads);
            async move {
                let bucket = keys::bucket_name(&dep.caller.account, &region);
                let row = format!("bucket {region}");
                progress.row(&row, "checking");
                let s3 = aws.s3(&region);
                let state = buckets::inspect(&s3, &bucket, wanted).await?;
                let policy = policy::bucket_policy(&bucket, &dep.caller.partition, readers);
                let actions = plan_bucket(&state, &policy, wanted);
                if !config.auto_upload_to_s3 && !actions.is_empty() {
                    return Err(Error::Config {
                        key: "cequence_cfn_auto_upload_to_s3".into(),
                        value: "false".into(),
                        fix: format!(
                            "bucket {bucket} needs: {}; set it to true to let cq-apigw do that",
                            actions
                                .iter()
                                .map(ToString::to_string)
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    });
                }
                if actions.is_empty() {
                    progress.done(&row, "up to date");
                } else if dry_run {
                    progress.done(&row, format!("would change {} setting(s)", actions.len()));
                } else {
                    progress.row(&row, "updating");
                    let calls = buckets::apply(
                        &s3,
                        &bucket,
                        &region,
                        &actions,
                        &policy.to_string(),
                        uploads,
                    )
                    .await?;
                    progress.done(&row, format!("{} change(s)", calls.len()));
                }
                Ok::<_, Error>(BucketReport {
                    region,
                    bucket,
                    actions,
                })
            }
        })
        .buffer_unordered(REGION_CONCURRENCY)
        .try_collect()
        .await?;
    let mut results = results;
    results.sort_by(|a, b| a.region.cmp(&b.region));
    Ok(results)
}

/// SPEC §3 step 4: logging on the API Gateway stages of the caller's account in `regions`.
///
/// `changes` has one line per stage changed (or, with `dry_run`, that would change); empty
/// means nothing changed, which keeps the "nothing to change" answer exact. A failed stage
/// or region is in `failures` and does not stop the others nor the StackSet work.
pub async fn enable_stage_logging(
    aws: &Aws,
    config: &Config,
    regions: &[String],
    dry_run: bool,
) -> StageChanges {
    let settings = stages::capture_settings(config);
    if dry_run {
        stages::preview(aws, regions, &settings).await
    } else {
        stages::reconcile(aws, regions, &settings).await
    }
}
