//! The CLI against moto (and the template on its own): bad input, enable, disable, stage logging,
//! status, the template, and the docs that quote the CLI (CI recipe, operator guide).
//!
//! One binary for the crate (each test binary links the AWS SDK, and linking is most of a
//! cold test build on two cores); one module per area.

mod common;

mod ci_recipe;
mod cli_bad_input;
mod cli_disable;
mod cli_doctor;
mod cli_enable;
mod cli_stage_logging;
mod cli_status;
mod lambda_zips;
mod operator_guide;
mod template;
