//! The real release `bootstrap` against a small Lambda Runtime API emulator (the public
//! `/2018-06-01/runtime/invocation/next` + `/response` protocol), moto and the fake Cequence
//! server: proves the artifact starts, serves an invocation and delivers a tick. Also checks
//! that it needs no glibc newer than Amazon Linux 2023's 2.34.
//!
//! The binary comes from `CQ_BOOTSTRAP_BIN`, else `target/x86_64-unknown-linux-gnu/release/
//! bootstrap` (built by `scripts/build-lambda.sh`). Without one, the tests are skipped with a
//! printed reason — except in CI (`CI=true`), where a missing artifact fails.

mod support;

use std::collections::VecDeque;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cq_test_support::fake_cequence::http::{self, Handler, Request, Response};
use cq_test_support::{FakeCequence, MotoServer};
use support::*;

fn bootstrap_bin() -> Option<PathBuf> {
    let path = std::env::var("CQ_BOOTSTRAP_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            cq_test_support::moto::workspace_root()
                .join("target/x86_64-unknown-linux-gnu/release/bootstrap")
        });
    if path.is_file() {
        return Some(path);
    }
    let reason = format!(
        "no release bootstrap at {} (run scripts/build-lambda.sh or set CQ_BOOTSTRAP_BIN)",
        path.display()
    );
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{reason}");
    }
    eprintln!("SKIPPED: {reason}");
    None
}

/// What the emulator saw.
#[derive(Default)]
struct Emulator {
    events: VecDeque<(String, String)>,
    first_next: Option<Instant>,
    responses: Vec<(String, String)>,
    errors: Vec<(String, String)>,
}

