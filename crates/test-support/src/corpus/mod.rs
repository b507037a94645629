//! A computed, seeded corpus of API Gateway logs in the shape of the vendor's published minute
//! (shared/seeds, "Example Lambda statistics"): 25 log groups, 223,500 requests in one minute,
//! 17–21 REST execution-log events per request, concurrent requests interleaved.
//!
//! Model (docs/benchmark.md has the numbers):
//! * requests start uniformly in `[start, start + duration)` and end inside it (integration
//!   latency 5–800 ms, long tail); REST groups get all but `http_share` of them;
//! * each group has `ceil(requests per group per second / requests_per_payload)` log streams
//!   (API Gateway writes one stream per worker): with the default 4, a subscription payload
//!   (one stream, ~1 s of events) carries about 4 requests;
//! * ingestion delay is drawn per (stream, second), as a worker ships its buffer at once, so
//!   the events of one request keep their write order;
//! * events are kept compact (16 bytes) and their text is rendered on demand from the
//!   request's own random stream (`shape` decides the lines, `content` their text).

pub mod content;
pub mod payloads;
pub mod shape;

use std::collections::HashMap;

use crate::rng::Rng;
use content::Served;
use shape::{LineKind, Shape, ShapeParams};

/// The vendor's minute: requests at scale 1.
pub const VENDOR_REQUESTS: usize = 223_500;
pub const VENDOR_GROUPS: u16 = 25;

const SHAPE_SALT: u64 = 0x5348_4150_4500_0000;
const CONTENT_SALT: u64 = 0x434f_4e54_0000_0000;
const ID_SALT: u64 = 0x4944_0000_0000_0000;

#[derive(Clone, Debug)]
pub struct CorpusSpec {
    pub seed: u64,
    /// Epoch ms of the corpus start (`M`); no event is at exactly `start_ms`.
    pub start_ms: i64,
    pub duration_ms: u32,
    pub requests: usize,
    pub rest_groups: u16,
    pub http_groups: u16,
    /// Share of requests served by the HTTP API groups.
    pub http_share: f64,
    /// Sizes the stream count (see the module doc).
    pub requests_per_payload: f64,
    pub truncated_share: f64,
    pub static_share: f64,
    /// Ingestion delay range per (stream, second), ms.
    pub ingestion_delay_ms: (u16, u16),
    pub region: String,
    pub account_id: String,
}

impl CorpusSpec {
    /// The vendor's minute times `scale` (0.1, 1, 10): same 25 groups, requests scaled.
    pub fn vendor(scale: f64, seed: u64, start_ms: i64) -> Self {
        Self {
            seed,
            start_ms,
            duration_ms: 60_000,
            requests: (VENDOR_REQUESTS as f64 * scale).round() as usize,
            rest_groups: VENDOR_GROUPS - 2,
            http_groups: 2,
            http_share: 0.02,
            requests_per_payload: 4.0,
            truncated_share: 0.10,
            static_share: 0.05,
            ingestion_delay_ms: (100, 1_500),
            region: "us-east-1".into(),
            account_id: "123456789012".into(),
        }
    }

    /// A small corpus for tests: `requests` over `duration_ms` in `rest_groups` REST groups
    /// (plus `http_groups` HTTP groups at 10%).
    pub fn small(
        requests: usize,
        rest_groups: u16,
        http_groups: u16,
        seed: u64,
        start_ms: i64,
        duration_ms: u32,
    ) -> Self {
        Self {
            duration_ms,
            requests,
            rest_groups,
            http_groups,
            http_share: if http_groups > 0 { 0.1 } else { 0.0 },
            ..Self::vendor(1.0, seed, start_ms)
        }
    }

