//! `cq-apigw doctor`: the checks' results and the judgements that need no network (Lambda
//! concurrency headroom, turning a policy document into simulation requests), so they can be
//! tested on their own.

use std::fmt;

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CheckStatus {
    Ok,
    /// Works today but is likely to bite (a quota close to its floor, a check that could not run).
    Warn,
    /// `enable` would fail or deploy something that cannot work: exit code 1.
    Fail,
    /// Not checked because an earlier check failed (no credentials, …) or it does not apply.
    Skipped,
}

/// One check: what was looked at, what was found and, unless it passed, what to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    pub name: String,
    pub status: CheckStatus,
    pub detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

impl Check {
    pub fn ok(name: impl Into<String>, detail: impl Into<String>) -> Check {
        Check {
            name: name.into(),
            status: CheckStatus::Ok,
            detail: detail.into(),
            fix: None,
        }
    }

    pub fn warn(
        name: impl Into<String>,
        detail: impl Into<String>,
        fix: impl Into<String>,
    ) -> Check {
        Check::with_fix(CheckStatus::Warn, name, detail, fix)
    }

    pub fn fail(
        name: impl Into<String>,
        detail: impl Into<String>,
        fix: impl Into<String>,
    ) -> Check {
        Check::with_fix(CheckStatus::Fail, name, detail, fix)
    }

    fn with_fix(
        status: CheckStatus,
        name: impl Into<String>,
        detail: impl Into<String>,
        fix: impl Into<String>,
    ) -> Check {
        Check {
            name: name.into(),
            status,
            detail: detail.into(),
            fix: Some(fix.into()),
        }
    }

    pub fn skipped(name: impl Into<String>, why: impl Into<String>) -> Check {
        Check {
            name: name.into(),
            status: CheckStatus::Skipped,
            detail: why.into(),
            fix: None,
        }
    }
}

/// Everything doctor found, in the order the checks ran.
#[derive(Debug, Clone, Serialize)]
pub struct DoctorReport {
    pub checks: Vec<Check>,
    pub failed: usize,
    pub warnings: usize,
}

impl DoctorReport {
    pub fn new(checks: Vec<Check>) -> DoctorReport {
        let count = |s| checks.iter().filter(|c| c.status == s).count();
        DoctorReport {
            failed: count(CheckStatus::Fail),
            warnings: count(CheckStatus::Warn),
            checks,
        }
    }
}

impl fmt::Display for DoctorReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in &self.checks {
            let mark = match c.status {
                CheckStatus::Ok => "ok  ",
                CheckStatus::Warn => "warn",
                CheckStatus::Fail => "FAIL",
                CheckStatus::Skipped => "skip",
            };
            writeln!(f, "{mark}  {}: {}", c.name, c.detail)?;
            if let Some(fix) = &c.fix {
                writeln!(f, "      fix: {fix}")?;
            }
        }
        match (self.failed, self.warnings) {
            (0, 0) => writeln!(
                f,
                "\nAll checks passed: `cq-apigw enable` has what it needs."
            ),
            (0, w) => writeln!(f, "\nNo check failed; {w} warning(s)."),
            (n, w) => writeln!(
                f,
                "\n{n} check(s) failed, {w} warning(s): `cq-apigw enable` would fail until fixed."
            ),
        }
    }
}

/// Lambda keeps at least this many executions unreserved in every account and region.
pub const MIN_UNRESERVED: i64 = 100;

