//! Command-line arguments (docs/operator-guide.md, docs/ci.md).
//!
//! Only the shape of the command line lives here: clap parses it, and `config::load` turns it
//! plus the environment and the `.env` file into a validated `Config`. Keeping the two apart
//! lets the configuration layering be unit-tested without building a command line.

use std::path::PathBuf;

use clap::{ArgAction, Args, Parser, Subcommand};

use crate::aws::AwsOptions;
use crate::commands::{disable, enable, Session};

/// `--version`: the crate version and the commit it was built from (see `build.rs`).
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (",
    env!("CQ_APIGW_COMMIT"),
    ")"
);

const EXAMPLES: &str = "\
Examples:
  cq-apigw doctor                       check credentials, roles, permissions, quotas first
  cq-apigw enable --dry-run             show what enable would change, change nothing
  cq-apigw enable                       deploy or update; re-run at any time (idempotent)
  cq-apigw status --output json         what is deployed, as one JSON document
  cq-apigw disable --regions eu-west-1  stop capturing in one region
  cq-apigw disable --destroy --yes      remove the StackSet, its instances and stage logging
  cq-apigw completions bash > ~/.local/share/bash-completion/completions/cq-apigw

Exit codes: 0 done, 1 failed (AWS or an operation said no), 2 bad input (nothing changed).";

const ENABLE_EXAMPLES: &str = "\
Examples:
  cq-apigw enable --dry-run
  cq-apigw enable --yes --output json
  cq-apigw enable --regions us-east-1,eu-west-1 --env-file prod.env
  cq-apigw enable --yes --no-wait       submit the StackSet operations and return";

const DISABLE_EXAMPLES: &str = "\
Examples:
  cq-apigw disable --yes                       capture off everywhere, stacks kept
  cq-apigw disable --accounts 111111111111     capture off in one account
  cq-apigw disable --destroy --yes             remove everything the integration created";

const STATUS_EXAMPLES: &str = "\
Examples:
  cq-apigw status
  cq-apigw status --regions us-east-1 --output json | jq '.instances'";
/// Connect Amazon API Gateway to Cequence Unified API Protection.
///
/// Deploys, updates, disables and inspects the CloudFormation StackSet that captures API
/// Gateway logs and forwards them to the Cequence Edge. Configuration comes from flags, then
/// `CEQUENCE_*` environment variables, then the `.env` file, then built-in defaults.
#[derive(Debug, Parser)]
#[command(name = "cq-apigw", version = VERSION, propagate_version = true)]
#[command(after_help = EXAMPLES)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Options every subcommand accepts, so `cq-apigw status --profile x` works as well as
/// `cq-apigw --profile x status`.
#[derive(Debug, Clone, Default, Args)]
#[command(next_help_heading = "Global options")]
pub struct GlobalArgs {
    /// Configuration file with `cequence_*` variables [default: ./.env, if it exists].
    /// `accounts-config.csv` is read from the same directory.
    #[arg(long, global = true, value_name = "FILE")]
    pub env_file: Option<PathBuf>,

    /// AWS named profile (otherwise the default credential chain: env, profile, SSO, IMDS).
    #[arg(long, global = true, value_name = "NAME")]
    pub profile: Option<String>,

    /// Home region, where the StackSet lives (otherwise the SDK's region resolution).
    #[arg(long, global = true, value_name = "REGION")]
    pub region: Option<String>,

    /// Send every AWS call to this endpoint (e.g. a local emulator); `AWS_ENDPOINT_URL` also works.
    #[arg(long, global = true, value_name = "URL")]
    pub endpoint_url: Option<String>,

    /// More log output on stderr (-v info, -vv debug, -vvv trace).
    #[arg(short, long, global = true, action = ArgAction::Count, conflicts_with = "quiet")]
    pub verbose: u8,

    /// Only errors on stderr: no progress, no notes.
    #[arg(short, long, global = true)]
    pub quiet: bool,

    /// Never use colours (also honoured: the `NO_COLOR` environment variable).
    #[arg(long, global = true)]
    pub no_color: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Deploy or update the integration: artifact buckets, stage logging, StackSet and its
    /// instances for every target account and region. Idempotent: a second run with nothing
    /// changed makes no change.
    #[command(after_help = ENABLE_EXAMPLES)]
    Enable(EnableArgs),
    /// Stop capturing (REST/HTTP capture set to false on the selected instances), or with
    /// `--destroy` delete the stack instances, the StackSet and optionally the buckets.
    #[command(after_help = DISABLE_EXAMPLES)]
    Disable(DisableArgs),
    /// Show the StackSet, its stack instances, the artifact buckets and, per region, the API
    /// stages and whether their logging is captured.
    #[command(after_help = STATUS_EXAMPLES)]
    Status(StatusArgs),
    /// Check, before any change, what would make `enable` or the forwarder fail: credentials,
    /// regions, the organization or the StackSet roles, the operator's permissions, Lambda
    /// concurrency, the forwarder package and the Cequence client. Read-only; exit 1 if a
    /// check fails.
    #[command(after_help = "\
Examples:
  cq-apigw doctor
  cq-apigw doctor --regions us-east-1 --output json")]
    Doctor(DoctorArgs),
    /// Print a shell completion script to stdout (needs no configuration or AWS access).
    #[command(after_help = "\
Examples:
  cq-apigw completions bash > ~/.local/share/bash-completion/completions/cq-apigw
  cq-apigw completions zsh > \"${fpath[1]}/_cq-apigw\"
  cq-apigw completions fish > ~/.config/fish/completions/cq-apigw.fish")]
    Completions(CompletionsArgs),
    /// Write the man pages (cq-apigw.1 and one per subcommand), or print cq-apigw.1 to stdout.
    #[command(after_help = "\
Examples:
  cq-apigw man | man -l -
  cq-apigw man --out-dir ~/.local/share/man/man1")]
    Man(ManArgs),
}

