//! The subcommands. Each lifecycle `run` takes the parsed flags and the validated configuration and
//! returns the exit code; results go to stdout, progress to stderr.

pub mod disable;
pub mod doctor;
pub mod enable;
pub mod shell;
pub mod status;