/// Whether the forwarder's reserved concurrency fits a region's Lambda account limits.
/// `reserved` is what the stack would reserve (None: nothing reserved, it shares the pool).
pub fn concurrency_check(
    region: &str,
    limit: i64,
    unreserved: i64,
    reserved: Option<u32>,
) -> Check {
    let name = format!("lambda concurrency {region}");
    let detail = format!("account limit {limit}, unreserved {unreserved}");
    match reserved {
        Some(r) if unreserved - i64::from(r) < MIN_UNRESERVED => Check::fail(
            name,
            format!("{detail}: reserving {r} for the forwarder would leave fewer than {MIN_UNRESERVED} unreserved, which Lambda refuses"),
            format!("request a higher concurrency quota for Lambda in {region} (Service Quotas, \"Concurrent executions\"), or lower or empty cequence_reserved_concurrency"),
        ),
        // A new account's limit (10) runs the forwarder, but a busy minute queues ticks.
        _ if limit < 1000 => Check::warn(
            name,
            format!("{detail}: below the usual 1000, as in a new account"),
            format!("request a higher concurrency quota for Lambda in {region} (Service Quotas, \"Concurrent executions\") before heavy traffic"),
        ),
        _ => Check::ok(name, detail),
    }
}

/// One IAM simulation: the actions of one statement of the operator policy, against a resource
/// that statement covers, with the context its condition needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Simulation {
    pub statement: String,
    pub actions: Vec<String>,
    pub resource: String,
    /// (context key, value) pairs, e.g. `iam:PassedToService`.
    pub context: Vec<(String, String)>,
}

/// The operator policy (`docs/iam-policy.json`) as simulation requests. A simulated resource
/// must be concrete: a `*` region or account becomes the caller's, any other `*` an example
/// name, so a statement scoped to `cequence-aws-api-artifacts-*` is simulated on such a bucket.
pub fn simulations(
    policy: &serde_json::Value,
    partition: &str,
    account: &str,
    region: &str,
) -> Vec<Simulation> {
    let statements = policy["Statement"].as_array().cloned().unwrap_or_default();
    statements
        .iter()
        .filter(|s| s["Effect"] == "Allow")
        .filter_map(|s| {
            let actions = strings(&s["Action"]);
            let resource = strings(&s["Resource"]).into_iter().next()?;
            let context = s["Condition"]["StringEquals"]
                .as_object()
                .map(|m| {
                    m.iter()
                        .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                        .collect()
                })
                .unwrap_or_default();
            Some(Simulation {
                statement: s["Sid"].as_str().unwrap_or("").to_string(),
                actions,
                resource: concrete_resource(&resource, partition, account, region),
                context,
            })
        })
        .collect()
}

fn strings(v: &serde_json::Value) -> Vec<String> {
    match v {
        serde_json::Value::String(s) => vec![s.clone()],
        serde_json::Value::Array(a) => a
            .iter()
            .filter_map(|s| s.as_str().map(String::from))
            .collect(),
        _ => vec![],
    }
}

fn concrete_resource(pattern: &str, partition: &str, account: &str, region: &str) -> String {
    if pattern == "*" {
        return "*".into();
    }
    let mut fields: Vec<String> = pattern.splitn(6, ':').map(String::from).collect();
    if fields.len() < 6 {
        return pattern.replace('*', "example");
    }
    fields[1] = partition.to_string();
    if fields[3] == "*" {
        fields[3] = region.to_string();
    }
    if fields[4] == "*" {
        fields[4] = account.to_string();
    }
    fields[5] = fields[5].replace('*', "example");
    fields.join(":")
}

/// The IAM principal to simulate for an STS caller ARN: a user as is, an assumed role by its
/// role name (its ARN, with path, is looked up). Root and federated sessions are not simulated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    Arn(String),
    RoleName(String),
    NotSimulated(&'static str),
}

