//! The contract between the three deployables: the CLI (which fills the StackSet template's
//! parameters), the template (which turns parameters into the forwarder's environment and the
//! custom resource's properties) and the forwarder (which reads them back).
//!
//! Every name, default and value rule that crosses one of those seams is written here once.
//! The CLI, the forwarder and `cq-stage-logging` use these constants, and the root crate's
//! template test (`tests/template.rs`) reads `templates/template.yaml` and checks it against
//! them, so a rename on one side fails a test instead of drifting silently.
//! The reference a maintainer reads is `docs/contract.md`.

pub mod backoff;
pub mod custom_resource;
pub mod defaults;
pub mod forwarder_env;
pub mod log_groups;
pub mod parameters;
pub mod secret;
pub mod settings;
pub mod values;

pub use backoff::Backoff;
pub use secret::Secret;
pub use settings::{IngestionMode, LogLevel, RestDelivery};
