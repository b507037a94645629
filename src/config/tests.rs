//! Tests of layering, defaults and every validation rule of `resolve`, with the environment
//! injected as a map (the process environment is never touched).

use std::collections::HashMap;

use super::*;

/// A valid `enable` configuration for an organization deployment.
fn enable_file() -> Vec<(String, String)> {
    pairs(&[
        ("cequence_client_id", "client-1"),
        ("cequence_client_secret", "super-secret-value"),
        (
            "cequence_auth_endpoint",
            "https://auth.example.com/auth/realms/cequence/protocol/openid-connect/token",
        ),
        (
            "cequence_edge_endpoint",
            "https://edge.example.com/api-transactions",
        ),
        ("cequence_target_ous", "r-ab12"),
    ])
}

fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
    p.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn env(p: &[(&str, &str)]) -> HashMap<String, String> {
    p.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn resolve_with(
    file: &[(String, String)],
    env: &HashMap<String, String>,
    region_flag: Option<&str>,
    csv: Option<&str>,
    kind: CommandKind,
) -> Result<Config> {
    resolve(
        &Inputs {
            file,
            env,
            region_flag,
            accounts_csv: csv.map(|t| ("accounts-config.csv", t)),
        },
        kind,
    )
}

/// `file` with `key` replaced (or added).
fn with(mut file: Vec<(String, String)>, key: &str, value: &str) -> Vec<(String, String)> {
    file.retain(|(k, _)| k != key);
    file.push((key.to_string(), value.to_string()));
    file
}

/// The single configuration issue `file` produces for `kind`, as (key, value, fix).
fn issue(file: &[(String, String)], kind: CommandKind) -> (String, String, String) {
    match resolve_with(file, &HashMap::new(), None, None, kind) {
        Err(Error::Config { key, value, fix }) => (key, value, fix),
        other => panic!("expected one configuration error, got {other:?}"),
    }
}

#[test]
fn defaults_match_the_spec() {
    let c = resolve_with(&[], &HashMap::new(), None, None, CommandKind::Status).unwrap();
    assert!(c.is_organization_deployment);
    assert!(!c.is_multi_account_deployment);
    assert_eq!(c.deployment_type, DeploymentType::CloudFormation);
    assert!(c.auto_upload_to_s3);
    assert!(!c.auto_delete_from_s3);
    assert_eq!(c.regions, RegionSelection::All);
    assert!(c.auto_install_dependencies);
    assert!(c.rest_api_enabled && c.http_api_enabled);
    assert_eq!(c.lambda_log_level, LogLevel::Info);
    assert_eq!(
        c.supported_content_types_regex,
        DEFAULT_SUPPORTED_CONTENT_TYPES_REGEX
    );
    assert_eq!(
        c.unsupported_static_extensions_regex,
        DEFAULT_UNSUPPORTED_STATIC_EXTENSIONS_REGEX
    );
    assert_eq!(c.stackset_name, "aws-cequence-apigw-integration");
    assert_eq!(
        c.stackset_execution_role_name,
        "AWSCloudFormationStackSetExecutionRole"
    );
    assert_eq!(c.stackset_admin_role_arn, None);
    assert_eq!(c.lambda_role_arn, None);
    assert!(c.target_accounts.is_empty() && c.target_ous.is_empty());
    assert!(c.client_secret.is_empty());
    assert_eq!(c.permission_model(), PermissionModel::ServiceManaged);
    // Issue 9: auto ingestion pushing straight to the function, no reserved concurrency.
    assert_eq!(c.ingestion, IngestionMode::Auto);
    assert_eq!(c.push_destination, PushDestination::Lambda);
    assert_eq!(c.kinesis_shard_count, 1);
    assert_eq!(c.lambda_memory_mb, 1024);
    assert_eq!(c.lambda_architecture, LambdaArchitecture::Arm64);
    assert_eq!(c.reserved_concurrency, None);
    assert_eq!(c.spool_retention_days, 7);
}

#[test]
fn ingestion_settings_load_from_file_and_env() {
    let file = pairs(&[
        ("cequence_ingestion", "push"),
        ("cequence_push_destination", "kinesis"),
        ("cequence_kinesis_shard_count", "4"),
        ("cequence_lambda_memory_mb", "512"),
        ("cequence_lambda_architecture", "amd64"),
        ("cequence_spool_retention_days", "30"),
    ]);
    let e = env(&[("CEQUENCE_RESERVED_CONCURRENCY", "8")]);
    let c = resolve_with(&file, &e, None, None, CommandKind::Status).unwrap();
    assert_eq!(c.ingestion, IngestionMode::Push);
    assert_eq!(c.push_destination, PushDestination::Kinesis);
    assert_eq!(c.kinesis_shard_count, 4);
    assert_eq!(c.lambda_memory_mb, 512);
    assert_eq!(c.lambda_architecture, LambdaArchitecture::X86_64);
    assert_eq!(c.reserved_concurrency, Some(8));
    assert_eq!(c.spool_retention_days, 30);
    // Blank means the default (no reservation).
    let c = resolve_with(
        &pairs(&[("cequence_reserved_concurrency", "")]),
        &HashMap::new(),
        None,
        None,
        CommandKind::Status,
    )
    .unwrap();
    assert_eq!(c.reserved_concurrency, None);
}

#[test]
fn bad_ingestion_settings_name_key_value_and_fix() {
    for (key, value, fix) in [
        ("cequence_ingestion", "pull", "poll, push or auto"),
        ("cequence_push_destination", "firehose", "lambda"),
        ("cequence_kinesis_shard_count", "0", "from 1 to 64"),
        ("cequence_kinesis_shard_count", "65", "from 1 to 64"),
        ("cequence_lambda_memory_mb", "64", "from 128 to 10240"),
        ("cequence_lambda_memory_mb", "1.5GB", "from 128 to 10240"),
        ("cequence_lambda_architecture", "ppc64", "expected arm64"),
        ("cequence_reserved_concurrency", "0", "leave it empty"),
        ("cequence_reserved_concurrency", "lots", "from 1 to 9999"),
        ("cequence_spool_retention_days", "366", "from 1 to 365"),
        ("cequence_spool_retention_days", "7d", "from 1 to 365"),
    ] {
        let (k, v, f) = issue(&pairs(&[(key, value)]), CommandKind::Status);
        assert_eq!((k.as_str(), v.as_str()), (key, value));
        assert!(f.contains(fix), "{key}={value}: {f}");
    }
}

#[test]
fn a_reservation_too_small_for_the_kinesis_shards_is_refused() {
    let file = pairs(&[
        ("cequence_push_destination", "kinesis"),
        ("cequence_kinesis_shard_count", "2"),
        ("cequence_reserved_concurrency", "2"),
    ]);
    let (k, v, f) = issue(&file, CommandKind::Status);
    assert_eq!(
        (k.as_str(), v.as_str()),
        ("cequence_reserved_concurrency", "2")
    );
    assert!(f.contains("at least 3"), "{f}");
    // Enough, or polling only, or pushing straight to the function: fine.
    for ok in [
        with(file.clone(), "cequence_reserved_concurrency", "3"),
        with(file.clone(), "cequence_ingestion", "poll"),
        with(file.clone(), "cequence_push_destination", "lambda"),
    ] {
        resolve_with(&ok, &HashMap::new(), None, None, CommandKind::Status).unwrap();
    }
}

#[test]
fn layering_flag_beats_env_beats_file_beats_default() {
    let file = pairs(&[
        ("cequence_aws_regions", "us-east-1"),
        ("cequence_stackset_name", "from-file"),
        ("cequence_lambda_log_level", "debug"),
    ]);
    let e = env(&[
        ("CEQUENCE_AWS_REGIONS", "eu-west-1"),
        ("CEQUENCE_STACKSET_NAME", "from-env"),
    ]);
    let c = resolve_with(
        &file,
        &e,
        Some("ap-south-1,us-west-2"),
        None,
        CommandKind::Status,
    )
    .unwrap();
    assert_eq!(
        c.regions,
        RegionSelection::List(vec!["ap-south-1".into(), "us-west-2".into()])
    );
    assert_eq!(c.stackset_name, "from-env");
    assert_eq!(c.lambda_log_level, LogLevel::Debug);
    assert!(c.rest_api_enabled, "default applies when no layer sets it");

    let c = resolve_with(&file, &e, None, None, CommandKind::Status).unwrap();
    assert_eq!(c.regions, RegionSelection::List(vec!["eu-west-1".into()]));
    let c = resolve_with(&file, &HashMap::new(), None, None, CommandKind::Status).unwrap();
    assert_eq!(c.regions, RegionSelection::List(vec!["us-east-1".into()]));
}

#[test]
fn upper_case_keys_in_the_file_and_lower_case_in_env_are_accepted() {
    let file = pairs(&[("CEQUENCE_REST_API_ENABLED", "false")]);
    let e = env(&[("cequence_http_api_enabled", "false")]);
    let c = resolve_with(&file, &e, None, None, CommandKind::Status).unwrap();
    assert!(!c.rest_api_enabled && !c.http_api_enabled);
}

#[test]
fn blank_values_mean_default() {
    let file = pairs(&[
        ("cequence_aws_regions", ""),
        ("cequence_lambda_role_arn", ""),
        ("cequence_rest_api_enabled", " "),
    ]);
    let c = resolve_with(&file, &HashMap::new(), None, None, CommandKind::Status).unwrap();
    assert_eq!(c.regions, RegionSelection::All);
    assert_eq!(c.lambda_role_arn, None);
    assert!(c.rest_api_enabled);
}

#[test]
fn a_valid_enable_configuration_loads() {
    let c = resolve_with(
        &enable_file(),
        &HashMap::new(),
        None,
        None,
        CommandKind::Enable,
    )
    .unwrap();
    assert_eq!(c.client_id, "client-1");
    assert_eq!(c.client_secret.expose(), "super-secret-value");
    assert_eq!(c.target_ous, vec!["r-ab12".to_string()]);
    assert_eq!(c.edge_endpoint, "https://edge.example.com/api-transactions");
}

#[test]
fn unknown_keys_name_the_key_and_suggest() {
    let (key, value, fix) = issue(
        &pairs(&[("cequence_aws_region", "us-east-1")]),
        CommandKind::Status,
    );
    assert_eq!(
        (key.as_str(), value.as_str()),
        ("cequence_aws_region", "us-east-1")
    );
    assert_eq!(fix, "unknown key; did you mean cequence_aws_regions?");

    let err = resolve_with(
        &[],
        &env(&[("CEQUENCE_STACKSET_NAM", "x")]),
        None,
        None,
        CommandKind::Status,
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid configuration: CEQUENCE_STACKSET_NAM=x: unknown key; did you mean CEQUENCE_STACKSET_NAME?"
    );
    assert_eq!(err.exit_code(), 2);
}

#[test]
fn unrelated_keys_are_ignored() {
    let file = pairs(&[("AWS_PROFILE", "dev"), ("TF_VAR_x", "1")]);
    let e = env(&[("HOME", "/root"), ("CI", "true")]);
    assert!(resolve_with(&file, &e, None, None, CommandKind::Status).is_ok());
}

#[test]
fn bad_boolean() {
    let (key, value, fix) = issue(
        &pairs(&[("cequence_rest_api_enabled", "ture")]),
        CommandKind::Status,
    );
    assert_eq!(
        (key.as_str(), value.as_str()),
        ("cequence_rest_api_enabled", "ture")
    );
    assert!(fix.contains("true or false"), "{fix}");
}

#[test]
fn unknown_region_in_file_and_flag() {
    let (key, value, fix) = issue(
        &pairs(&[("cequence_aws_regions", "us-east-1,eu-wset-1")]),
        CommandKind::Status,
    );
    assert_eq!(key, "cequence_aws_regions");
    assert_eq!(value, "us-east-1,eu-wset-1");
    assert!(fix.contains("did you mean eu-west-1?"), "{fix}");

    let err = resolve_with(
        &[],
        &HashMap::new(),
        Some("mars-1"),
        None,
        CommandKind::Status,
    )
    .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("invalid configuration: --regions=mars-1: "),
        "{err}"
    );
}

