//! `cq-apigw disable` and `disable --destroy` against moto.

use crate::common;

use common::{bucket, Bed, ACCOUNT, STACKSET};

fn run_ok(bed: &Bed, args: &[&str]) -> String {
    common::stdout_ok(&mut bed.cli(args))
}

fn overrides(bed: &Bed, region: &str) -> Vec<(String, String)> {
    let out = bed
        .block_on(
            bed.cfn()
                .describe_stack_instance()
                .stack_set_name(STACKSET)
                .stack_instance_account(ACCOUNT)
                .stack_instance_region(region)
                .send(),
        )
        .unwrap();
    let mut v: Vec<(String, String)> = out
        .stack_instance()
        .unwrap()
        .parameter_overrides()
        .iter()
        .map(|p| {
            (
                p.parameter_key().unwrap_or_default().to_string(),
                p.parameter_value().unwrap_or_default().to_string(),
            )
        })
        .collect();
    v.sort();
    v
}

#[test]
fn disable_overrides_capture_flags_and_is_idempotent() {
    let bed = Bed::new();
    run_ok(&bed, &["enable", "--yes"]);

    let text = run_ok(&bed, &["disable", "--yes", "--regions", "eu-west-1"]);
    assert!(text.contains("capture turned off"), "{text}");
    let off = vec![
        ("CequenceHttpApiEnabled".to_string(), "false".to_string()),
        ("CequenceRestApiEnabled".to_string(), "false".to_string()),
    ];
    assert_eq!(overrides(&bed, "eu-west-1"), off);
    assert_ne!(overrides(&bed, "us-east-1"), off, "other region untouched");

    let ops = bed.operation_count();
    let text = run_ok(&bed, &["disable", "--yes", "--regions", "eu-west-1"]);
    assert!(
        text.contains("already off") && text.contains("nothing to change"),
        "{text}"
    );
    assert_eq!(bed.operation_count(), ops);

    run_ok(&bed, &["disable", "--yes", "--accounts", ACCOUNT]);
    assert_eq!(overrides(&bed, "us-east-1"), off);
}

/// A bucket that has been used for a while holds old versions and delete markers, and more
/// than one ListObjectVersions page (1,000) and one DeleteObjects call (1,000 keys) of them.
#[test]
fn destroy_empties_a_bucket_of_many_versions_and_delete_markers() {
    use futures::stream::{self, StreamExt};

    let bed = Bed::new();
    run_ok(&bed, &["enable", "--yes"]);
    let name = bucket("eu-west-1");
    let s3 = bed.s3("eu-west-1");
    let put = |key: String, body: &'static str| {
        let s3 = s3.clone();
        let name = name.clone();
        async move {
            s3.put_object()
                .bucket(name)
                .key(key)
                .body(body.as_bytes().to_vec().into())
                .send()
                .await
                .unwrap();
        }
    };
    bed.block_on(async {
        // 1,100 objects, 150 of them overwritten once: 1,250 versions.
        let puts = (0..1_100)
            .map(|i| put(format!("lambda/old-{i:04}.zip"), "v1"))
            .chain((0..150).map(|i| put(format!("lambda/old-{i:04}.zip"), "v2")));
        stream::iter(puts)
            .buffer_unordered(16)
            .collect::<Vec<_>>()
            .await;
        // 200 deleted without a version id: 200 delete markers.
        for i in 0..200 {
            s3.delete_object()
                .bucket(&name)
                .key(format!("lambda/old-{:04}.zip", 900 + i))
                .send()
                .await
                .unwrap();
        }
    });
    let listed = bed
        .block_on(s3.list_object_versions().bucket(&name).send())
        .unwrap();
    assert_eq!(
        listed.is_truncated(),
        Some(true),
        "more than one page to empty"
    );

    let text = run_ok(&bed, &["disable", "--destroy", "--yes"]);
    assert!(text.contains("deleted"), "{text}");
    assert!(bed.buckets().is_empty(), "{:?}", bed.buckets());
}

#[test]
fn destroy_removes_everything_and_can_run_twice() {
    let bed = Bed::new();
    run_ok(&bed, &["enable", "--yes"]);
    assert_eq!(bed.buckets().len(), 2);

    let text = run_ok(&bed, &["disable", "--destroy", "--yes"]);
    assert!(
        text.contains("StackSet aws-cequence-apigw-integration deleted"),
        "{text}"
    );
    assert!(bed.stackset().is_none());
    assert!(bed.buckets().is_empty(), "{:?}", bed.buckets());

    let text = run_ok(&bed, &["disable", "--destroy", "--yes"]);
    assert!(
        text.contains("does not exist") && text.contains("nothing to change"),
        "{text}"
    );
}

