//! Stamps the git commit into `cq-apigw --version`, so a bug report names the exact build.
//!
//! A release build outside a git checkout (a crate tarball) can set `CQ_APIGW_COMMIT`; with
//! neither, the version says "unknown commit" rather than failing the build.

use std::path::PathBuf;
use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (!text.is_empty()).then_some(text)
}

fn main() {
    println!("cargo:rerun-if-env-changed=CQ_APIGW_COMMIT");
    let commit = std::env::var("CQ_APIGW_COMMIT")
        .ok()
        .filter(|c| !c.trim().is_empty())
        .or_else(|| git(&["rev-parse", "--short=12", "HEAD"]))
        .unwrap_or_else(|| "unknown commit".into());
    // Rebuild when HEAD moves: HEAD itself (a checkout), the branch it points at (a commit)
    // and packed-refs (a gc); paths come from git so worktrees work too. Only existing files:
    // cargo reruns the script on every build for a missing one.
    let mut watched = vec![];
    if let Some(dir) = git(&["rev-parse", "--git-dir"]) {
        watched.push(PathBuf::from(dir).join("HEAD"));
    }
    if let Some(common) = git(&["rev-parse", "--git-common-dir"]) {
        let common = PathBuf::from(common);
        watched.push(common.join("packed-refs"));
        if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
            watched.push(common.join(branch));
        }
    }
    for path in watched.iter().filter(|p| p.exists()) {
        println!("cargo:rerun-if-changed={}", path.display());
    }
    if watched.is_empty() {
        println!("cargo:rerun-if-changed=build.rs");
    }
    println!("cargo:rustc-env=CQ_APIGW_COMMIT={commit}");
}
