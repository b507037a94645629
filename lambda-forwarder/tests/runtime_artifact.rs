//! The real release `bootstrap` under the Lambda Runtime API emulator of the test bed
//! (`cq_test_support::runtime_api`: the public `/2018-06-01/runtime/invocation/next` +
//! `/response` protocol), moto and the fake Cequence server: proves the artifact starts,
//! serves an invocation and delivers a tick. Also checks that it needs no glibc newer than
//! Amazon Linux 2023's 2.34.
//!
//! The binary comes from `CQ_BOOTSTRAP_BIN`, else `target/x86_64-unknown-linux-gnu/lambda/
//! bootstrap` (built by `scripts/build-lambda.sh` with the `lambda` profile). Without one, the
//! tests are skipped with a printed reason — except in CI (`CI=true`), where a missing artifact
//! fails. The arm64 build (`target/aarch64-unknown-linux-gnu/lambda/bootstrap` or
//! `CQ_BOOTSTRAP_ARM64_BIN`) is checked by its ELF headers and run under qemu-user.

use crate::support;

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use cq_test_support::runtime_api::{FunctionConfig, Outcome, RuntimeApi, Source};
use cq_test_support::stats_line;
use cq_test_support::{FakeCequence, MotoServer};
use support::*;

/// The x86_64 release `bootstrap`, which this host runs.
fn bootstrap_bin() -> Option<PathBuf> {
    release_bin("CQ_BOOTSTRAP_BIN", "x86_64-unknown-linux-gnu")
}

/// The arm64 release `bootstrap` (`scripts/build-lambda.sh` builds both): read by its ELF
/// headers, and run under qemu-user.
fn arm64_bootstrap_bin() -> Option<PathBuf> {
    release_bin("CQ_BOOTSTRAP_ARM64_BIN", "aarch64-unknown-linux-gnu")
}

/// `$var`, else the `lambda` profile's build for `triple`; `None` with the reason printed when
/// it is missing, except in CI (`CI=true`), where that fails the test.
fn release_bin(var: &str, triple: &str) -> Option<PathBuf> {
    let path = std::env::var(var).map(PathBuf::from).unwrap_or_else(|_| {
        cq_test_support::moto::workspace_root().join(format!("target/{triple}/lambda/bootstrap"))
    });
    if path.is_file() {
        return Some(path);
    }
    let reason = format!(
        "no release bootstrap at {} (run scripts/build-lambda.sh or set {var})",
        path.display()
    );
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{reason}");
    }
    eprintln!("SKIPPED: {reason}");
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn release_bootstrap_serves_a_tick_through_the_runtime_api() {
    let Some(bin) = bootstrap_bin() else { return };
    serves_a_tick(bin).await;
}

/// The arm64 build serves the same tick, run by qemu's user-mode emulator against Debian's
/// aarch64 glibc: a cross-link that starts but breaks at run time (TLS, the allocator, rustls
/// on ring) fails here rather than in the customer's account. Timings under emulation mean
/// nothing; only the answer is checked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn arm64_release_bootstrap_serves_a_tick_under_emulation() {
    let Some(bin) = arm64_bootstrap_bin() else {
        return;
    };
    let Some(wrapper) = under_qemu(&bin) else {
        return;
    };
    serves_a_tick(wrapper.path().join("bootstrap")).await;
}

/// A directory holding a `bootstrap` script that runs `bin` under `qemu-aarch64`, or `None`
/// (with the reason) where the emulator or the aarch64 glibc is missing; CI installs both.
fn under_qemu(bin: &std::path::Path) -> Option<tempfile::TempDir> {
    const SYSROOT: &str = "/usr/aarch64-linux-gnu";
    let qemu = Command::new("qemu-aarch64").arg("--version").output();
    let has_glibc = std::path::Path::new(SYSROOT)
        .join("lib/ld-linux-aarch64.so.1")
        .exists();
    if !matches!(qemu, Ok(ref o) if o.status.success()) || !has_glibc {
        let reason = "qemu-aarch64 and the aarch64 glibc (Debian: qemu-user, libc6-arm64-cross) \
                      are needed to run the arm64 bootstrap here";
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("{reason}");
        }
        eprintln!("SKIPPED: {reason}");
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("bootstrap");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nexec qemu-aarch64 -L {SYSROOT} '{}' \"$@\"\n",
            bin.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    Some(dir)
}

