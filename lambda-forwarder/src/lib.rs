//! Library half of the forwarder: `main.rs` is only the Lambda entry point, everything it calls
//! lives here so it can be unit-tested without a Lambda runtime.

// Pure core: log parsing and UAP transaction building (no I/O).
pub mod assemble;
pub mod filters;
pub mod parse;
pub mod transaction;

// I/O, runtime and delivery: reading CloudWatch Logs, checkpoints, token, Edge, dispatch.
pub mod app;
pub mod backoff;
pub mod checkpoint;
pub mod config;
pub mod custom_resource;
pub mod edge;
pub mod fetch;
pub mod handler;
pub mod stats;
pub mod tick;
pub mod token;
