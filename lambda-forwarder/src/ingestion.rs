//! Poll or push, per log group: the decisions, apart from the calls that carry them out.
//!
//! Polling costs nothing extra but is bounded by the region's FilterLogEvents quota (25, 10 or
//! 5 requests/s for the whole account); a subscription filter (push) has no such bound but
//! costs an invocation per payload (or a Kinesis stream). `auto` therefore polls while the
//! quota keeps up and pushes the heaviest groups when it does not.
//!
//! A switch has a time `at`. Events before it belong to the channel being left, events from
//! it on to the channel being joined; a request belongs to the channel that saw its first
//! event (see `assemble::Ownership`). No event is read by both.

use crate::config::Ingestion;
use crate::pipeline::assemble::Ownership;
use crate::state::{Channel, Load};

/// Share of the quota's pages per minute that polling may plan to use: the rest absorbs
/// bursts, retries and the groups' sequential paging.
const PLAN_SHARE: f64 = 0.6;
/// Above this share, or when a group keeps falling behind, `auto` pushes.
const PUSH_SHARE: f64 = 0.8;
/// Ticks in a row that stopped before the window end before `auto` pushes.
const BEHIND_TICKS: u32 = 3;
/// After going back to polling, the filter stays this long so that deliveries of events from
/// before the switch (CloudWatch Logs retries for up to 24 hours, usually within minutes)
/// still arrive; past it the filter is removed.
pub const UNSUBSCRIBE_AFTER_MS: i64 = 15 * 60_000;
/// A group refused a filter (no free slot) is not tried again for this long.
pub const RETRY_REFUSED_MS: i64 = 3_600_000;
/// A group whose filter could not be added (an AWS error, not a full group) is tried again
/// after this long.
pub const RETRY_FAILED_MS: i64 = 5 * 60_000;

/// Which requests a poll of this group may take.
pub fn poll_ownership(channel: &Channel) -> Ownership {
    match *channel {
        Channel::Poll => Ownership::All,
        Channel::ToPush { at } | Channel::Push { since: at } => Ownership::StartedBefore(at),
        Channel::ToPoll { at } => Ownership::StartedFrom(at),
    }
}

/// Which requests a push delivery for this group may take; `None` when the state does not
/// know of a subscription yet (the caller must look it up).
pub fn push_ownership(channel: &Channel) -> Option<Ownership> {
    match *channel {
        Channel::Poll => None,
        Channel::ToPush { at } | Channel::Push { since: at } => Some(Ownership::StartedFrom(at)),
        Channel::ToPoll { at } => Some(Ownership::StartedBefore(at)),
    }
}

/// Does this event belong to the channel of `ownership` at all (before looking at requests)?
pub fn event_in_scope(ownership: Ownership, timestamp: i64) -> bool {
    match ownership {
        Ownership::All => true,
        // The leaving channel still finishes requests it has open: decided by the assembler.
        Ownership::StartedBefore(_) => true,
        Ownership::StartedFrom(at) => timestamp >= at,
    }
}

/// The state of one group as the planner sees it.
#[derive(Clone, Debug)]
pub struct GroupView {
    pub name: String,
    pub channel: Channel,
    pub load: Load,
    /// Until when a refused subscription is not retried.
    pub refused_until: Option<i64>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Add our subscription filter, then poll until its creation time.
    Subscribe { group: String, why: String },
    /// Go back to polling from now; the filter goes after `UNSUBSCRIBE_AFTER_MS`.
    ToPoll { group: String },
    /// The switch back is over: remove the filter.
    Unsubscribe { group: String },
}

/// Pages per minute one tick can read: `tps` requests/s for `usable_secs` seconds.
pub fn capacity_pages_per_minute(tps: f64, usable_secs: f64) -> f64 {
    tps * usable_secs.max(1.0)
}

/// What to change, given the mode, the groups and the capacity.
pub fn plan(mode: Ingestion, groups: &[GroupView], capacity: f64, now_ms: i64) -> Vec<Decision> {
    let mut out = Vec::new();
    let may_subscribe = |g: &GroupView| g.refused_until.is_none_or(|t| now_ms >= t);
    for g in groups {
        if let Channel::ToPoll { at } = g.channel {
            if now_ms >= at + UNSUBSCRIBE_AFTER_MS {
                out.push(Decision::Unsubscribe {
                    group: g.name.clone(),
                });
            }
        }
    }
    match mode {
        Ingestion::Push => {
            for g in groups
                .iter()
                .filter(|g| g.channel == Channel::Poll && may_subscribe(g))
            {
                out.push(Decision::Subscribe {
                    group: g.name.clone(),
                    why: "cequence_ingestion=push".into(),
                });
            }
        }
        Ingestion::Poll => {
            for g in groups {
                if matches!(g.channel, Channel::Push { .. }) {
                    out.push(Decision::ToPoll {
                        group: g.name.clone(),
                    });
                }
            }
        }
        Ingestion::Auto => {
            let mut polled: Vec<&GroupView> = groups
                .iter()
                .filter(|g| g.channel == Channel::Poll)
                .collect();
            let demand: f64 = polled.iter().map(|g| g.load.pages_per_minute).sum();
            let behind = polled.iter().any(|g| g.load.behind_ticks >= BEHIND_TICKS);
            if demand <= PUSH_SHARE * capacity && !behind {
                return out;
            }
            polled.sort_by(|a, b| b.load.pages_per_minute.total_cmp(&a.load.pages_per_minute));
            let mut remaining = demand;
            for g in polled {
                let keeps_falling_behind = g.load.behind_ticks >= BEHIND_TICKS;
                if remaining <= PLAN_SHARE * capacity && !keeps_falling_behind {
                    continue;
                }
                if !may_subscribe(g) {
                    continue;
                }
                remaining -= g.load.pages_per_minute;
                out.push(Decision::Subscribe {
                    group: g.name.clone(),
                    why: format!(
                        "polling cannot keep up: {demand:.0} pages a minute needed, {capacity:.0} \
                         readable at the FilterLogEvents quota; this group needs {:.0}",
                        g.load.pages_per_minute
                    ),
                });
            }
        }
    }
    out
}

