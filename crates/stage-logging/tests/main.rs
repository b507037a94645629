//! Stage capture and restore, subscriptions: against moto, and mocked where moto cannot play the part.
//!
//! One binary for the crate (each test binary links the AWS SDK, and linking is most of a
//! cold test build on two cores); one module per area.

mod moto_delivery;
mod moto_plan;
mod moto_stages;
mod moto_subscriptions;
mod rest_mocked;
mod subscriptions_mocked;