#[test]
fn a_blank_regions_flag_is_an_error_not_all() {
    let err = resolve_with(&[], &HashMap::new(), Some(" "), None, CommandKind::Status).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("invalid configuration: --regions=: expected `all`"),
        "{err}"
    );
}

#[test]
fn malformed_account_ids() {
    let (key, value, fix) = issue(
        &with(
            enable_file(),
            "cequence_target_accounts",
            "111111111111,1234",
        ),
        CommandKind::Status,
    );
    assert_eq!(
        (key.as_str(), value.as_str()),
        ("cequence_target_accounts", "111111111111,1234")
    );
    assert!(fix.contains("`1234`") && fix.contains("12 digits"), "{fix}");
}

#[test]
fn malformed_ou_ids() {
    let (key, value, fix) = issue(
        &with(enable_file(), "cequence_target_ous", "ou-12"),
        CommandKind::Enable,
    );
    assert_eq!(
        (key.as_str(), value.as_str()),
        ("cequence_target_ous", "ou-12")
    );
    assert!(
        fix.contains("ou-xxxx-yyyyyyyy") && fix.contains("r-xxxx"),
        "{fix}"
    );
}

#[test]
fn malformed_urls() {
    for (value, expect) in [
        ("http://edge.example.com/x", "https://"),
        ("edge.example.com/x", "not a valid URL"),
    ] {
        let (key, v, fix) = issue(
            &with(enable_file(), "cequence_edge_endpoint", value),
            CommandKind::Enable,
        );
        assert_eq!(
            (key.as_str(), v.as_str()),
            ("cequence_edge_endpoint", value)
        );
        assert!(fix.contains(expect), "{fix}");
    }
    // Validated whatever the command, when set.
    let (key, _, _) = issue(
        &pairs(&[("cequence_auth_endpoint", "ftp://x")]),
        CommandKind::Status,
    );
    assert_eq!(key, "cequence_auth_endpoint");
    // Local stand-ins may use http.
    let local = with(
        enable_file(),
        "cequence_edge_endpoint",
        "http://127.0.0.1:9000/edge",
    );
    assert!(resolve_with(&local, &HashMap::new(), None, None, CommandKind::Enable).is_ok());
}

