//! Answers the fake Edge can be told to give instead of accepting a post: outages (5xx, 429,
//! a hang that ends in 504), a redirect, or a content refusal (a 4xx for posts that contain a
//! given transaction or are larger than a size). Each rule holds for a number of posts or
//! until a time, and can be cleared at run time.

use std::time::{Duration, Instant};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Answer {
    /// This status with a JSON error body (429 also carries `Retry-After: 1`).
    Status(u16),
    /// `302 Found` to `Location` (a load balancer sending the client elsewhere).
    Redirect(String),
    /// Hold the post while the rule lasts, then answer 504 without having processed it: a
    /// gateway whose backend never saw the request. A client with a shorter timeout sees a
    /// timeout.
    Hang,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum When {
    /// Every post (checked before authentication, as infrastructure in front would).
    Always,
    /// Posts whose decoded body is larger than this many bytes.
    BodyOver(usize),
    /// Posts holding a transaction with this `transaction-id` (a "poison" transaction).
    Contains(String),
}

#[derive(Clone, Debug)]
pub struct Fault {
    pub answer: Answer,
    pub when: When,
    /// Posts it still applies to (`None` = no count limit).
    pub remaining: Option<u32>,
    /// It stops applying at this instant (`None` = until cleared).
    pub until: Option<Instant>,
}

impl Fault {
    /// `answer` for every post, `count` times.
    pub fn times(answer: Answer, count: u32) -> Self {
        Self {
            answer,
            when: When::Always,
            remaining: Some(count),
            until: None,
        }
    }

    /// `answer` for every post during `window` from now.
    pub fn for_window(answer: Answer, window: Duration) -> Self {
        Self {
            answer,
            when: When::Always,
            remaining: None,
            until: Some(Instant::now() + window),
        }
    }

    /// `answer` for every post that matches `when`, until cleared.
    pub fn when(answer: Answer, when: When) -> Self {
        Self {
            answer,
            when,
            remaining: None,
            until: None,
        }
    }

    pub fn active(&self, now: Instant) -> bool {
        self.remaining != Some(0) && self.until.is_none_or(|u| now < u)
    }
}

/// What the post looks like, for matching content rules.
pub struct PostView<'a> {
    pub body_len: usize,
    pub ids: &'a [String],
}

/// The first active rule matching a post (infrastructure rules when `view` is `None`);
/// consumes one of its count.
pub fn take(faults: &mut [Fault], view: Option<&PostView<'_>>, now: Instant) -> Option<Answer> {
    let hit = faults.iter_mut().find(|f| {
        f.active(now)
            && match (&f.when, view) {
                (When::Always, None) => true,
                (When::BodyOver(n), Some(v)) => v.body_len > *n,
                (When::Contains(id), Some(v)) => v.ids.iter().any(|i| i == id),
                _ => false,
            }
    })?;
    if let Some(n) = hit.remaining.as_mut() {
        *n -= 1;
    }
    Some(hit.answer.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_apply_by_count_window_and_content() {
        let now = Instant::now();
        let mut f = vec![
            Fault::times(Answer::Status(503), 2),
            Fault::when(Answer::Status(422), When::Contains("poison".into())),
        ];
        assert_eq!(take(&mut f, None, now), Some(Answer::Status(503)));
        assert_eq!(take(&mut f, None, now), Some(Answer::Status(503)));
        assert_eq!(take(&mut f, None, now), None);
        let ids = vec!["a".to_string(), "poison".to_string()];
        let view = PostView {
            body_len: 10,
            ids: &ids,
        };
        assert_eq!(take(&mut f, Some(&view), now), Some(Answer::Status(422)));
        let clean = PostView {
            body_len: 10,
            ids: &ids[..1],
        };
        assert_eq!(take(&mut f, Some(&clean), now), None);

        let mut w = vec![Fault::for_window(Answer::Hang, Duration::from_millis(10))];
        assert!(take(&mut w, None, now).is_some());
        assert!(take(&mut w, None, now + Duration::from_millis(20)).is_none());
    }
}
