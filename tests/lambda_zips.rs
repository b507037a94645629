//! The packages `scripts/build-lambda.sh` writes to `dist/`: one per Lambda architecture, each
//! holding an executable `bootstrap` built for the architecture its name says, read the way
//! `enable` reads it before uploading. Skipped with a reason when `dist/` has not been built,
//! except in CI (`CI=true`), where the suite builds both first.

use std::path::PathBuf;

use cq_apigw::config::LambdaArchitecture;
use cq_apigw::plan::package::{bootstrap_machine, zip_name, Machine};

fn dist_zip(arch: LambdaArchitecture) -> Option<PathBuf> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("dist")
        .join(zip_name(arch));
    if path.is_file() {
        return Some(path);
    }
    let reason = format!("{} not built (run scripts/build-lambda.sh)", path.display());
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{reason}");
    }
    eprintln!("SKIPPED: {reason}");
    None
}

#[test]
fn each_dist_zip_holds_the_bootstrap_of_its_architecture() {
    for arch in [LambdaArchitecture::Arm64, LambdaArchitecture::X86_64] {
        let Some(path) = dist_zip(arch) else { continue };
        let zip = std::fs::read(&path).unwrap();
        assert_eq!(
            bootstrap_machine(&zip),
            Ok(Machine::Known(arch)),
            "{}",
            path.display()
        );
        println!("{}: {} bytes", path.display(), zip.len());
    }
}