#[test]
fn bad_log_level() {
    let (key, value, fix) = issue(
        &pairs(&[("cequence_lambda_log_level", "loud")]),
        CommandKind::Status,
    );
    assert_eq!(
        (key.as_str(), value.as_str()),
        ("cequence_lambda_log_level", "loud")
    );
    assert!(fix.contains("error, warn, info, debug, trace"), "{fix}");
}

#[test]
fn regexes_that_do_not_compile() {
    for key in [
        "cequence_supported_content_types_regex",
        "cequence_unsupported_static_extensions_regex",
    ] {
        let (k, v, fix) = issue(&pairs(&[(key, "(json")]), CommandKind::Status);
        assert_eq!((k.as_str(), v.as_str()), (key, "(json"));
        assert!(fix.contains("regular expression"), "{fix}");
    }
    let ok = pairs(&[(
        "cequence_supported_content_types_regex",
        "^application/json",
    )]);
    let c = resolve_with(&ok, &HashMap::new(), None, None, CommandKind::Status).unwrap();
    assert_eq!(c.supported_content_types_regex, "^application/json");
}

#[test]
fn arns_that_are_not_arns() {
    for key in [
        "cequence_lambda_role_arn",
        "cequence_apigw_cloudwatch_role_arn",
        "cequence_scheduler_role_arn",
        "cequence_stackset_admin_role_arn",
    ] {
        let (k, v, fix) = issue(&pairs(&[(key, "MyRole")]), CommandKind::Status);
        assert_eq!((k.as_str(), v.as_str()), (key, "MyRole"));
        assert!(fix.contains("IAM role ARN"), "{fix}");
    }
    let ok = pairs(&[(
        "cequence_lambda_role_arn",
        "arn:aws:iam::123456789012:role/Fwd",
    )]);
    let c = resolve_with(&ok, &HashMap::new(), None, None, CommandKind::Status).unwrap();
    assert_eq!(
        c.lambda_role_arn.as_deref(),
        Some("arn:aws:iam::123456789012:role/Fwd")
    );
}

