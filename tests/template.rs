//! The StackSet template (`templates/template.yaml`), the StackSet role templates and the operator
//! policy: the contract (`cq_contract`: parameters, their defaults, the forwarder's environment,
//! the custom resource's properties; docs/contract.md) checked on the parsed YAML, the linters (cfn-lint,
//! checkov), and deployments on moto as a plain stack and as a StackSet instance.
//!
//! What moto 5.2.5 does not provision, and so is only checked statically here:
//! `AWS::SecretsManager::Secret` (moto has no CloudFormation model for it),
//! `AWS::Scheduler::Schedule`, `AWS::S3::BucketPolicy`, and the custom resource (moto invokes the
//! function through Docker in a background thread and waits for a response that never comes, so
//! the stack stays `CREATE_IN_PROGRESS` while every other resource already exists). What it
//! provisions but ignores, and so is also checked statically: the table's TTL and SSE, the
//! bucket's public-access block, ownership and lifecycle rules, and the stream's encryption and
//! mode.
//! moto keeps an `AWS::NoValue` list item as `null` (CloudFormation drops it), so the role's
//! conditional statements are checked on the template, not read back.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::Command;

use aws_sdk_cloudformation::types::{Capability, Parameter, PermissionModels, StackStatus};
use aws_sdk_lambda::types::{Architecture, Runtime};
use cq_test_support::moto::ACCOUNT_ID;
use cq_test_support::MotoServer;
use yaml_serde::Value;

// The names, defaults and rules the template must follow are the contract crate's: the CLI
// fills the parameters from the same constants and the forwarder reads the same variables.
use cq_contract::defaults::{
    SUPPORTED_CONTENT_TYPES_REGEX as CONTENT_TYPES_REGEX,
    UNSUPPORTED_STATIC_EXTENSIONS_REGEX as STATIC_EXTENSIONS_REGEX,
};
use cq_contract::forwarder_env::SET_BY_TEMPLATE as FORWARDER_ENVIRONMENT;
use cq_contract::parameters::{ALL as CONTRACT_PARAMETERS, NUMBERS as NUMBER_PARAMETERS};

const CLIENT_SECRET: &str = "not-a-real-secret-3f9c1e";
const FORWARDER_KEY: &str = "lambda/forwarder-0123abcd.zip";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(rel: &str) -> String {
    let path = root().join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

fn load(rel: &str) -> Value {
    yaml_serde::from_str(&read(rel)).unwrap_or_else(|e| panic!("parse {rel}: {e}"))
}

fn main_template() -> Value {
    load("templates/template.yaml")
}

/// `node[key]`, failing with the path when it is missing.
fn at<'a>(node: &'a Value, path: &[&str]) -> &'a Value {
    path.iter().fold(node, |v, key| {
        v.get(*key)
            .unwrap_or_else(|| panic!("missing {} in template", path.join(".")))
    })
}

fn keys(node: &Value) -> BTreeSet<String> {
    node.as_mapping()
        .expect("a mapping")
        .keys()
        .map(|k| k.as_str().expect("string key").to_string())
        .collect()
}

/// The tag (`!Ref`, `!Sub`, `!If`, ...) and tagged value of a short-form intrinsic.
fn intrinsic(v: &Value) -> Option<(String, &Value)> {
    match v {
        Value::Tagged(t) => Some((t.tag.to_string(), &t.value)),
        _ => None,
    }
}

/// Whether any scalar under `v` names `name`, as `!Ref name`, `!GetAtt name.X`, `Ref: name` or
/// inside a `!Sub` string as `${name}`.
fn mentions(v: &Value, name: &str) -> bool {
    match v {
        Value::String(s) => {
            s == name
                || s.starts_with(&format!("{name}."))
                || s.contains(&format!("${{{name}}}"))
                || s.contains(&format!("${{{name}."))
        }
        Value::Sequence(items) => items.iter().any(|i| mentions(i, name)),
        Value::Mapping(m) => m
            .iter()
            .any(|(k, v)| mentions(k, name) || mentions(v, name)),
        Value::Tagged(t) => mentions(&t.value, name),
        _ => false,
    }
}

/// The forwarder function's environment variables.
fn function_environment(t: &Value) -> &Value {
    at(
        t,
        &[
            "Resources",
            "ForwarderFunction",
            "Properties",
            "Environment",
            "Variables",
        ],
    )
}

fn string_list(v: &Value) -> Vec<String> {
    v.as_sequence()
        .expect("a list")
        .iter()
        .map(|i| i.as_str().expect("a string").to_string())
        .collect()
}

#[test]
fn short_form_intrinsics_parse_as_tags() {
    let t = main_template();
    let role = at(
        &t,
        &["Resources", "ForwarderFunction", "Properties", "Role"],
    );
    let (tag, args) = intrinsic(role).expect("Role is an !If");
    assert_eq!(tag, "!If");
    assert_eq!(args[0].as_str(), Some("CreateLambdaRole"));
    let (tag, target) = intrinsic(&args[1]).expect("!GetAtt");
    assert_eq!(
        (tag.as_str(), target.as_str()),
        ("!GetAtt", Some("ForwarderRole.Arn"))
    );
    let (tag, name) = intrinsic(&args[2]).expect("!Ref");
    assert_eq!(
        (tag.as_str(), name.as_str()),
        ("!Ref", Some("CequenceLambdaRoleArn"))
    );
}

#[test]
fn parameters_are_exactly_the_contract() {
    let t = main_template();
    let params = at(&t, &["Parameters"]);
    let expected: BTreeSet<String> = CONTRACT_PARAMETERS.iter().map(|s| s.to_string()).collect();
    assert_eq!(keys(params), expected);
    for name in CONTRACT_PARAMETERS {
        let p = at(params, &[name]);
        let ty = if NUMBER_PARAMETERS.contains(&name) {
            "Number"
        } else {
            "String"
        };
        assert_eq!(at(p, &["Type"]).as_str(), Some(ty), "{name}");
        let description = at(p, &["Description"]).as_str().unwrap_or_default();
        assert!(!description.trim().is_empty(), "{name} has no description");
    }
}

#[test]
fn defaults_and_variables_follow_the_contract() {
    use cq_contract::{defaults, forwarder_env, parameters as name, LogLevel, RestDelivery};
    let t = main_template();
    let default = |param: &str| at(&t, &["Parameters", param, "Default"]).clone();
    let flag = |b: bool| Value::String(b.to_string());
    assert_eq!(
        default(name::REST_API_ENABLED),
        flag(defaults::REST_API_ENABLED)
    );
    assert_eq!(
        default(name::HTTP_API_ENABLED),
        flag(defaults::HTTP_API_ENABLED)
    );
    assert_eq!(
        default(name::INCLUDE_HTTP_DEFAULT_STAGE),
        flag(defaults::INCLUDE_HTTP_DEFAULT_STAGE)
    );
    assert_eq!(
        default(name::LAMBDA_LOG_LEVEL).as_str(),
        Some(LogLevel::default().as_str())
    );
    assert_eq!(
        default(name::REST_LOG_DELIVERY).as_str(),
        Some(RestDelivery::default().as_str())
    );
    assert_eq!(
        default(name::INGESTION).as_str(),
        Some(cq_contract::IngestionMode::default().as_str())
    );
    let levels: Vec<&str> = LogLevel::ALL.iter().map(|l| l.as_str()).collect();
    assert_eq!(
        string_list(at(
            &t,
            &["Parameters", name::LAMBDA_LOG_LEVEL, "AllowedValues"]
        )),
        levels
    );
    let deliveries: Vec<&str> = RestDelivery::ALL.iter().map(|d| d.as_str()).collect();
    assert_eq!(
        string_list(at(
            &t,
            &["Parameters", name::REST_LOG_DELIVERY, "AllowedValues"]
        )),
        deliveries
    );
    for (param, value, range) in [
        (
            name::KINESIS_SHARD_COUNT,
            defaults::KINESIS_SHARD_COUNT,
            defaults::KINESIS_SHARD_COUNT_RANGE,
        ),
        (
            name::LAMBDA_MEMORY_SIZE,
            defaults::LAMBDA_MEMORY_MB,
            defaults::LAMBDA_MEMORY_MB_RANGE,
        ),
        (
            name::SPOOL_RETENTION_DAYS,
            defaults::SPOOL_RETENTION_DAYS,
            defaults::SPOOL_RETENTION_DAYS_RANGE,
        ),
    ] {
        let p = at(&t, &["Parameters", param]);
        assert_eq!(
            at(p, &["Default"]).as_u64(),
            Some(u64::from(value)),
            "{param}"
        );
        assert_eq!(
            at(p, &["MinValue"]).as_u64(),
            Some(u64::from(*range.start())),
            "{param}"
        );
        assert_eq!(
            at(p, &["MaxValue"]).as_u64(),
            Some(u64::from(*range.end())),
            "{param}"
        );
    }
    // Each variable that carries a parameter is a plain `!Ref` of it.
    let env = function_environment(&t);
    for (var, param) in forwarder_env::FROM_PARAMETER {
        let (tag, name) = intrinsic(at(env, &[var])).unwrap_or_else(|| panic!("{var}"));
        assert_eq!(
            (tag.as_str(), name.as_str()),
            ("!Ref", Some(param)),
            "{var}"
        );
    }
    // Every value a parameter's constraint allows is one the forwarder's rules accept.
    for value in ["true", "false"] {
        cq_contract::values::parse_bool(value).unwrap();
    }
    for level in string_list(at(
        &t,
        &["Parameters", name::LAMBDA_LOG_LEVEL, "AllowedValues"],
    )) {
        assert!(LogLevel::parse(&level).is_some(), "{level}");
    }
    for mode in string_list(at(&t, &["Parameters", name::INGESTION, "AllowedValues"])) {
        assert!(mode.parse::<cq_contract::IngestionMode>().is_ok(), "{mode}");
    }
    cq_contract::values::check_regex(CONTENT_TYPES_REGEX).unwrap();
    cq_contract::values::check_regex(STATIC_EXTENSIONS_REGEX).unwrap();
}

