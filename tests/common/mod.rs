//! Test bed for the CLI integration tests: a fresh moto server, a temporary working directory
//! with a `.env`, a dummy forwarder zip and a small template moto can deploy, and helpers to
//! run the real `cq-apigw` binary and to look at moto's state through the SDK.

#![allow(dead_code)]

use std::path::PathBuf;

use assert_cmd::Command;
use cq_test_support::MotoServer;
use tempfile::TempDir;

pub const ACCOUNT: &str = "123456789012";
pub const SECRET: &str = "sup3r-s3cret-value";
pub const STACKSET: &str = "aws-cequence-apigw-integration";

/// Declares every contract parameter (cq_contract::parameters) but creates only an SSM parameter: the real
/// template's custom resource hangs in moto (docs/developing.md, "The local AWS").
const TEST_TEMPLATE: &str = r#"AWSTemplateFormatVersion: "2010-09-09"
Description: cq-apigw test template
Parameters:
  LambdaLogLevel: {Type: String}
  S3BucketName: {Type: String}
  S3BucketRegion: {Type: String}
  S3Key: {Type: String}
  CequenceClientId: {Type: String}
  CequenceClientSecret: {Type: String, NoEcho: true}
  CequenceAuthEndpoint: {Type: String}
  CequenceEdgeEndpoint: {Type: String}
  SupportedContentTypesRegex: {Type: String}
  UnsupportedStaticExtensionsRegex: {Type: String}
  CequenceLambdaRoleArn: {Type: String, Default: ""}
  ApiGatewayCloudWatchRoleArn: {Type: String, Default: ""}
  EventBridgeSchedulerRoleArn: {Type: String, Default: ""}
  CequenceRestApiEnabled: {Type: String}
  CequenceHttpApiEnabled: {Type: String}
  CequenceIncludeHttpDefaultStage: {Type: String, Default: "false"}
  CequenceIngestion: {Type: String, Default: auto}
  PushDestination: {Type: String, Default: lambda}
  KinesisShardCount: {Type: Number, Default: 1}
  LambdaMemorySize: {Type: Number, Default: 1024}
  LambdaArchitecture: {Type: String, Default: arm64}
  ReservedConcurrency: {Type: String, Default: ""}
  SpoolRetentionDays: {Type: Number, Default: 7}
Resources:
  Marker:
    Type: AWS::SSM::Parameter
    Properties:
      Name: !Sub "/cq-test/${AWS::Region}/marker"
      Type: String
      Value: !Ref S3Key
"#;

pub struct Bed {
    pub moto: MotoServer,
    pub dir: TempDir,
    runtime: tokio::runtime::Runtime,
}

/// Self-managed deployment to the moto account in two regions, buckets deleted on destroy.
pub fn self_managed_env() -> Vec<(&'static str, String)> {
    vec![
        ("cequence_is_aws_organization_deployment", "false".into()),
        ("cequence_is_multi_account_deployment", "true".into()),
        ("cequence_target_accounts", ACCOUNT.into()),
        ("cequence_aws_regions", "us-east-1,eu-west-1".into()),
        ("cequence_cfn_auto_delete_from_s3", "true".into()),
        ("cequence_client_id", "test-client".into()),
        ("cequence_client_secret", SECRET.into()),
        (
            "cequence_auth_endpoint",
            "https://auth.example.com/auth/realms/cequence/protocol/openid-connect/token".into(),
        ),
        (
            "cequence_edge_endpoint",
            "https://edge.example.com/api-transactions".into(),
        ),
    ]
}

impl Bed {
    pub fn new() -> Bed {
        Bed::with_env(&self_managed_env())
    }