    pub fn groups(&self) -> u16 {
        self.rest_groups + self.http_groups
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GroupKind {
    RestExecution,
    HttpAccess,
}

#[derive(Clone, Debug)]
pub struct GroupInfo {
    pub name: String,
    pub kind: GroupKind,
    pub api_id: String,
    pub stage: String,
    pub streams: Vec<String>,
}

/// One log event, compact: its text is rendered from the request on demand.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Event {
    /// ms after the corpus start.
    pub ts_off: u32,
    pub request: u32,
    /// Ingestion delay after the timestamp, ms.
    pub delay_ms: u16,
    pub stream: u16,
    /// Index into the request's lines.
    pub line: u8,
    /// 0, or the hold that keeps the event unseen until released (late ingestion).
    pub hold: u8,
}

#[derive(Clone, Copy, Debug)]
pub struct RequestInfo {
    pub start_off: u32,
    pub group: u16,
    pub stream: u16,
    pub events: u8,
    pub is_static: bool,
}

pub struct Corpus {
    pub spec: CorpusSpec,
    pub groups: Vec<GroupInfo>,
    /// Per group, sorted as FilterLogEvents returns them: timestamp, ingestion time, then
    /// write order.
    pub events: Vec<Vec<Event>>,
    pub requests: Vec<RequestInfo>,
    params: ShapeParams,
}

impl Corpus {
    pub fn build(spec: CorpusSpec) -> Self {
        let mut seed_rng = Rng::derive(spec.seed, 0x4752_4f55_5053);
        let n_groups = spec.groups();
        let per_group_per_sec = spec.requests as f64 / f64::from(spec.duration_ms.max(1)) * 1000.0
            / f64::from(n_groups.max(1));
        let streams_per_group: Vec<u16> = (0..n_groups)
            .map(|g| {
                let share = if g < spec.rest_groups {
                    (1.0 - spec.http_share) * f64::from(n_groups) / f64::from(spec.rest_groups)
                } else {
                    spec.http_share * f64::from(n_groups) / f64::from(spec.http_groups.max(1))
                };
                ((per_group_per_sec * share / spec.requests_per_payload).ceil() as u16).max(1)
            })
            .collect();
        let stages = ["prod", "v1", "live", "staging", "dev"];
        let groups: Vec<GroupInfo> = (0..n_groups)
            .map(|g| {
                let api_id: String = seed_rng.hex(10);
                let stage = stages[usize::from(g) % stages.len()].to_string();
                let kind = if g < spec.rest_groups {
                    GroupKind::RestExecution
                } else {
                    GroupKind::HttpAccess
                };
                let name = match kind {
                    GroupKind::RestExecution => {
                        format!("API-Gateway-Execution-Logs_{api_id}/{stage}")
                    }
                    GroupKind::HttpAccess => format!("/aws/apigateway/cequence/{api_id}/{stage}"),
                };
                let streams = (0..streams_per_group[usize::from(g)])
                    .map(|_| seed_rng.hex(32))
                    .collect();
                GroupInfo {
                    name,
                    kind,
                    api_id,
                    stage,
                    streams,
                }
            })
            .collect();
        let params = ShapeParams {
            rest_groups: spec.rest_groups,
            http_groups: spec.http_groups,
            http_share: spec.http_share,
            streams_per_group,
            duration_ms: spec.duration_ms,
            truncated_share: spec.truncated_share,
            static_share: spec.static_share,
        };
        let expected_per_group = spec.requests * 20 / usize::from(n_groups.max(1)) + 16;
        let mut events: Vec<Vec<Event>> = (0..n_groups)
            .map(|_| Vec::with_capacity(expected_per_group))
            .collect();
        let mut requests = Vec::with_capacity(spec.requests);
        for i in 0..spec.requests {
            let s = shape::draw(&mut Rng::derive(spec.seed ^ SHAPE_SALT, i as u64), &params);
            let list = &mut events[usize::from(s.group)];
            for (line, (_, _, off)) in s.lines.iter().enumerate() {
                let ts_off = s.start_ms + off;
                list.push(Event {
                    ts_off,
                    request: i as u32,
                    delay_ms: ingestion_delay(&spec, s.group, s.stream, ts_off / 1000),
                    stream: s.stream,
                    line: line as u8,
                    hold: 0,
                });
            }
            requests.push(RequestInfo {
                start_off: s.start_ms,
                group: s.group,
                stream: s.stream,
                events: s.lines.len() as u8,
                is_static: s.is_static,
            });
        }
        for list in &mut events {
            list.sort_unstable_by_key(|e| {
                (
                    e.ts_off,
                    u64::from(e.ts_off) + u64::from(e.delay_ms),
                    e.request,
                    e.line,
                )
            });
        }
        Self {
            spec,
            groups,
            events,
            requests,
            params,
        }
    }

    pub fn group_index(&self, name: &str) -> Option<usize> {
        self.groups.iter().position(|g| g.name == name)
    }

    pub fn event_count(&self) -> usize {
        self.events.iter().map(Vec::len).sum()
    }

    /// Epoch ms of an event.
    pub fn timestamp(&self, e: &Event) -> i64 {
        self.spec.start_ms + i64::from(e.ts_off)
    }