#[test]
fn parameter_defaults_and_constraints() {
    let t = main_template();
    let p = |name: &str| at(&t, &["Parameters", name]).clone();

    assert_eq!(
        p("CequenceClientSecret").get("NoEcho"),
        Some(&Value::Bool(true))
    );
    assert!(p("CequenceClientSecret").get("Default").is_none());

    let level = p("LambdaLogLevel");
    assert_eq!(
        string_list(at(&level, &["AllowedValues"])),
        ["error", "warn", "info", "debug", "trace"]
    );
    assert_eq!(at(&level, &["Default"]).as_str(), Some("info"));

    for name in ["CequenceRestApiEnabled", "CequenceHttpApiEnabled"] {
        let b = p(name);
        assert_eq!(
            string_list(at(&b, &["AllowedValues"])),
            ["true", "false"],
            "{name}"
        );
        assert_eq!(at(&b, &["Default"]).as_str(), Some("true"), "{name}");
    }
    for name in [
        "CequenceLambdaRoleArn",
        "ApiGatewayCloudWatchRoleArn",
        "EventBridgeSchedulerRoleArn",
    ] {
        let r = p(name);
        assert_eq!(at(&r, &["Default"]).as_str(), Some(""), "{name}");
        let pattern = regex::Regex::new(at(&r, &["AllowedPattern"]).as_str().unwrap()).unwrap();
        assert!(pattern.is_match(""), "{name}: empty must be allowed");
        assert!(pattern.is_match("arn:aws:iam::123456789012:role/my-role"));
        assert!(!pattern.is_match("my-role"));
    }
    let endpoint = regex::Regex::new(
        at(
            &t,
            &["Parameters", "CequenceAuthEndpoint", "AllowedPattern"],
        )
        .as_str()
        .unwrap(),
    )
    .unwrap();
    assert!(endpoint
        .is_match("https://auth.example.com/auth/realms/cequence/protocol/openid-connect/token"));
    assert!(!endpoint.is_match("http://auth.example.com/token"));

    for (name, allowed, default) in [
        ("CequenceIngestion", &["poll", "push", "auto"][..], "auto"),
        ("PushDestination", &["lambda", "kinesis"][..], "lambda"),
        // Graviton by default: 20% cheaper per GB-s (docs/cost.md).
        ("LambdaArchitecture", &["arm64", "x86_64"][..], "arm64"),
    ] {
        let e = p(name);
        assert_eq!(string_list(at(&e, &["AllowedValues"])), allowed, "{name}");
        assert_eq!(at(&e, &["Default"]).as_str(), Some(default), "{name}");
    }
    for (name, min, max, default) in [
        ("KinesisShardCount", 1, 64, 1),
        ("LambdaMemorySize", 128, 10240, 1024),
        ("SpoolRetentionDays", 1, 365, 7),
    ] {
        let n = p(name);
        assert_eq!(at(&n, &["MinValue"]).as_u64(), Some(min), "{name}");
        assert_eq!(at(&n, &["MaxValue"]).as_u64(), Some(max), "{name}");
        assert_eq!(at(&n, &["Default"]).as_u64(), Some(default), "{name}");
    }
    // Reserved concurrency is off by default: accounts whose quota is 10 cannot reserve any.
    let reserved = p("ReservedConcurrency");
    assert_eq!(at(&reserved, &["Default"]).as_str(), Some(""));
    let pattern = regex::Regex::new(at(&reserved, &["AllowedPattern"]).as_str().unwrap()).unwrap();
    for ok in ["", "1", "10", "9999"] {
        assert!(pattern.is_match(ok), "{ok:?} must be allowed");
    }
    for bad in ["0", "-1", "01", "10000", "one", " 1"] {
        assert!(!pattern.is_match(bad), "{bad:?} must be refused");
    }
}

#[test]
fn every_parameter_has_a_group_and_a_label() {
    let t = main_template();
    let interface = at(&t, &["Metadata", "AWS::CloudFormation::Interface"]);
    let mut grouped = Vec::new();
    for g in at(interface, &["ParameterGroups"]).as_sequence().unwrap() {
        grouped.extend(string_list(at(g, &["Parameters"])));
    }
    let unique: BTreeSet<String> = grouped.iter().cloned().collect();
    assert_eq!(unique.len(), grouped.len(), "a parameter is in two groups");
    let expected: BTreeSet<String> = CONTRACT_PARAMETERS.iter().map(|s| s.to_string()).collect();
    assert_eq!(unique, expected);
    assert_eq!(keys(at(interface, &["ParameterLabels"])), expected);
}

#[test]
fn regex_defaults_are_the_spec_ones_and_compile() {
    let t = main_template();
    let content = at(&t, &["Parameters", "SupportedContentTypesRegex", "Default"]);
    let statics = at(
        &t,
        &["Parameters", "UnsupportedStaticExtensionsRegex", "Default"],
    );
    assert_eq!(content.as_str(), Some(CONTENT_TYPES_REGEX));
    assert_eq!(statics.as_str(), Some(STATIC_EXTENSIONS_REGEX));

    let content = regex::Regex::new(CONTENT_TYPES_REGEX).unwrap();
    assert!(content.is_match("application/json; charset=utf-8"));
    assert!(!content.is_match("image/png"));
    let statics = regex::Regex::new(STATIC_EXTENSIONS_REGEX).unwrap();
    assert!(statics.is_match("/static/app.JS"));
    assert!(!statics.is_match("/pets/1"));
}