fn emulator_handler(state: Arc<Mutex<Emulator>>) -> Handler {
    Arc::new(move |req: Request| {
        let state = state.clone();
        Box::pin(async move {
            let path = req.path().to_string();
            if req.method == "GET" && path == "/2018-06-01/runtime/invocation/next" {
                let next = {
                    let mut s = state.lock().unwrap();
                    s.first_next.get_or_insert_with(Instant::now);
                    s.events.pop_front()
                };
                let Some((id, body)) = next else {
                    // No more work: hold the long poll, as Lambda does between invocations.
                    tokio::time::sleep(Duration::from_secs(600)).await;
                    return Response::new(500, "emulator shutting down");
                };
                let deadline = now_ms() + 120_000;
                return Response::new(200, body)
                    .with_header("content-type", "application/json")
                    .with_header("lambda-runtime-aws-request-id", &id)
                    .with_header("lambda-runtime-deadline-ms", &deadline.to_string())
                    .with_header(
                        "lambda-runtime-invoked-function-arn",
                        "arn:aws:lambda:us-east-1:123456789012:function:cequence-forwarder",
                    )
                    .with_header(
                        "lambda-runtime-trace-id",
                        "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1",
                    );
            }
            let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
            let body = String::from_utf8_lossy(&req.body).into_owned();
            match parts.as_slice() {
                ["2018-06-01", "runtime", "invocation", id, "response"] => {
                    state.lock().unwrap().responses.push((id.to_string(), body));
                    Response::new(202, r#"{"status":"OK"}"#)
                }
                ["2018-06-01", "runtime", "invocation", id, "error"] => {
                    state.lock().unwrap().errors.push((id.to_string(), body));
                    Response::new(202, r#"{"status":"OK"}"#)
                }
                ["2018-06-01", "runtime", "init", "error"] => {
                    state.lock().unwrap().errors.push(("init".into(), body));
                    Response::new(202, r#"{"status":"OK"}"#)
                }
                _ => Response::new(404, "unknown runtime API path"),
            }
        })
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn release_bootstrap_serves_a_tick_through_the_runtime_api() {
    let Some(bin) = bootstrap_bin() else { return };
    let moto = MotoServer::start();
    let fake = FakeCequence::start();
    let sdk = moto.sdk_config("us-east-1").await;
    let logs = aws_sdk_cloudwatchlogs::Client::new(&sdk);
    let arn = create_secret(&sdk, "test-secret").await;
    create_state(&sdk).await;
    let mut expected = seed_rest(&logs, 0, 2, 20_000).await;
    expected.extend(seed_http(&logs, 10, 3, 20_000).await);

    let state = Arc::new(Mutex::new(Emulator::default()));
    state
        .lock()
        .unwrap()
        .events
        .push_back(("req-tick-1".into(), "{}".into()));
    let addr = http::serve(
        std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
        emulator_handler(state.clone()),
    )
    .await
    .unwrap();

    let mut cmd = Command::new(&bin);
    cmd.envs(moto.env())
        .envs(env(&fake, &arn))
        .env("AWS_LAMBDA_RUNTIME_API", addr.to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", "cequence-forwarder")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
        .env("LOG_LEVEL", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let started = Instant::now();
    let mut child = cmd.spawn().expect("spawn bootstrap");
    let stdout = child.stdout.take().unwrap();
    let log: Arc<Mutex<Vec<String>>> = Arc::default();
    let log_writer = log.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            log_writer.lock().unwrap().push(line);
        }
    });

    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        {
            let s = state.lock().unwrap();
            if !s.responses.is_empty() || !s.errors.is_empty() {
                break;
            }
        }
        if let Ok(Some(status)) = child.try_wait() {
            let mut err = String::new();
            use std::io::Read;
            child.stderr.take().unwrap().read_to_string(&mut err).ok();
            panic!("bootstrap exited early ({status}): {err}");
        }
        assert!(
            Instant::now() < deadline,
            "no answer from bootstrap within 90 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = child.kill();
    let _ = child.wait();

    let s = state.lock().unwrap();
    let init = s
        .first_next
        .expect("bootstrap polled /next")
        .duration_since(started);
    println!(
        "bootstrap init time (process start -> first /next): {} ms",
        init.as_millis()
    );
    assert!(s.errors.is_empty(), "invocation errors: {:?}", s.errors);
    let (id, body) = &s.responses[0];
    assert_eq!(id, "req-tick-1");
    let out: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(out["invocation"], "tick");
    assert_eq!(out["delivered"], expected.len());
    let mut got = received_paths(&fake);
    got.sort();
    expected.sort();
    assert_eq!(got, expected);
    // Give the log reader a moment, then find the stats line (JSON log records on stdout).
    std::thread::sleep(Duration::from_millis(200));
    let lines = log.lock().unwrap();
    let stats_line = lines
        .iter()
        .find(|l| l.contains("LAMBDA FINISHED PROCESSING. Stats of the run:"))
        .unwrap_or_else(|| panic!("no stats line in {lines:#?}"));
    let record: serde_json::Value = serde_json::from_str(stats_line).expect("JSON log record");
    assert_eq!(record["level"], "INFO");
}

/// Parse `GLIBC_x.y[.z]` version needs out of `objdump -T` output.
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
}

#[test]
fn release_bootstrap_needs_no_glibc_newer_than_2_34() {
    let Some(bin) = bootstrap_bin() else { return };
    let out = Command::new("objdump")
        .arg("-T")
        .arg(&bin)
        .output()
        .expect("objdump (binutils) is needed for this check");
    assert!(
        out.status.success(),
        "objdump failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let versions = glibc_versions(&String::from_utf8_lossy(&out.stdout));
    assert!(
        !versions.is_empty(),
        "no GLIBC symbol versions found: is this a glibc binary?"
    );
    let newest = *versions.last().unwrap();
    println!("bootstrap needs glibc up to {}.{}", newest.0, newest.1);
    assert!(
        newest <= (2, 34),
        "bootstrap needs GLIBC_{}.{} (> 2.34)",
        newest.0,
        newest.1
    );
}
