//! Keeping a consumer's run loop alive through a store outage (a failover, a restart, a dropped
//! network): after the feed's own retries gave up, the loop waits with capped exponential
//! backoff and tries again, warning at the first failure and then once a minute, instead of
//! ending the service's consumer for good.

use std::fmt::Display;
use std::time::{Duration, Instant};

/// The first wait after a failure.
const FIRST: Duration = Duration::from_millis(100);
/// The longest wait between two tries.
const LONGEST: Duration = Duration::from_secs(30);
/// How often a lasting outage is logged again.
const REMIND: Duration = Duration::from_secs(60);

/// An outage in progress (or none), as one run loop sees it.
#[derive(Debug, Default)]
pub struct Outage {
    failures: u32,
    since: Option<Instant>,
    warned: Option<Instant>,
}

impl Outage {
    /// Counts a failure of the consumer `name` and returns how long to wait before trying
    /// again: 100 ms, doubling up to 30 s.
    pub fn failed(&mut self, name: &str, error: &dyn Display) -> Duration {
        self.failures += 1;
        let since = *self.since.get_or_insert_with(Instant::now);
        if self.warned.is_none_or(|at| at.elapsed() >= REMIND) {
            self.warned = Some(Instant::now());
            tracing::warn!(
                consumer = %name,
                failures = self.failures,
                down_for_s = since.elapsed().as_secs(),
                %error,
                "the store keeps failing: trying again with backoff"
            );
        }
        let doublings = self.failures.saturating_sub(1).min(16);
        FIRST.saturating_mul(1 << doublings).min(LONGEST)
    }

    /// Ends the outage, if there was one (logged once).
    pub fn recovered(&mut self, name: &str) {
        if let Some(since) = self.since.take() {
            tracing::info!(consumer = %name, failures = self.failures, down_for_ms = since.elapsed().as_millis() as u64, "the store answers again");
        }
        self.failures = 0;
        self.warned = None;
    }

    /// Failures since the outage began (0: none).
    pub fn failures(&self) -> u32 {
        self.failures
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_double_up_to_a_cap_and_reset_on_recovery() {
        let mut outage = Outage::default();
        let waits: Vec<Duration> = (0..12).map(|_| outage.failed("c", &"down")).collect();
        assert_eq!(waits[0], FIRST);
        assert_eq!(waits[1], FIRST * 2);
        assert_eq!(*waits.last().expect("waits"), LONGEST);
        assert!(waits.windows(2).all(|w| w[0] <= w[1]));
        outage.recovered("c");
        assert_eq!((outage.failures(), outage.failed("c", &"down")), (0, FIRST));
    }
}