#[test]
fn bad_names() {
    let (k, v, _) = issue(
        &pairs(&[("cequence_stackset_name", "my_stackset")]),
        CommandKind::Status,
    );
    assert_eq!(
        (k.as_str(), v.as_str()),
        ("cequence_stackset_name", "my_stackset")
    );
    let (k, _, fix) = issue(
        &pairs(&[("cequence_stackset_execution_role_name", "a role")]),
        CommandKind::Status,
    );
    assert_eq!(k, "cequence_stackset_execution_role_name");
    assert!(fix.contains("IAM role name"));
}

#[test]
fn enable_requires_credentials_and_endpoints() {
    let file = pairs(&[("cequence_target_ous", "r-ab12")]);
    let err = resolve_with(&file, &HashMap::new(), None, None, CommandKind::Enable).unwrap_err();
    let Error::ConfigMany(issues) = &err else {
        panic!("expected several issues, got {err:?}")
    };
    let keys: Vec<&str> = issues.iter().map(|i| i.key.as_str()).collect();
    assert_eq!(
        keys,
        [
            "cequence_client_id",
            "cequence_client_secret",
            "cequence_auth_endpoint",
            "cequence_edge_endpoint"
        ]
    );
    assert!(issues[0].fix.contains("required by `enable`"));
    assert!(issues[0].fix.contains("CEQUENCE_CLIENT_ID"));
    assert_eq!(err.exit_code(), 2);
    // status and disable do not need them.
    for kind in [CommandKind::Status, CommandKind::Disable] {
        assert!(resolve_with(&file, &HashMap::new(), None, None, kind).is_ok());
    }
}