#[test]
fn resources_cover_the_contract() {
    let t = main_template();
    let resources = at(&t, &["Resources"]);
    let types: BTreeMap<String, String> = resources
        .as_mapping()
        .unwrap()
        .iter()
        .map(|(k, v)| {
            let ty = at(v, &["Type"]).as_str().unwrap().to_string();
            (k.as_str().unwrap().to_string(), ty)
        })
        .collect();
    let expected: BTreeMap<String, String> = [
        ("ForwarderFunction", "AWS::Lambda::Function"),
        ("ForwarderRole", "AWS::IAM::Role"),
        ("ForwarderLogGroup", "AWS::Logs::LogGroup"),
        ("ApiGatewayCloudWatchRole", "AWS::IAM::Role"),
        ("SchedulerRole", "AWS::IAM::Role"),
        ("ForwarderSchedule", "AWS::Scheduler::Schedule"),
        ("ClientSecret", "AWS::SecretsManager::Secret"),
        ("StageLogging", "Custom::CequenceStageLogging"),
        ("StateTable", "AWS::DynamoDB::Table"),
        ("SpoolBucket", "AWS::S3::Bucket"),
        ("SpoolBucketPolicy", "AWS::S3::BucketPolicy"),
        ("LogsInvokePermission", "AWS::Lambda::Permission"),
        ("ForwarderSelfInvokePolicy", "AWS::IAM::Policy"),
        ("PushStream", "AWS::Kinesis::Stream"),
        ("PushStreamRole", "AWS::IAM::Role"),
        ("PushEventSourceMapping", "AWS::Lambda::EventSourceMapping"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    assert_eq!(types, expected);

    let f = at(resources, &["ForwarderFunction", "Properties"]);
    assert_eq!(at(f, &["Runtime"]).as_str(), Some("provided.al2023"));
    assert_eq!(at(f, &["Handler"]).as_str(), Some("bootstrap"));
    // `!Ref LambdaArchitecture`: the YAML reader here keeps the tag's operand.
    assert_eq!(
        string_list(at(f, &["Architectures"])),
        ["LambdaArchitecture"]
    );
    let timeout = at(f, &["Timeout"]).as_u64().unwrap();
    assert!(
        timeout < 60,
        "a tick must end before the next one-minute tick"
    );
    // Reserved concurrency only when the parameter is set (default: none).
    let (tag, args) = intrinsic(at(f, &["ReservedConcurrentExecutions"])).unwrap();
    assert_eq!(tag, "!If");
    assert_eq!(args[0].as_str(), Some("HasReservedConcurrency"));
    assert_eq!(
        intrinsic(&args[1]).map(|(t, v)| (t, v.as_str())),
        Some(("!Ref".to_string(), Some("ReservedConcurrency")))
    );
    assert_eq!(
        intrinsic(&args[2]).map(|(t, v)| (t, v.as_str())),
        Some(("!Ref".to_string(), Some("AWS::NoValue")))
    );
    let (tag, key) = intrinsic(at(f, &["Code", "S3Key"])).unwrap();
    assert_eq!((tag.as_str(), key.as_str()), ("!Ref", Some("S3Key")));

    let retention = at(
        resources,
        &["ForwarderLogGroup", "Properties", "RetentionInDays"],
    );
    assert!(retention.as_u64().unwrap() >= 1);

    let s = at(resources, &["ForwarderSchedule", "Properties"]);
    assert_eq!(
        at(s, &["ScheduleExpression"]).as_str(),
        Some("rate(1 minute)")
    );
    assert_eq!(at(s, &["FlexibleTimeWindow", "Mode"]).as_str(), Some("OFF"));
    assert_eq!(at(s, &["Target", "Input"]).as_str(), Some("{}"));
    let (tag, arn) = intrinsic(at(s, &["Target", "Arn"])).unwrap();
    assert_eq!(
        (tag.as_str(), arn.as_str()),
        ("!GetAtt", Some("ForwarderFunction.Arn"))
    );

    let c = at(resources, &["StageLogging", "Properties"]);
    let expected: BTreeSet<String> = [
        "ServiceToken",
        "ServiceTimeout",
        "RestApiEnabled",
        "HttpApiEnabled",
        "IncludeHttpDefaultStage",
        "RestLogDelivery",
        "CloudWatchRoleArn",
        "Ingestion",
        "PushDestination",
        "LogsInvokePermission",
        "SelfInvokePolicy",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    assert_eq!(keys(c), expected);
    let (tag, token) = intrinsic(at(c, &["ServiceToken"])).unwrap();
    assert_eq!(
        (tag.as_str(), token.as_str()),
        ("!GetAtt", Some("ForwarderFunction.Arn"))
    );
    for (prop, param) in cq_contract::custom_resource::FROM_PARAMETER {
        let (tag, name) = intrinsic(at(c, &[prop])).unwrap();
        assert_eq!((tag.as_str(), name.as_str()), ("!Ref", Some(param)));
    }
    // The same destination the function's environment names, so a change reaches the
    // custom resource as an Update (which re-subscribes the groups).
    let env_destination = at(
        f,
        &["Environment", "Variables", "CEQUENCE_PUSH_DESTINATION"],
    );
    assert_eq!(at(c, &["PushDestination"]), env_destination);
    // Ordered after the permission CloudWatch Logs needs before any PutSubscriptionFilter.
    assert_ordering_ref(
        c,
        "LogsInvokePermission",
        "PushToLambda",
        "LogsInvokePermission",
    );
    // Ordered after (and, on delete, before) the policy that lets the function continue a
    // large region in a new invocation of itself, and of nothing else.
    assert_ordering_ref(
        c,
        "SelfInvokePolicy",
        "CreateLambdaRole",
        "ForwarderSelfInvokePolicy",
    );
    assert!(at(c, &["ServiceTimeout"]).as_u64().unwrap() >= 3_000);
    let policy = at(resources, &["ForwarderSelfInvokePolicy"]);
    assert_eq!(policy["Condition"].as_str(), Some("CreateLambdaRole"));
    let statement = at(policy, &["Properties", "PolicyDocument", "Statement"]);
    assert_eq!(statement.as_sequence().unwrap().len(), 1);
    assert_eq!(
        at(&statement[0], &["Action"]).as_str(),
        Some("lambda:InvokeFunction")
    );
    let (tag, arn) = intrinsic(at(&statement[0], &["Resource"])).unwrap();
    assert_eq!(
        (tag.as_str(), arn.as_str()),
        ("!GetAtt", Some("ForwarderFunction.Arn"))
    );
}

/// Property `prop` of `c` is `!If [condition, !Ref resource, ...]`: read by no one, it orders
/// `c` after a resource that has a condition (which `DependsOn` cannot name).
fn assert_ordering_ref(c: &Value, prop: &str, condition: &str, resource: &str) {
    let (tag, args) = intrinsic(at(c, &[prop])).unwrap();
    assert_eq!(tag, "!If", "{prop}");
    assert_eq!(args[0].as_str(), Some(condition), "{prop}");
    assert_eq!(
        intrinsic(&args[1]).unwrap().1.as_str(),
        Some(resource),
        "{prop}"
    );
}

/// Name of the condition of resource `name`, if any.
fn condition_of<'a>(t: &'a Value, name: &str) -> Option<&'a str> {
    at(t, &["Resources", name])
        .get("Condition")
        .and_then(Value::as_str)
}

#[test]
fn push_resources_exist_only_for_their_destination() {
    let t = main_template();
    let conditions = at(&t, &["Conditions"]);
    // PushEnabled: ingestion is not poll.
    let not = at(conditions, &["PushEnabled", "Fn::Not"]);
    let equals = at(&not[0], &["Fn::Equals"]);
    assert_eq!(
        intrinsic(&equals[0]).unwrap().1.as_str(),
        Some("CequenceIngestion")
    );
    assert_eq!(equals[1].as_str(), Some("poll"));
    for (condition, destination) in [("PushToLambda", "lambda"), ("PushToKinesis", "kinesis")] {
        let and = at(conditions, &[condition, "Fn::And"]);
        assert_eq!(at(&and[0], &["Condition"]).as_str(), Some("PushEnabled"));
        let equals = at(&and[1], &["Fn::Equals"]);
        assert_eq!(
            intrinsic(&equals[0]).unwrap().1.as_str(),
            Some("PushDestination")
        );
        assert_eq!(equals[1].as_str(), Some(destination), "{condition}");
    }
    let reserved = at(conditions, &["HasReservedConcurrency", "Fn::Not"]);
    let equals = at(&reserved[0], &["Fn::Equals"]);
    assert_eq!(
        intrinsic(&equals[0]).unwrap().1.as_str(),
        Some("ReservedConcurrency")
    );
    assert_eq!(equals[1].as_str(), Some(""));

    assert_eq!(
        condition_of(&t, "LogsInvokePermission"),
        Some("PushToLambda")
    );
    for r in ["PushStream", "PushStreamRole", "PushEventSourceMapping"] {
        assert_eq!(condition_of(&t, r), Some("PushToKinesis"), "{r}");
    }
    for r in [
        "StateTable",
        "SpoolBucket",
        "SpoolBucketPolicy",
        "ForwarderFunction",
    ] {
        assert_eq!(condition_of(&t, r), None, "{r} is always created");
    }
    assert_eq!(
        at(&t, &["Outputs", "PushStreamArn", "Condition"]).as_str(),
        Some("PushToKinesis")
    );
}

#[test]
fn logs_may_invoke_the_function_only_from_this_account_and_region() {
    let t = main_template();
    let p = at(&t, &["Resources", "LogsInvokePermission", "Properties"]);
    assert_eq!(at(p, &["Action"]).as_str(), Some("lambda:InvokeFunction"));
    assert_eq!(at(p, &["Principal"]).as_str(), Some("logs.amazonaws.com"));
    assert_eq!(
        intrinsic(at(p, &["FunctionName"])).unwrap().1.as_str(),
        Some("ForwarderFunction.Arn")
    );
    assert_eq!(
        intrinsic(at(p, &["SourceAccount"])).unwrap().1.as_str(),
        Some("AWS::AccountId")
    );
    let (tag, arn) = intrinsic(at(p, &["SourceArn"])).unwrap();
    assert_eq!(tag, "!Sub");
    assert_eq!(
        arn.as_str(),
        Some("arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:*")
    );
}

#[test]
fn the_kinesis_path_batches_in_order_and_never_discards() {
    let t = main_template();
    let resources = at(&t, &["Resources"]);
    let stream = at(resources, &["PushStream", "Properties"]);
    assert_eq!(
        intrinsic(at(stream, &["ShardCount"])).unwrap().1.as_str(),
        Some("KinesisShardCount")
    );
    assert_eq!(
        at(stream, &["StreamModeDetails", "StreamMode"]).as_str(),
        Some("PROVISIONED")
    );
    assert_eq!(
        at(stream, &["StreamEncryption", "EncryptionType"]).as_str(),
        Some("KMS")
    );

    let role = at(resources, &["PushStreamRole", "Properties"]);
    let trust = &at(role, &["AssumeRolePolicyDocument", "Statement"])[0];
    assert_eq!(
        at(trust, &["Principal", "Service"]).as_str(),
        Some("logs.amazonaws.com")
    );
    let (_, source) = intrinsic(at(trust, &["Condition", "StringLike", "aws:SourceArn"])).unwrap();
    assert_eq!(
        source.as_str(),
        Some("arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:*")
    );
    let put = &at(
        &at(role, &["Policies"])[0],
        &["PolicyDocument", "Statement"],
    )[0];
    assert_eq!(
        string_list(at(put, &["Action"])),
        ["kinesis:PutRecord", "kinesis:PutRecords"]
    );
    assert_eq!(
        intrinsic(at(put, &["Resource"])).unwrap().1.as_str(),
        Some("PushStream.Arn")
    );

    let esm = at(resources, &["PushEventSourceMapping", "Properties"]);
    assert_eq!(
        intrinsic(at(esm, &["EventSourceArn"])).unwrap().1.as_str(),
        Some("PushStream.Arn")
    );
    assert_eq!(
        intrinsic(at(esm, &["FunctionName"])).unwrap().1.as_str(),
        Some("ForwarderFunction.Arn")
    );
    assert_eq!(at(esm, &["BatchSize"]).as_u64(), Some(10_000));
    assert_eq!(
        at(esm, &["MaximumBatchingWindowInSeconds"]).as_u64(),
        Some(10)
    );
    assert_eq!(at(esm, &["ParallelizationFactor"]).as_u64(), Some(1));
    assert_eq!(
        at(esm, &["StartingPosition"]).as_str(),
        Some("TRIM_HORIZON")
    );
    assert_eq!(
        string_list(at(esm, &["FunctionResponseTypes"])),
        ["ReportBatchItemFailures"]
    );
    assert_eq!(at(esm, &["MaximumRecordAgeInSeconds"]).as_i64(), Some(-1));
    assert_eq!(at(esm, &["MaximumRetryAttempts"]).as_i64(), Some(-1));
}

#[test]
fn state_table_is_on_demand_with_ttl_and_sse() {
    let t = main_template();
    let table = at(&t, &["Resources", "StateTable", "Properties"]);
    assert_eq!(
        at(table, &["BillingMode"]).as_str(),
        Some("PAY_PER_REQUEST")
    );
    let key: Vec<(String, String)> = at(table, &["KeySchema"])
        .as_sequence()
        .unwrap()
        .iter()
        .map(|k| {
            (
                at(k, &["AttributeName"]).as_str().unwrap().to_string(),
                at(k, &["KeyType"]).as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        key,
        [
            ("pk".to_string(), "HASH".to_string()),
            ("sk".to_string(), "RANGE".to_string())
        ]
    );
    for a in at(table, &["AttributeDefinitions"]).as_sequence().unwrap() {
        assert_eq!(at(a, &["AttributeType"]).as_str(), Some("S"));
    }
    assert_eq!(
        at(table, &["TimeToLiveSpecification", "AttributeName"]).as_str(),
        Some("expires_at")
    );
    assert_eq!(
        at(table, &["TimeToLiveSpecification", "Enabled"]).as_bool(),
        Some(true)
    );
    assert_eq!(
        at(table, &["SSESpecification", "SSEEnabled"]).as_bool(),
        Some(true)
    );
}

#[test]
fn spool_bucket_is_private_encrypted_tls_only_and_expires() {
    let t = main_template();
    let resources = at(&t, &["Resources"]);
    let bucket = at(resources, &["SpoolBucket", "Properties"]);
    assert_eq!(
        at(
            &at(
                bucket,
                &["BucketEncryption", "ServerSideEncryptionConfiguration"]
            )[0],
            &["ServerSideEncryptionByDefault", "SSEAlgorithm"]
        )
        .as_str(),
        Some("AES256")
    );
    let block = at(bucket, &["PublicAccessBlockConfiguration"]);
    for k in [
        "BlockPublicAcls",
        "BlockPublicPolicy",
        "IgnorePublicAcls",
        "RestrictPublicBuckets",
    ] {
        assert_eq!(at(block, &[k]).as_bool(), Some(true), "{k}");
    }
    assert!(
        bucket.get("VersioningConfiguration").is_none(),
        "no versioning: the forwarder empties the bucket with plain deletes"
    );
    let rules = at(bucket, &["LifecycleConfiguration", "Rules"])
        .as_sequence()
        .unwrap();
    let prefixes: Vec<&str> = rules
        .iter()
        .map(|r| at(r, &["Prefix"]).as_str().unwrap())
        .collect();
    assert_eq!(prefixes, ["spool/", "rejected/", "state/fragments/"]);
    for r in &rules[..2] {
        assert_eq!(at(r, &["Status"]).as_str(), Some("Enabled"));
        assert_eq!(
            intrinsic(at(r, &["ExpirationInDays"])).unwrap().1.as_str(),
            Some("SpoolRetentionDays")
        );
    }
    // Split-request pieces outlive their 7-day fragment item by a day, whatever the spool's
    // retention.
    assert_eq!(at(&rules[2], &["Status"]).as_str(), Some("Enabled"));
    assert_eq!(at(&rules[2], &["ExpirationInDays"]).as_u64(), Some(8));

    let policy = at(resources, &["SpoolBucketPolicy", "Properties"]);
    assert_eq!(
        intrinsic(at(policy, &["Bucket"])).unwrap().1.as_str(),
        Some("SpoolBucket")
    );
    let deny = &at(policy, &["PolicyDocument", "Statement"])[0];
    assert_eq!(at(deny, &["Effect"]).as_str(), Some("Deny"));
    assert_eq!(at(deny, &["Action"]).as_str(), Some("s3:*"));
    assert_eq!(
        at(deny, &["Condition", "Bool", "aws:SecureTransport"]).as_str(),
        Some("false")
    );
    let on = at(deny, &["Resource"]).as_sequence().unwrap();
    assert_eq!(
        intrinsic(&on[0]).unwrap().1.as_str(),
        Some("SpoolBucket.Arn")
    );
    assert_eq!(
        intrinsic(&on[1]).unwrap().1.as_str(),
        Some("${SpoolBucket.Arn}/*")
    );
}

#[test]
fn the_custom_resource_is_deleted_before_the_bucket_it_empties() {
    let t = main_template();
    let depends = string_list(at(&t, &["Resources", "StageLogging", "DependsOn"]));
    for r in ["SpoolBucket", "SpoolBucketPolicy", "StateTable"] {
        assert!(
            depends.iter().any(|d| d == r),
            "StageLogging must depend on {r}"
        );
    }
    // And the schedule still stops first.
    assert_eq!(
        at(&t, &["Resources", "ForwarderSchedule", "DependsOn"]).as_str(),
        Some("StageLogging")
    );
}

/// The statements of the forwarder role, with the condition each is under (`!If`).
fn role_statements(t: &Value) -> Vec<(Option<String>, Value)> {
    let mut out = Vec::new();
    for policy in at(t, &["Resources", "ForwarderRole", "Properties", "Policies"])
        .as_sequence()
        .unwrap()
    {
        for st in at(policy, &["PolicyDocument", "Statement"])
            .as_sequence()
            .unwrap()
        {
            match intrinsic(st) {
                Some((tag, args)) => {
                    assert_eq!(tag, "!If");
                    assert_eq!(
                        intrinsic(&args[2]).unwrap().1.as_str(),
                        Some("AWS::NoValue")
                    );
                    out.push((args[0].as_str().map(String::from), args[1].clone()));
                }
                None => out.push((None, st.clone())),
            }
        }
    }
    out
}

fn actions(st: &Value) -> Vec<String> {
    match at(st, &["Action"]) {
        Value::Sequence(_) => string_list(at(st, &["Action"])),
        a => vec![a.as_str().unwrap().to_string()],
    }
}

#[test]
fn the_forwarder_role_grants_the_new_state_and_push_paths_only() {
    let t = main_template();
    let statements = role_statements(&t);
    let find = |sid: &str| {
        statements
            .iter()
            .find(|(_, st)| st.get("Sid").and_then(Value::as_str) == Some(sid))
            .unwrap_or_else(|| panic!("statement {sid}"))
    };
    let all_actions: Vec<String> = statements.iter().flat_map(|(_, st)| actions(st)).collect();
    // No wildcard actions, and the SSM checkpoint parameter is gone (state is in DynamoDB).
    assert!(
        all_actions.iter().all(|a| !a.contains('*')),
        "{all_actions:?}"
    );
    assert!(!mentions(
        at(&t, &["Resources", "ForwarderRole"]),
        "checkpoints"
    ));

    let (cond, table) = find("StateTableItems");
    assert_eq!(cond, &None);
    assert!(actions(table).iter().all(|a| a.starts_with("dynamodb:")));
    assert!(actions(table).contains(&"dynamodb:UpdateItem".to_string()));
    assert_eq!(
        intrinsic(at(table, &["Resource"])).unwrap().1.as_str(),
        Some("StateTable.Arn")
    );
    let (_, objects) = find("SpoolObjects");
    assert_eq!(
        actions(objects),
        ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
    );
    assert!(mentions(objects, "SpoolBucket"));
    let (_, list) = find("ListSpool");
    assert_eq!(actions(list), ["s3:ListBucket"]);

    // Finding and removing our filter works in every mode; putting one only when pushing.
    let (cond, remove) = find("FindAndRemoveOurSubscriptionFilter");
    assert_eq!(cond, &None);
    assert_eq!(
        actions(remove),
        [
            "logs:DescribeSubscriptionFilters",
            "logs:DeleteSubscriptionFilter"
        ]
    );
    let (cond, put) = find("SubscribeCapturedGroups");
    assert_eq!(cond.as_deref(), Some("PushEnabled"));
    assert_eq!(actions(put), ["logs:PutSubscriptionFilter"]);
    let (cond, read) = find("ReadPushStream");
    assert_eq!(cond.as_deref(), Some("PushToKinesis"));
    assert!(actions(read).iter().all(|a| a.starts_with("kinesis:")));
    assert!(!actions(read).iter().any(|a| a.contains("Put")));
    let (cond, pass) = find("PassPushStreamRoleToLogs");
    assert_eq!(cond.as_deref(), Some("PushToKinesis"));
    assert_eq!(actions(pass), ["iam:PassRole"]);
    assert_eq!(
        at(pass, &["Condition", "StringEquals", "iam:PassedToService"]).as_str(),
        Some("logs.amazonaws.com")
    );
    assert_eq!(
        intrinsic(at(pass, &["Resource"])).unwrap().1.as_str(),
        Some("PushStreamRole.Arn")
    );
}

#[test]
fn roles_are_created_only_when_not_given() {
    let t = main_template();
    for (role, condition, param) in [
        ("ForwarderRole", "CreateLambdaRole", "CequenceLambdaRoleArn"),
        (
            "ApiGatewayCloudWatchRole",
            "CreateApiGatewayCloudWatchRole",
            "ApiGatewayCloudWatchRoleArn",
        ),
        (
            "SchedulerRole",
            "CreateSchedulerRole",
            "EventBridgeSchedulerRoleArn",
        ),
    ] {
        assert_eq!(
            at(&t, &["Resources", role, "Condition"]).as_str(),
            Some(condition)
        );
        // Long form, which moto evaluates like CloudFormation: Fn::Equals [!Ref <param>, ""].
        let equals = at(&t, &["Conditions", condition, "Fn::Equals"]);
        let (tag, name) = intrinsic(&equals[0]).unwrap();
        assert_eq!((tag.as_str(), name.as_str()), ("!Ref", Some(param)));
        assert_eq!(equals[1].as_str(), Some(""));
    }
    // The path the stage-logging library recognises as ours (a later stack may replace a
    // role under it on the account, never one elsewhere).
    assert_eq!(
        at(
            &t,
            &[
                "Resources",
                "ApiGatewayCloudWatchRole",
                "Properties",
                "Path"
            ]
        )
        .as_str(),
        Some(cq_stage_logging::OUR_ROLE_PATH)
    );
    let managed = at(
        &t,
        &[
            "Resources",
            "ApiGatewayCloudWatchRole",
            "Properties",
            "ManagedPolicyArns",
        ],
    );
    let (_, arn) = intrinsic(&managed[0]).unwrap();
    assert!(arn
        .as_str()
        .unwrap()
        .ends_with(":iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"));
}

#[test]
fn client_secret_never_reaches_the_function_in_plain_text() {
    let t = main_template();
    let resources = at(&t, &["Resources"]);
    let env = function_environment(&t);
    let expected: BTreeSet<String> = FORWARDER_ENVIRONMENT
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(keys(env), expected);
    assert!(!mentions(env, "CequenceClientSecret"));

    let (tag, secret) = intrinsic(at(env, &["CEQUENCE_CLIENT_SECRET_ARN"])).unwrap();
    assert_eq!(
        (tag.as_str(), secret.as_str()),
        ("!Ref", Some("ClientSecret"))
    );
    let (tag, param) = intrinsic(at(
        resources,
        &["ClientSecret", "Properties", "SecretString"],
    ))
    .unwrap();
    assert_eq!(
        (tag.as_str(), param.as_str()),
        ("!Ref", Some("CequenceClientSecret"))
    );

    // The secret store is the only resource that sees the parameter, and no output shows it.
    for (name, resource) in resources.as_mapping().unwrap() {
        if name.as_str() != Some("ClientSecret") {
            assert!(!mentions(resource, "CequenceClientSecret"), "{name:?}");
        }
    }
    assert!(!mentions(at(&t, &["Outputs"]), "CequenceClientSecret"));
}

#[test]
fn the_environment_and_outputs_name_the_state_and_push_resources() {
    let t = main_template();
    let env = function_environment(&t);
    for (var, target) in [
        ("CEQUENCE_STATE_TABLE", "StateTable"),
        ("CEQUENCE_SPOOL_BUCKET", "SpoolBucket"),
        ("CEQUENCE_INGESTION", "CequenceIngestion"),
    ] {
        let (tag, name) = intrinsic(at(env, &[var])).unwrap();
        assert_eq!(
            (tag.as_str(), name.as_str()),
            ("!Ref", Some(target)),
            "{var}"
        );
    }
    for (var, attribute, otherwise) in [
        ("CEQUENCE_PUSH_DESTINATION", "PushStream.Arn", "lambda"),
        ("CEQUENCE_PUSH_ROLE_ARN", "PushStreamRole.Arn", ""),
    ] {
        let (tag, args) = intrinsic(at(env, &[var])).unwrap();
        assert_eq!(tag, "!If", "{var}");
        assert_eq!(args[0].as_str(), Some("PushToKinesis"), "{var}");
        assert_eq!(
            intrinsic(&args[1]).map(|(t, v)| (t, v.as_str())),
            Some(("!GetAtt".to_string(), Some(attribute))),
            "{var}"
        );
        assert_eq!(args[2].as_str(), Some(otherwise), "{var}");
    }
    assert!(env.get("CEQUENCE_CHECKPOINT_PARAMETER").is_none());

    let outputs = at(&t, &["Outputs"]);
    let expected: BTreeSet<String> = [
        "ForwarderFunctionArn",
        "ClientSecretArn",
        "TokenParameterName",
        "StateTableName",
        "SpoolBucketName",
        "PushStreamArn",
        "ForwarderRoleArn",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    assert_eq!(keys(outputs), expected);
    for (output, resource) in [
        ("StateTableName", "StateTable"),
        ("SpoolBucketName", "SpoolBucket"),
    ] {
        let (tag, name) = intrinsic(at(outputs, &[output, "Value"])).unwrap();
        assert_eq!((tag.as_str(), name.as_str()), ("!Ref", Some(resource)));
    }
}

#[test]
fn function_code_comes_from_its_own_region() {
    let t = main_template();
    let bucket = at(
        &t,
        &[
            "Resources",
            "ForwarderFunction",
            "Properties",
            "Code",
            "S3Bucket",
        ],
    );
    let (tag, args) = intrinsic(bucket).unwrap();
    assert_eq!(tag, "!If");
    assert_eq!(args[0].as_str(), Some("InArtifactRegion"));
    let (tag, name) = intrinsic(&args[1]).unwrap();
    assert_eq!(
        (tag.as_str(), name.as_str()),
        ("!Ref", Some("S3BucketName"))
    );
    // Elsewhere: the same bucket name pattern in AWS::Region.
    let (tag, sub) = intrinsic(&args[2]).unwrap();
    assert_eq!(tag, "!Sub");
    assert_eq!(
        sub[0].as_str(),
        Some("cequence-aws-api-artifacts-${ArtifactAccount}-${AWS::Region}")
    );
    let equals = at(&t, &["Conditions", "InArtifactRegion", "Fn::Equals"]);
    assert_eq!(
        intrinsic(&equals[0]).unwrap().1.as_str(),
        Some("S3BucketRegion")
    );
    assert_eq!(
        intrinsic(&equals[1]).unwrap().1.as_str(),
        Some("AWS::Region")
    );
}

#[test]
fn stackset_role_templates_are_scoped() {
    let admin = load("templates/stackset-roles/administration-role.yaml");
    let role = at(&admin, &["Resources", "AdministrationRole", "Properties"]);
    let trust = &at(role, &["AssumeRolePolicyDocument", "Statement"])[0];
    assert_eq!(
        at(trust, &["Principal", "Service"]).as_str(),
        Some("cloudformation.amazonaws.com")
    );
    let assume = &at(
        &at(role, &["Policies"])[0],
        &["PolicyDocument", "Statement"],
    )[0];
    assert_eq!(at(assume, &["Action"]).as_str(), Some("sts:AssumeRole"));
    let (tag, resource) = intrinsic(at(assume, &["Resource"])).unwrap();
    assert_eq!(
        (tag.as_str(), resource.as_str()),
        ("!Sub", Some("arn:*:iam::*:role/${ExecutionRoleName}"))
    );

    let exec = load("templates/stackset-roles/execution-role.yaml");
    assert_eq!(
        at(&exec, &["Parameters", "ExecutionRoleName", "Default"]).as_str(),
        Some("AWSCloudFormationStackSetExecutionRole")
    );
    let role = at(&exec, &["Resources", "ExecutionRole", "Properties"]);
    assert!(
        role.get("ManagedPolicyArns").is_none(),
        "no AdministratorAccess"
    );
    let trust = &at(role, &["AssumeRolePolicyDocument", "Statement"])[0];
    let (_, principal_arn) =
        intrinsic(at(trust, &["Condition", "ArnEquals", "aws:PrincipalArn"])).unwrap();
    assert_eq!(
        principal_arn.as_str(),
        Some("arn:${AWS::Partition}:iam::${AdministratorAccountId}:role/${AdministrationRoleName}")
    );
    for policy in at(role, &["Policies"]).as_sequence().unwrap() {
        for st in at(policy, &["PolicyDocument", "Statement"])
            .as_sequence()
            .unwrap()
        {
            let actions = match at(st, &["Action"]) {
                Value::Sequence(_) => string_list(at(st, &["Action"])),
                a => vec![a.as_str().unwrap().to_string()],
            };
            for a in actions {
                assert!(
                    !a.contains('*'),
                    "wildcard action {a} in the execution role"
                );
            }
        }
    }
}

#[test]
fn operator_policy_is_a_scoped_iam_document() {
    let doc: serde_json::Value = serde_json::from_str(&read("docs/iam-policy.json")).unwrap();
    assert_eq!(doc["Version"], "2012-10-17");
    let mut actions = BTreeSet::new();
    let mut sids = BTreeSet::new();
    for st in doc["Statement"].as_array().unwrap() {
        assert_eq!(st["Effect"], "Allow");
        assert!(
            sids.insert(st["Sid"].as_str().unwrap().to_string()),
            "duplicate Sid"
        );
        assert!(!st["Resource"].is_null());
        let list = match &st["Action"] {
            serde_json::Value::String(a) => vec![a.clone()],
            serde_json::Value::Array(a) => a.iter().map(|x| x.as_str().unwrap().into()).collect(),
            other => panic!("bad Action {other}"),
        };
        for a in &list {
            assert!(!a.contains('*'), "wildcard action {a}");
        }
        // Roles may only be passed to the one service that needs each of them.
        if list.iter().any(|a| a == "iam:PassRole") {
            assert_eq!(list, ["iam:PassRole"], "PassRole shares a statement");
            let service = &st["Condition"]["StringEquals"]["iam:PassedToService"];
            assert!(
                service.is_string(),
                "iam:PassRole without iam:PassedToService"
            );
        }
        actions.extend(list);
    }
    for needed in [
        "sts:GetCallerIdentity",
        "account:ListRegions",
        "organizations:DescribeOrganization",
        "organizations:ListRoots",
        "s3:CreateBucket",
        "s3:PutBucketVersioning",
        "s3:PutBucketPublicAccessBlock",
        "s3:PutEncryptionConfiguration",
        "s3:PutBucketPolicy",
        "s3:PutObject",
        "s3:DeleteObjectVersion",
        "s3:DeleteBucket",
        "cloudformation:CreateStackSet",
        "cloudformation:UpdateStackSet",
        "cloudformation:CreateStackInstances",
        "cloudformation:DescribeStackSetOperation",
        "iam:PassRole",
        "apigateway:PATCH",
        "logs:CreateLogGroup",
        // status reads our subscription filter; disable --destroy removes it.
        "logs:DescribeSubscriptionFilters",
        "logs:DeleteSubscriptionFilter",
    ] {
        assert!(actions.contains(needed), "{needed} missing");
    }
    let s3_buckets = doc["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["Sid"] == "ArtifactBuckets")
        .unwrap();
    assert_eq!(
        s3_buckets["Resource"],
        "arn:aws:s3:::cequence-aws-api-artifacts-*"
    );
}

/// The workspace venv with cfn-lint and checkov (`$CQ_VENV` overrides, as in the script).
fn venv() -> PathBuf {
    std::env::var_os("CQ_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join(".venv"))
}

#[test]
fn templates_pass_cfn_lint_and_checkov() {
    let tools_present = venv().join("bin/cfn-lint").exists() && venv().join("bin/checkov").exists();
    if !tools_present && std::env::var("CI").as_deref() != Ok("true") {
        eprintln!(
            "skipped: no cfn-lint/checkov in {} (run scripts/python-tools.sh); CI=true makes this a failure",
            venv().display()
        );
        return;
    }
    let out = Command::new(root().join("scripts/lint-templates.sh"))
        .output()
        .expect("run scripts/lint-templates.sh");
    assert!(
        out.status.success(),
        "lint-templates.sh failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(stdout.matches("Failed checks: 0").count(), 3, "{stdout}");
}

// ---------------------------------------------------------------------------------------------
// Deployments on moto.

fn artifact_bucket(region: &str) -> String {
    format!("cequence-aws-api-artifacts-{ACCOUNT_ID}-{region}")
}

/// An empty zip archive: moto stores and hashes the code but never runs it (no Docker here).
const EMPTY_ZIP: [u8; 22] = [
    0x50, 0x4b, 0x05, 0x06, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
];

/// Path-style addressing: moto on 127.0.0.1 has no DNS for `<bucket>.127.0.0.1`.
fn s3_client(config: &aws_config::SdkConfig) -> aws_sdk_s3::Client {
    let conf = aws_sdk_s3::config::Builder::from(config)
        .force_path_style(true)
        .build();
    aws_sdk_s3::Client::from_conf(conf)
}

/// The region's artifact bucket with the forwarder zip in it, as `cq-apigw enable` leaves it.
async fn create_artifact_bucket(s3: &aws_sdk_s3::Client, region: &str) {
    use aws_sdk_s3::types::{BucketLocationConstraint, CreateBucketConfiguration};
    let bucket = artifact_bucket(region);
    let mut create = s3.create_bucket().bucket(&bucket);
    if region != "us-east-1" {
        create = create.create_bucket_configuration(
            CreateBucketConfiguration::builder()
                .location_constraint(BucketLocationConstraint::from(region))
                .build(),
        );
    }
    create.send().await.expect("create bucket");
    s3.put_object()
        .bucket(&bucket)
        .key(FORWARDER_KEY)
        .body(EMPTY_ZIP.to_vec().into())
        .send()
        .await
        .expect("upload forwarder zip");
}

fn parameters(home_region: &str, extra: &[(&str, &str)]) -> Vec<Parameter> {
    let bucket = artifact_bucket(home_region);
    let mut all = vec![
        ("S3BucketName", bucket.as_str()),
        ("S3BucketRegion", home_region),
        ("S3Key", FORWARDER_KEY),
        ("CequenceClientId", "cq-client"),
        ("CequenceClientSecret", CLIENT_SECRET),
        (
            "CequenceAuthEndpoint",
            "https://auth.example.com/auth/realms/cequence/protocol/openid-connect/token",
        ),
        (
            "CequenceEdgeEndpoint",
            "https://edge.example.com/api-transactions",
        ),
        ("LambdaLogLevel", "debug"),
        ("CequenceHttpApiEnabled", "false"),
    ];
    all.extend_from_slice(extra);
    all.into_iter()
        .map(|(k, v)| {
            Parameter::builder()
                .parameter_key(k)
                .parameter_value(v)
                .build()
        })
        .collect()
}

struct StackResource {
    resource_type: String,
    physical_id: String,
    status: String,
}

async fn stack_resources(
    cfn: &aws_sdk_cloudformation::Client,
    stack: &str,
) -> BTreeMap<String, StackResource> {
    let out = cfn
        .describe_stack_resources()
        .stack_name(stack)
        .send()
        .await
        .expect("describe stack resources");
    out.stack_resources()
        .iter()
        // moto lists resources it has no model for (the secret, the schedule) without ids.
        .filter_map(|r| {
            Some((
                r.logical_resource_id()?.to_string(),
                StackResource {
                    resource_type: r.resource_type()?.to_string(),
                    physical_id: r.physical_resource_id().unwrap_or_default().to_string(),
                    status: r.resource_status()?.as_str().to_string(),
                },
            ))
        })
        .collect()
}

async fn stack(
    cfn: &aws_sdk_cloudformation::Client,
    name: &str,
) -> aws_sdk_cloudformation::types::Stack {
    cfn.describe_stacks()
        .stack_name(name)
        .send()
        .await
        .expect("describe stacks")
        .stacks()
        .first()
        .cloned()
        .expect("stack")
}

fn output(stack: &aws_sdk_cloudformation::types::Stack, key: &str) -> String {
    stack
        .outputs()
        .iter()
        .find(|o| o.output_key() == Some(key))
        .and_then(|o| o.output_value())
        .unwrap_or_else(|| panic!("output {key}"))
        .to_string()
}

async fn forwarder(
    lambda: &aws_sdk_lambda::Client,
    name: &str,
) -> aws_sdk_lambda::operation::get_function::GetFunctionOutput {
    lambda
        .get_function()
        .function_name(name)
        .send()
        .await
        .unwrap_or_else(|e| panic!("get function {name}: {e:?}"))
}

fn environment(
    f: &aws_sdk_lambda::operation::get_function::GetFunctionOutput,
) -> BTreeMap<String, String> {
    f.configuration()
        .and_then(|c| c.environment())
        .and_then(|e| e.variables())
        .expect("function environment")
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// The stack stays in progress: moto never gets the custom resource's answer (see the module
/// doc), and that is the only resource still pending.
fn assert_only_custom_resource_pending(
    stack: &aws_sdk_cloudformation::types::Stack,
    resources: &BTreeMap<String, StackResource>,
) {
    assert_eq!(stack.stack_status(), Some(&StackStatus::CreateInProgress));
    let custom = &resources["StageLogging"];
    assert_eq!(custom.resource_type, "Custom::CequenceStageLogging");
    assert_eq!(custom.status, "CREATE_IN_PROGRESS");
}

#[tokio::test]
async fn plain_stack_in_the_home_region_provisions_the_forwarder() {
    let moto = MotoServer::start();
    let config = moto.sdk_config("us-east-1").await;
    let s3 = s3_client(&config);
    let cfn = aws_sdk_cloudformation::Client::new(&config);
    let lambda = aws_sdk_lambda::Client::new(&config);
    let logs = aws_sdk_cloudwatchlogs::Client::new(&config);
    let dynamodb = aws_sdk_dynamodb::Client::new(&config);
    create_artifact_bucket(&s3, "us-east-1").await;

    cfn.create_stack()
        .stack_name("cq-plain")
        .template_body(read("templates/template.yaml"))
        .set_parameters(Some(parameters("us-east-1", &[])))
        .capabilities(Capability::CapabilityIam)
        .send()
        .await
        .expect("create stack");

    let resources = stack_resources(&cfn, "cq-plain").await;
    let stack = stack(&cfn, "cq-plain").await;
    assert_only_custom_resource_pending(&stack, &resources);
    for (logical, ty) in [
        ("ForwarderFunction", "AWS::Lambda::Function"),
        ("ForwarderRole", "AWS::IAM::Role"),
        ("ApiGatewayCloudWatchRole", "AWS::IAM::Role"),
        ("SchedulerRole", "AWS::IAM::Role"),
        ("ForwarderLogGroup", "AWS::Logs::LogGroup"),
        ("StateTable", "AWS::DynamoDB::Table"),
        ("SpoolBucket", "AWS::S3::Bucket"),
        ("LogsInvokePermission", "AWS::Lambda::Permission"),
        ("ForwarderSelfInvokePolicy", "AWS::IAM::Policy"),
    ] {
        let r = resources
            .get(logical)
            .unwrap_or_else(|| panic!("{logical} not provisioned"));
        assert_eq!(r.resource_type, ty);
        assert!(!r.physical_id.is_empty(), "{logical} has no physical id");
    }

    let function_name = &resources["ForwarderFunction"].physical_id;
    let f = forwarder(&lambda, function_name).await;
    let conf = f.configuration().unwrap();
    assert_eq!(conf.runtime(), Some(&Runtime::Providedal2023));
    assert_eq!(conf.handler(), Some("bootstrap"));
    assert_eq!(conf.timeout(), Some(55));
    // LambdaMemorySize's default: the size the benchmark chose (docs/benchmark.md).
    assert_eq!(conf.memory_size(), Some(1024));
    assert_eq!(conf.code_size(), EMPTY_ZIP.len() as i64);
    assert_eq!(conf.architectures(), [Architecture::Arm64]);
    assert_eq!(
        conf.role(),
        Some(format!(
            "arn:aws:iam::{ACCOUNT_ID}:role/{}",
            resources["ForwarderRole"].physical_id
        ))
        .as_deref()
    );
    // No reserved concurrency by default (an account with a quota of 10 can deploy it).
    assert_eq!(
        f.concurrency()
            .and_then(|c| c.reserved_concurrent_executions()),
        None
    );
    // Default ingestion is auto with pushes straight to the function: no stream.
    for absent in ["PushStream", "PushStreamRole", "PushEventSourceMapping"] {
        assert!(!resources.contains_key(absent), "{absent} created");
    }
    assert_eq!(
        output(&stack, "ForwarderFunctionArn"),
        conf.function_arn().unwrap()
    );

    let env = environment(&f);
    assert_eq!(env["CEQUENCE_CLIENT_ID"], "cq-client");
    assert_eq!(
        env["CEQUENCE_EDGE_ENDPOINT"],
        "https://edge.example.com/api-transactions"
    );
    assert_eq!(
        env["CEQUENCE_TOKEN_PARAMETER"],
        "/cequence/apigw/cq-plain/token"
    );
    assert_eq!(
        output(&stack, "TokenParameterName"),
        env["CEQUENCE_TOKEN_PARAMETER"]
    );
    assert!(!env.contains_key("CEQUENCE_CHECKPOINT_PARAMETER"));
    assert_eq!(env["CEQUENCE_INGESTION"], "auto");
    assert_eq!(env["CEQUENCE_PUSH_DESTINATION"], "lambda");
    assert_eq!(env["CEQUENCE_PUSH_ROLE_ARN"], "");
    assert_eq!(env["CEQUENCE_REST_API_ENABLED"], "true");
    assert_eq!(env["CEQUENCE_HTTP_API_ENABLED"], "false");
    assert_eq!(env["CEQUENCE_INCLUDE_HTTP_DEFAULT_STAGE"], "false");
    assert_eq!(env["CEQUENCE_REST_LOG_DELIVERY"], "auto");
    assert_eq!(
        env["CEQUENCE_SUPPORTED_CONTENT_TYPES_REGEX"],
        CONTENT_TYPES_REGEX
    );
    assert_eq!(
        env["CEQUENCE_UNSUPPORTED_STATIC_EXTENSIONS_REGEX"],
        STATIC_EXTENSIONS_REGEX
    );
    assert_eq!(env["CEQUENCE_FETCH_INTERVAL_MS"], "60000");
    assert_eq!(env["LOG_LEVEL"], "debug");
    assert!(
        env["CEQUENCE_APIGW_CLOUDWATCH_ROLE_ARN"].ends_with(&format!(
            ":role{}{}",
            cq_stage_logging::OUR_ROLE_PATH,
            resources["ApiGatewayCloudWatchRole"].physical_id
        )),
        "{}",
        env["CEQUENCE_APIGW_CLOUDWATCH_ROLE_ARN"]
    );
    assert!(!env.contains_key("CEQUENCE_CLIENT_SECRET"));
    assert!(env.values().all(|v| !v.contains(CLIENT_SECRET)));

    let group = &resources["ForwarderLogGroup"].physical_id;
    assert_eq!(group, "/aws/lambda/cq-plain-cequence-forwarder");
    let groups = logs
        .describe_log_groups()
        .log_group_name_prefix(group)
        .send()
        .await
        .expect("describe log groups");
    let found = groups
        .log_groups()
        .iter()
        .find(|g| g.log_group_name() == Some(group.as_str()))
        .expect("forwarder log group");
    assert_eq!(found.retention_in_days(), Some(14));

    // The state table: on demand, pk/sk strings, encrypted, named in the environment.
    let table_name = &resources["StateTable"].physical_id;
    assert_eq!(&env["CEQUENCE_STATE_TABLE"], table_name);
    assert_eq!(&output(&stack, "StateTableName"), table_name);
    let table = dynamodb
        .describe_table()
        .table_name(table_name)
        .send()
        .await
        .expect("describe the state table")
        .table
        .expect("table");
    use aws_sdk_dynamodb::types::{BillingMode, KeyType, ScalarAttributeType};
    assert_eq!(
        table.billing_mode_summary().and_then(|b| b.billing_mode()),
        Some(&BillingMode::PayPerRequest)
    );
    let key: Vec<(&str, &KeyType)> = table
        .key_schema()
        .iter()
        .map(|k| (k.attribute_name(), k.key_type()))
        .collect();
    assert_eq!(key, [("pk", &KeyType::Hash), ("sk", &KeyType::Range)]);
    assert!(table
        .attribute_definitions()
        .iter()
        .all(|a| a.attribute_type() == &ScalarAttributeType::S));
    // SSE and TTL: moto 5.2.5 ignores both from CloudFormation (it reads SSESpecification with
    // the API's key names), so they are checked on the template
    // (`state_table_is_on_demand_with_ttl_and_sse`).

    // The spool bucket: exists, encrypted, named in the environment.
    let bucket = &resources["SpoolBucket"].physical_id;
    assert_eq!(&env["CEQUENCE_SPOOL_BUCKET"], bucket);
    assert_eq!(&output(&stack, "SpoolBucketName"), bucket);
    let encryption = s3
        .get_bucket_encryption()
        .bucket(bucket)
        .send()
        .await
        .expect("spool bucket encryption");
    let rule = &encryption
        .server_side_encryption_configuration()
        .expect("encryption configuration")
        .rules()[0];
    assert_eq!(
        rule.apply_server_side_encryption_by_default()
            .map(|d| d.sse_algorithm().as_str()),
        Some("AES256")
    );

    // CloudWatch Logs may invoke the function, from this account's log groups only.
    let policy = lambda
        .get_policy()
        .function_name(function_name)
        .send()
        .await
        .expect("function policy");
    let policy: serde_json::Value = serde_json::from_str(policy.policy().unwrap()).unwrap();
    let statement = &policy["Statement"][0];
    assert_eq!(statement["Principal"]["Service"], "logs.amazonaws.com");
    assert_eq!(statement["Action"], "lambda:InvokeFunction");
    let text = statement.to_string();
    assert!(text.contains(ACCOUNT_ID), "{text}");
    assert!(
        text.contains(&format!("arn:aws:logs:us-east-1:{ACCOUNT_ID}:log-group:*")),
        "{text}"
    );
}

#[tokio::test]
async fn plain_stack_elsewhere_reads_its_regions_bucket_uses_given_roles_and_pushes_through_kinesis(
) {
    let moto = MotoServer::start();
    let config = moto.sdk_config("eu-west-1").await;
    let s3 = s3_client(&config);
    let cfn = aws_sdk_cloudformation::Client::new(&config);
    let lambda = aws_sdk_lambda::Client::new(&config);
    let kinesis = aws_sdk_kinesis::Client::new(&config);
    // Only eu-west-1 has an artifact bucket: S3BucketName (the us-east-1 one) does not exist, so
    // the function is only created if S3Bucket is derived for the stack's own region.
    create_artifact_bucket(&s3, "eu-west-1").await;

    cfn.create_stack()
        .stack_name("customer-roles")
        .template_body(read("tests/fixtures/existing-roles.yaml"))
        .capabilities(Capability::CapabilityNamedIam)
        .send()
        .await
        .expect("create roles stack");
    let roles = stack(&cfn, "customer-roles").await;
    let lambda_role = output(&roles, "LambdaRoleArn");
    let apigw_role = output(&roles, "ApiGatewayRoleArn");
    let scheduler_role = output(&roles, "SchedulerRoleArn");

    cfn.create_stack()
        .stack_name("cq-given-roles")
        .template_body(read("templates/template.yaml"))
        .set_parameters(Some(parameters(
            "us-east-1",
            &[
                ("CequenceLambdaRoleArn", lambda_role.as_str()),
                ("ApiGatewayCloudWatchRoleArn", apigw_role.as_str()),
                ("EventBridgeSchedulerRoleArn", scheduler_role.as_str()),
                ("CequenceIngestion", "push"),
                ("PushDestination", "kinesis"),
                ("KinesisShardCount", "2"),
                ("ReservedConcurrency", "4"),
                ("SpoolRetentionDays", "3"),
            ],
        )))
        // The push stream's role is still created.
        .capabilities(Capability::CapabilityIam)
        .send()
        .await
        .expect("create stack");

    let resources = stack_resources(&cfn, "cq-given-roles").await;
    let stack = stack(&cfn, "cq-given-roles").await;
    assert_only_custom_resource_pending(&stack, &resources);
    for role in ["ForwarderRole", "ApiGatewayCloudWatchRole", "SchedulerRole"] {
        assert!(
            !resources.contains_key(role),
            "{role} created although given"
        );
    }
    let f = forwarder(&lambda, &resources["ForwarderFunction"].physical_id).await;
    // moto records the size of the object it found (0 when the key is missing).
    assert_eq!(
        f.configuration().unwrap().code_size(),
        EMPTY_ZIP.len() as i64
    );
    assert_eq!(
        f.configuration().unwrap().role(),
        Some(lambda_role.as_str())
    );
    assert_eq!(
        environment(&f)["CEQUENCE_APIGW_CLOUDWATCH_ROLE_ARN"],
        apigw_role
    );
    assert_eq!(output(&stack, "ForwarderRoleArn"), lambda_role);

    // Push through Kinesis: the stream with its shards, the role logs assumes, the mapping.
    assert!(!resources.contains_key("LogsInvokePermission"));
    let env = environment(&f);
    assert_eq!(env["CEQUENCE_INGESTION"], "push");
    let stream_arn = output(&stack, "PushStreamArn");
    assert_eq!(env["CEQUENCE_PUSH_DESTINATION"], stream_arn);
    let push_role = &resources["PushStreamRole"].physical_id;
    assert!(
        env["CEQUENCE_PUSH_ROLE_ARN"].ends_with(&format!(":role/{push_role}")),
        "{env:?}"
    );
    let summary = kinesis
        .describe_stream_summary()
        .stream_arn(&stream_arn)
        .send()
        .await
        .expect("describe the push stream")
        .stream_description_summary
        .expect("summary");
    assert_eq!(summary.open_shard_count(), 2);
    assert_eq!(summary.retention_period_hours(), 24);
    // Listed unfiltered: moto matches a FunctionName filter only against the ARN the mapping
    // was created with.
    let mappings = lambda
        .list_event_source_mappings()
        .send()
        .await
        .expect("list event source mappings");
    let [m] = mappings.event_source_mappings() else {
        panic!("one mapping expected: {mappings:?}");
    };
    assert_eq!(m.event_source_arn(), Some(stream_arn.as_str()));
    assert_eq!(
        m.function_arn(),
        f.configuration().and_then(|c| c.function_arn())
    );
    assert_eq!(m.batch_size(), Some(10_000));
    assert_eq!(m.maximum_batching_window_in_seconds(), Some(10));
    assert_eq!(m.parallelization_factor(), Some(1));
    assert_eq!(
        m.starting_position().map(|p| p.as_str()),
        Some("TRIM_HORIZON")
    );
    assert_eq!(
        m.function_response_types()
            .iter()
            .map(|t| t.as_str())
            .collect::<Vec<_>>(),
        ["ReportBatchItemFailures"]
    );
    assert_eq!(m.maximum_record_age_in_seconds(), Some(-1));
    // The reserved concurrency given as a parameter.
    assert_eq!(
        f.concurrency()
            .and_then(|c| c.reserved_concurrent_executions()),
        Some(4)
    );
}

#[tokio::test]
async fn stackset_instance_provisions_the_forwarder() {
    let moto = MotoServer::start();
    let config = moto.sdk_config("us-east-1").await;
    let s3 = s3_client(&config);
    let cfn = aws_sdk_cloudformation::Client::new(&config);
    let lambda = aws_sdk_lambda::Client::new(&config);
    create_artifact_bucket(&s3, "us-east-1").await;

    let name = "aws-cequence-apigw-integration";
    cfn.create_stack_set()
        .stack_set_name(name)
        .template_body(read("templates/template.yaml"))
        .set_parameters(Some(parameters(
            "us-east-1",
            &[("CequenceIngestion", "poll")],
        )))
        .capabilities(Capability::CapabilityNamedIam)
        .capabilities(Capability::CapabilityAutoExpand)
        .permission_model(PermissionModels::SelfManaged)
        .administration_role_arn(format!(
            "arn:aws:iam::{ACCOUNT_ID}:role/AWSCloudFormationStackSetAdministrationRole"
        ))
        .execution_role_name("AWSCloudFormationStackSetExecutionRole")
        .send()
        .await
        .expect("create stack set");
    let op = cfn
        .create_stack_instances()
        .stack_set_name(name)
        .accounts(ACCOUNT_ID)
        .regions("us-east-1")
        .send()
        .await
        .expect("create stack instances");
    let status = cfn
        .describe_stack_set_operation()
        .stack_set_name(name)
        .operation_id(op.operation_id().unwrap())
        .send()
        .await
        .expect("describe operation");
    assert_eq!(
        status
            .stack_set_operation()
            .and_then(|o| o.status())
            .map(|s| s.as_str()),
        Some("SUCCEEDED")
    );
    let instances = cfn
        .list_stack_instances()
        .stack_set_name(name)
        .send()
        .await
        .expect("list stack instances");
    let summaries = instances.summaries();
    assert_eq!(summaries.len(), 1);
    assert_eq!(summaries[0].account(), Some(ACCOUNT_ID));
    assert_eq!(summaries[0].region(), Some("us-east-1"));

    let stacks = cfn.describe_stacks().send().await.expect("describe stacks");
    let instance_stack = stacks
        .stacks()
        .iter()
        .filter_map(|s| s.stack_name())
        .find(|n| n.starts_with(&format!("StackSet-{name}-")))
        .expect("the instance's stack")
        .to_string();
    let resources = stack_resources(&cfn, &instance_stack).await;
    let f = forwarder(&lambda, &resources["ForwarderFunction"].physical_id).await;
    assert_eq!(
        f.configuration().and_then(|c| c.runtime()),
        Some(&Runtime::Providedal2023)
    );
    let env = environment(&f);
    assert_eq!(
        env["CEQUENCE_TOKEN_PARAMETER"],
        format!("/cequence/apigw/{instance_stack}/token")
    );
    // Poll only: state table and spool bucket, nothing of the push path.
    assert_eq!(env["CEQUENCE_INGESTION"], "poll");
    assert_eq!(
        env["CEQUENCE_STATE_TABLE"],
        resources["StateTable"].physical_id
    );
    assert_eq!(
        env["CEQUENCE_SPOOL_BUCKET"],
        resources["SpoolBucket"].physical_id
    );
    for absent in [
        "LogsInvokePermission",
        "PushStream",
        "PushStreamRole",
        "PushEventSourceMapping",
    ] {
        assert!(!resources.contains_key(absent), "{absent} created");
    }
}

#[tokio::test]
async fn stackset_role_templates_deploy() {
    let moto = MotoServer::start();
    let config = moto.sdk_config("us-east-1").await;
    let cfn = aws_sdk_cloudformation::Client::new(&config);
    for (stack_name, template, params) in [
        (
            "stackset-admin-role",
            "templates/stackset-roles/administration-role.yaml",
            vec![],
        ),
        (
            "stackset-execution-role",
            "templates/stackset-roles/execution-role.yaml",
            vec![Parameter::builder()
                .parameter_key("AdministratorAccountId")
                .parameter_value(ACCOUNT_ID)
                .build()],
        ),
    ] {
        cfn.create_stack()
            .stack_name(stack_name)
            .template_body(read(template))
            .set_parameters(Some(params))
            .capabilities(Capability::CapabilityNamedIam)
            .send()
            .await
            .unwrap_or_else(|e| panic!("create {stack_name}: {e:?}"));
        let s = stack(&cfn, stack_name).await;
        assert_eq!(
            s.stack_status(),
            Some(&StackStatus::CreateComplete),
            "{stack_name}"
        );
    }
    let admin = stack(&cfn, "stackset-admin-role").await;
    assert_eq!(
        output(&admin, "AdministrationRoleArn"),
        format!("arn:aws:iam::{ACCOUNT_ID}:role/AWSCloudFormationStackSetAdministrationRole")
    );
    let exec = stack(&cfn, "stackset-execution-role").await;
    assert_eq!(
        output(&exec, "ExecutionRoleArn"),
        format!("arn:aws:iam::{ACCOUNT_ID}:role/AWSCloudFormationStackSetExecutionRole")
    );
}
