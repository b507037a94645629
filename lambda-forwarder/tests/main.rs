//! The forwarder: parsing fixtures, a tick and the custom resource against moto, the fault suite, the release artifact.
//!
//! One binary for the crate (each test binary links the AWS SDK, and linking is most of a
//! cold test build on two cores); one module per area.

mod fixture_file;
mod support;

mod custom_resource_moto;
mod faults;
mod parse_http;
mod parse_rest;
mod runtime_artifact;
mod tick_moto;