#[test]
fn an_invalid_required_value_is_reported_once() {
    let file = with(enable_file(), "cequence_auth_endpoint", "nope");
    let (key, _, fix) = issue(&file, CommandKind::Enable);
    assert_eq!(key, "cequence_auth_endpoint");
    assert!(fix.contains("not a valid URL"));
}

#[test]
fn multi_account_deployment_without_accounts() {
    let file = with(
        with(
            enable_file(),
            "cequence_is_aws_organization_deployment",
            "false",
        ),
        "cequence_is_multi_account_deployment",
        "true",
    );
    let (key, value, fix) = issue(&file, CommandKind::Enable);
    assert_eq!(
        (key.as_str(), value.as_str()),
        ("cequence_target_accounts", "")
    );
    assert!(fix.contains("accounts-config.csv"), "{fix}");

    let c = resolve_with(
        &file,
        &HashMap::new(),
        None,
        Some("account_id\n111111111111\n"),
        CommandKind::Enable,
    )
    .unwrap();
    assert_eq!(c.permission_model(), PermissionModel::SelfManaged);
    assert_eq!(c.target_accounts, vec!["111111111111".to_string()]);
}

#[test]
fn organization_deployment_without_targets() {
    let mut file = enable_file();
    file.retain(|(k, _)| k != "cequence_target_ous");
    let (key, value, fix) = issue(&file, CommandKind::Enable);
    assert_eq!((key.as_str(), value.as_str()), ("cequence_target_ous", ""));
    assert!(fix.contains("r-xxxx"), "{fix}");
}

#[test]
fn organization_and_multi_account_conflict() {
    let file = with(
        enable_file(),
        "cequence_is_multi_account_deployment",
        "true",
    );
    let (key, value, fix) = issue(&file, CommandKind::Status);
    assert_eq!(
        (key.as_str(), value.as_str()),
        ("cequence_is_multi_account_deployment", "true")
    );
    assert!(fix.contains("cequence_is_aws_organization_deployment=true"));
}

