//! The corpus as CloudWatch Logs delivers it to a subscription: one log stream per payload,
//! the events of about a second, gzip'd JSON (`messageType`, `owner`, `logGroup`, `logStream`,
//! `subscriptionFilters`, `logEvents[id, timestamp, message]`) — base64'd in `awslogs.data`
//! for a Lambda destination, or as Kinesis records (one payload per record) read by an event
//! source mapping. Holds (late ingestion) only apply to the FilterLogEvents stand-in.

use std::collections::BTreeMap;
use std::io::Write;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde::Serialize;

use super::Corpus;

/// The subscription filter name the forwarder creates (contract.md).
pub const SUBSCRIPTION_FILTER_NAME: &str = "cequence-apigw-forwarder";
/// Event source mapping limits: records and bytes of one batch.
pub const KINESIS_BATCH_RECORDS: usize = 10_000;
pub const KINESIS_BATCH_BYTES: usize = 6 * 1024 * 1024;
pub const KINESIS_STREAM_ARN: &str = "arn:aws:kinesis:us-east-1:123456789012:stream/cequence-push";

/// The events (indices into the group's list) of one payload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Payload {
    pub group: usize,
    pub stream: u16,
    /// Window number (window_ms each) from the corpus start.
    pub window: u32,
    pub events: Vec<usize>,
}

/// Payloads in delivery order: window by window, then group, then stream.
pub fn payloads(corpus: &Corpus, window_ms: u32) -> impl Iterator<Item = Payload> + '_ {
    let windows = corpus.spec.duration_ms.div_ceil(window_ms.max(1));
    (0..windows).flat_map(move |w| {
        let lo = w * window_ms;
        let hi = lo + window_ms;
        (0..corpus.groups.len()).flat_map(move |g| {
            let list = &corpus.events[g];
            let a = list.partition_point(|e| e.ts_off < lo);
            let b = list.partition_point(|e| e.ts_off < hi);
            let mut by_stream: BTreeMap<u16, Vec<usize>> = BTreeMap::new();
            for (i, e) in list.iter().enumerate().take(b).skip(a) {
                by_stream.entry(e.stream).or_default().push(i);
            }
            by_stream.into_iter().map(move |(stream, events)| Payload {
                group: g,
                stream,
                window: w,
                events,
            })
        })
    })
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Wire<'a> {
    message_type: &'a str,
    owner: &'a str,
    log_group: &'a str,
    log_stream: &'a str,
    subscription_filters: [&'a str; 1],
    log_events: Vec<WireEvent<'a>>,
}

#[derive(Serialize)]
struct WireEvent<'a> {
    id: String,
    timestamp: i64,
    message: &'a str,
}

/// The payload's JSON (before gzip).
pub fn payload_json(corpus: &Corpus, p: &Payload) -> Vec<u8> {
    let mut r = corpus.renderer();
    // Render first (the renderer borrows mutably), then borrow the texts.
    let messages: Vec<String> = p
        .events
        .iter()
        .map(|&i| r.message(p.group, &corpus.events[p.group][i]).to_string())
        .collect();
    let group = &corpus.groups[p.group];
    let wire = Wire {
        message_type: "DATA_MESSAGE",
        owner: &corpus.spec.account_id,
        log_group: &group.name,
        log_stream: &group.streams[usize::from(p.stream)],
        subscription_filters: [SUBSCRIPTION_FILTER_NAME],
        log_events: p
            .events
            .iter()
            .zip(&messages)
            .map(|(&i, m)| WireEvent {
                id: corpus.event_id(p.group, i),
                timestamp: corpus.timestamp(&corpus.events[p.group][i]),
                message: m,
            })
            .collect(),
    };
    serde_json::to_vec(&wire).unwrap_or_default()
}

pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let _ = enc.write_all(bytes);
    enc.finish().unwrap_or_default()
}

/// The invocation event of a Lambda destination: `{"awslogs":{"data":base64(gzip)}}`.
pub fn awslogs_event(gzipped: &[u8]) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({"awslogs": {"data": STANDARD.encode(gzipped)}}))
        .unwrap_or_default()
}

/// The message CloudWatch Logs sends when a subscription is created (checks the destination).
pub fn control_message(corpus: &Corpus) -> Vec<u8> {
    let json = serde_json::json!({
        "messageType": "CONTROL_MESSAGE",
        "owner": "CloudwatchLogs",
        "logGroup": "",
        "logStream": "",
        "subscriptionFilters": [],
        "logEvents": [{
            "id": "",
            "timestamp": corpus.spec.start_ms,
            "message": "CWL CONTROL MESSAGE: Checking health of destination Lambda."
        }]
    });
    gzip(json.to_string().as_bytes())
}