pub fn principal_of(caller_arn: &str) -> Principal {
    let resource = caller_arn.splitn(6, ':').nth(5).unwrap_or("");
    if caller_arn.contains(":iam::") && resource.starts_with("user/") {
        Principal::Arn(caller_arn.to_string())
    } else if let Some(rest) = resource.strip_prefix("assumed-role/") {
        Principal::RoleName(rest.split('/').next().unwrap_or("").to_string())
    } else if resource == "root" {
        Principal::NotSimulated(
            "the account's root user may call everything; run cq-apigw with a role or user",
        )
    } else if resource.starts_with("federated-user/") {
        Principal::NotSimulated("a federated user session cannot be simulated")
    } else {
        Principal::NotSimulated("the caller is not an IAM user or role session")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concurrency_leaves_lambdas_floor_unreserved() {
        assert_eq!(
            concurrency_check("us-east-1", 1000, 1000, None).status,
            CheckStatus::Ok
        );
        assert_eq!(
            concurrency_check("us-east-1", 1000, 1000, Some(5)).status,
            CheckStatus::Ok
        );
        let c = concurrency_check("eu-west-1", 1000, 150, Some(60));
        assert_eq!(c.status, CheckStatus::Fail);
        assert!(c.detail.contains("fewer than 100"), "{}", c.detail);
        assert!(c.fix.unwrap().contains("cequence_reserved_concurrency"));
        let c = concurrency_check("eu-west-1", 10, 10, None);
        assert_eq!(c.status, CheckStatus::Warn);
        // A new account cannot reserve anything.
        assert_eq!(
            concurrency_check("eu-west-1", 10, 10, Some(1)).status,
            CheckStatus::Fail
        );
    }

    #[test]
    fn the_operator_policy_becomes_concrete_simulations() {
        let policy: serde_json::Value =
            serde_json::from_str(include_str!("../../docs/iam-policy.json")).unwrap();
        let sims = simulations(&policy, "aws", "123456789012", "us-east-1");
        assert!(sims.len() >= 10, "{sims:?}");
        let by = |sid: &str| sims.iter().find(|s| s.statement == sid).unwrap();
        assert_eq!(by("CallerIdentity").resource, "*");
        assert_eq!(
            by("ArtifactObjects").resource,
            "arn:aws:s3:::cequence-aws-api-artifacts-example/example"
        );
        let stackset = by("StackSet");
        assert_eq!(
            stackset.resource,
            "arn:aws:cloudformation:us-east-1:123456789012:stackset/aws-cequence-apigw-integration:example"
        );
        assert!(stackset
            .actions
            .iter()
            .any(|a| a == "cloudformation:CreateStackSet"));
        let pass = by("PassStackSetAdministrationRole");
        assert_eq!(
            pass.context,
            [(
                "iam:PassedToService".to_string(),
                "cloudformation.amazonaws.com".to_string()
            )]
        );
        assert_eq!(
            simulations(&policy, "aws-cn", "1", "cn-north-1")[4].resource,
            "arn:aws-cn:s3:::cequence-aws-api-artifacts-example"
        );
    }

    #[test]
    fn callers_map_to_the_principal_to_simulate() {
        assert_eq!(
            principal_of("arn:aws:iam::123456789012:user/ops/alice"),
            Principal::Arn("arn:aws:iam::123456789012:user/ops/alice".into())
        );
        assert_eq!(
            principal_of("arn:aws:sts::123456789012:assumed-role/Deployer/ci-run-7"),
            Principal::RoleName("Deployer".into())
        );
        assert!(matches!(
            principal_of("arn:aws:iam::123456789012:root"),
            Principal::NotSimulated(_)
        ));
        assert!(matches!(
            principal_of("arn:aws:sts::123456789012:federated-user/bob"),
            Principal::NotSimulated(_)
        ));
    }

    #[test]
    fn the_report_counts_and_says_what_it_means() {
        let r = DoctorReport::new(vec![
            Check::ok("credentials", "account 1"),
            Check::warn("lambda concurrency x", "limit 10", "raise it"),
            Check::fail("regions", "me-south-1 is not enabled", "enable it"),
        ]);
        assert_eq!((r.failed, r.warnings), (1, 1));
        let text = r.to_string();
        assert!(
            text.contains("FAIL  regions: me-south-1 is not enabled\n      fix: enable it"),
            "{text}"
        );
        assert!(text.contains("1 check(s) failed, 1 warning(s)"), "{text}");
    }
}
