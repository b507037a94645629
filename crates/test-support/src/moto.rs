//! A moto server on 127.0.0.1, started from `scripts/moto_server.py` with the workspace venv.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};

/// Credentials moto accepts; its default account is 123456789012.
pub const ACCESS_KEY_ID: &str = "testing";
pub const SECRET_ACCESS_KEY: &str = "testing";
pub const ACCOUNT_ID: &str = "123456789012";

/// The workspace root (this crate lives in `crates/test-support`).
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("workspace root")
}

/// The Python with moto installed: `$CQ_MOTO_PYTHON`, else `<workspace>/.venv/bin/python`.
pub fn python() -> PathBuf {
    if let Ok(p) = std::env::var("CQ_MOTO_PYTHON") {
        return PathBuf::from(p);
    }
    let p = workspace_root().join(".venv/bin/python");
    assert!(
        p.exists(),
        "moto is not installed: run scripts/python-tools.sh (creates {})",
        p.display()
    );
    p
}

/// A running moto server; killed when dropped.
pub struct MotoServer {
    child: Child,
    // Held open: the server exits when this pipe closes, even if the test process is killed.
    _stdin: ChildStdin,
    port: u16,
}

impl MotoServer {
    /// Start a fresh server on a free port and wait until it accepts connections.
    pub fn start() -> Self {
        let script = workspace_root().join("scripts/moto_server.py");
        let mut child = Command::new(python())
            .arg(&script)
            .args(["--port", "0", "--exit-on-stdin-close"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn moto server");
        let stdin = child.stdin.take().expect("moto stdin");
        let stdout = child.stdout.take().expect("moto stdout");
        let mut line = String::new();
        let mut reader = BufReader::new(stdout);
        let port = loop {
            line.clear();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => break None,
                Ok(_) => {
                    if let Some(p) = line.trim().strip_prefix("PORT=") {
                        break p.parse::<u16>().ok();
                    }
                }
            }
        };
        match port {
            Some(port) => {
                // Keep draining moto's stdout: it prints while creating a Lambda function (its
                // Docker probe), and with the pipe closed that print fails the request.
                std::thread::spawn(move || std::io::copy(&mut reader, &mut std::io::sink()));
                Self {
                    child,
                    _stdin: stdin,
                    port,
                }
            }
            None => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "moto server exited before printing its port (is moto installed in the venv?)"
                );
            }
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `127.0.0.1:<port>`, for the plain HTTP calls of `moto_resources`.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// `http://127.0.0.1:<port>`, for `AWS_ENDPOINT_URL` / `--endpoint-url`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Environment for a child process (the CLI binary) talking to this server.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ACCESS_KEY_ID", ACCESS_KEY_ID.to_string()),
            ("AWS_SECRET_ACCESS_KEY", SECRET_ACCESS_KEY.to_string()),
            ("AWS_ENDPOINT_URL", self.endpoint()),
            ("AWS_REGION", "us-east-1".to_string()),
            ("AWS_EC2_METADATA_DISABLED", "true".to_string()),
            ("AWS_CONFIG_FILE", "/dev/null".to_string()),
            ("AWS_SHARED_CREDENTIALS_FILE", "/dev/null".to_string()),
        ]
    }

    /// An SDK config for `region` pointed at this server, for tests that call AWS directly.
    #[cfg(feature = "aws")]
    pub async fn sdk_config(&self, region: &str) -> aws_config::SdkConfig {
        let creds = aws_credential_types::Credentials::new(
            ACCESS_KEY_ID,
            SECRET_ACCESS_KEY,
            None,
            None,
            "moto",
        );
        aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new(region.to_string()))
            .credentials_provider(creds)
            .endpoint_url(self.endpoint())
            .load()
            .await
    }

    /// Wipe all state (`POST /moto-api/reset`).
    pub fn reset(&self) {
        let _ = Command::new("curl")
            .args([
                "-s",
                "-X",
                "POST",
                &format!("{}/moto-api/reset", self.endpoint()),
            ])
            .status();
    }
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