#[test]
fn terraform_is_refused_with_a_clear_message() {
    let file = with(enable_file(), "cequence_deployment_type", "terraform");
    let (key, value, fix) = issue(&file, CommandKind::Enable);
    assert_eq!(
        (key.as_str(), value.as_str()),
        ("cequence_deployment_type", "terraform")
    );
    assert!(fix.contains("CloudFormation only"), "{fix}");
    let (_, _, fix) = issue(
        &with(enable_file(), "cequence_deployment_type", "pulumi"),
        CommandKind::Enable,
    );
    assert!(fix.contains("cloudformation or terraform"));
    // status may still look at what exists.
    assert!(resolve_with(&file, &HashMap::new(), None, None, CommandKind::Status).is_ok());
}

#[test]
fn accounts_from_csv_and_key_are_merged_without_duplicates() {
    let file = pairs(&[("cequence_target_accounts", "222222222222,111111111111")]);
    let c = resolve_with(
        &file,
        &HashMap::new(),
        None,
        Some("account_id\r\n111111111111\r\n\r\n333333333333\r\n"),
        CommandKind::Status,
    )
    .unwrap();
    assert_eq!(
        c.target_accounts,
        ["222222222222", "111111111111", "333333333333"]
    );
}

#[test]
fn csv_errors_are_reported_with_the_line() {
    let err = resolve_with(
        &[],
        &HashMap::new(),
        None,
        Some("account_id\n12345678901x\n"),
        CommandKind::Status,
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid configuration: accounts-config.csv line 2=12345678901x: \
         `12345678901x` is not an AWS account id (12 digits)"
    );
}

#[test]
fn every_issue_is_reported_at_once() {
    let file = pairs(&[
        ("cequence_rest_api_enabled", "maybe"),
        ("cequence_lambda_log_level", "loud"),
    ]);
    let err = resolve_with(&file, &HashMap::new(), None, None, CommandKind::Status).unwrap_err();
    let text = err.to_string();
    assert!(text.contains("cequence_rest_api_enabled=maybe"), "{text}");
    assert!(text.contains("cequence_lambda_log_level=loud"), "{text}");
}

#[test]
fn the_secret_never_appears_in_errors_or_debug() {
    // An unknown key that carries the secret, a secret given where a bad value is reported,
    // and the loaded Config's Debug.
    let file = with(enable_file(), "cequence_rest_api_enabled", "bad");
    let err = resolve_with(&file, &HashMap::new(), None, None, CommandKind::Enable).unwrap_err();
    assert!(!format!("{err} {err:?}").contains("super-secret-value"));

    let c = resolve_with(
        &enable_file(),
        &HashMap::new(),
        None,
        None,
        CommandKind::Enable,
    )
    .unwrap();
    let shown = format!("{c:?}");
    assert!(!shown.contains("super-secret-value"), "{shown}");
    assert!(shown.contains("****"));
    assert_eq!(format!("{}", c.client_secret), "****");
}

mod files {
    //! `load_with_env` with real files in a temporary directory.
    use super::*;

