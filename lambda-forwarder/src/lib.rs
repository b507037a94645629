//! Library half of the forwarder: `main.rs` is only the Lambda entry point, everything it calls
//! lives here so it can be tested without a Lambda runtime.
//!
//! It reads as its pipeline: `sources` (poll, push) → `pipeline` (assemble, build, batch; pure)
//! → `sinks` (the Edge, the spool), with `state` making it resumable and the invocation kinds
//! on top (`tick`, `push`, `custom_resource`, dispatched by `invocation`).

pub mod pipeline;
pub mod sinks;
pub mod sources;
pub mod state;

pub mod app;
pub mod backoff;
pub mod compress;
pub mod config;
pub mod custom_resource;
pub mod flow;
pub mod ingestion;
pub mod invocation;
pub mod push;
pub mod stats;
pub mod tick;
pub mod token;
