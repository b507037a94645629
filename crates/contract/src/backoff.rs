//! The retry schedule every side promises for faults that only mean "not now" (throttling,
//! an operation in progress, an endpoint down): bounded, exponential, jittered.
//!
//! The delay before a retry is random within `[ceiling/2, ceiling]`: when many log groups,
//! batches or regions fail at once their retries spread out, yet a throttled service is never
//! hit again at once.

use std::time::Duration;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    /// The ceiling of the first retry's delay; it doubles per retry.
    pub base: Duration,
    pub cap: Duration,
    /// Retries after the first attempt.
    pub max_retries: u32,
}

impl Backoff {
    pub const fn new(base_ms: u64, cap_ms: u64, max_retries: u32) -> Self {
        Self {
            base: Duration::from_millis(base_ms),
            cap: Duration::from_millis(cap_ms),
            max_retries,
        }
    }

    /// Upper bound of the delay before retry number `retry` (1-based).
    pub fn ceiling(&self, retry: u32) -> Duration {
        let factor = 1u32
            .checked_shl(retry.saturating_sub(1))
            .unwrap_or(u32::MAX);
        self.base.saturating_mul(factor).min(self.cap)
    }

    /// A random delay in `[ceiling/2, ceiling]` before retry number `retry` (1-based).
    pub fn delay(&self, retry: u32) -> Duration {
        let ceiling = self.ceiling(retry).as_millis() as u64;
        let low = ceiling / 2;
        Duration::from_millis(rand::random_range(low..=ceiling.max(low)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ceiling_doubles_up_to_the_cap() {
        let b = Backoff::new(100, 1_000, 5);
        let c: Vec<u64> = (1..=6).map(|r| b.ceiling(r).as_millis() as u64).collect();
        assert_eq!(c, vec![100, 200, 400, 800, 1000, 1000]);
        assert_eq!(b.ceiling(64), Duration::from_millis(1_000));
    }

    #[test]
    fn delay_stays_within_half_and_full_ceiling() {
        let b = Backoff::new(100, 1_000, 5);
        for r in 1..=6 {
            for _ in 0..50 {
                let d = b.delay(r);
                assert!(d <= b.ceiling(r) && d >= b.ceiling(r) / 2, "{d:?}");
            }
        }
    }
}
