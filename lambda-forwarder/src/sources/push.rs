//! What CloudWatch Logs subscriptions deliver: one log stream's events per payload, gzip'd
//! JSON, either straight to the function (`{"awslogs":{"data":base64}}`, an asynchronous
//! invocation) or as the records of a Kinesis data stream read by an event source mapping.

use std::borrow::Cow;

use aws_lambda_events::event::cloudwatch_logs::{LogData, LogsEvent};
use aws_lambda_events::event::kinesis::KinesisEvent;

use crate::compress::gunzip;
use crate::pipeline::parse::LogEvent;
use crate::state::store::stable_hash;

/// One subscription payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub log_group: String,
    pub log_stream: String,
    /// `DATA_MESSAGE`, or `CONTROL_MESSAGE` (CloudWatch Logs checking that the destination
    /// is reachable: no events).
    pub message_type: String,
    pub events: Vec<LogEvent>,
}

impl Delivery {
    pub fn is_data(&self) -> bool {
        self.message_type == "DATA_MESSAGE"
    }

    /// Names this payload across deliveries (CloudWatch Logs delivers at least once): the
    /// group, the stream and the ids of its events.
    pub fn digest(&self) -> String {
        let mut key = format!(
            "{}\u{1f}{}\u{1f}{}",
            self.log_group,
            self.log_stream,
            self.events.len()
        );
        if let (Some(first), Some(last)) = (self.events.first(), self.events.last()) {
            key.push('\u{1f}');
            key.push_str(&first.event_id);
            key.push('\u{1f}');
            key.push_str(&last.event_id);
        }
        let h1 = stable_hash(key.as_bytes());
        let h2 = stable_hash(format!("{h1:x}{key}").as_bytes());
        format!("{h1:016x}{h2:016x}")
    }
}

fn from_log_data(d: LogData) -> Delivery {
    let mut events: Vec<LogEvent> = d
        .log_events
        .into_iter()
        .map(|e| LogEvent {
            event_id: e.id,
            timestamp: e.timestamp,
            message: e.message,
        })
        .collect();
    // A payload is in the order CloudWatch Logs ingested the events; keep equal timestamps
    // in that order.
    if !events.windows(2).all(|w| w[0].timestamp <= w[1].timestamp) {
        events.sort_by_key(|e| e.timestamp);
    }
    Delivery {
        log_group: d.log_group,
        log_stream: d.log_stream,
        message_type: d.message_type,
        events,
    }
}

/// A direct subscription invocation.
pub fn from_logs_event(event: LogsEvent) -> Delivery {
    from_log_data(event.aws_logs.data)
}

/// The payload inside one Kinesis record (the record data is the gzip'd JSON), owned.
pub fn from_kinesis_data(data: &[u8]) -> Result<Delivery, String> {
    let json = kinesis_json(data)?;
    let p = PayloadRef::parse(&json)?;
    Ok(Delivery {
        log_group: p.log_group.into_owned(),
        log_stream: p.log_stream.into_owned(),
        message_type: p.message_type.into_owned(),
        events: p.log_events.into_iter().map(EventRef::into_owned).collect(),
    })
}

/// The JSON inside one Kinesis record.
pub fn kinesis_json(data: &[u8]) -> Result<Vec<u8>, String> {
    gunzip(data).map_err(|e| format!("the Kinesis record is not gzip: {e}"))
}

/// A subscription payload read in place: strings borrow from the decompressed JSON wherever
/// they hold no escapes, so an event's text is copied only if the pipeline keeps it (a Kinesis
/// batch is some 40,000 events a second at the vendor's volume).
#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PayloadRef<'a> {
    #[serde(borrow)]
    pub log_group: Cow<'a, str>,
    #[serde(borrow)]
    pub log_stream: Cow<'a, str>,
    #[serde(borrow)]
    pub message_type: Cow<'a, str>,
    #[serde(default, borrow)]
    pub log_events: Vec<EventRef<'a>>,
}

#[derive(Debug, serde::Deserialize)]
pub struct EventRef<'a> {
    #[serde(borrow)]
    pub id: Cow<'a, str>,
    pub timestamp: i64,
    /// As delivered, still borrowed: a REST group's delivered `json` record is unwrapped by
    /// the assembler (`pipeline::parse::delivered`), which copies only what it keeps.
    #[serde(borrow)]
    pub message: Cow<'a, str>,
}

