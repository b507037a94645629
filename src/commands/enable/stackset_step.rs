//! The StackSet step of `enable`: decide (`plan::stackset`) from what is deployed and the
//! configuration's digest, then create or update the StackSet and its instances.

use futures::stream::{self, StreamExt, TryStreamExt};

use crate::artifacts::Artifacts;
use crate::aws::deployment::Deployment;
use crate::aws::digest_key;
use crate::aws::stackset::{self, Current, OperationOutcome, StackSetSpec};
use crate::aws::Aws;
use crate::commands::operation_wait::wait_or_submit;
use crate::config::model::Config;
use crate::error::{Error, Result};
use crate::plan::parameters::{self, CodeLocation, DIGEST_TAG, TEMPLATE_KEY_TAG};
use crate::plan::stackset::{
    instances_to_reset, operation_preferences, outdated_instances, override_batches, plan_stackset,
    selected_existing, Deployed, Desired, InstanceBatch, InstanceOverrides, InstanceStatus,
    StackSetChange, StackSetPlan, Targets,
};
use crate::progress::Progress;

/// How many DescribeStackInstance calls run at once.
const READ_CONCURRENCY: usize = 8;

/// What the StackSet step will do, with everything it needs to do it.
pub(super) struct StackSetStep {
    pub spec: StackSetSpec,
    pub plan: StackSetPlan,
    /// Instances brought back to the StackSet's values (overrides cleared, OUTDATED updated).
    pub reset: Vec<InstanceBatch>,
}

impl StackSetStep {
    pub fn is_empty(&self) -> bool {
        self.plan.is_empty() && self.reset.is_empty()
    }
}

/// Decide the StackSet step. A dry run only reads the digest key; without one yet the digest
/// matches nothing (a real run creates the key and updates the StackSet's tag once).
pub(super) async fn plan(
    aws: &Aws,
    config: &Config,
    dep: &Deployment,
    current: &Current,
    artifacts: &Artifacts,
    template_url: String,
    dry_run: bool,
) -> Result<StackSetStep> {
    let home = aws.home_region();
    let code = CodeLocation {
        bucket: crate::plan::artifact_keys::bucket_name(&dep.caller.account, home),
        region: home.to_string(),
        zip_key: artifacts.forwarder.key.clone(),
    };
    let params = parameters::template_parameters(config, &code);
    let home_s3 = aws.s3(home);
    let key = match dry_run {
        true => digest_key::load(&home_s3, &code.bucket).await?,
        false => Some(digest_key::load_or_create(&home_s3, &code.bucket).await?),
    };
    let digest = match &key {
        Some(key) => parameters::config_digest(key, &artifacts.template.key, &params),
        None => String::new(),
    };
    let deployed = current.stackset.as_ref().map(|s| Deployed {
        digest: s.tags.get(DIGEST_TAG).cloned(),
    });
    let desired = Desired {
        digest: digest.clone(),
        targets: dep.targets.clone(),
        regions: dep.regions.clone(),
    };
    let plan = plan_stackset(deployed.as_ref(), &desired, &current.pairs());
    let reset = match &current.stackset {
        Some(_) => {
            let statuses: Vec<InstanceStatus> = current
                .instances
                .iter()
                .map(|i| InstanceStatus {
                    pair: (i.account.clone(), i.region.clone()),
                    status: i.status.clone(),
                    detailed_status: i.detailed_status.clone(),
                })
                .collect();
            let cfn = aws.cloudformation();
            plan_resets(&cfn, &config.stackset_name, &desired, &statuses, &params).await?
        }
        None => vec![],
    };
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
    Ok(StackSetStep { spec, plan, reset })
}

/// Create or update the StackSet, add the new instances, then bring the others back to its
/// values (after the update, so the cleared instances take its new values).
pub(super) async fn apply(
    cfn: &aws_sdk_cloudformation::Client,
    step: &StackSetStep,
    dep: &Deployment,
    no_wait: bool,
    progress: &Progress,
) -> Result<Vec<OperationOutcome>> {
    let spec = &step.spec;
    let prefs = operation_preferences(dep.targets.accounts().len());
    let mut operations = Vec::new();
    match step.plan.change {
        Some(StackSetChange::Create) => {
            progress.note(format!("creating StackSet {}", spec.name));
            stackset::create(cfn, spec).await?;
        }
        Some(StackSetChange::Update) => {
            progress.note(format!("updating StackSet {}", spec.name));
            let op = stackset::update(cfn, spec, prefs).await?;
            operations
                .push(wait_or_submit(cfn, &spec.name, op, "UPDATE", no_wait, progress).await?);
        }
        None => {}
    }
    for batch in &step.plan.add_instances {
        progress.note(format!("adding stack instances: {batch}"));
        let op = stackset::create_instances(cfn, &spec.name, batch, prefs).await?;
        operations.push(wait_or_submit(cfn, &spec.name, op, "CREATE", no_wait, progress).await?);
    }
    for batch in &step.reset {
        progress.note(format!(
            "updating stack instances to the StackSet's values: {batch}"
        ));
        let op = stackset::override_instances(cfn, &spec.name, batch, &[], prefs).await?;
        operations.push(wait_or_submit(cfn, &spec.name, op, "UPDATE", no_wait, progress).await?);
    }
    Ok(operations)
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
        .buffered(READ_CONCURRENCY)
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