#[derive(Debug, Clone, Args)]
pub struct DoctorArgs {
    /// Comma-separated regions, or `all`; overrides `cequence_aws_regions`.
    #[arg(long, value_name = "r1,r2")]
    pub regions: Option<String>,

    /// Result format on stdout.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,
}

#[derive(Debug, Clone, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Clone, Args)]
pub struct ManArgs {
    /// Write every page into this directory instead of printing the main page.
    #[arg(long, value_name = "DIR")]
    pub out_dir: Option<PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub struct EnableArgs {
    /// Comma-separated regions, or `all`; overrides `cequence_aws_regions`.
    #[arg(long, value_name = "r1,r2")]
    pub regions: Option<String>,

    /// Print the plan (what would be created, updated, added) and change nothing.
    #[arg(long)]
    pub dry_run: bool,

    /// Never prompt (implied by `CI=true`).
    #[arg(short, long)]
    pub yes: bool,

    /// Return once the StackSet operations are submitted, without waiting for them.
    #[arg(long)]
    pub no_wait: bool,

    /// Result format on stdout.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,
}

#[derive(Debug, Clone, Args)]
pub struct DisableArgs {
    /// Comma-separated regions, or `all`; overrides `cequence_aws_regions`.
    #[arg(long, value_name = "r1,r2")]
    pub regions: Option<String>,

    /// Comma-separated account ids to disable (default: every target account).
    #[arg(long, value_name = "ID,ID")]
    pub accounts: Option<String>,

    /// Delete all stack instances and the StackSet (and the buckets when
    /// `cequence_cfn_auto_delete_from_s3=true`).
    #[arg(long)]
    pub destroy: bool,

    /// Never prompt (implied by `CI=true`).
    #[arg(short, long)]
    pub yes: bool,

    /// Result format on stdout.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,
}

#[derive(Debug, Clone, Args)]
pub struct StatusArgs {
    /// Comma-separated regions, or `all`; overrides `cequence_aws_regions`.
    #[arg(long, value_name = "r1,r2")]
    pub regions: Option<String>,

    /// Result format on stdout.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,
}

pub use crate::output::OutputFormat;

impl GlobalArgs {
    /// The plain values the commands take from the global flags.
    pub fn session(&self) -> Session {
        Session {
            aws: AwsOptions {
                profile: self.profile.clone(),
                region: self.region.clone(),
                endpoint_url: self.endpoint_url.clone(),
            },
            quiet: self.quiet,
        }
    }
}

impl EnableArgs {
    pub fn options(&self) -> enable::Options {
        enable::Options {
            dry_run: self.dry_run,
            no_wait: self.no_wait,
            output: self.output,
        }
    }
}

impl DisableArgs {
    pub fn options(&self) -> disable::Options {
        disable::Options {
            accounts: self.accounts.clone(),
            destroy: self.destroy,
            // `--yes`, or running under CI where nobody can answer a prompt.
            assume_yes: self.yes || running_in_ci(),
            output: self.output,
        }
    }
}

impl Command {
    /// The subcommand's `--regions`, which overrides `cequence_aws_regions`.
    pub fn regions(&self) -> Option<&str> {
        match self {
            Command::Enable(a) => a.regions.as_deref(),
            Command::Disable(a) => a.regions.as_deref(),
            Command::Status(a) => a.regions.as_deref(),
            Command::Doctor(a) => a.regions.as_deref(),
            Command::Completions(_) | Command::Man(_) => None,
        }
    }

