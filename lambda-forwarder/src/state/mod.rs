//! What makes the forwarder resumable: per-group checkpoints and open requests, Kinesis shard
//! checkpoints, handled-payload markers, split pushed requests and the tick lease, all in the
//! stack's DynamoDB table.

pub mod group;
pub mod store;

pub use group::{Channel, Cursor, GroupState, Load};
pub use store::{ShardState, StateError, StateStore};
