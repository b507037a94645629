//! Pure planning: what enable/disable/status must do, computed from what AWS reported and what
//! the configuration asks for.
//!
//! Nothing here performs I/O, so every decision that makes a re-run a no-op (and every byte of
//! policy or parameter sent to AWS) is unit-tested without a network.

pub mod artifact_keys;
pub mod bucket;
pub mod destroy;
pub mod doctor;
pub mod package;
pub mod parameters;
pub mod policy;
pub mod region_selection;
pub mod stackset;