    pub fn with_env(vars: &[(&str, String)]) -> Bed {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("template.yaml"), TEST_TEMPLATE).unwrap();
        // A real package layout (the CLI reads the bootstrap's ELF machine), for the default
        // architecture, arm64.
        std::fs::write(
            dir.path().join("forwarder.zip"),
            cq_test_support::lambda_zip::forwarder_zip(
                cq_test_support::lambda_zip::EM_AARCH64,
                b"",
            ),
        )
        .unwrap();
        let bed = Bed {
            moto: MotoServer::start(),
            dir,
            runtime: tokio::runtime::Runtime::new().unwrap(),
        };
        bed.write_env(vars);
        bed
    }

    /// Replace the `.env` file.
    pub fn write_env(&self, vars: &[(&str, String)]) {
        let text: String = vars.iter().map(|(k, v)| format!("{k}={v}\n")).collect();
        std::fs::write(self.env_file(), text).unwrap();
    }

    pub fn env_file(&self) -> PathBuf {
        self.dir.path().join(".env")
    }

    /// The binary, in the bed's directory, against moto, with the test artifacts.
    pub fn cli(&self, args: &[&str]) -> Command {
        Command::from_std(self.cli_process(args))
    }

    /// As `cli`, as a plain process to spawn (and kill).
    pub fn cli_process(&self, args: &[&str]) -> std::process::Command {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_cq-apigw"));
        cmd.current_dir(self.dir.path())
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", self.dir.path())
            .envs(self.moto.env())
            .env("CQ_TEMPLATE_FILE", self.dir.path().join("template.yaml"))
            .env("CQ_FORWARDER_ZIP", self.dir.path().join("forwarder.zip"))
            .arg("--env-file")
            .arg(self.env_file())
            .args(args);
        cmd
    }

    pub fn block_on<F: std::future::Future>(&self, f: F) -> F::Output {
        self.runtime.block_on(f)
    }

    pub fn s3(&self, region: &str) -> aws_sdk_s3::Client {
        let conf = self.block_on(self.moto.sdk_config(region));
        aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(&conf)
                .force_path_style(true)
                .build(),
        )
    }

    pub fn cfn(&self) -> aws_sdk_cloudformation::Client {
        aws_sdk_cloudformation::Client::new(&self.block_on(self.moto.sdk_config("us-east-1")))
    }

    pub fn organizations(&self) -> aws_sdk_organizations::Client {
        aws_sdk_organizations::Client::new(&self.block_on(self.moto.sdk_config("us-east-1")))
    }

    /// Names of all buckets in moto.
    pub fn buckets(&self) -> Vec<String> {
        let out = self
            .block_on(self.s3("us-east-1").list_buckets().send())
            .unwrap();
        let mut names: Vec<String> = out
            .buckets()
            .iter()
            .filter_map(|b| b.name().map(String::from))
            .collect();
        names.sort();
        names
    }

    /// Every object version in a bucket, as (key, version id).
    pub fn object_versions(&self, bucket: &str, region: &str) -> Vec<(String, String)> {
        let out = self
            .block_on(self.s3(region).list_object_versions().bucket(bucket).send())
            .unwrap();
        out.versions()
            .iter()
            .map(|v| {
                (
                    v.key().unwrap_or_default().to_string(),
                    v.version_id().unwrap_or_default().to_string(),
                )
            })
            .collect()
    }

    /// The StackSet, or `None` when it does not exist.
    pub fn stackset(&self) -> Option<aws_sdk_cloudformation::types::StackSet> {
        match self.block_on(
            self.cfn()
                .describe_stack_set()
                .stack_set_name(STACKSET)
                .send(),
        ) {
            Ok(out) => out.stack_set().cloned(),
            Err(e) => {
                let code = aws_smithy_types::error::metadata::ProvideErrorMetadata::code(&e)
                    .map(String::from);
                assert_eq!(code.as_deref(), Some("StackSetNotFoundException"), "{e:?}");
                None
            }
        }
    }

    /// (account, region) of every stack instance, sorted.
    pub fn instances(&self) -> Vec<(String, String)> {
        let out = self
            .block_on(
                self.cfn()
                    .list_stack_instances()
                    .stack_set_name(STACKSET)
                    .send(),
            )
            .unwrap();
        let mut v: Vec<(String, String)> = out
            .summaries()
            .iter()
            .map(|s| {
                (
                    s.account().unwrap_or_default().to_string(),
                    s.region().unwrap_or_default().to_string(),
                )
            })
            .collect();
        v.sort();
        v
    }

    /// Number of operations recorded on the StackSet.
    pub fn operation_count(&self) -> usize {
        self.block_on(
            self.cfn()
                .list_stack_set_operations()
                .stack_set_name(STACKSET)
                .send(),
        )
        .unwrap()
        .summaries()
        .len()
    }
}

pub fn bucket(region: &str) -> String {
    format!("cequence-aws-api-artifacts-{ACCOUNT}-{region}")
}

/// Run `cmd`, assert it succeeded (showing both streams otherwise), return its stdout.
pub fn stdout_ok(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\n{}",
        stdout(&out),
        stderr(&out)
    );
    stdout(&out)
}

pub fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Check a command's JSON output against its published schema (`docs/schemas/<name>.schema.json`)
/// with Python's `jsonschema` from the test bed's venv (Draft 2020-12, every error listed), so
/// the documented contract cannot drift from what the binary prints.
pub fn assert_matches_schema(json: &str, name: &str) {
    const CHECK: &str = r#"
import json, sys
from jsonschema import Draft202012Validator
schema = json.load(open(sys.argv[1]))
Draft202012Validator.check_schema(schema)
doc = json.loads(sys.stdin.read())
errors = sorted(Draft202012Validator(schema).iter_errors(doc), key=lambda e: list(e.absolute_path))
for e in errors:
    print("/".join(map(str, e.absolute_path)) or "(root)", ":", e.message)
sys.exit(1 if errors else 0)
"#;
    use std::io::Write;
    let schema = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("docs/schemas")
        .join(format!("{name}.schema.json"));
    let mut child = std::process::Command::new(cq_test_support::moto::python())
        .args(["-c", CHECK])
        .arg(&schema)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the test bed's python (scripts/python-tools.sh)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(json.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "output does not match {}:\n{}{}\n{json}",
        schema.display(),
        stdout(&out),
        stderr(&out)
    );
}
