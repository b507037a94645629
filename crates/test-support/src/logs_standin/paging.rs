//! Which events one FilterLogEvents call returns: the pure core of the stand-in.
//!
//! As the real API: `startTime` and `endTime` are inclusive; events come sorted by timestamp
//! (then ingestion time, then a stable tiebreak — the corpus's order); a page holds at most
//! `limit` (≤ 10,000) events or 1 MB of messages, whichever comes first; only events already
//! ingested are seen; and a page may be cut short (even empty) while a `nextToken` remains,
//! because the service scans a bounded amount per call.

use crate::corpus::{Corpus, Event};

/// What limits one page.
#[derive(Clone, Copy, Debug)]
pub struct PageLimits {
    pub max_events: usize,
    pub max_bytes: usize,
    /// Events looked at per call, visible or not.
    pub max_scan: usize,
}

impl Default for PageLimits {
    fn default() -> Self {
        Self {
            max_events: 10_000,
            max_bytes: 1024 * 1024,
            max_scan: 100_000,
        }
    }
}

/// One page: indices into the group's events, and where the next page starts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Page {
    pub events: Vec<usize>,
    pub bytes: usize,
    pub next: Option<usize>,
}

/// When an event became visible, given the release time of every hold (`None`: still held).
pub fn ingested_at(corpus: &Corpus, e: &Event, releases: &[Option<i64>]) -> Option<i64> {
    let own = corpus.ingestion_time(e);
    match e.hold {
        0 => Some(own),
        h => releases
            .get(usize::from(h))
            .copied()
            .flatten()
            .map(|t| t.max(own)),
    }
}

/// The page of `group` for `[start, end]` (inclusive, ms) beginning at `from` (a token's
/// position, or `None` for the first page), as seen at `now`. `message_len` gives each
/// event's message size (rendering is the caller's).
#[allow(clippy::too_many_arguments)]
pub fn page(
    corpus: &Corpus,
    group: usize,
    start: i64,
    end: i64,
    from: Option<usize>,
    limit: usize,
    limits: PageLimits,
    now: i64,
    releases: &[Option<i64>],
    mut message_len: impl FnMut(usize) -> usize,
) -> Page {
    let list = &corpus.events[group];
    let base = corpus.spec.start_ms;
    let off = |t: i64| (t - base).clamp(-1, i64::from(u32::MAX));
    let lo = if off(start) < 0 {
        0
    } else {
        list.partition_point(|e| i64::from(e.ts_off) < off(start))
    };
    let hi = if off(end) < 0 {
        0
    } else {
        list.partition_point(|e| i64::from(e.ts_off) <= off(end))
    };
    let mut i = from.unwrap_or(lo).max(lo);
    let max_events = limit.clamp(1, limits.max_events);
    let mut out = Vec::new();
    let mut bytes = 0;
    let mut scanned = 0;
    while i < hi {
        if scanned == limits.max_scan {
            break;
        }
        scanned += 1;
        let e = &list[i];
        if ingested_at(corpus, e, releases).is_some_and(|t| t <= now) {
            let len = message_len(i);
            if !out.is_empty() && (out.len() == max_events || bytes + len > limits.max_bytes) {
                break;
            }
            bytes += len;
            out.push(i);
        }
        i += 1;
    }
    Page {
        events: out,
        bytes,
        next: (i < hi).then_some(i),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::corpus::CorpusSpec;

    fn corpus() -> Corpus {
        Corpus::build(CorpusSpec::small(600, 1, 0, 3, 1_000_000, 10_000))
    }

    fn all_pages(c: &Corpus, start: i64, end: i64, limits: PageLimits, now: i64) -> Vec<Page> {
        let mut pages = Vec::new();
        let mut from = None;
        loop {
            let p = page(c, 0, start, end, from, 10_000, limits, now, &[], |_| 100);
            from = p.next;
            pages.push(p);
            if from.is_none() {
                return pages;
            }
        }
    }

    #[test]
    fn start_and_end_are_inclusive_and_pages_respect_both_limits() {
        let c = corpus();
        let list = &c.events[0];
        let t = c.timestamp(&list[100]);
        let limits = PageLimits {
            max_events: 50,
            max_bytes: 3_000,
            max_scan: 100_000,
        };
        let pages = all_pages(&c, t, t + 2_000, limits, i64::MAX);
        let got: Vec<usize> = pages.iter().flat_map(|p| p.events.clone()).collect();
        let want: Vec<usize> = (0..list.len())
            .filter(|&i| (t..=t + 2_000).contains(&c.timestamp(&list[i])))
            .collect();
        assert_eq!(got, want);
        assert!(pages
            .iter()
            .all(|p| p.events.len() <= 30 && p.bytes <= 3_000));
    }

    #[test]
    fn unseen_events_are_skipped_and_a_page_can_be_empty_with_a_token() {
        let c = corpus();
        let list = &c.events[0];
        let cutoff = c.ingestion_time(&list[list.len() / 2]);
        let pages = all_pages(&c, 0, i64::MAX, PageLimits::default(), cutoff);
        let got: usize = pages.iter().map(|p| p.events.len()).sum();
        let visible = list
            .iter()
            .filter(|e| c.ingestion_time(e) <= cutoff)
            .count();
        assert_eq!(got, visible);
        let limits = PageLimits {
            max_scan: 10,
            ..PageLimits::default()
        };
        let p = page(&c, 0, 0, i64::MAX, None, 10_000, limits, 0, &[], |_| 1);
        assert!(p.events.is_empty() && p.next == Some(10));
    }

    #[test]
    fn held_events_appear_once_released() {
        let mut c = corpus();
        let held = c.hold(3, |r, _| r.start_off < 5_000);
        assert!(held > 0);
        let n = c.events[0].len();
        let mut releases = vec![None; 4];
        let limits = PageLimits {
            max_events: usize::MAX,
            max_bytes: usize::MAX,
            max_scan: usize::MAX,
        };
        let all = usize::MAX;
        let p = page(
            &c,
            0,
            0,
            i64::MAX,
            None,
            all,
            limits,
            i64::MAX,
            &releases,
            |_| 1,
        );
        assert_eq!(p.events.len(), n - held);
        releases[3] = Some(5);
        let p = page(
            &c,
            0,
            0,
            i64::MAX,
            None,
            all,
            limits,
            i64::MAX,
            &releases,
            |_| 1,
        );
        assert_eq!(p.events.len(), n);
    }
}
