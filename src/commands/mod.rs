//! The subcommands. `main.rs` turns the flags into plain values once ([`Session`] and each
//! command's `Options`); every lifecycle `run` then reads what is deployed (observe), decides
//! with the pure functions of `crate::plan`, changes what differs (apply) and prints a report
//! (stdout) while progress goes to stderr. Nothing below this module sees clap.

use crate::aws::AwsOptions;

pub mod disable;
pub mod doctor;
pub mod enable;
pub mod operation_wait;
pub mod shell;
pub mod stage_changes;
pub mod status;

/// What every command takes from the global flags.
#[derive(Debug, Clone, Default)]
pub struct Session {
    /// `--profile`, `--region`, `--endpoint-url`.
    pub aws: AwsOptions,
    /// `--quiet`: no progress, no notes.
    pub quiet: bool,
}