/// Start `bin` under the Runtime API emulator with moto and the fake Cequence, invoke one
/// scheduled tick and check every seeded request arrived once, with its stats line.
async fn serves_a_tick(bin: PathBuf) {
    let moto = MotoServer::start();
    let fake = FakeCequence::start();
    let sdk = moto.sdk_config("us-east-1").await;
    let logs = aws_sdk_cloudwatchlogs::Client::new(&sdk);
    let arn = create_secret(&sdk, "test-secret").await;
    create_state(&sdk).await;
    let mut expected = seed_rest(&logs, 0, 2, 20_000).await;
    expected.extend(seed_http(&logs, 10, 3, 20_000).await);

    let mut vars: Vec<(String, String)> = moto
        .env()
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
    vars.extend(
        env(&fake, &arn)
            .into_iter()
            .filter(|(k, _)| k != "LOG_LEVEL"),
    );
    vars.push(("LOG_LEVEL".into(), "info".into()));
    let mut function = FunctionConfig::new(bin, vars);
    function.memory_mb = 256;
    function.timeout = Duration::from_secs(90);
    let mut api = RuntimeApi::start(function);

    let rec = tokio::task::block_in_place(|| {
        api.invoke_and_wait(b"{}".to_vec(), Source::Schedule, Duration::from_secs(120))
    })
    .expect("the tick is answered within its deadline");
    let processes = api.shutdown();
    let init = processes[0].init.expect("bootstrap polled /next");
    println!(
        "bootstrap init time (process start -> first /next): {} ms",
        init.as_millis()
    );
    let attempt = rec.attempts.last().expect("one attempt");
    let Some(Outcome::Response(body)) = &attempt.outcome else {
        panic!(
            "the tick did not answer: {:?}\n{:#?}",
            attempt.outcome,
            api.logs()
        );
    };
    let out: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(out["invocation"], "tick");
    assert_eq!(out["delivered"], expected.len());
    let mut got = received_paths(&fake);
    got.sort();
    expected.sort();
    assert_eq!(got, expected);
    // The stats line is a JSON log record on stdout (what CloudWatch Logs Insights parses).
    let stats = attempt.stats.as_ref().expect("a stats line for the tick");
    assert_eq!(
        stats_line::count(stats, "transactions_delivered"),
        expected.len() as u64
    );
    let logs = api.logs();
    let line = logs[0]
        .iter()
        .find(|l| l.contains(stats_line::PREFIX))
        .expect("the stats line in the output");
    let record: serde_json::Value = serde_json::from_str(line).expect("JSON log record");
    assert_eq!(record["level"], "INFO");
}

/// Parse `GLIBC_x.y[.z]` version needs out of `objdump -T` or `readelf -V` output.
fn glibc_versions(objdump: &str) -> Vec<(u32, u32)> {
    let mut out: Vec<(u32, u32)> = objdump
        .split(|c: char| c.is_whitespace() || c == '(' || c == ')')
        .filter_map(|w| w.strip_prefix("GLIBC_"))
        .filter_map(|v| {
            let mut it = v.split('.');
            Some((it.next()?.parse().ok()?, it.next()?.parse().ok()?))
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

#[test]
fn glibc_version_parsing() {
    let sample =
        "0000000000000000      DF *UND*  0000000000000000 (GLIBC_2.34) __libc_start_main\n\
                  0000000000000000      DF *UND*  0000000000000000  GLIBC_2.2.5 memcpy\n\
                  0000000000000000  w   D  *UND*  0000000000000000  GLIBC_PRIVATE _dl_x\n";
    assert_eq!(glibc_versions(sample), vec![(2, 2), (2, 34)]);
    let readelf = "  0x0010:   Name: GLIBC_2.17  Flags: none  Version: 3\n\
                   0x0020:   Name: GLIBC_2.34  Flags: none  Version: 5\n";
    assert_eq!(glibc_versions(readelf), vec![(2, 17), (2, 34)]);
}

/// `readelf` output for `bin` (readelf reads every machine; this host's objdump only its own).
fn readelf(args: &[&str], bin: &std::path::Path) -> String {
    let out = Command::new("readelf")
        .args(args)
        .arg(bin)
        .output()
        .expect("readelf (binutils) is needed for this check");
    assert!(
        out.status.success(),
        "readelf failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Both release binaries are 64-bit executables for their Lambda architecture, position
/// independent, and need no glibc newer than Amazon Linux 2023's 2.34.
#[test]
fn release_bootstraps_fit_provided_al2023_on_both_architectures() {
    let builds = [
        ("x86_64", "Advanced Micro Devices X86-64", bootstrap_bin()),
        ("arm64", "AArch64", arm64_bootstrap_bin()),
    ];
    for (arch, machine, bin) in builds {
        let Some(bin) = bin else { continue };
        let header = readelf(&["--file-header", "--wide"], &bin);
        let field = |name: &str| {
            header
                .lines()
                .find_map(|l| l.trim().strip_prefix(name).map(|v| v.trim().to_string()))
                .unwrap_or_else(|| panic!("{arch}: no {name} in {header}"))
        };
        assert_eq!(field("Class:"), "ELF64", "{arch}");
        assert_eq!(field("Machine:"), machine, "{arch}");
        assert!(
            field("Type:").starts_with("DYN"),
            "{arch}: {}",
            field("Type:")
        );
        let versions = glibc_versions(&readelf(&["--version-info", "--wide"], &bin));
        assert!(
            !versions.is_empty(),
            "{arch}: no GLIBC symbol versions found: is this a glibc binary?"
        );
        let newest = *versions.last().unwrap();
        println!(
            "{arch} bootstrap needs glibc up to {}.{}",
            newest.0, newest.1
        );
        assert!(
            newest <= (2, 34),
            "{arch} bootstrap needs GLIBC_{}.{} (> 2.34)",
            newest.0,
            newest.1
        );
    }
}
