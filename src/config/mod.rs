//! Loading and validating the configuration (docs/configuration.md).
//!
//! Sources, highest first: command-line flag > process environment (`CEQUENCE_*`) > `.env`
//! file (`cequence_*`) > built-in default. Everything is validated here, before any AWS call,
//! and every problem is reported at once with the key, the value and the fix (exit code 2).
//!
//! I/O (reading the files and the process environment) is confined to [`load`]; the rules
//! live in [`resolve`], which takes everything as values so tests need no files or env.

mod accounts_csv;
pub mod known_keys;
mod layers;
pub mod model;
mod region_names;
mod suggest;
mod validate;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

pub use cq_contract::defaults::{
    SUPPORTED_CONTENT_TYPES_REGEX as DEFAULT_SUPPORTED_CONTENT_TYPES_REGEX,
    UNSUPPORTED_STATIC_EXTENSIONS_REGEX as DEFAULT_UNSUPPORTED_STATIC_EXTENSIONS_REGEX,
};
pub use known_keys::{DEFAULT_STACKSET_EXECUTION_ROLE_NAME, DEFAULT_STACKSET_NAME, KNOWN_KEYS};
pub use model::*;
pub use region_names::KNOWN_REGIONS;

use crate::error::{ConfigIssue, Error, Result};
use cq_contract::defaults;
use known_keys as keys;
use layers::{FlagValue, Layers};

/// The `.env` file read when `--env-file` is not given (optional).
pub const DEFAULT_ENV_FILE: &str = ".env";
/// The account list read from the `.env` file's directory (optional).
pub const ACCOUNTS_CSV: &str = "accounts-config.csv";

/// Which command the configuration is for: `enable` needs the Cequence credentials and
/// deployment targets; `disable` and `status` work from what is deployed and need neither.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommandKind {
    Enable,
    Disable,
    Status,
    /// Checks what `enable` needs, so it needs what `enable` needs.
    Doctor,
}

impl CommandKind {
    fn name(self) -> &'static str {
        match self {
            CommandKind::Enable => "enable",
            CommandKind::Disable => "disable",
            CommandKind::Status => "status",
            CommandKind::Doctor => "doctor",
        }
    }
}

/// Load the configuration for `kind`: read `env_file` (`--env-file`; else `./.env` if present), the
/// `accounts-config.csv` beside it and the process environment, apply `region_override`
/// (the subcommand's `--regions`), and validate.
pub fn load(
    env_file: Option<&Path>,
    region_override: Option<&str>,
    kind: CommandKind,
) -> Result<Config> {
    let env: HashMap<String, String> = std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .collect();
    load_with_env(env_file, region_override, kind, &env)
}

/// [`load`] with the process environment given as a map.
pub fn load_with_env(
    env_file: Option<&Path>,
    region_override: Option<&str>,
    kind: CommandKind,
    env: &HashMap<String, String>,
) -> Result<Config> {
    let (env_path, explicit) = match env_file {
        Some(p) => (p.to_path_buf(), true),
        None => (PathBuf::from(DEFAULT_ENV_FILE), false),
    };
    let file = read_env_file(&env_path, explicit)?;
    let csv_path = env_path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .join(ACCOUNTS_CSV);
    let csv_text = read_optional(&csv_path)?;
    let csv_name = csv_path.display().to_string();
    resolve(
        &Inputs {
            file: &file,
            env,
            region_flag: region_override,
            accounts_csv: csv_text.as_deref().map(|t| (csv_name.as_str(), t)),
        },
        kind,
    )
}

/// The `.env` entries, in file order. dotenvy's iterator parses without touching the
/// process environment, so the file stays below real environment variables.
fn read_env_file(path: &Path, explicit: bool) -> Result<Vec<(String, String)>> {
    let iter = match dotenvy::from_path_iter(path) {
        Ok(iter) => iter,
        Err(dotenvy::Error::Io(e)) if e.kind() == std::io::ErrorKind::NotFound && !explicit => {
            return Ok(Vec::new());
        }
        Err(e) => return Err(env_file_error(path, &e)),
    };
    iter.map(|item| item.map_err(|e| env_file_error(path, &e)))
        .collect()
}

