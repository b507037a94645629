//! CloudFormation StackSet calls: describe, create/update, instances, and waiting on
//! operations (there is no SDK waiter for StackSet operations, so they are polled).

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_cloudformation::types::{
    AccountFilterType, AutoDeployment, Capability, ConcurrencyMode, DeploymentTargets,
    ManagedExecution, Parameter, PermissionModels, RegionConcurrencyType,
    StackSetOperationPreferences, StackSetOperationStatus, Tag,
};
use aws_sdk_cloudformation::Client;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use rand::Rng;
use serde::Serialize;

use super::retry::{retry, STACKSET};
use crate::config::model::PermissionModel;
use crate::error::{Error, Result};
use crate::plan::parameters::Parameter as TemplateParameter;
use crate::plan::stackset::{BatchTargets, InstanceBatch, OperationPreferences};

/// What DescribeStackSet reports that the CLI uses.
#[derive(Debug, Clone, Default, Serialize)]
pub struct StackSetInfo {
    pub name: String,
    pub status: String,
    pub permission_model: String,
    pub tags: BTreeMap<String, String>,
    /// As returned (the NoEcho secret comes back masked from AWS).
    pub parameters: Vec<(String, String)>,
    pub organizational_unit_ids: Vec<String>,
}

/// One stack instance from ListStackInstances.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InstanceInfo {
    pub account: String,
    pub region: String,
    pub status: String,
    pub detailed_status: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub status_reason: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub organizational_unit_id: String,
}

/// One account/region result of a finished operation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InstanceResult {
    pub account: String,
    pub region: String,
    pub status: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub status_reason: String,
}

/// A submitted or finished StackSet operation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OperationOutcome {
    pub operation_id: String,
    pub action: String,
    /// Final status (`SUCCEEDED`, `FAILED`, `STOPPED`), or `SUBMITTED` with `--no-wait`.
    pub status: String,
    pub instances: Vec<InstanceResult>,
}

impl OperationOutcome {
    pub fn failed(&self) -> bool {
        matches!(self.status.as_str(), "FAILED" | "STOPPED")
            || self.instances.iter().any(|i| i.status == "FAILED")
    }

    /// One line per instance that failed or was not done, with CloudFormation's reason; the
    /// operation itself when it failed with no instance to blame.
    pub fn failures(&self) -> Vec<String> {
        let op = self;
        let mut lines: Vec<String> = op
            .instances
            .iter()
            .filter(|i| i.status == "FAILED" || (op.failed() && i.status == "CANCELLED"))
            .map(|i| match i.status.as_str() {
                "FAILED" => format!(
                    "{} {}/{}: {}",
                    op.action, i.account, i.region, i.status_reason
                ),
                // Stopped, or cut short by the failure tolerance: not done at all.
                _ => format!(
                    "{} {}/{}: not done, the operation ended {} ({})",
                    op.action, i.account, i.region, op.status, i.status_reason
                ),
            })
            .collect();
        if op.failed() && op.instances.iter().all(|i| i.status != "FAILED") && lines.is_empty() {
            lines.push(format!("operation {} {}", op.operation_id, op.status));
        }
        lines
    }
}

/// Everything CreateStackSet/UpdateStackSet send.
#[derive(Debug, Clone)]
pub struct StackSetSpec {
    pub name: String,
    pub template_url: String,
    pub parameters: Vec<TemplateParameter>,
    pub tags: Vec<(String, String)>,
    pub permission_model: PermissionModel,
    pub admin_role_arn: String,
    pub execution_role_name: String,
}

const DESCRIPTION: &str = "This StackSet facilitates the deployment and creation of AWS artifacts \
that enable Cequence and AWS API Gateway integration across regions and accounts.";

