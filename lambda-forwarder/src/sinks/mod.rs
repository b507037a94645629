//! Where transactions go: the UAP Edge (`edge`, one POST; `deliver`, the policy around it)
//! and the durable spool in S3 (`spool`) for what the Edge cannot take now.

pub mod deliver;
pub mod edge;
pub mod spool;