    /// When CloudWatch has ingested an event (holds aside).
    pub fn ingestion_time(&self, e: &Event) -> i64 {
        self.timestamp(e) + i64::from(e.delay_ms)
    }

    /// The CloudWatch event id: 56 digits that sort like the events (timestamp first), as
    /// real ids do.
    pub fn event_id(&self, group: usize, index: usize) -> String {
        let e = &self.events[group][index];
        format!("{:020}{:04}{:032}", self.timestamp(e), group, index)
    }

    pub fn stream_name(&self, group: usize, e: &Event) -> &str {
        &self.groups[group].streams[usize::from(e.stream)]
    }

    /// The request's transaction id (its API Gateway request id).
    pub fn transaction_id(&self, request: usize) -> String {
        let mut rng = Rng::derive(self.spec.seed ^ ID_SALT, request as u64);
        match self.groups[usize::from(self.requests[request].group)].kind {
            GroupKind::RestExecution => rng.uuid(),
            GroupKind::HttpAccess => content::http_request_id(&mut rng),
        }
    }

    /// Transaction ids the edge must receive: every request that is not a static file.
    pub fn expected_ids(&self) -> Vec<String> {
        (0..self.requests.len())
            .filter(|&i| !self.requests[i].is_static)
            .map(|i| self.transaction_id(i))
            .collect()
    }

    /// Log group names, for `CEQUENCE_LOG_GROUPS`.
    pub fn group_names(&self) -> Vec<String> {
        self.groups.iter().map(|g| g.name.clone()).collect()
    }

    /// The shape of a request (its lines, times, status): drawn again from its seed.
    pub fn shape(&self, request: usize) -> Shape {
        let mut rng = Rng::derive(self.spec.seed ^ SHAPE_SALT, request as u64);
        shape::draw(&mut rng, &self.params)
    }

    /// Whether the request's events fall in more than one `window_ms` window (so a
    /// subscription delivers it in two payloads).
    pub fn spans_windows(&self, request: usize, window_ms: u32) -> bool {
        let s = self.shape(request);
        let first = s.start_ms / window_ms.max(1);
        let last = (s.start_ms + s.lines.last().map_or(0, |l| l.2)) / window_ms.max(1);
        first != last
    }

    /// Every message of one request, in line order.
    pub fn request_messages(&self, request: usize) -> Vec<String> {
        let shape = self.shape(request);
        let group = &self.groups[usize::from(shape.group)];
        let served = Served {
            api_id: &group.api_id,
            stage: &group.stage,
            region: &self.spec.region,
            account_id: &self.spec.account_id,
        };
        let id = self.transaction_id(request);
        let start = self.spec.start_ms + i64::from(shape.start_ms);
        let mut rng = Rng::derive(self.spec.seed ^ CONTENT_SALT, request as u64);
        match group.kind {
            GroupKind::HttpAccess => {
                vec![content::http_access_text(
                    &mut rng, &shape, &served, &id, start,
                )]
            }
            GroupKind::RestExecution => content::rest_texts(&mut rng, &shape, &served, &id, start)
                .into_iter()
                .map(|t| format!("({id}) {t}"))
                .collect(),
        }
    }

    /// The line kind of an event (what `shape` decided for that line).
    pub fn line_kind(&self, e: &Event) -> LineKind {
        self.shape(e.request as usize).lines[usize::from(e.line)].0
    }

    /// Mark events as held by `hold` (1..=255) — unseen by FilterLogEvents and left out of
    /// subscription payloads until the stand-in releases that hold: late ingestion.
    pub fn hold(&mut self, hold: u8, pick: impl Fn(&RequestInfo, u8) -> bool) -> usize {
        let mut n = 0;
        for list in &mut self.events {
            for e in list.iter_mut() {
                if pick(&self.requests[e.request as usize], e.line) {
                    e.hold = hold;
                    n += 1;
                }
            }
        }
        n
    }

    /// A renderer that keeps each request's texts while a page or payload is built.
    pub fn renderer(&self) -> Renderer<'_> {
        Renderer {
            corpus: self,
            cache: HashMap::new(),
        }
    }

