//! `cq-apigw doctor`: before any change, check what makes `enable` or the deployed forwarder
//! fail later, and say how to fix each. Read-only: every AWS call is a Get, List or Simulate,
//! plus one token request to the Cequence auth endpoint (the secret is never shown).

use std::process::ExitCode;

use crate::artifacts;
use crate::aws::deployment::resolve_regions;
use crate::aws::{identity, organization, preflight, Aws};
use crate::cequence_auth::{request_token, TokenAnswer};
use crate::commands::Session;
use crate::config::model::{Config, LambdaArchitecture, PermissionModel, DEFAULT_ADMIN_ROLE};
use crate::error::Result;
use crate::output;
use crate::output::OutputFormat;
use crate::plan::doctor::{
    concurrency_check, principal_of, simulations, Check, DoctorReport, Principal,
};

/// The operator policy the permission check simulates: the file the docs tell operators to
/// attach, so the check and the document cannot disagree.
const OPERATOR_POLICY: &str = include_str!("../../docs/iam-policy.json");

pub async fn run(session: &Session, format: OutputFormat, config: Config) -> Result<ExitCode> {
    let report = DoctorReport::new(checks(session, &config).await?);
    output::print_result(format, &report)?;
    Ok(if report.failed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// The package `enable` would upload: found, readable and built for the configured architecture.
fn package_check(arch: LambdaArchitecture) -> Check {
    const NAME: &str = "forwarder package";
    let path = match artifacts::locate_zip(arch) {
        Ok(p) => p,
        Err(e) => return Check::fail(NAME, e, "build or download it before `enable`"),
    };
    match artifacts::read_package(&path, arch) {
        Ok(_) => Check::ok(NAME, format!("{} ({})", path.display(), arch.as_str())),
        Err(e) => Check::fail(
            NAME,
            e.to_string(),
            "build the package for the configured architecture before `enable`",
        ),
    }
}

async fn checks(session: &Session, config: &Config) -> Result<Vec<Check>> {
    let mut checks = vec![package_check(config.lambda_architecture)];
    let aws = Aws::load(&session.aws).await?;
    checks.push(Check::ok(
        "home region",
        format!("{} (the StackSet is managed here)", aws.home_region()),
    ));
    let caller = match identity::caller(&aws.sts()).await {
        Ok(c) => {
            checks.push(Check::ok(
                "credentials",
                format!("account {} as {}", c.account, c.arn),
            ));
            c
        }
        Err(e) => {
            checks.push(Check::fail(
                "credentials",
                e.to_string(),
                "configure AWS credentials: `aws sso login`, --profile, or AWS_* variables",
            ));
            for name in [
                "regions",
                "stackset targets",
                "operator permissions",
                "lambda concurrency",
            ] {
                checks.push(Check::skipped(name, "no AWS credentials"));
            }
            checks.push(cequence_auth(config).await);
            return Ok(checks);
        }
    };

    let regions = match resolve_regions(&aws, &config.regions, &caller.partition).await {
        Ok(r) => {
            checks.push(Check::ok(
                "regions",
                format!("{} region(s): {}", r.len(), r.join(",")),
            ));
            r
        }
        Err(e) => {
            checks.push(Check::fail(
                "regions",
                e.to_string(),
                "list only regions enabled for the account in cequence_aws_regions or --regions",
            ));
            vec![]
        }
    };

    checks.extend(stackset_targets(&aws, config, &caller).await);
    checks.push(operator_permissions(&aws, &caller).await);
    for region in &regions {
        checks.push(
            match preflight::lambda_concurrency(&aws.lambda(region)).await {
                Ok((limit, unreserved)) => {
                    concurrency_check(region, limit, unreserved, config.reserved_concurrency)
                }
                Err(e) => Check::warn(
                    format!("lambda concurrency {region}"),
                    e.to_string(),
                    "grant lambda:GetAccountSettings to check the concurrency quota",
                ),
            },
        );
    }
    checks.push(cequence_auth(config).await);
    Ok(checks)
}

/// Service-managed: the caller is the management account and StackSets' trusted access is on.
/// Self-managed: the administration role exists (the execution roles are assumed through it
/// only, so they cannot be checked with the operator's credentials).
async fn stackset_targets(aws: &Aws, config: &Config, caller: &identity::Caller) -> Vec<Check> {
    match config.permission_model() {
        PermissionModel::ServiceManaged => {
            let orgs = aws.organizations();
            let org = match organization::describe(&orgs).await {
                Ok(o) => o,
                Err(e) => {
                    return vec![Check::fail(
                        "organization",
                        e.to_string(),
                        "run from the organization's management account, or set \
                         cequence_is_aws_organization_deployment=false and list accounts",
                    )]
                }
            };
            let mut out = vec![if org.management_account == caller.account {
                Check::ok(
                    "organization",
                    format!("{} managed from this account", org.id),
                )
            } else {
                Check::fail(
                    "organization",
                    format!(
                        "{} is managed from {}, not from this account {}",
                        org.id, org.management_account, caller.account
                    ),
                    "run cq-apigw with credentials of the management account \
                     (delegated StackSet administrators are not supported)",
                )
            }];
            out.push(match preflight::stacksets_trusted_access(&orgs).await {
                Ok(true) => Check::ok("stacksets trusted access", "enabled for the organization"),
                Ok(false) => Check::fail(
                    "stacksets trusted access",
                    "CloudFormation StackSets is not a trusted service of the organization",
                    "aws cloudformation activate-organizations-access (from the management account)",
                ),
                Err(e) => Check::warn(
                    "stacksets trusted access",
                    e.to_string(),
                    "grant organizations:ListAWSServiceAccessForOrganization to check it",
                ),
            });
            out
        }
        PermissionModel::SelfManaged => {
            let arn = config.admin_role_arn(&caller.partition, &caller.account);
            let name = arn
                .rsplit('/')
                .next()
                .unwrap_or(DEFAULT_ADMIN_ROLE)
                .to_string();
            let same_account = arn.split(':').nth(4) == Some(caller.account.as_str());
            let admin = if !same_account {
                Check::skipped(
                    "administration role",
                    format!("{arn} is in another account: not checked"),
                )
            } else {
                match preflight::role_arn(&aws.iam(), &name).await {
                    Ok(Some(found)) => Check::ok("administration role", found),
                    Ok(None) => Check::fail(
                        "administration role",
                        format!("{arn} does not exist"),
                        "deploy templates/stackset-roles/administration-role.yaml in this \
                         account (docs/operator-guide.md, Prerequisites)",
                    ),
                    Err(e) => Check::warn(
                        "administration role",
                        e.to_string(),
                        "grant iam:GetRole to check it",
                    ),
                }
            };
            vec![
                admin,
                Check::skipped(
                    "execution roles",
                    format!(
                        "{} in each target account trusts only the administration role, so it \
                         is not checked from here; deploy templates/stackset-roles/execution-role.yaml \
                         in every target account",
                        config.stackset_execution_role_name
                    ),
                ),
            ]
        }
    }
}

/// Simulate the operator policy's actions for the caller (IAM SimulatePrincipalPolicy).
async fn operator_permissions(aws: &Aws, caller: &identity::Caller) -> Check {
    const NAME: &str = "operator permissions";
    let iam = aws.iam();
    let principal = match principal_of(&caller.arn) {
        Principal::Arn(a) => a,
        Principal::RoleName(role) => match preflight::role_arn(&iam, &role).await {
            Ok(Some(a)) => a,
            Ok(None) => {
                return Check::skipped(NAME, format!("role {role} not found by IAM GetRole"))
            }
            Err(e) => {
                return Check::warn(
                    NAME,
                    e.to_string(),
                    "grant iam:GetRole and iam:SimulatePrincipalPolicy on your role to check",
                )
            }
        },
        Principal::NotSimulated(why) => return Check::skipped(NAME, why),
    };
    let policy: serde_json::Value =
        serde_json::from_str(OPERATOR_POLICY).expect("docs/iam-policy.json is JSON (tested)");
    let mut denied = vec![];
    let mut simulated = 0;
    for sim in simulations(
        &policy,
        &caller.partition,
        &caller.account,
        aws.home_region(),
    ) {
        match preflight::denied_actions(&iam, &principal, &sim).await {
            Ok(d) => {
                simulated += sim.actions.len();
                denied.extend(d.into_iter().map(|(a, why)| format!("{a} ({why})")));
            }
            Err(e) => {
                return Check::warn(
                    NAME,
                    e.to_string(),
                    "grant iam:SimulatePrincipalPolicy on your principal to check (docs/iam-policy.json has it)",
                )
            }
        }
    }
    if denied.is_empty() {
        Check::ok(
            NAME,
            format!("{simulated} actions of docs/iam-policy.json allowed for {principal}"),
        )
    } else {
        Check::fail(
            NAME,
            format!(
                "{} of {simulated} actions denied for {principal}: {}",
                denied.len(),
                denied.join(", ")
            ),
            "attach docs/iam-policy.json to the principal (docs/operator-guide.md, The operator policy)",
        )
    }
}

async fn cequence_auth(config: &Config) -> Check {
    const NAME: &str = "cequence auth";
    let endpoint = &config.auth_endpoint;
    match request_token(endpoint, &config.client_id, &config.client_secret).await {
        TokenAnswer::Issued { expires_in } => Check::ok(
            NAME,
            format!(
                "{endpoint} issued a token for client {}{}",
                config.client_id,
                expires_in
                    .map(|s| format!(" (valid {s} s)"))
                    .unwrap_or_default()
            ),
        ),
        TokenAnswer::Refused { status, error } => Check::fail(
            NAME,
            format!(
                "{endpoint} refused client {} with HTTP {status}{}",
                config.client_id,
                error.map(|e| format!(" ({e})")).unwrap_or_default()
            ),
            "check cequence_client_id and cequence_client_secret against the client in the \
             Cequence UI (the secret is not shown here)",
        ),
        TokenAnswer::Unreachable(why) => Check::fail(
            NAME,
            format!("{endpoint}: {why}"),
            "check cequence_auth_endpoint (the token URL of your Cequence tenant) and that it \
             is reachable; the forwarder calls it from every target region",
        ),
    }
}
