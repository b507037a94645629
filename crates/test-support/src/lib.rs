//! Test bed shared by every crate's integration tests and by the forwarder benchmark.
//!
//! * `moto` (a moto server per test) and `moto_resources` (resources created over plain
//!   HTTP); `seed` creates API Gateway resources through the SDK (feature `aws`).
//! * `fake_cequence`: the UAP auth + Edge endpoints, playing the real service's parts.
//! * `corpus`, `logs_standin`: a computed corpus in the vendor's shape, served by a local
//!   CloudWatch Logs stand-in with the real paging, quota and ingestion behaviour.
//! * `runtime_api`, `process`, `cgroup`: real `bootstrap` processes under a local Lambda,
//!   measured whole, optionally limited like a Lambda memory size.
//! * `fault_proxy`: faults injected between the forwarder and any of the above.
//!
//! Each test starts its own servers instead of sharing them: moto keeps all state in one
//! process, and tests running in parallel would otherwise see each other's buckets.
//! Without the default feature `aws` nothing here depends on the AWS SDK, so the benchmark
//! binary builds quickly in release.

pub mod background;
pub mod cgroup;
pub mod corpus;
pub mod fake_cequence;
pub mod fault_proxy;
pub mod forwarder_env;
pub mod http;
pub mod lambda_zip;
pub mod logs_standin;
pub mod moto;
pub mod moto_resources;
pub mod process;
pub mod rng;
pub mod runtime_api;
#[cfg(feature = "aws")]
pub mod seed;
pub mod stats_line;

pub use fake_cequence::FakeCequence;
pub use moto::MotoServer;