    /// The subcommand's `--output`.
    pub fn output(&self) -> OutputFormat {
        match self {
            Command::Enable(a) => a.output,
            Command::Disable(a) => a.output,
            Command::Status(a) => a.output,
            Command::Doctor(a) => a.output,
            Command::Completions(_) | Command::Man(_) => OutputFormat::Text,
        }
    }
}

fn running_in_ci() -> bool {
    is_ci_value(std::env::var("CI").ok().as_deref())
}

/// CI systems set `CI=true` (GitHub, GitLab, CircleCI…) and a few `CI=1`.
fn is_ci_value(value: Option<&str>) -> bool {
    matches!(
        value.map(|v| v.trim().to_ascii_lowercase()).as_deref(),
        Some("true" | "1")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn parse(args: &[&str]) -> Cli {
        Cli::try_parse_from(std::iter::once("cq-apigw").chain(args.iter().copied())).unwrap()
    }

    #[test]
    fn clap_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn enable_flags_parse() {
        let cli = parse(&[
            "enable",
            "--regions",
            "us-east-1,eu-west-1",
            "--dry-run",
            "--yes",
            "--no-wait",
            "--output",
            "json",
        ]);
        let Command::Enable(a) = cli.command else {
            panic!("expected enable")
        };
        assert_eq!(a.regions.as_deref(), Some("us-east-1,eu-west-1"));
        assert!(a.dry_run && a.yes && a.no_wait);
        assert_eq!(a.output, OutputFormat::Json);
    }

    #[test]
    fn disable_flags_parse() {
        let cli = parse(&["disable", "--accounts", "111111111111", "--destroy", "-y"]);
        let Command::Disable(a) = cli.command else {
            panic!("expected disable")
        };
        assert_eq!(a.accounts.as_deref(), Some("111111111111"));
        assert!(a.destroy && a.yes);
        assert_eq!(a.output, OutputFormat::Text);
    }

    #[test]
    fn global_flags_work_before_and_after_the_subcommand() {
        let before = parse(&[
            "--env-file",
            "x.env",
            "--profile",
            "p",
            "--region",
            "eu-west-1",
            "status",
        ]);
        let after = parse(&[
            "status",
            "--env-file",
            "x.env",
            "--profile",
            "p",
            "--region",
            "eu-west-1",
            "--endpoint-url",
            "http://127.0.0.1:5000",
            "-vv",
            "--no-color",
        ]);
        for cli in [&before, &after] {
            assert_eq!(
                cli.global.env_file.as_deref(),
                Some(std::path::Path::new("x.env"))
            );
            assert_eq!(cli.global.profile.as_deref(), Some("p"));
            assert_eq!(cli.global.region.as_deref(), Some("eu-west-1"));
        }
        assert_eq!(after.global.verbose, 2);
        assert!(after.global.no_color);
        assert_eq!(
            after.global.endpoint_url.as_deref(),
            Some("http://127.0.0.1:5000")
        );
    }

    #[test]
    fn quiet_and_verbose_conflict() {
        assert!(Cli::try_parse_from(["cq-apigw", "-q", "-v", "status"]).is_err());
    }

    #[test]
    fn unknown_output_format_is_rejected() {
        assert!(Cli::try_parse_from(["cq-apigw", "status", "--output", "yaml"]).is_err());
    }

    #[test]
    fn dry_run_is_only_for_enable() {
        assert!(Cli::try_parse_from(["cq-apigw", "status", "--dry-run"]).is_err());
    }

    #[test]
    fn command_exposes_regions_and_output() {
        let cli = parse(&["status", "--regions", "all", "--output", "json"]);
        assert_eq!(cli.command.regions(), Some("all"));
        assert_eq!(cli.command.output(), OutputFormat::Json);
    }

    #[test]
    fn completions_take_a_known_shell() {
        let cli = parse(&["completions", "zsh"]);
        assert!(matches!(
            cli.command,
            Command::Completions(CompletionsArgs {
                shell: clap_complete::Shell::Zsh
            })
        ));
        assert!(Cli::try_parse_from(["cq-apigw", "completions", "tcsh"]).is_err());
    }

    #[test]
    fn version_names_the_commit() {
        let v = Cli::command().render_version();
        assert!(
            v.starts_with(&format!("cq-apigw {} (", env!("CARGO_PKG_VERSION"))),
            "{v}"
        );
        assert!(v.trim_end().ends_with(')'), "{v}");
    }

    #[test]
    fn every_command_has_examples_in_its_help() {
        let mut cli = Cli::command();
        let mut names = vec![];
        for sub in cli.get_subcommands_mut() {
            let help = sub.render_help().to_string();
            assert!(help.contains("Examples:"), "{}: {help}", sub.get_name());
            assert!(
                help.contains(&format!("cq-apigw {}", sub.get_name())),
                "{help}"
            );
            names.push(sub.get_name().to_string());
        }
        assert_eq!(
            names,
            [
                "enable",
                "disable",
                "status",
                "doctor",
                "completions",
                "man"
            ]
        );
        assert!(cli.render_help().to_string().contains("Exit codes: 0 done"));
    }

    #[test]
    fn ci_values() {
        assert!(is_ci_value(Some("true")));
        assert!(is_ci_value(Some("TRUE")));
        assert!(is_ci_value(Some("1")));
        assert!(!is_ci_value(Some("false")));
        assert!(!is_ci_value(Some("")));
        assert!(!is_ci_value(None));
    }
}
