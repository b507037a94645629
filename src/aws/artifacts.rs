//! The two artifacts `enable` uploads: the StackSet template (embedded in the binary, so the
//! CLI works from any directory) and the forwarder zip (built by `scripts/build-lambda.sh`).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::buckets::Artifact;
use crate::error::{Error, Result};
use crate::plan::keys;

/// The template shipped with this build.
pub const EMBEDDED_TEMPLATE: &str = include_str!("../../templates/template.yaml");
/// Use this template file instead of the embedded one (operators testing a change, tests).
pub const TEMPLATE_ENV: &str = "CQ_TEMPLATE_FILE";
/// Path of the forwarder zip, overriding the search.
pub const ZIP_ENV: &str = "CQ_FORWARDER_ZIP";

#[derive(Debug, Clone)]
pub struct Artifacts {
    pub template: Artifact,
    pub forwarder: Artifact,
}

impl Artifacts {
    pub fn keys(&self) -> Vec<String> {
        vec![self.template.key.clone(), self.forwarder.key.clone()]
    }

    pub fn as_slice(&self) -> [Artifact; 2] {
        [self.template.clone(), self.forwarder.clone()]
    }
}

/// Read both artifacts; a missing file is a usage error (exit 2) saying how to get it.
pub fn load() -> Result<Artifacts> {
    let template = match std::env::var_os(TEMPLATE_ENV) {
        Some(path) => std::fs::read(&path).map_err(|e| {
            Error::Usage(format!(
                "{TEMPLATE_ENV}={}: cannot read the template: {e}",
                Path::new(&path).display()
            ))
        })?,
        None => EMBEDDED_TEMPLATE.as_bytes().to_vec(),
    };
    let zip_path = locate_zip().map_err(Error::Usage)?;
    let zip = std::fs::read(&zip_path)
        .map_err(|e| Error::Usage(format!("cannot read {}: {e}", zip_path.display())))?;
    Ok(Artifacts {
        template: Artifact {
            key: keys::template_key(&template),
            bytes: Arc::new(template),
            content_type: "application/x-yaml",
        },
        forwarder: Artifact {
            key: keys::forwarder_key(&zip),
            bytes: Arc::new(zip),
            content_type: "application/zip",
        },
    })
}

/// The forwarder zip `enable` would upload, found the way it finds it.
pub fn locate_zip() -> std::result::Result<PathBuf, String> {
    let exe_dir = std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(Path::to_path_buf));
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    choose_zip(
        std::env::var_os(ZIP_ENV).map(PathBuf::from),
        exe_dir,
        &cwd,
        |p| p.is_file(),
    )
}

/// Where the forwarder zip is: `$CQ_FORWARDER_ZIP`, else beside the executable, else
/// `dist/` under the current directory.
pub fn choose_zip(
    from_env: Option<PathBuf>,
    exe_dir: Option<PathBuf>,
    cwd: &Path,
    exists: impl Fn(&Path) -> bool,
) -> std::result::Result<PathBuf, String> {
    if let Some(p) = from_env {
        return if exists(&p) {
            Ok(p)
        } else {
            Err(format!("{ZIP_ENV}={}: no such file", p.display()))
        };
    }
    let candidates = exe_dir
        .map(|d| d.join(keys::FORWARDER_ZIP_NAME))
        .into_iter()
        .chain(std::iter::once(
            cwd.join("dist").join(keys::FORWARDER_ZIP_NAME),
        ));
    let mut tried = Vec::new();
    for c in candidates {
        if exists(&c) {
            return Ok(c);
        }
        tried.push(c.display().to_string());
    }
    Err(format!(
        "the forwarder package {} was not found (looked in {}); build it with \
         `scripts/build-lambda.sh` (writes dist/{}) or set {ZIP_ENV}",
        keys::FORWARDER_ZIP_NAME,
        tried.join(", "),
        keys::FORWARDER_ZIP_NAME
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_wins_then_exe_dir_then_dist() {
        let cwd = Path::new("/work");
        let all = |_: &Path| true;
        assert_eq!(
            choose_zip(Some("/x/f.zip".into()), Some("/bin".into()), cwd, all).unwrap(),
            PathBuf::from("/x/f.zip")
        );
        assert_eq!(
            choose_zip(None, Some("/bin".into()), cwd, all).unwrap(),
            PathBuf::from("/bin/cequence-apigw-forwarder.zip")
        );
        let only_dist = |p: &Path| p.starts_with("/work/dist");
        assert_eq!(
            choose_zip(None, Some("/bin".into()), cwd, only_dist).unwrap(),
            PathBuf::from("/work/dist/cequence-apigw-forwarder.zip")
        );
    }

    #[test]
    fn missing_zip_says_how_to_build_it() {
        let none = |_: &Path| false;
        let err = choose_zip(None, Some("/bin".into()), Path::new("/w"), none).unwrap_err();
        assert!(err.contains("scripts/build-lambda.sh"), "{err}");
        let err = choose_zip(Some("/nope.zip".into()), None, Path::new("/w"), none).unwrap_err();
        assert!(err.contains("CQ_FORWARDER_ZIP=/nope.zip"), "{err}");
    }

    #[test]
    fn embedded_template_declares_the_contract_parameters() {
        for p in ["S3Key", "CequenceClientSecret", "CequenceHttpApiEnabled"] {
            assert!(EMBEDDED_TEMPLATE.contains(p), "{p}");
        }
    }
}