fn env_file_error(path: &Path, e: &dotenvy::Error) -> Error {
    match e {
        dotenvy::Error::Io(io) if io.kind() == std::io::ErrorKind::NotFound => {
            Error::Usage(format!("--env-file {}: no such file", path.display()))
        }
        dotenvy::Error::LineParse(fragment, index) => {
            let text = std::fs::read_to_string(path).unwrap_or_default();
            Error::Usage(format!(
                "{}{}",
                path.display(),
                line_parse_message(&text, fragment, *index)
            ))
        }
        other => Error::Usage(format!("cannot read {}: {other}", path.display())),
    }
}

/// Where a `.env` line broke and how to fix it, without its text: the line may hold the
/// client secret.
fn line_parse_message(text: &str, fragment: &str, index: usize) -> String {
    match locate_fragment(text, fragment) {
        None => format!(": a line cannot be parsed (at character {index}); expected KEY=value"),
        Some(Located::Line(number)) => format!(
            " line {number}: expected KEY=value, with a key of letters, digits and _; \
             fix the line, or start it with # to make it a comment"
        ),
        Some(Located::Value(number, key)) => format!(
            " line {number}: the value of {key} cannot be parsed (at character {} of the \
             value); put the value in single quotes, as in {key}='...' (spaces, #, $, \
             quotes and \\ need them)",
            index + 1
        ),
    }
}

/// Which line a dotenvy parse error came from (1-based).
#[derive(Debug, PartialEq)]
enum Located {
    /// The whole line is malformed (no `=`, or a bad key).
    Line(usize),
    /// The key is fine and its value is not.
    Value(usize, String),
}

/// dotenvy reports either the whole line (a bad key) or only the value (a bad quote, escape
/// or space), so the fragment is looked up in the file: a line that starts with it, else the
/// first whose value holds it. Comments are skipped.
fn locate_fragment(text: &str, fragment: &str) -> Option<Located> {
    let first = fragment.lines().next().filter(|f| !f.trim().is_empty())?;
    let body = |line: &str| {
        let line = line.trim_start();
        line.strip_prefix("export ")
            .unwrap_or(line)
            .trim_start()
            .to_owned()
    };
    let lines = || {
        text.lines()
            .enumerate()
            .filter(|(_, line)| !line.trim_start().starts_with('#'))
    };
    if let Some((i, _)) = lines().find(|(_, line)| body(line).starts_with(first.trim_start())) {
        return Some(Located::Line(i + 1));
    }
    let (i, line) = lines().find(|(_, line)| {
        line.split_once('=')
            .is_some_and(|(_, value)| value.contains(first))
    })?;
    let key = body(line).split('=').next().unwrap_or("").trim().to_owned();
    Some(Located::Value(i + 1, key))
}

fn read_optional(path: &Path) -> Result<Option<String>> {
    match std::fs::read_to_string(path) {
        Ok(t) => Ok(Some(t)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::Usage(format!("cannot read {}: {e}", path.display()))),
    }
}

/// Everything configuration is made from, already read.
pub struct Inputs<'a> {
    /// `.env` entries in file order (keys as written).
    pub file: &'a [(String, String)],
    /// The process environment.
    pub env: &'a HashMap<String, String>,
    /// The subcommand's `--regions`.
    pub region_flag: Option<&'a str>,
    /// `accounts-config.csv`: its name for messages, and its text.
    pub accounts_csv: Option<(&'a str, &'a str)>,
}