/// The group's load after a tick read `pages` pages covering `covered_ms` of log time and
/// stopped `lag_ms` before the window end.
pub fn update_load(old: Load, pages: u64, covered_ms: i64, lag_ms: i64, reached_end: bool) -> Load {
    let mut load = old;
    if covered_ms >= 10_000 {
        let rate = pages as f64 * 60_000.0 / covered_ms as f64;
        load.pages_per_minute = if old.pages_per_minute == 0.0 {
            rate
        } else {
            0.5 * old.pages_per_minute + 0.5 * rate
        };
    }
    load.lag_ms = lag_ms.max(0);
    load.behind_ticks = if reached_end { 0 } else { old.behind_ticks + 1 };
    load
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(name: &str, pages: f64, behind: u32) -> GroupView {
        GroupView {
            name: name.into(),
            channel: Channel::Poll,
            load: Load {
                pages_per_minute: pages,
                lag_ms: 0,
                behind_ticks: behind,
            },
            refused_until: None,
        }
    }

    #[test]
    fn auto_polls_while_the_quota_keeps_up() {
        let groups = vec![view("a", 100.0, 0), view("b", 200.0, 0)];
        // 10 req/s for 40 s: 400 pages a minute; 300 needed is under 80%.
        assert!(plan(Ingestion::Auto, &groups, 400.0, 0).is_empty());
    }

    #[test]
    fn auto_pushes_the_heaviest_groups_until_the_rest_fits() {
        let groups = vec![
            view("small", 50.0, 0),
            view("big", 600.0, 0),
            view("mid", 300.0, 0),
        ];
        let d = plan(Ingestion::Auto, &groups, 1_000.0, 0);
        let pushed: Vec<&str> = d
            .iter()
            .filter_map(|d| match d {
                Decision::Subscribe { group, .. } => Some(group.as_str()),
                _ => None,
            })
            .collect();
        // 950 > 800: push "big" (600), leaving 350 <= 600.
        assert_eq!(pushed, vec!["big"]);
    }

    #[test]
    fn a_group_that_keeps_falling_behind_is_pushed_and_refusals_wait() {
        let mut groups = vec![view("slow", 10.0, 3), view("ok", 10.0, 0)];
        let d = plan(Ingestion::Auto, &groups, 1_000.0, 0);
        assert!(matches!(&d[..], [Decision::Subscribe { group, .. }] if group == "slow"));
        groups[0].refused_until = Some(100);
        assert!(plan(Ingestion::Auto, &groups, 1_000.0, 50).is_empty());
        assert_eq!(plan(Ingestion::Auto, &groups, 1_000.0, 100).len(), 1);
    }

    #[test]
    fn explicit_modes_and_the_end_of_a_switch_back() {
        let mut g = view("a", 1.0, 0);
        assert_eq!(
            plan(Ingestion::Push, std::slice::from_ref(&g), 1e9, 0).len(),
            1
        );
        g.channel = Channel::Push { since: 5 };
        assert_eq!(
            plan(Ingestion::Poll, std::slice::from_ref(&g), 1e9, 0),
            vec![Decision::ToPoll { group: "a".into() }]
        );
        g.channel = Channel::ToPoll { at: 1_000 };
        assert!(plan(Ingestion::Poll, std::slice::from_ref(&g), 1e9, 1_000).is_empty());
        assert_eq!(
            plan(
                Ingestion::Poll,
                std::slice::from_ref(&g),
                1e9,
                1_000 + UNSUBSCRIBE_AFTER_MS
            ),
            vec![Decision::Unsubscribe { group: "a".into() }]
        );
    }

    #[test]
    fn ownership_follows_the_channel() {
        assert_eq!(poll_ownership(&Channel::Poll), Ownership::All);
        assert_eq!(
            poll_ownership(&Channel::ToPush { at: 9 }),
            Ownership::StartedBefore(9)
        );
        assert_eq!(
            push_ownership(&Channel::ToPush { at: 9 }),
            Some(Ownership::StartedFrom(9))
        );
        assert_eq!(
            push_ownership(&Channel::ToPoll { at: 9 }),
            Some(Ownership::StartedBefore(9))
        );
        assert_eq!(push_ownership(&Channel::Poll), None);
        assert!(!event_in_scope(Ownership::StartedFrom(9), 8));
        assert!(event_in_scope(Ownership::StartedFrom(9), 9));
    }

    #[test]
    fn load_is_a_moving_average_of_pages_per_minute() {
        let l = update_load(Load::default(), 30, 60_000, 0, true);
        assert_eq!(l.pages_per_minute, 30.0);
        let l = update_load(l, 10, 60_000, 5_000, false);
        assert_eq!(l.pages_per_minute, 20.0);
        assert_eq!((l.lag_ms, l.behind_ticks), (5_000, 1));
        // Too little log time covered to measure: the rate is kept.
        assert_eq!(update_load(l, 99, 1_000, 0, true).pages_per_minute, 20.0);
    }
}
