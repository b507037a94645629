//! Test bed shared by every crate's integration tests.
//!
//! Each test starts its own moto server (about 1.5 s) instead of sharing one: moto keeps all
//! state in one process, and tests running in parallel would otherwise see each other's
//! buckets and StackSets.

pub mod fake_cequence;
pub mod moto;
pub mod seed;

pub use fake_cequence::FakeCequence;
pub use moto::MotoServer;