/// Apply layering, defaults and validation.
pub fn resolve(inputs: &Inputs<'_>, kind: CommandKind) -> Result<Config> {
    let mut issues = Vec::new();
    let flags: Vec<FlagValue<'_>> = inputs
        .region_flag
        .map(|value| FlagValue {
            key: keys::AWS_REGIONS,
            flag: "--regions",
            value,
        })
        .into_iter()
        .collect();
    let layers = Layers::build(inputs.file, inputs.env, &flags, &mut issues);
    let mut r = Resolver {
        layers: &layers,
        issues,
    };
    // A blank value elsewhere means "default"; on the command line it is a mistake (an
    // unset shell variable, say), and the default (`all`) is the widest choice there is.
    if inputs.region_flag.is_some_and(|v| v.trim().is_empty()) {
        r.issues.push(ConfigIssue {
            key: "--regions".into(),
            value: String::new(),
            fix: "expected `all` or a comma list of regions like us-east-1,eu-west-1".into(),
        });
    }
    use validate::*;

    let is_org = r.typed(keys::IS_AWS_ORGANIZATION_DEPLOYMENT, true, parse_bool);
    let is_multi = r.typed(keys::IS_MULTI_ACCOUNT_DEPLOYMENT, false, parse_bool);
    let deployment_type = r.typed(
        keys::DEPLOYMENT_TYPE,
        DeploymentType::CloudFormation,
        parse_deployment_type,
    );
    let auto_upload_to_s3 = r.typed(keys::CFN_AUTO_UPLOAD_TO_S3, true, parse_bool);
    let auto_delete_from_s3 = r.typed(keys::CFN_AUTO_DELETE_FROM_S3, false, parse_bool);
    let regions = r.typed(keys::AWS_REGIONS, RegionSelection::All, parse_regions);
    let auto_install_dependencies = r.typed(keys::AUTO_INSTALL_DEPENDENCIES, true, parse_bool);
    let rest_api_enabled = r.typed(
        keys::REST_API_ENABLED,
        defaults::REST_API_ENABLED,
        parse_bool,
    );
    let http_api_enabled = r.typed(
        keys::HTTP_API_ENABLED,
        defaults::HTTP_API_ENABLED,
        parse_bool,
    );
    let include_http_default_stage = r.typed(
        keys::INCLUDE_HTTP_DEFAULT_STAGE,
        defaults::INCLUDE_HTTP_DEFAULT_STAGE,
        parse_bool,
    );
    let rest_log_delivery = r.typed(
        keys::REST_LOG_DELIVERY,
        RestDelivery::default(),
        parse_rest_log_delivery,
    );
    let client_id = r.optional(keys::CLIENT_ID, |s| Ok(s.trim().to_string()));
    let client_secret = r.optional(keys::CLIENT_SECRET, |s| Ok(Secret::new(s.trim())));
    let auth_endpoint = r.optional(keys::AUTH_ENDPOINT, parse_endpoint);
    let edge_endpoint = r.optional(keys::EDGE_ENDPOINT, parse_endpoint);
    let lambda_log_level = r.typed(keys::LAMBDA_LOG_LEVEL, LogLevel::default(), parse_log_level);
    // Regexes are taken as written: leading/trailing spaces may be part of the pattern.
    let supported_content_types_regex = r.typed(
        keys::SUPPORTED_CONTENT_TYPES_REGEX,
        DEFAULT_SUPPORTED_CONTENT_TYPES_REGEX.to_string(),
        |s| check_regex(s).map(|()| s.to_string()),
    );
    let unsupported_static_extensions_regex = r.typed(
        keys::UNSUPPORTED_STATIC_EXTENSIONS_REGEX,
        DEFAULT_UNSUPPORTED_STATIC_EXTENSIONS_REGEX.to_string(),
        |s| check_regex(s).map(|()| s.to_string()),
    );
    let role_arn = |s: &str| check_role_arn(s.trim()).map(|()| s.trim().to_string());
    let lambda_role_arn = r.optional(keys::LAMBDA_ROLE_ARN, role_arn);
    let apigw_cloudwatch_role_arn = r.optional(keys::APIGW_CLOUDWATCH_ROLE_ARN, role_arn);
    let scheduler_role_arn = r.optional(keys::SCHEDULER_ROLE_ARN, role_arn);
    let stackset_admin_role_arn = r.optional(keys::STACKSET_ADMIN_ROLE_ARN, role_arn);
    let stackset_name = r.typed(
        keys::STACKSET_NAME,
        DEFAULT_STACKSET_NAME.to_string(),
        |s| check_stackset_name(s.trim()).map(|()| s.trim().to_string()),
    );
    let stackset_execution_role_name = r.typed(
        keys::STACKSET_EXECUTION_ROLE_NAME,
        DEFAULT_STACKSET_EXECUTION_ROLE_NAME.to_string(),
        |s| check_role_name(s.trim()).map(|()| s.trim().to_string()),
    );
    let ingestion = r.typed(keys::INGESTION, IngestionMode::default(), parse_ingestion);
    let push_destination = r.typed(
        keys::PUSH_DESTINATION,
        PushDestination::Lambda,
        parse_push_destination,
    );
    let kinesis_shard_count = r.typed(
        keys::KINESIS_SHARD_COUNT,
        defaults::KINESIS_SHARD_COUNT,
        |s| parse_whole_number(s, defaults::KINESIS_SHARD_COUNT_RANGE),
    );
    let lambda_memory_mb = r.typed(keys::LAMBDA_MEMORY_MB, defaults::LAMBDA_MEMORY_MB, |s| {
        parse_whole_number(s, defaults::LAMBDA_MEMORY_MB_RANGE)
    });
    let lambda_architecture = r.typed(
        keys::LAMBDA_ARCHITECTURE,
        LambdaArchitecture::default(),
        parse_lambda_architecture,
    );
    let reserved_concurrency = r.optional(keys::RESERVED_CONCURRENCY, |s| {
        parse_reserved_concurrency(s, defaults::RESERVED_CONCURRENCY_RANGE)
    });
    let spool_retention_days = r.typed(
        keys::SPOOL_RETENTION_DAYS,
        defaults::SPOOL_RETENTION_DAYS,
        |s| parse_whole_number(s, defaults::SPOOL_RETENTION_DAYS_RANGE),
    );
    let mut target_accounts = r.typed(keys::TARGET_ACCOUNTS, Vec::new(), parse_accounts);
    let target_ous = r.typed(keys::TARGET_OUS, Vec::new(), parse_org_targets);
    let mut csv_failed = false;
    if let Some((name, text)) = inputs.accounts_csv {
        match accounts_csv::parse(name, text) {
            Ok(accounts) => push_unique(&mut target_accounts, accounts),
            Err(mut csv_issues) => {
                csv_failed = true;
                r.issues.append(&mut csv_issues);
            }
        }
    }

    // Rules across keys, and what the command needs.
    if is_org && is_multi {
        r.issue(
            keys::IS_MULTI_ACCOUNT_DEPLOYMENT,
            "true",
            format!(
                "conflicts with {}=true; set one of them to false \
                 (organization: OU targets; multi-account: listed accounts)",
                keys::IS_AWS_ORGANIZATION_DEPLOYMENT
            ),
        );
    }
    // Pushing through Kinesis, the event source mapping runs one invocation per shard and the
    // tick needs one more: a smaller reservation would throttle them for good.
    if let Some(reserved) = reserved_concurrency {
        let needed = kinesis_shard_count + 1;
        if ingestion != IngestionMode::Poll
            && push_destination == PushDestination::Kinesis
            && reserved < needed
        {
            r.issue(
                keys::RESERVED_CONCURRENCY,
                &reserved.to_string(),
                format!(
                    "with {}=kinesis and {} shard(s) the forwarder runs up to {needed} at once \
                     (one per shard plus the tick); set at least {needed}, or leave it empty to \
                     reserve none",
                    keys::PUSH_DESTINATION,
                    kinesis_shard_count
                ),
            );
        }
    }
    if deployment_type == DeploymentType::Terraform && kind != CommandKind::Status {
        r.issue(
            keys::DEPLOYMENT_TYPE,
            "terraform",
            "this tool deploys with CloudFormation only; set it to cloudformation \
             (or use the vendor's Terraform bundle)"
                .into(),
        );
    }
    if matches!(kind, CommandKind::Enable | CommandKind::Doctor) {
        r.require(keys::CLIENT_ID, client_id.is_some());
        r.require(keys::CLIENT_SECRET, client_secret.is_some());
        r.require(keys::AUTH_ENDPOINT, auth_endpoint.is_some());
        r.require(keys::EDGE_ENDPOINT, edge_endpoint.is_some());
        if is_org && !is_multi && target_ous.is_empty() && !r.given(keys::TARGET_OUS) {
            r.issue(
                keys::TARGET_OUS,
                "",
                format!(
                    "an organization deployment needs at least one target: list OU ids \
                     (ou-xxxx-yyyyyyyy) or the root id (r-xxxx) for the whole organization; \
                     or set {}=false to target listed accounts",
                    keys::IS_AWS_ORGANIZATION_DEPLOYMENT
                ),
            );
        }
        if !is_org && target_accounts.is_empty() && !r.given(keys::TARGET_ACCOUNTS) && !csv_failed {
            r.issue(
                keys::TARGET_ACCOUNTS,
                "",
                format!(
                    "a multi-account deployment needs at least one account: list 12-digit \
                     account ids in {ACCOUNTS_CSV} (next to the .env file, header account_id) \
                     or in {}",
                    keys::TARGET_ACCOUNTS
                ),
            );
        }
    }

    if let Some(err) = Error::from_issues(r.issues) {
        return Err(err);
    }
    tracing::debug!(command = kind.name(), "configuration loaded and validated");
    Ok(Config {
        is_organization_deployment: is_org,
        is_multi_account_deployment: is_multi,
        deployment_type,
        auto_upload_to_s3,
        auto_delete_from_s3,
        regions,
        auto_install_dependencies,
        rest_api_enabled,
        http_api_enabled,
        include_http_default_stage,
        rest_log_delivery,
        client_id: client_id.unwrap_or_default(),
        client_secret: client_secret.unwrap_or_default(),
        auth_endpoint: auth_endpoint.unwrap_or_default(),
        edge_endpoint: edge_endpoint.unwrap_or_default(),
        lambda_log_level,
        supported_content_types_regex,
        unsupported_static_extensions_regex,
        lambda_role_arn,
        apigw_cloudwatch_role_arn,
        scheduler_role_arn,
        stackset_name,
        target_accounts,
        target_ous,
        stackset_admin_role_arn,
        stackset_execution_role_name,
        ingestion,
        push_destination,
        kinesis_shard_count,
        lambda_memory_mb,
        lambda_architecture,
        reserved_concurrency,
        spool_retention_days,
    })
}

