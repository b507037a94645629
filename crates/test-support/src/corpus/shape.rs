//! The shape of one request: which group, stream and log lines it has and when each line is
//! written. Drawn from the request's own random stream, so it can be drawn again at render
//! time instead of being stored (the corpus keeps only 16 bytes per event).

use crate::rng::Rng;

/// The kinds of log line, in the order API Gateway writes them for one REST request.
/// `HttpAccess` is the one line of an HTTP API access log.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum LineKind {
    ExtendedRequestId,
    VerifyingUsagePlan,
    ApiKeyAuthorized,
    UsagePlanCheck,
    StartingExecution,
    MethodAndPath,
    MethodRequestPath,
    MethodRequestQuery,
    MethodRequestHeaders,
    /// Part 0 is the line with the prefix; parts 1.. are continuation events.
    MethodRequestBody,
    EndpointRequestUri,
    EndpointRequestHeaders,
    EndpointRequestBody,
    SendingRequest,
    ReceivedResponse,
    EndpointResponseHeaders,
    EndpointResponseBody,
    /// Part 0 is the line with the prefix; parts 1.. are continuation events.
    MethodResponseBody,
    MethodResponseHeaders,
    SuccessfullyCompleted,
    MethodCompleted,
    HttpAccess,
}

impl LineKind {
    pub const ALL: [LineKind; 22] = [
        LineKind::ExtendedRequestId,
        LineKind::VerifyingUsagePlan,
        LineKind::ApiKeyAuthorized,
        LineKind::UsagePlanCheck,
        LineKind::StartingExecution,
        LineKind::MethodAndPath,
        LineKind::MethodRequestPath,
        LineKind::MethodRequestQuery,
        LineKind::MethodRequestHeaders,
        LineKind::MethodRequestBody,
        LineKind::EndpointRequestUri,
        LineKind::EndpointRequestHeaders,
        LineKind::EndpointRequestBody,
        LineKind::SendingRequest,
        LineKind::ReceivedResponse,
        LineKind::EndpointResponseHeaders,
        LineKind::EndpointResponseBody,
        LineKind::MethodResponseBody,
        LineKind::MethodResponseHeaders,
        LineKind::SuccessfullyCompleted,
        LineKind::MethodCompleted,
        LineKind::HttpAccess,
    ];

    pub fn from_u8(v: u8) -> LineKind {
        Self::ALL[usize::from(v).min(Self::ALL.len() - 1)]
    }
}

/// Which body (if any) API Gateway cut at 1,024 bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Truncated {
    No,
    RequestBody,
    ResponseBody,
}

/// Everything about a request that decides its events (content is drawn separately).
#[derive(Clone, Debug)]
pub struct Shape {
    pub group: u16,
    pub stream: u16,
    /// Offset of the first event from the corpus start (ms).
    pub start_ms: u32,
    pub method: &'static str,
    pub is_static: bool,
    /// Lines of the method request body (0 = no body).
    pub request_body_lines: u8,
    /// Lines of the method response body (0 = no body).
    pub response_body_lines: u8,
    pub usage_plan_check: bool,
    pub truncated: Truncated,
    pub status: u16,
    pub latency_ms: u32,
    /// `(kind, part, offset from start_ms)` in write order.
    pub lines: Vec<(LineKind, u8, u32)>,
}

/// What shapes are drawn from (a corpus's share parameters).
#[derive(Clone, Debug)]
pub struct ShapeParams {
    pub rest_groups: u16,
    pub http_groups: u16,
    pub http_share: f64,
    pub streams_per_group: Vec<u16>,
    pub duration_ms: u32,
    pub truncated_share: f64,
    pub static_share: f64,
}

/// At most this many events per REST request (what the vendor's logs show: 17–21).
pub const MAX_REST_EVENTS: usize = 21;

/// Integration latency: mostly tens of ms, a long tail to 800 ms.
fn latency(rng: &mut Rng) -> u32 {
    let u = rng.unit().max(1e-12);
    let base = if rng.chance(0.9) {
        -u.ln() * 40.0
    } else {
        150.0 + -u.ln() * 200.0
    };
    5 + (base as u32).min(795)
}

