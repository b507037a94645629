//! Jittered exponential backoff for the CloudWatch, auth and Edge retries: the contract's one
//! schedule (`cq_contract::backoff`), shared with the CLI.

pub use cq_contract::Backoff;
