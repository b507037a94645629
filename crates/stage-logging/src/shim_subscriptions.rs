//! TEMPORARY stand-in for the subscription API (replaced by the deploy branch's implementation).
use crate::{Clients, Error};

pub const SUBSCRIPTION_FILTER_NAME: &str = "cequence-apigw-forwarder";
#[derive(Clone, Debug)]
pub struct PushDestination {
    pub arn: String,
    pub role_arn: Option<String>,
}
#[derive(Clone, Debug, Default)]
pub struct GroupSubscriptions {
    pub ours: Option<OurFilter>,
    pub others: Vec<String>,
}
#[derive(Clone, Debug)]
pub struct OurFilter {
    pub creation_time_ms: i64,
    pub destination_arn: String,
}
#[derive(Clone, Debug)]
pub enum SubscribeOutcome {
    Subscribed { creation_time_ms: i64 },
    AlreadySubscribed { creation_time_ms: i64 },
    NoFreeSlot { others: Vec<String> },
}
pub async fn subscriptions(_c: &Clients, _g: &str) -> Result<GroupSubscriptions, Error> {
    Ok(GroupSubscriptions::default())
}
pub async fn subscribe(
    _c: &Clients,
    _g: &str,
    _d: &PushDestination,
) -> Result<SubscribeOutcome, Error> {
    Ok(SubscribeOutcome::NoFreeSlot { others: vec![] })
}
pub async fn unsubscribe(_c: &Clients, _g: &str) -> Result<bool, Error> {
    Ok(false)
}