    /// Sum of message bytes and the FilterLogEvents page count of reading every group whole
    /// (10,000 events or 1 MB a page), without holds. For the docs and sanity checks.
    pub fn page_estimate(&self, max_events: usize, max_bytes: usize) -> (u64, usize) {
        let mut bytes = 0u64;
        let mut pages = 0;
        for (g, list) in self.events.iter().enumerate() {
            let mut r = self.renderer();
            let (mut n, mut b) = (0usize, 0usize);
            for e in list {
                let len = r.message(g, e).len();
                bytes += len as u64;
                if n > 0 && (n == max_events || b + len > max_bytes) {
                    pages += 1;
                    n = 0;
                    b = 0;
                    r.clear();
                }
                n += 1;
                b += len;
            }
            pages += 1;
        }
        (bytes, pages)
    }
}

/// Renders event messages, generating each request's texts once while it is cached.
pub struct Renderer<'a> {
    corpus: &'a Corpus,
    cache: HashMap<u32, Vec<String>>,
}

impl Renderer<'_> {
    pub fn message(&mut self, _group: usize, e: &Event) -> &str {
        let corpus = self.corpus;
        let texts = self
            .cache
            .entry(e.request)
            .or_insert_with(|| corpus.request_messages(e.request as usize));
        texts.get(usize::from(e.line)).map_or("", String::as_str)
    }

    /// Forget cached requests (call between pages to bound memory).
    pub fn clear(&mut self) {
        self.cache.clear();
    }
}

fn ingestion_delay(spec: &CorpusSpec, group: u16, stream: u16, second: u32) -> u16 {
    let key = (u64::from(group) << 48) | (u64::from(stream) << 32) | u64::from(second);
    let (lo, hi) = spec.ingestion_delay_ms;
    Rng::derive(spec.seed ^ 0x494e_4745_5354, key).range(u64::from(lo), u64::from(hi)) as u16
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> Corpus {
        Corpus::build(CorpusSpec::small(300, 2, 1, 11, 1_700_000_000_000, 20_000))
    }

    #[test]
    fn the_same_seed_builds_the_same_corpus() {
        let a = small();
        let b = small();
        assert_eq!(a.events, b.events);
        assert_eq!(a.expected_ids(), b.expected_ids());
        assert_eq!(a.request_messages(5), b.request_messages(5));
    }

    #[test]
    fn events_are_sorted_and_requests_interleave() {
        let c = small();
        for (g, list) in c.events.iter().enumerate() {
            assert!(list.windows(2).all(|w| w[0].ts_off <= w[1].ts_off));
            let ids: Vec<String> = (0..list.len()).map(|i| c.event_id(g, i)).collect();
            assert!(ids.windows(2).all(|w| w[0] < w[1]), "ids sort like events");
            assert!(ids.iter().all(|id| id.len() == 56));
        }
        // Some request's events are interrupted by another request's.
        let rest = &c.events[0];
        let interleaved = rest
            .windows(3)
            .any(|w| w[0].request == w[2].request && w[1].request != w[0].request);
        assert!(interleaved);
    }

    #[test]
    fn messages_parse_as_the_forwarder_expects() {
        let c = small();
        let mut r = c.renderer();
        let mut truncated = 0;
        let mut continuation = 0;
        for (g, list) in c.events.iter().enumerate() {
            for e in list {
                let m = r.message(g, e).to_string();
                match c.groups[g].kind {
                    GroupKind::RestExecution => {
                        assert!(m.starts_with('('), "{m}");
                        let text = &m[m.find(") ").unwrap() + 2..];
                        if text.ends_with(" [TRUNCATED]") {
                            assert_eq!(text.len(), 1024 + 12);
                            truncated += 1;
                        }
                        if text.starts_with('"') {
                            continuation += 1;
                        }
                        assert!(text.len() <= 1036);
                    }
                    GroupKind::HttpAccess => {
                        let v: serde_json::Value = serde_json::from_str(&m).unwrap();
                        assert!(v["requestId"].is_string());
                    }
                }
            }
        }
        assert!(truncated > 0 && continuation > 0);
        let expected = c.expected_ids();
        let statics = c.requests.iter().filter(|r| r.is_static).count();
        assert_eq!(expected.len() + statics, c.requests.len());
        let unique: std::collections::HashSet<_> = expected.iter().collect();
        assert_eq!(unique.len(), expected.len());
    }

    #[test]
    fn holds_mark_the_picked_events() {
        let mut c = small();
        let n = c.hold(1, |r, _| r.start_off > 19_000);
        assert!(n > 0);
        let held = c.events.iter().flatten().filter(|e| e.hold == 1).count();
        assert_eq!(held, n);
    }
}
