//! `completions` and `man`: generated from the clap definition, so they never drift from the
//! real flags, and printed by the binary the operator installed rather than committed by hand.

use std::path::Path;
use std::process::ExitCode;

use clap::CommandFactory;

use crate::cli::Cli;
use crate::error::{Error, Result};
use crate::output;

/// The completion script for `shell` on stdout.
pub fn completions(shell: clap_complete::Shell) -> Result<ExitCode> {
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "cq-apigw", &mut out);
    output::print_bytes(&out)?;
    Ok(ExitCode::SUCCESS)
}

/// The man page on stdout, or every page written into `out_dir`.
pub fn man(out_dir: Option<&Path>) -> Result<ExitCode> {
    match out_dir {
        None => {
            let mut out = Vec::new();
            clap_mangen::Man::new(Cli::command())
                .render(&mut out)
                .map_err(|e| Error::io("rendering the man page", e))?;
            output::print_bytes(&out)?;
        }
        Some(dir) => {
            for page in write_man_pages(dir)? {
                output::print_text(page.display())?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `cq-apigw.1` plus `cq-apigw-<sub>.1` for every subcommand, the layout `man cq-apigw-enable`
/// expects; returns the paths written.
pub fn write_man_pages(dir: &Path) -> Result<Vec<std::path::PathBuf>> {
    std::fs::create_dir_all(dir)
        .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
    let mut cmd = Cli::command();
    cmd.build();
    let mut pages = vec![(String::from("cq-apigw"), cmd.clone())];
    for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
        let name = format!("cq-apigw-{}", sub.get_name());
        pages.push((name.clone(), sub.clone().name(name)));
    }
    let mut written = vec![];
    for (name, page) in pages {
        let path = dir.join(format!("{name}.1"));
        let mut text = Vec::new();
        clap_mangen::Man::new(page)
            .render(&mut text)
            .map_err(|e| Error::io(format!("rendering {name}.1"), e))?;
        std::fs::write(&path, text)
            .map_err(|e| Error::io(format!("writing {}", path.display()), e))?;
        written.push(path);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bash_completion_offers_every_subcommand_and_flag() {
        let mut out = Vec::new();
        clap_complete::generate(
            clap_complete::Shell::Bash,
            &mut Cli::command(),
            "cq-apigw",
            &mut out,
        );
        let script = String::from_utf8(out).unwrap();
        for word in [
            "enable",
            "disable",
            "status",
            "--dry-run",
            "--destroy",
            "--env-file",
        ] {
            assert!(
                script.contains(word),
                "{word} missing from the bash completion"
            );
        }
    }

    #[test]
    fn man_pages_are_written_one_per_subcommand() {
        let dir = tempfile::tempdir().unwrap();
        let written = write_man_pages(dir.path()).unwrap();
        let names: Vec<_> = written
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            names,
            [
                "cq-apigw.1",
                "cq-apigw-enable.1",
                "cq-apigw-disable.1",
                "cq-apigw-status.1",
                "cq-apigw-doctor.1",
                "cq-apigw-completions.1",
                "cq-apigw-man.1"
            ]
        );
        let enable = std::fs::read_to_string(dir.path().join("cq-apigw-enable.1")).unwrap();
        assert!(
            enable.starts_with(".ie") || enable.contains(".TH"),
            "{enable}"
        );
        assert!(enable.contains("dry\\-run"), "{enable}");
    }
}