    #[test]
    fn env_file_and_the_csv_beside_it_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let env_path = dir.path().join("prod.env");
        std::fs::write(
            &env_path,
            "# comment\ncequence_is_aws_organization_deployment=false\n\
             cequence_is_multi_account_deployment=true\n\
             cequence_aws_regions=\"us-east-1,eu-west-1\"\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join(ACCOUNTS_CSV),
            "account_id\r\n123456789012\r\n",
        )
        .unwrap();
        let c = load_with_env(
            Some(env_path.as_path()),
            None,
            CommandKind::Status,
            &env(&[("CEQUENCE_HTTP_API_ENABLED", "false")]),
        )
        .unwrap();
        assert!(c.is_multi_account_deployment);
        assert_eq!(
            c.regions,
            RegionSelection::List(vec!["us-east-1".into(), "eu-west-1".into()])
        );
        assert_eq!(c.target_accounts, ["123456789012"]);
        assert!(!c.http_api_enabled);
    }

    #[test]
    fn a_missing_env_file_given_explicitly_is_a_usage_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nope.env");
        let err = load_with_env(
            Some(path.as_path()),
            None,
            CommandKind::Status,
            &HashMap::new(),
        )
        .unwrap_err();
        assert_eq!(err.exit_code(), 2);
        assert!(
            err.to_string().contains(&path.display().to_string()),
            "{err}"
        );
    }

    #[test]
    fn an_unparsable_line_does_not_echo_its_value() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.env");
        std::fs::write(&path, "cequence_client_secret='abc-secret\n").unwrap();
        let err = load_with_env(
            Some(path.as_path()),
            None,
            CommandKind::Status,
            &HashMap::new(),
        )
        .unwrap_err();
        assert_eq!(err.exit_code(), 2);
        assert!(!err.to_string().contains("abc-secret"), "{err}");
    }

    #[test]
    fn single_quoted_values_are_taken_literally() {
        // What .env.example tells users to do with a secret containing `$`.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("q.env");
        std::fs::write(&path, "cequence_client_secret='a$bc d'\n").unwrap();
        let c = load_with_env(
            Some(path.as_path()),
            None,
            CommandKind::Status,
            &HashMap::new(),
        )
        .unwrap();
        assert_eq!(c.client_secret.expose(), "a$bc d");
    }

    #[test]
    fn the_example_file_documents_every_key_and_loads() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let example = root.join(".env.example");
        let text = std::fs::read_to_string(&example).unwrap();
        for key in KNOWN_KEYS {
            assert!(
                text.contains(&format!("{key}=")),
                "{key} missing from .env.example"
            );
        }
        let c = load_with_env(
            Some(example.as_path()),
            None,
            CommandKind::Status,
            &HashMap::new(),
        )
        .unwrap();
        assert_eq!(c.regions, RegionSelection::All);
    }
}

/// dotenvy's own error for `text`, as the CLI words it.
fn env_file_message(text: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(".env");
    std::fs::write(&path, text).unwrap();
    match read_env_file(&path, true) {
        Err(Error::Usage(m)) => m,
        other => panic!("expected a usage error, got {other:?}"),
    }
}

#[test]
fn an_unparsable_env_line_is_named_by_number_and_key_and_the_value_is_never_shown() {
    let secret = "s3cr3t zq9x";
    let text = format!(
        "# Cequence\ncequence_client_id=abc\n\ncequence_client_secret={secret}\ncequence_log_level=INFO\n"
    );
    let m = env_file_message(&text);
    assert!(m.contains(".env line 4"), "{m}");
    assert!(m.contains("the value of cequence_client_secret"), "{m}");
    assert!(m.contains("single quotes"), "{m}");
    assert!(!m.contains("s3cr3t") && !m.contains("zq9x"), "{m}");

    // A value that is fine once quoted, as the hint says.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(".env");
    std::fs::write(&path, format!("cequence_client_secret='{secret}'\n")).unwrap();
    let entries = read_env_file(&path, true).unwrap();
    assert_eq!(entries, pairs(&[("cequence_client_secret", secret)]));
}

#[test]
fn a_line_without_a_key_is_named_by_number_without_its_text() {
    let m = env_file_message("cequence_client_id=abc\n# fine\ncequence_client_secret hunter2\n");
    assert!(m.contains(".env line 3: expected KEY=value"), "{m}");
    assert!(m.contains("start it with #"), "{m}");
    assert!(!m.contains("hunter2"), "{m}");

    let m = env_file_message("a=1\n.bad=VALUE\n");
    assert!(m.contains("line 2: expected KEY=value"), "{m}");
}

#[test]
fn a_bad_escape_in_a_double_quoted_value_points_at_the_value() {
    let m = env_file_message("a=1\nb=\"x\\fy\"\n");
    assert!(m.contains("line 2: the value of b"), "{m}");
}
