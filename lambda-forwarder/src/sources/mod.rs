//! Where log events come from: `poll` reads them with FilterLogEvents on the schedule, `push`
//! decodes what CloudWatch Logs subscriptions deliver (straight, or through Kinesis).

pub mod poll;
pub mod push;
