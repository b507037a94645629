//! The validated configuration every command works from.
//!
//! Loading (flags > environment > `.env` > defaults) and validation live beside this file;
//! this module only holds the result, so the AWS side can depend on it without caring where a
//! value came from.

/// Which regions to work in, before discovery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegionSelection {
    /// Every region enabled for the account (opt-in status checked by the caller).
    All,
    /// An explicit list, in the order given, without duplicates.
    List(Vec<String>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeploymentType {
    CloudFormation,
    Terraform,
}

/// The settings whose values the template and the forwarder share: the contract's types.
pub use cq_contract::{IngestionMode, LogLevel, RestDelivery, Secret};

/// Where subscription filters deliver when groups are pushed (template parameter
/// PushDestination).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PushDestination {
    /// Straight to the forwarder: one asynchronous invocation per payload.
    #[default]
    Lambda,
    /// Into a Kinesis stream the stack creates, read in batches by an event source mapping.
    Kinesis,
}

impl PushDestination {
    pub fn as_str(self) -> &'static str {
        match self {
            PushDestination::Lambda => "lambda",
            PushDestination::Kinesis => "kinesis",
        }
    }
}

/// The forwarder's instruction set (template parameter LambdaArchitecture). Graviton (arm64)
/// costs 20% less per GB-s than x86_64 for the same memory, so it is the default; the uploaded
/// zip must hold a `bootstrap` built for the same one or every invocation fails to exec.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LambdaArchitecture {
    #[default]
    Arm64,
    X86_64,
}

impl LambdaArchitecture {
    /// Lambda's own name (`Architectures`), also the suffix of the zip's file name.
    pub fn as_str(self) -> &'static str {
        match self {
            LambdaArchitecture::Arm64 => "arm64",
            LambdaArchitecture::X86_64 => "x86_64",
        }
    }
}

/// The StackSet permission model follows from the deployment kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PermissionModel {
    /// AWS Organizations: targets are OUs, bucket access by `aws:PrincipalOrgID`.
    ServiceManaged,
    /// Listed accounts: targets are account ids, bucket access for exactly those accounts.
    SelfManaged,
}

/// Everything a command needs, validated. Built by `config::load`.
#[derive(Debug, Clone)]
pub struct Config {
    pub is_organization_deployment: bool,
    pub is_multi_account_deployment: bool,
    pub deployment_type: DeploymentType,
    pub auto_upload_to_s3: bool,
    pub auto_delete_from_s3: bool,
    pub regions: RegionSelection,
    pub auto_install_dependencies: bool,
    pub rest_api_enabled: bool,
    pub http_api_enabled: bool,
    /// Capture HTTP APIs' `$default` stage too.
    pub include_http_default_stage: bool,
    /// Standard (1 KB) or full (1 MB) REST execution-log events, or full where possible.
    pub rest_log_delivery: RestDelivery,
    pub client_id: String,
    pub client_secret: Secret,
    pub auth_endpoint: String,
    pub edge_endpoint: String,
    pub lambda_log_level: LogLevel,
    pub supported_content_types_regex: String,
    pub unsupported_static_extensions_regex: String,
    /// Empty string in the template parameter when `None` (the template then creates the role).
    pub lambda_role_arn: Option<String>,
    pub apigw_cloudwatch_role_arn: Option<String>,
    pub scheduler_role_arn: Option<String>,
    pub stackset_name: String,
    /// From `cequence_target_accounts` and `accounts-config.csv`, deduplicated, in order.
    pub target_accounts: Vec<String>,
    pub target_ous: Vec<String>,
    /// `None` = `arn:<partition>:iam::<caller>:role/AWSCloudFormationStackSetAdministrationRole`,
    /// resolved once the caller is known.
    pub stackset_admin_role_arn: Option<String>,
    pub stackset_execution_role_name: String,
    /// poll, push or auto (template parameter CequenceIngestion).
    pub ingestion: IngestionMode,
    pub push_destination: PushDestination,
    pub kinesis_shard_count: u32,
    /// MB of the forwarder function (template parameter LambdaMemorySize).
    pub lambda_memory_mb: u32,
    /// The forwarder's architecture (template parameter LambdaArchitecture).
    pub lambda_architecture: LambdaArchitecture,
    /// `None` reserves nothing (the template's default).
    pub reserved_concurrency: Option<u32>,
    pub spool_retention_days: u32,
}

/// The administration role `enable` passes to CloudFormation unless told otherwise.
pub const DEFAULT_ADMIN_ROLE: &str = "AWSCloudFormationStackSetAdministrationRole";

impl Config {
    /// `cequence_stackset_admin_role_arn`, else the default role of the caller's account.
    pub fn admin_role_arn(&self, partition: &str, account: &str) -> String {
        self.stackset_admin_role_arn
            .clone()
            .unwrap_or_else(|| format!("arn:{partition}:iam::{account}:role/{DEFAULT_ADMIN_ROLE}"))
    }

    pub fn permission_model(&self) -> PermissionModel {
        if self.is_organization_deployment {
            PermissionModel::ServiceManaged
        } else {
            PermissionModel::SelfManaged
        }
    }
}