pub fn draw(rng: &mut Rng, p: &ShapeParams) -> Shape {
    let http = p.http_groups > 0 && rng.chance(p.http_share);
    let group = if http {
        p.rest_groups + rng.range(0, u64::from(p.http_groups) - 1) as u16
    } else {
        rng.range(0, u64::from(p.rest_groups.max(1)) - 1) as u16
    };
    let streams = p.streams_per_group[usize::from(group)].max(1);
    let stream = rng.range(0, u64::from(streams) - 1) as u16;
    let is_static = rng.chance(p.static_share);
    let method = if is_static {
        "GET"
    } else {
        *rng.weighted(&[
            (60, "GET"),
            (22, "POST"),
            (8, "PUT"),
            (6, "DELETE"),
            (4, "PATCH"),
        ])
    };
    let has_request_body = matches!(method, "POST" | "PUT" | "PATCH");
    let status = match method {
        _ if rng.chance(0.05) => 404,
        _ if rng.chance(0.04) => 400,
        _ if rng.chance(0.01) => 500,
        "POST" => 201,
        "DELETE" => 204,
        _ => 200,
    };
    let has_response_body = status != 204 && rng.chance(0.9);
    let mut truncated = Truncated::No;
    if !is_static && rng.chance(p.truncated_share) {
        truncated = if has_request_body && (rng.chance(0.5) || !has_response_body) {
            Truncated::RequestBody
        } else if has_response_body {
            Truncated::ResponseBody
        } else {
            Truncated::No
        };
    }
    let mut request_body_lines = if !has_request_body {
        0
    } else if truncated == Truncated::RequestBody || rng.chance(0.5) {
        1
    } else {
        rng.range(2, 3) as u8
    };
    let mut response_body_lines = if !has_response_body {
        0
    } else if truncated == Truncated::ResponseBody || !rng.chance(0.25) {
        1
    } else {
        2
    };
    let mut usage_plan_check = rng.chance(0.3);
    let latency_ms = latency(rng);
    // Keep within the 17–21 events a REST request has in the vendor's logs.
    let count = |req: u8, resp: u8, usage: bool| {
        17 + usize::from(usage)
            + usize::from(req > 0)
            + usize::from(req.saturating_sub(1))
            + if resp > 0 { 1 + usize::from(resp) } else { 0 }
    };
    while count(request_body_lines, response_body_lines, usage_plan_check) > MAX_REST_EVENTS {
        if response_body_lines > 1 {
            response_body_lines -= 1;
        } else if request_body_lines > 1 {
            request_body_lines -= 1;
        } else {
            usage_plan_check = false;
        }
    }
    let mut shape = Shape {
        group,
        stream,
        start_ms: 0,
        method,
        is_static,
        request_body_lines,
        response_body_lines,
        usage_plan_check,
        truncated,
        status,
        latency_ms,
        lines: Vec::new(),
    };
    shape.lines = if http {
        vec![(LineKind::HttpAccess, 0, 0)]
    } else {
        rest_lines(rng, &shape)
    };
    let duration = shape.lines.last().map(|l| l.2).unwrap_or(0) + 1;
    let latest_start = p.duration_ms.saturating_sub(duration + 1).max(1);
    // Never at exactly the corpus start: a window ending there (inclusive) must be empty.
    shape.start_ms = 1 + rng.range(0, u64::from(latest_start - 1)) as u32;
    shape
}

/// The lines written so far and the time of the last one.
struct Lines {
    out: Vec<(LineKind, u8, u32)>,
    t: u32,
}

impl Lines {
    /// The next line, `gap` ms (plus 0–1 ms) after the previous one.
    fn push(&mut self, rng: &mut Rng, kind: LineKind, gap: u32) {
        self.t += gap + rng.range(0, 1) as u32;
        self.out.push((kind, 0, self.t));
    }

    /// A continuation event of the previous line: written in the same millisecond.
    fn part(&mut self, kind: LineKind, part: u8) {
        self.out.push((kind, part, self.t));
    }
}

fn rest_lines(rng: &mut Rng, s: &Shape) -> Vec<(LineKind, u8, u32)> {
    use LineKind::*;
    let mut l = Lines {
        out: Vec::with_capacity(MAX_REST_EVENTS),
        t: 0,
    };
    l.out.push((ExtendedRequestId, 0, 0));
    l.push(rng, VerifyingUsagePlan, 0);
    l.push(rng, ApiKeyAuthorized, 0);
    if s.usage_plan_check {
        l.push(rng, UsagePlanCheck, 0);
    }
    l.push(rng, StartingExecution, 0);
    l.push(rng, MethodAndPath, 0);
    l.push(rng, MethodRequestPath, 0);
    l.push(rng, MethodRequestQuery, 0);
    l.push(rng, MethodRequestHeaders, 0);
    l.push(rng, MethodRequestBody, 0);
    for part in 1..s.request_body_lines {
        l.part(MethodRequestBody, part);
    }
    l.push(rng, EndpointRequestUri, 1);
    l.push(rng, EndpointRequestHeaders, 0);
    if s.request_body_lines > 0 {
        l.push(rng, EndpointRequestBody, 0);
    }
    l.push(rng, SendingRequest, 0);
    l.push(rng, ReceivedResponse, s.latency_ms);
    l.push(rng, EndpointResponseHeaders, 0);
    if s.response_body_lines > 0 {
        l.push(rng, EndpointResponseBody, 0);
        l.push(rng, MethodResponseBody, 0);
        for part in 1..s.response_body_lines {
            l.part(MethodResponseBody, part);
        }
    }
    l.push(rng, MethodResponseHeaders, 0);
    // Also after an integration's 5xx: API Gateway completed its part.
    l.push(rng, SuccessfullyCompleted, 0);
    l.push(rng, MethodCompleted, 0);
    l.out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params() -> ShapeParams {
        ShapeParams {
            rest_groups: 3,
            http_groups: 1,
            http_share: 0.1,
            streams_per_group: vec![4, 4, 4, 2],
            duration_ms: 60_000,
            truncated_share: 0.1,
            static_share: 0.05,
        }
    }

    #[test]
    fn rest_requests_have_17_to_21_events_in_write_order() {
        let p = params();
        let mut counts = std::collections::BTreeMap::new();
        for i in 0..2_000 {
            let s = draw(&mut Rng::derive(9, i), &p);
            assert!(s.start_ms >= 1);
            assert!(s.start_ms + s.lines.last().unwrap().2 < 60_000);
            if s.lines[0].0 == LineKind::HttpAccess {
                assert_eq!(s.lines.len(), 1);
                continue;
            }
            assert!((17..=21).contains(&s.lines.len()), "{}", s.lines.len());
            assert!(s.lines.windows(2).all(|w| w[0].2 <= w[1].2));
            assert_eq!(s.lines.last().unwrap().0, LineKind::MethodCompleted);
            *counts.entry(s.lines.len()).or_insert(0) += 1;
        }
        // Every length of the range occurs.
        assert_eq!(counts.len(), 5, "{counts:?}");
    }
}
