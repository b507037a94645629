//! cq-apigw as a library: the binary (`main.rs`) is a thin shell over these modules, and the
//! integration tests in `tests/` drive them directly.
//!
//! - `cli`, `config`, `error`, `output`: the command line, the validated configuration, the
//!   error type with its exit codes, and stdout/stderr helpers.
//! - `aws`, `plan`, `progress`, `commands`: the AWS calls, the pure planning they feed, live
//!   progress, and the `enable`/`disable`/`status` commands.

pub mod artifacts;
pub mod aws;
pub mod cequence_auth;
pub mod cli;
pub mod commands;
pub mod config;
pub mod confirm;
pub mod error;
pub mod output;
pub mod plan;
pub mod progress;
