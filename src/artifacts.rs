//! The two local artifacts `enable` uploads (files on this machine, not AWS calls): the StackSet template (embedded in the binary, so the
//! CLI works from any directory) and the forwarder zip (built by `scripts/build-lambda.sh`).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::aws::buckets::Artifact;
use crate::config::known_keys as config_keys;
use crate::config::LambdaArchitecture;
use crate::error::{Error, Result};
use crate::plan::artifact_keys as keys;
use crate::plan::package::{self, Machine};

/// The template shipped with this build.
pub const EMBEDDED_TEMPLATE: &str = include_str!("../templates/template.yaml");
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

/// Read both artifacts; a missing file is a usage error (exit 2) saying how to get it, and a
/// package built for another architecture than `arch` is refused the same way.
pub fn load(arch: LambdaArchitecture) -> Result<Artifacts> {
    let template = match std::env::var_os(TEMPLATE_ENV) {
        Some(path) => std::fs::read(&path).map_err(|e| {
            Error::Usage(format!(
                "{TEMPLATE_ENV}={}: cannot read the template: {e}",
                Path::new(&path).display()
            ))
        })?,
        None => EMBEDDED_TEMPLATE.as_bytes().to_vec(),
    };
    let zip_path = locate_zip(arch).map_err(Error::Usage)?;
    let zip = read_package(&zip_path, arch)?;
    Ok(Artifacts {
        template: Artifact {
            key: keys::template_key(&template),
            bytes: Arc::new(template),
            content_type: "application/x-yaml",
        },
        forwarder: Artifact {
            key: keys::forwarder_key(&zip, arch),
            bytes: Arc::new(zip),
            content_type: "application/zip",
        },
    })
}

/// The bytes of the package at `path`, once they are known to run on `arch` (`enable` uploads
/// them; `doctor` reports the same verdict).
pub fn read_package(path: &Path, arch: LambdaArchitecture) -> Result<Vec<u8>> {
    let zip = std::fs::read(path)
        .map_err(|e| Error::Usage(format!("cannot read {}: {e}", path.display())))?;
    check_package(path, &zip, arch)?;
    Ok(zip)
}

/// The package at `path` can run on `arch`, else the error naming the setting, what the file
/// holds and both ways out.
pub fn check_package(path: &Path, zip: &[u8], arch: LambdaArchitecture) -> Result<()> {
    let found = package::bootstrap_machine(zip).map_err(|why| {
        Error::Usage(format!(
            "{} is not a usable forwarder package: {why}; rebuild it with \
             `scripts/build-lambda.sh {}`",
            path.display(),
            arch.as_str()
        ))
    })?;
    if found == Machine::Known(arch) {
        return Ok(());
    }
    let other = match found {
        Machine::Known(a) => format!(
            " or set {}={}",
            config_keys::LAMBDA_ARCHITECTURE,
            a.as_str()
        ),
        Machine::Other(_) => String::new(),
    };
    Err(Error::Config {
        key: config_keys::LAMBDA_ARCHITECTURE.into(),
        value: arch.as_str().into(),
        fix: format!(
            "{} holds a bootstrap built for {found}, which an {} function cannot run; build the \
             {} package (`scripts/build-lambda.sh {}` writes dist/{}){other}",
            path.display(),
            arch.as_str(),
            arch.as_str(),
            arch.as_str(),
            package::zip_name(arch),
        ),
    })
}

/// The forwarder zip `enable` would upload for `arch`, found the way it finds it.
pub fn locate_zip(arch: LambdaArchitecture) -> std::result::Result<PathBuf, String> {
    let exe_dir = std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(Path::to_path_buf));
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    choose_zip(
        &package::zip_name(arch),
        std::env::var_os(ZIP_ENV).map(PathBuf::from),
        exe_dir,
        &cwd,
        |p| p.is_file(),
    )
}

/// Where the forwarder zip `name` is: `$CQ_FORWARDER_ZIP`, else beside the executable, else
/// `dist/` under the current directory.
pub fn choose_zip(
    name: &str,
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
        .map(|d| d.join(name))
        .into_iter()
        .chain(std::iter::once(cwd.join("dist").join(name)));
    let mut tried = Vec::new();
    for c in candidates {
        if exists(&c) {
            return Ok(c);
        }
        tried.push(c.display().to_string());
    }
    Err(format!(
        "the forwarder package {name} was not found (looked in {}); build it with \
         `scripts/build-lambda.sh` (writes dist/{name}) or set {ZIP_ENV}",
        tried.join(", "),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_wins_then_exe_dir_then_dist() {
        let cwd = Path::new("/work");
        let all = |_: &Path| true;
        let name = "cequence-apigw-forwarder-arm64.zip";
        assert_eq!(
            choose_zip(name, Some("/x/f.zip".into()), Some("/bin".into()), cwd, all).unwrap(),
            PathBuf::from("/x/f.zip")
        );
        assert_eq!(
            choose_zip(name, None, Some("/bin".into()), cwd, all).unwrap(),
            PathBuf::from("/bin/cequence-apigw-forwarder-arm64.zip")
        );
        let only_dist = |p: &Path| p.starts_with("/work/dist");
        assert_eq!(
            choose_zip(name, None, Some("/bin".into()), cwd, only_dist).unwrap(),
            PathBuf::from("/work/dist/cequence-apigw-forwarder-arm64.zip")
        );
    }

    #[test]
    fn missing_zip_says_how_to_build_it() {
        let none = |_: &Path| false;
        let name = "cequence-apigw-forwarder-x86_64.zip";
        let err = choose_zip(name, None, Some("/bin".into()), Path::new("/w"), none).unwrap_err();
        assert!(err.contains("scripts/build-lambda.sh"), "{err}");
        assert!(
            err.contains("dist/cequence-apigw-forwarder-x86_64.zip"),
            "{err}"
        );
        let err =
            choose_zip(name, Some("/nope.zip".into()), None, Path::new("/w"), none).unwrap_err();
        assert!(err.contains("CQ_FORWARDER_ZIP=/nope.zip"), "{err}");
    }

    #[test]
    fn a_package_for_the_other_architecture_is_refused_with_both_fixes() {
        use cq_test_support::lambda_zip::{forwarder_zip, EM_AARCH64, EM_X86_64};
        let path = Path::new("/d/f.zip");
        let x86 = forwarder_zip(EM_X86_64, b"");
        check_package(path, &x86, LambdaArchitecture::X86_64).unwrap();
        check_package(
            path,
            &forwarder_zip(EM_AARCH64, b""),
            LambdaArchitecture::Arm64,
        )
        .unwrap();
        let err = check_package(path, &x86, LambdaArchitecture::Arm64).unwrap_err();
        assert_eq!(err.exit_code(), 2);
        let text = err.to_string();
        for want in [
            "cequence_lambda_architecture=arm64",
            "/d/f.zip holds a bootstrap built for x86_64",
            "scripts/build-lambda.sh arm64",
            "set cequence_lambda_architecture=x86_64",
        ] {
            assert!(text.contains(want), "{text}: wanted {want}");
        }
        let err = check_package(path, b"PK", LambdaArchitecture::Arm64).unwrap_err();
        assert!(
            err.to_string().contains("not a usable forwarder package"),
            "{err}"
        );
    }

    #[test]
    fn embedded_template_declares_the_contract_parameters() {
        for p in ["S3Key", "CequenceClientSecret", "CequenceHttpApiEnabled"] {
            assert!(EMBEDDED_TEMPLATE.contains(p), "{p}");
        }
    }
}