/// A fresh operation id: CloudFormation treats a retried call with the same id as the same
/// operation, so a retry after a lost response never starts a second one.
pub fn new_operation_id() -> String {
    let b: [u8; 16] = rand::rng().random();
    let h = hex::encode(b);
    format!(
        "cq-{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

fn sdk_parameters(params: &[TemplateParameter]) -> Vec<Parameter> {
    params
        .iter()
        .map(|p| {
            Parameter::builder()
                .parameter_key(p.key)
                .parameter_value(&p.value)
                .build()
        })
        .collect()
}

fn sdk_tags(tags: &[(String, String)]) -> Vec<Tag> {
    tags.iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

fn sdk_preferences(p: OperationPreferences) -> StackSetOperationPreferences {
    StackSetOperationPreferences::builder()
        .region_concurrency_type(RegionConcurrencyType::Parallel)
        .max_concurrent_count(p.max_concurrent_count)
        .failure_tolerance_count(p.failure_tolerance_count)
        .concurrency_mode(ConcurrencyMode::SoftFailureTolerance)
        .build()
}

fn is_not_found<E: ProvideErrorMetadata>(e: &E) -> bool {
    e.code() == Some("StackSetNotFoundException")
}

/// The StackSet and its instances: what every command reads first.
#[derive(Debug, Clone, Default)]
pub struct Current {
    /// `None` when the StackSet does not exist.
    pub stackset: Option<StackSetInfo>,
    pub instances: Vec<InstanceInfo>,
}

impl Current {
    /// Every instance as (account, region).
    pub fn pairs(&self) -> Vec<(String, String)> {
        self.instances
            .iter()
            .map(|i| (i.account.clone(), i.region.clone()))
            .collect()
    }
}

/// DescribeStackSet, then ListStackInstances when it exists.
pub async fn read(cfn: &Client, name: &str) -> Result<Current> {
    let stackset = describe(cfn, name).await?;
    let instances = match &stackset {
        Some(_) => list_instances(cfn, name).await?,
        None => vec![],
    };
    Ok(Current {
        stackset,
        instances,
    })
}

/// `None` when the StackSet does not exist (or was deleted).
pub async fn describe(cfn: &Client, name: &str) -> Result<Option<StackSetInfo>> {
    let out = match retry(STACKSET, "DescribeStackSet", || {
        cfn.describe_stack_set().stack_set_name(name).send()
    })
    .await
    {
        Ok(o) => o,
        Err(e) if is_not_found(&e) => return Ok(None),
        Err(e) => {
            return Err(Error::aws(
                format!("CloudFormation DescribeStackSet {name}"),
                e,
            ))
        }
    };
    let Some(s) = out.stack_set() else {
        return Ok(None);
    };
    let status = s
        .status()
        .map(|s| s.as_str().to_string())
        .unwrap_or_default();
    if status == "DELETED" {
        return Ok(None);
    }
    Ok(Some(StackSetInfo {
        name: s.stack_set_name().unwrap_or(name).to_string(),
        status,
        permission_model: s
            .permission_model()
            .map(|p| p.as_str().to_string())
            .unwrap_or_else(|| "SELF_MANAGED".into()),
        tags: s
            .tags()
            .iter()
            .filter_map(|t| Some((t.key()?.to_string(), t.value()?.to_string())))
            .collect(),
        parameters: s
            .parameters()
            .iter()
            .filter_map(|p| {
                Some((
                    p.parameter_key()?.to_string(),
                    p.parameter_value().unwrap_or_default().to_string(),
                ))
            })
            .collect(),
        organizational_unit_ids: s.organizational_unit_ids().to_vec(),
    }))
}

/// Every stack instance (empty when the StackSet does not exist).
pub async fn list_instances(cfn: &Client, name: &str) -> Result<Vec<InstanceInfo>> {
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = match retry(STACKSET, "ListStackInstances", || {
            cfn.list_stack_instances()
                .stack_set_name(name)
                .set_next_token(token.clone())
                .send()
        })
        .await
        {
            Ok(p) => p,
            Err(e) if is_not_found(&e) => return Ok(vec![]),
            Err(e) => {
                return Err(Error::aws(
                    format!("CloudFormation ListStackInstances {name}"),
                    e,
                ))
            }
        };
        for s in page.summaries() {
            out.push(InstanceInfo {
                account: s.account().unwrap_or_default().to_string(),
                region: s.region().unwrap_or_default().to_string(),
                status: s
                    .status()
                    .map(|x| x.as_str().to_string())
                    .unwrap_or_default(),
                detailed_status: s
                    .stack_instance_status()
                    .and_then(|x| x.detailed_status())
                    .map(|x| x.as_str().to_string())
                    .unwrap_or_default(),
                status_reason: s.status_reason().unwrap_or_default().to_string(),
                organizational_unit_id: s.organizational_unit_id().unwrap_or_default().to_string(),
            });
        }
        token = page.next_token().map(String::from);
        if token.is_none() {
            break;
        }
    }
    Ok(out)
}

pub async fn create(cfn: &Client, spec: &StackSetSpec) -> Result<()> {
    let mut req = cfn
        .create_stack_set()
        .stack_set_name(&spec.name)
        .description(DESCRIPTION)
        .template_url(&spec.template_url)
        .set_parameters(Some(sdk_parameters(&spec.parameters)))
        .set_tags(Some(sdk_tags(&spec.tags)))
        .capabilities(Capability::CapabilityNamedIam)
        .capabilities(Capability::CapabilityAutoExpand)
        .managed_execution(ManagedExecution::builder().active(true).build())
        // Same token on a retry: CloudFormation then does not create a second StackSet.
        .client_request_token(new_operation_id());
    req = match spec.permission_model {
        PermissionModel::ServiceManaged => req
            .permission_model(PermissionModels::ServiceManaged)
            .auto_deployment(
                AutoDeployment::builder()
                    .enabled(true)
                    .retain_stacks_on_account_removal(false)
                    .build(),
            ),
        PermissionModel::SelfManaged => req
            .permission_model(PermissionModels::SelfManaged)
            .administration_role_arn(&spec.admin_role_arn)
            .execution_role_name(&spec.execution_role_name),
    };
    retry(STACKSET, "CreateStackSet", || req.clone().send())
        .await
        .map_err(|e| Error::aws(format!("CloudFormation CreateStackSet {}", spec.name), e))?;
    Ok(())
}

/// Update template, parameters and tags for every instance. Returns the operation id.
pub async fn update(
    cfn: &Client,
    spec: &StackSetSpec,
    prefs: OperationPreferences,
) -> Result<String> {
    let operation_id = new_operation_id();
    let mut req = cfn
        .update_stack_set()
        .stack_set_name(&spec.name)
        .description(DESCRIPTION)
        .template_url(&spec.template_url)
        .set_parameters(Some(sdk_parameters(&spec.parameters)))
        .set_tags(Some(sdk_tags(&spec.tags)))
        .capabilities(Capability::CapabilityNamedIam)
        .capabilities(Capability::CapabilityAutoExpand)
        .managed_execution(ManagedExecution::builder().active(true).build())
        .operation_preferences(sdk_preferences(prefs))
        .operation_id(&operation_id);
    req = match spec.permission_model {
        PermissionModel::ServiceManaged => req.auto_deployment(
            AutoDeployment::builder()
                .enabled(true)
                .retain_stacks_on_account_removal(false)
                .build(),
        ),
        PermissionModel::SelfManaged => req
            .administration_role_arn(&spec.admin_role_arn)
            .execution_role_name(&spec.execution_role_name),
    };
    let out = retry(STACKSET, "UpdateStackSet", || req.clone().send())
        .await
        .map_err(|e| Error::aws(format!("CloudFormation UpdateStackSet {}", spec.name), e))?;
    Ok(out.operation_id().unwrap_or(&operation_id).to_string())
}

fn deployment_targets(batch: &InstanceBatch) -> Option<DeploymentTargets> {
    match &batch.targets {
        BatchTargets::Accounts(_) => None,
        BatchTargets::OrganizationalUnits(ous) => {
            let mut t = DeploymentTargets::builder().set_organizational_unit_ids(Some(ous.clone()));
            if !batch.only_accounts.is_empty() {
                t = t
                    .set_accounts(Some(batch.only_accounts.clone()))
                    .account_filter_type(AccountFilterType::Intersection);
            }
            Some(t.build())
        }
    }
}

fn accounts(batch: &InstanceBatch) -> Option<Vec<String>> {
    match &batch.targets {
        BatchTargets::Accounts(a) => Some(a.clone()),
        BatchTargets::OrganizationalUnits(_) => None,
    }
}

/// CreateStackInstances for one batch. Returns the operation id.
pub async fn create_instances(
    cfn: &Client,
    name: &str,
    batch: &InstanceBatch,
    prefs: OperationPreferences,
) -> Result<String> {
    let operation_id = new_operation_id();
    let req = cfn
        .create_stack_instances()
        .stack_set_name(name)
        .set_accounts(accounts(batch))
        .set_deployment_targets(deployment_targets(batch))
        .set_regions(Some(batch.regions.clone()))
        .operation_preferences(sdk_preferences(prefs))
        .operation_id(&operation_id);
    let out = retry(STACKSET, "CreateStackInstances", || req.clone().send())
        .await
        .map_err(|e| {
            Error::aws(
                format!("CloudFormation CreateStackInstances {name} ({batch})"),
                e,
            )
        })?;
    Ok(out.operation_id().unwrap_or(&operation_id).to_string())
}

/// UpdateStackInstances with parameter overrides. Returns the operation id.
pub async fn override_instances(
    cfn: &Client,
    name: &str,
    batch: &InstanceBatch,
    overrides: &[TemplateParameter],
    prefs: OperationPreferences,
) -> Result<String> {
    let operation_id = new_operation_id();
    let req = cfn
        .update_stack_instances()
        .stack_set_name(name)
        .set_accounts(accounts(batch))
        .set_deployment_targets(deployment_targets(batch))
        .set_regions(Some(batch.regions.clone()))
        .set_parameter_overrides(Some(sdk_parameters(overrides)))
        .operation_preferences(sdk_preferences(prefs))
        .operation_id(&operation_id);
    let out = retry(STACKSET, "UpdateStackInstances", || req.clone().send())
        .await
        .map_err(|e| {
            Error::aws(
                format!("CloudFormation UpdateStackInstances {name} ({batch})"),
                e,
            )
        })?;
    Ok(out.operation_id().unwrap_or(&operation_id).to_string())
}

/// The parameter overrides of one stack instance, as (key, value) pairs.
pub async fn instance_overrides(
    cfn: &Client,
    name: &str,
    account: &str,
    region: &str,
) -> Result<Vec<(String, String)>> {
    let out = retry(STACKSET, "DescribeStackInstance", || {
        cfn.describe_stack_instance()
            .stack_set_name(name)
            .stack_instance_account(account)
            .stack_instance_region(region)
            .send()
    })
    .await
    .map_err(|e| {
        Error::aws(
            format!("CloudFormation DescribeStackInstance {account}/{region}"),
            e,
        )
    })?;
    Ok(out
        .stack_instance()
        .map(|i| i.parameter_overrides())
        .unwrap_or_default()
        .iter()
        .map(|p| {
            (
                p.parameter_key().unwrap_or_default().to_string(),
                p.parameter_value().unwrap_or_default().to_string(),
            )
        })
        .collect())
}

/// DeleteStackInstances (stacks deleted, not retained). Returns the operation id.
pub async fn delete_instances(
    cfn: &Client,
    name: &str,
    batch: &InstanceBatch,
    prefs: OperationPreferences,
) -> Result<Option<String>> {
    let operation_id = new_operation_id();
    let req = cfn
        .delete_stack_instances()
        .stack_set_name(name)
        .set_accounts(accounts(batch))
        .set_deployment_targets(deployment_targets(batch))
        .set_regions(Some(batch.regions.clone()))
        .retain_stacks(false)
        .operation_preferences(sdk_preferences(prefs))
        .operation_id(&operation_id);
    match retry(STACKSET, "DeleteStackInstances", || req.clone().send()).await {
        Ok(out) => Ok(Some(
            out.operation_id().unwrap_or(&operation_id).to_string(),
        )),
        Err(e) if is_not_found(&e) => Ok(None),
        Err(e) => Err(Error::aws(
            format!("CloudFormation DeleteStackInstances {name} ({batch})"),
            e,
        )),
    }
}

/// DeleteStackSet; `false` when it was already gone.
pub async fn delete(cfn: &Client, name: &str) -> Result<bool> {
    match retry(STACKSET, "DeleteStackSet", || {
        cfn.delete_stack_set().stack_set_name(name).send()
    })
    .await
    {
        Ok(_) => Ok(true),
        Err(e) if is_not_found(&e) => Ok(false),
        Err(e) => Err(Error::aws(
            format!("CloudFormation DeleteStackSet {name}"),
            e,
        )),
    }
}

/// The operation's current status.
async fn operation_status(
    cfn: &Client,
    name: &str,
    operation_id: &str,
) -> Result<(String, String)> {
    let out = retry(STACKSET, "DescribeStackSetOperation", || {
        cfn.describe_stack_set_operation()
            .stack_set_name(name)
            .operation_id(operation_id)
            .send()
    })
    .await
    .map_err(|e| {
        Error::aws(
            format!("CloudFormation DescribeStackSetOperation {name} {operation_id}"),
            e,
        )
    })?;
    let op = out.stack_set_operation();
    Ok((
        op.and_then(|o| o.status())
            .map(|s| s.as_str().to_string())
            .unwrap_or_default(),
        op.and_then(|o| o.action())
            .map(|a| a.as_str().to_string())
            .unwrap_or_default(),
    ))
}

/// Per account/region results of an operation.
pub async fn operation_results(
    cfn: &Client,
    name: &str,
    operation_id: &str,
) -> Result<Vec<InstanceResult>> {
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = retry(STACKSET, "ListStackSetOperationResults", || {
            cfn.list_stack_set_operation_results()
                .stack_set_name(name)
                .operation_id(operation_id)
                .set_next_token(token.clone())
                .send()
        })
        .await
        .map_err(|e| {
            Error::aws(
                format!("CloudFormation ListStackSetOperationResults {name} {operation_id}"),
                e,
            )
        })?;
        for s in page.summaries() {
            out.push(InstanceResult {
                account: s.account().unwrap_or_default().to_string(),
                region: s.region().unwrap_or_default().to_string(),
                status: s
                    .status()
                    .map(|x| x.as_str().to_string())
                    .unwrap_or_default(),
                status_reason: s.status_reason().unwrap_or_default().to_string(),
            });
        }
        token = page.next_token().map(String::from);
        if token.is_none() {
            break;
        }
    }
    Ok(out)
}

fn is_terminal(status: &str) -> bool {
    [
        StackSetOperationStatus::Succeeded,
        StackSetOperationStatus::Failed,
        StackSetOperationStatus::Stopped,
    ]
    .iter()
    .any(|s| s.as_str() == status)
}

/// Poll until the operation ends, reporting per-instance results as they change through
/// `on_progress`. Polls every 2 s at first, growing to 15 s for long operations.
pub async fn wait(
    cfn: &Client,
    name: &str,
    operation_id: &str,
    mut on_progress: impl FnMut(&[InstanceResult]),
) -> Result<OperationOutcome> {
    let mut delay = Duration::from_secs(2);
    loop {
        let (status, action) = operation_status(cfn, name, operation_id).await?;
        let results = operation_results(cfn, name, operation_id).await?;
        on_progress(&results);
        if is_terminal(&status) {
            return Ok(OperationOutcome {
                operation_id: operation_id.to_string(),
                action,
                status,
                instances: results,
            });
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 3 / 2).min(Duration::from_secs(15));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operation_ids_are_unique_and_valid() {
        let a = new_operation_id();
        let b = new_operation_id();
        assert_ne!(a, b);
        assert!(a.len() <= 128);
        assert!(a.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
        assert!(a.starts_with("cq-"));
    }

    #[test]
    fn failure_is_any_failed_instance_or_a_failed_operation() {
        let ok = OperationOutcome {
            operation_id: "o".into(),
            action: "CREATE".into(),
            status: "SUCCEEDED".into(),
            instances: vec![InstanceResult {
                account: "1".into(),
                region: "r".into(),
                status: "SUCCEEDED".into(),
                status_reason: String::new(),
            }],
        };
        assert!(!ok.failed());
        assert!(ok.failures().is_empty());
        let mut one_failed = ok.clone();
        one_failed.instances[0].status = "FAILED".into();
        one_failed.instances[0].status_reason = "quota".into();
        assert!(one_failed.failed());
        assert_eq!(one_failed.failures(), ["CREATE 1/r: quota"]);
        let mut stopped = ok.clone();
        stopped.status = "STOPPED".into();
        assert!(stopped.failed());
        assert_eq!(stopped.failures(), ["operation o STOPPED"]);
        stopped.instances[0].status = "CANCELLED".into();
        stopped.instances[0].status_reason = "stopped".into();
        assert_eq!(
            stopped.failures(),
            ["CREATE 1/r: not done, the operation ended STOPPED (stopped)"]
        );
        // A cancelled instance of an operation that succeeded is not a failure.
        let mut cancelled = ok;
        cancelled.instances[0].status = "CANCELLED".into();
        assert!(cancelled.failures().is_empty());
    }
}