/// Typed access to the layered values, collecting issues instead of stopping at the first.
struct Resolver<'a> {
    layers: &'a Layers,
    issues: Vec<ConfigIssue>,
}

impl Resolver<'_> {
    /// The parsed value of `key`, or `default` when unset or blank (or invalid: then an
    /// issue is recorded and the value is never used).
    fn typed<T>(
        &mut self,
        key: &'static str,
        default: T,
        parse: impl FnOnce(&str) -> std::result::Result<T, String>,
    ) -> T {
        self.optional(key, parse).unwrap_or(default)
    }

    fn optional<T>(
        &mut self,
        key: &'static str,
        parse: impl FnOnce(&str) -> std::result::Result<T, String>,
    ) -> Option<T> {
        let setting = self.layers.get(key)?;
        let value = setting.non_blank()?;
        match parse(value) {
            Ok(v) => Some(v),
            Err(fix) => {
                self.issues.push(ConfigIssue {
                    key: setting.written_key.clone(),
                    value: value.to_string(),
                    fix,
                });
                None
            }
        }
    }

    /// Record an issue about `key`, naming it as the user wrote it when they did.
    fn issue(&mut self, key: &'static str, value: &str, fix: String) {
        let key = self
            .layers
            .get(key)
            .map_or_else(|| key.to_string(), |s| s.written_key.clone());
        self.issues.push(ConfigIssue {
            key,
            value: value.to_string(),
            fix,
        });
    }

    /// Whether some layer gave `key` a non-blank value (if it is missing from the result
    /// anyway, the value was invalid and has its own issue).
    fn given(&self, key: &'static str) -> bool {
        self.layers
            .get(key)
            .is_some_and(|s| s.non_blank().is_some())
    }

    /// `enable` cannot run without `key`. Not reported again when an invalid value already
    /// produced an issue.
    fn require(&mut self, key: &'static str, present: bool) {
        let already_reported = self
            .layers
            .get(key)
            .is_some_and(|s| s.non_blank().is_some());
        if present || already_reported {
            return;
        }
        let fix = format!(
            "required by `enable`; set {key} in the .env file or {} in the environment",
            key.to_ascii_uppercase()
        );
        self.issue(key, "", fix);
    }
}

#[cfg(test)]
mod tests;
