//! The read-only AWS calls `cq-apigw doctor` makes beyond those `enable` makes anyway:
//! StackSets trusted access, the administration role, an IAM simulation of the operator
//! policy, and each region's Lambda concurrency limits.

use aws_sdk_iam::types::{ContextEntry, ContextKeyTypeEnum, PolicyEvaluationDecisionType};

use crate::error::{Error, Result};
use crate::plan::doctor::Simulation;

/// The service principal Organizations lists when trusted access for StackSets is on.
pub const STACKSETS_SERVICE: &str = "member.org.stacksets.cloudformation.amazonaws.com";

/// Whether trusted access between CloudFormation StackSets and Organizations is enabled.
pub async fn stacksets_trusted_access(org: &aws_sdk_organizations::Client) -> Result<bool> {
    let mut pages = org
        .list_aws_service_access_for_organization()
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page =
            page.map_err(|e| Error::aws("Organizations ListAWSServiceAccessForOrganization", e))?;
        if page
            .enabled_service_principals()
            .iter()
            .any(|p| p.service_principal() == Some(STACKSETS_SERVICE))
        {
            return Ok(true);
        }
    }
    Ok(false)
}

/// The ARN (with its path) of a role of the caller's account, None when it does not exist.
pub async fn role_arn(iam: &aws_sdk_iam::Client, name: &str) -> Result<Option<String>> {
    match iam.get_role().role_name(name).send().await {
        Ok(out) => Ok(out.role().map(|r| r.arn().to_string())),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_no_such_entity_exception()) =>
        {
            Ok(None)
        }
        Err(e) => Err(Error::aws(format!("IAM GetRole {name}"), e)),
    }
}

/// The actions of `sim` the principal is not allowed, with IAM's decision for each.
pub async fn denied_actions(
    iam: &aws_sdk_iam::Client,
    principal_arn: &str,
    sim: &Simulation,
) -> Result<Vec<(String, String)>> {
    let mut req = iam
        .simulate_principal_policy()
        .policy_source_arn(principal_arn)
        .set_action_names(Some(sim.actions.clone()))
        .resource_arns(&sim.resource);
    for (key, value) in &sim.context {
        req = req.context_entries(
            ContextEntry::builder()
                .context_key_name(key)
                .context_key_values(value)
                .context_key_type(ContextKeyTypeEnum::String)
                .build(),
        );
    }
    let mut denied = vec![];
    let mut pages = req.into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| Error::aws("IAM SimulatePrincipalPolicy", e))?;
        for r in page.evaluation_results() {
            if r.eval_decision() != &PolicyEvaluationDecisionType::Allowed {
                denied.push((
                    r.eval_action_name().to_string(),
                    r.eval_decision().as_str().to_string(),
                ));
            }
        }
    }
    Ok(denied)
}

/// (account concurrency limit, unreserved) of Lambda in the client's region.
pub async fn lambda_concurrency(lambda: &aws_sdk_lambda::Client) -> Result<(i64, i64)> {
    let out = lambda
        .get_account_settings()
        .send()
        .await
        .map_err(|e| Error::aws("Lambda GetAccountSettings", e))?;
    let limit = out.account_limit();
    Ok((
        limit
            .map(|l| i64::from(l.concurrent_executions()))
            .unwrap_or(0),
        limit
            .and_then(|l| l.unreserved_concurrent_executions())
            .map(i64::from)
            .unwrap_or(0),
    ))
}
