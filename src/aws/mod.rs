//! Every AWS call the CLI makes, grouped by service.
//!
//! Functions here translate between SDK types and the plain types of `crate::plan`; they make
//! no decisions, so the decisions stay testable without AWS.

pub mod buckets;
pub mod deployment;
pub mod digest_key;
pub mod identity;
pub mod list_regions;
pub mod organization;
pub mod preflight;
pub mod retry;
pub mod sdk;
pub mod stackset;
pub mod stages;

pub use sdk::{Aws, AwsOptions};