impl EventRef<'_> {
    pub fn into_owned(self) -> LogEvent {
        LogEvent {
            event_id: self.id.into_owned(),
            timestamp: self.timestamp,
            message: self.message.into_owned(),
        }
    }
}

impl<'a> PayloadRef<'a> {
    pub fn parse(json: &'a [u8]) -> Result<Self, String> {
        let mut p: PayloadRef<'a> = serde_json::from_slice(json)
            .map_err(|e| format!("the Kinesis record is not a CloudWatch Logs payload: {e}"))?;
        // As `from_log_data`: time order, equal timestamps in ingestion order.
        if !p
            .log_events
            .windows(2)
            .all(|w| w[0].timestamp <= w[1].timestamp)
        {
            p.log_events.sort_by_key(|e| e.timestamp);
        }
        Ok(p)
    }

    pub fn is_data(&self) -> bool {
        self.message_type == "DATA_MESSAGE"
    }
}

/// One record of an event source mapping batch.
#[derive(Debug)]
pub struct KinesisItem {
    /// `shardId-...` (the prefix of the record's eventID).
    pub shard: String,
    pub stream_arn: String,
    pub sequence_number: String,
    pub data: Vec<u8>,
}

/// The records of a batch, in order.
pub fn kinesis_items(event: KinesisEvent) -> Vec<KinesisItem> {
    event
        .records
        .into_iter()
        .map(|r| KinesisItem {
            shard: r
                .event_id
                .as_deref()
                .and_then(|id| id.split(':').next())
                .unwrap_or("shard")
                .to_string(),
            stream_arn: r.event_source_arn.unwrap_or_default(),
            sequence_number: r.kinesis.sequence_number,
            data: r.kinesis.data.0,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;
    use serde_json::json;

    fn payload() -> serde_json::Value {
        json!({
            "messageType": "DATA_MESSAGE",
            "owner": "123456789012",
            "logGroup": "API-Gateway-Execution-Logs_abc/prod",
            "logStream": "s1",
            "subscriptionFilters": ["cequence-apigw-forwarder"],
            "logEvents": [
                {"id": "2", "timestamp": 6, "message": "(r1) Method completed with status: 200"},
                {"id": "1", "timestamp": 5, "message": "(r1) Starting execution for request: r1"}
            ]
        })
    }

    #[test]
    fn direct_and_kinesis_payloads_decode_the_same() {
        let gz = crate::compress::gzip(payload().to_string().as_bytes());
        let b64 = base64::engine::general_purpose::STANDARD.encode(&gz);
        let direct: LogsEvent =
            serde_json::from_str(&json!({"awslogs": {"data": b64}}).to_string()).unwrap();
        let d = from_logs_event(direct);
        assert_eq!(d.log_group, "API-Gateway-Execution-Logs_abc/prod");
        assert_eq!(d.events[0].event_id, "1", "sorted by time");
        assert!(d.is_data());
        let k = from_kinesis_data(&gz).unwrap();
        assert_eq!(k, d);
        assert_eq!(k.digest(), d.digest());
        assert!(from_kinesis_data(b"plain").is_err());
        let batch: KinesisEvent = serde_json::from_str(
            &json!({"Records": [{
            "kinesis": {"kinesisSchemaVersion": "1.0", "partitionKey": "p", "sequenceNumber": "42",
                        "data": b64, "approximateArrivalTimestamp": 1545084650.987},
            "eventSource": "aws:kinesis", "eventVersion": "1.0",
            "eventID": "shardId-000000000006:42", "eventName": "aws:kinesis:record",
            "invokeIdentityArn": "arn:aws:iam::123456789012:role/x", "awsRegion": "us-east-1",
            "eventSourceARN": "arn:aws:kinesis:us-east-1:123456789012:stream/cequence-push"}]})
            .to_string(),
        )
        .unwrap();
        let items = kinesis_items(batch);
        assert_eq!(items[0].shard, "shardId-000000000006");
        assert_eq!(items[0].sequence_number, "42");
        assert_eq!(from_kinesis_data(&items[0].data).unwrap(), d);
    }

    #[test]
    fn digests_tell_payloads_apart() {
        let gz = crate::compress::gzip(payload().to_string().as_bytes());
        let a = from_kinesis_data(&gz).unwrap();
        let mut b = a.clone();
        b.log_stream = "s2".into();
        assert_ne!(a.digest(), b.digest());
        assert_eq!(a.digest().len(), 32);
    }
}