/// The shard a log stream's payloads always go to (distribution ByLogStream).
pub fn shard_of(corpus: &Corpus, p: &Payload, shards: usize) -> usize {
    let group = &corpus.groups[p.group];
    let key = format!("{}/{}", group.name, group.streams[usize::from(p.stream)]);
    let h = key.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    (h % shards.max(1) as u64) as usize
}

/// One Kinesis record of an event source mapping batch (contract.md's shape).
pub fn kinesis_record(
    shard: usize,
    sequence: u64,
    partition_key: &str,
    gzipped: &[u8],
    arrival_ms: i64,
) -> (String, String) {
    let seq = format!("49{shard:02}{sequence:052}");
    let record = serde_json::json!({
        "kinesis": {
            "kinesisSchemaVersion": "1.0",
            "partitionKey": partition_key,
            "sequenceNumber": seq,
            "data": STANDARD.encode(gzipped),
            "approximateArrivalTimestamp": arrival_ms as f64 / 1000.0,
        },
        "eventSource": "aws:kinesis",
        "eventVersion": "1.0",
        "eventID": format!("shardId-{shard:012}:{seq}"),
        "eventName": "aws:kinesis:record",
        "invokeIdentityArn": "arn:aws:iam::123456789012:role/cequence-forwarder",
        "awsRegion": "us-east-1",
        "eventSourceARN": KINESIS_STREAM_ARN,
    });
    (seq, record.to_string())
}

/// Groups a shard's records into event source mapping batches (≤ 10,000 records, ≤ 6 MB).
#[derive(Default)]
pub struct BatchBuilder {
    records: Vec<(String, String)>,
    bytes: usize,
}

impl BatchBuilder {
    /// Add a record; returns a full batch when this record would not fit in the current one.
    pub fn push(&mut self, record: (String, String)) -> Option<Vec<(String, String)>> {
        let len = record.1.len() + 1;
        let full = !self.records.is_empty()
            && (self.records.len() == KINESIS_BATCH_RECORDS
                || self.bytes + len > KINESIS_BATCH_BYTES - 64);
        let out = full.then(|| {
            self.bytes = 0;
            std::mem::take(&mut self.records)
        });
        self.bytes += len;
        self.records.push(record);
        out
    }

    pub fn finish(&mut self) -> Option<Vec<(String, String)>> {
        self.bytes = 0;
        (!self.records.is_empty()).then(|| std::mem::take(&mut self.records))
    }
}

/// `{"Records":[...]}` from record texts.
pub fn kinesis_event<'a>(records: impl Iterator<Item = &'a str>) -> Vec<u8> {
    let mut out = b"{\"Records\":[".to_vec();
    for (i, r) in records.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(r.as_bytes());
    }
    out.extend_from_slice(b"]}");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::corpus::CorpusSpec;
    use std::io::Read;

    #[test]
    fn payloads_cover_every_event_once_one_stream_each() {
        let c = Corpus::build(CorpusSpec::small(400, 2, 1, 5, 1_700_000_000_000, 10_000));
        let all: Vec<Payload> = payloads(&c, 1_000).collect();
        let total: usize = all.iter().map(|p| p.events.len()).sum();
        assert_eq!(total, c.event_count());
        for p in &all {
            let list = &c.events[p.group];
            assert!(p.events.iter().all(|&i| list[i].stream == p.stream));
        }
        // The payload decodes to the documented shape.
        let json = payload_json(&c, &all[0]);
        let v: serde_json::Value = serde_json::from_slice(&json).unwrap();
        assert_eq!(v["messageType"], "DATA_MESSAGE");
        assert_eq!(
            v["logEvents"].as_array().unwrap().len(),
            all[0].events.len()
        );
        let mut back = String::new();
        flate2::read::GzDecoder::new(gzip(&json).as_slice())
            .read_to_string(&mut back)
            .unwrap();
        assert_eq!(back.as_bytes(), json.as_slice());
    }

    #[test]
    fn batches_stay_within_the_mapping_limits() {
        let mut b = BatchBuilder::default();
        let big = "x".repeat(1024 * 1024);
        let mut batches = Vec::new();
        for i in 0..13 {
            if let Some(full) = b.push((i.to_string(), big.clone())) {
                batches.push(full);
            }
        }
        batches.extend(b.finish());
        assert!(batches.iter().all(|x| x.len() <= 5));
        assert_eq!(batches.iter().map(Vec::len).sum::<usize>(), 13);
    }
}