#[test]
fn destroy_keeps_buckets_unless_auto_delete() {
    let bed = Bed::new();
    let env: Vec<(&str, String)> = common::self_managed_env()
        .into_iter()
        .map(|(k, v)| {
            if k == "cequence_cfn_auto_delete_from_s3" {
                (k, "false".to_string())
            } else {
                (k, v)
            }
        })
        .collect();
    bed.write_env(&env);
    run_ok(&bed, &["enable", "--yes"]);
    run_ok(&bed, &["disable", "--destroy", "--yes", "--output", "json"]);
    assert!(bed.stackset().is_none());
    assert_eq!(
        bed.buckets(),
        vec![bucket("eu-west-1"), bucket("us-east-1")]
    );
}

#[test]
fn a_scoped_destroy_deletes_only_the_selection() {
    let bed = Bed::new();
    run_ok(&bed, &["enable", "--yes"]);
    let all = bed.instances();
    assert!(all.len() >= 2, "{all:?}");

    let text = run_ok(
        &bed,
        &["disable", "--destroy", "--yes", "--regions", "eu-west-1"],
    );
    let left = bed.instances();
    assert!(
        left.iter().all(|(_, r)| r != "eu-west-1") && !left.is_empty(),
        "{left:?}"
    );
    assert!(text.contains("kept StackSet"), "{text}");
    assert!(
        bed.stackset().is_some(),
        "the others still need the StackSet"
    );
    assert_eq!(bed.buckets().len(), 2, "and their buckets");

    // An account that has no instance selects nothing: nothing is deleted.
    let ops = bed.operation_count();
    let text = run_ok(
        &bed,
        &[
            "disable",
            "--destroy",
            "--yes",
            "--accounts",
            "999999999999",
        ],
    );
    assert!(text.contains("nothing to change"), "{text}");
    assert_eq!(bed.instances(), left);
    assert_eq!(bed.operation_count(), ops);

    run_ok(&bed, &["disable", "--destroy", "--yes"]);
    assert!(bed.stackset().is_none());
    assert!(bed.buckets().is_empty());
}

#[test]
fn destroy_without_a_terminal_or_yes_refuses_and_changes_nothing() {
    let bed = Bed::new();
    run_ok(&bed, &["enable", "--yes"]);
    let instances = bed.instances();
    let buckets = bed.buckets();
    let ops = bed.operation_count();

    // `Command::output` gives the child no terminal, and the bed clears `CI`.
    let out = bed.cli(&["disable", "--destroy"]).output().unwrap();
    let err = common::stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("--yes") && err.contains("nothing was changed"),
        "{err}"
    );
    assert!(
        err.contains("StackSet aws-cequence-apigw-integration"),
        "{err}"
    );
    assert!(err.contains(&bucket("us-east-1")), "{err}");
    assert_eq!(bed.instances(), instances);
    assert_eq!(bed.buckets(), buckets);
    assert_eq!(bed.operation_count(), ops);
    assert!(bed.stackset().is_some());

    // CI=true answers for the operator, as documented.
    let out = bed
        .cli(&["disable", "--destroy"])
        .env("CI", "true")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", common::stderr(&out));
    assert!(bed.stackset().is_none());
}

#[test]
fn enable_after_disable_turns_capture_back_on() {
    let bed = Bed::new();
    run_ok(&bed, &["enable", "--yes"]);
    run_ok(&bed, &["disable", "--yes", "--regions", "eu-west-1"]);
    assert!(!overrides(&bed, "eu-west-1").is_empty());

    // The StackSet itself did not change: only the instance's overrides pin capture off.
    let text = run_ok(&bed, &["enable", "--yes"]);
    assert!(text.contains("bring stack instances back"), "{text}");
    assert!(overrides(&bed, "eu-west-1").is_empty());
    assert!(overrides(&bed, "us-east-1").is_empty(), "untouched");

    let ops = bed.operation_count();
    let text = run_ok(&bed, &["enable", "--yes"]);
    assert!(text.contains("nothing to change"), "{text}");
    assert_eq!(bed.operation_count(), ops);
}
