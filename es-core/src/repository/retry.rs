//! How `Repository::execute` retries after a version conflict: a few optimistic attempts, then
//! a turn on the stream, each retry after a full-jitter exponential backoff, so contending
//! writers spread out instead of colliding again.

use std::time::Duration;

/// The retry policy of a [`Repository`](crate::Repository).
///
/// ```
/// use std::time::Duration;
/// let policy = es_core::RetryPolicy::default()
///     .max_attempts(10)
///     .backoff(Duration::from_micros(200), Duration::from_millis(20));
/// assert_eq!(policy.attempts(), 10);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    optimistic: u32,
    max_attempts: u32,
    base_delay: Duration,
    max_delay: Duration,
}

impl Default for RetryPolicy {
    /// 1 optimistic attempt, then 32 in a turn; delays drawn from 0..=min(50 ms, 250 µs * 2^retry).
    fn default() -> Self {
        RetryPolicy {
            optimistic: 1,
            max_attempts: 32,
            base_delay: Duration::from_micros(250),
            max_delay: Duration::from_millis(50),
        }
    }
}

impl RetryPolicy {
    /// Sets how many times load-decide-append runs optimistically before the command waits for
    /// a turn on its stream (0: take the turn at once).
    pub fn optimistic(mut self, attempts: u32) -> Self {
        self.optimistic = attempts;
        self
    }

    /// How many optimistic attempts a command gets before it waits for a turn.
    pub fn optimistic_attempts(&self) -> u32 {
        self.optimistic
    }

    /// Sets how many times load-decide-append runs inside a turn before giving up (at least 1):
    /// only writers that take no turns can still conflict there.
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }

    /// Sets the backoff: before retry `k` (from 1) wait a random time up to `base * 2^(k-1)`,
    /// capped at `max`. `Duration::ZERO` for both retries at once.
    pub fn backoff(mut self, base: Duration, max: Duration) -> Self {
        self.base_delay = base;
        self.max_delay = max.max(base);
        self
    }

    /// How many attempts a command gets inside a turn.
    pub fn attempts(&self) -> u32 {
        self.max_attempts
    }

    /// The longest wait before retry `retry` (from 1).
    pub fn delay_cap(&self, retry: u32) -> Duration {
        let factor = 1u32.checked_shl(retry.saturating_sub(1)).unwrap_or(u32::MAX);
        self.base_delay.saturating_mul(factor).min(self.max_delay)
    }

    /// Waits before retry `retry` (from 1): a uniformly random time up to [`delay_cap`](Self::delay_cap).
    pub(crate) async fn wait(&self, retry: u32) {
        let cap = self.delay_cap(retry);
        if cap.is_zero() {
            return;
        }
        // A v4 UUID is 122 random bits from the OS: jitter without another dependency.
        let random = uuid::Uuid::new_v4().as_u64_pair().0;
        let nanos = random % (cap.as_nanos() as u64).max(1);
        tokio::time::sleep(Duration::from_nanos(nanos)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_up_to_the_cap() {
        let p = RetryPolicy::default().backoff(Duration::from_millis(1), Duration::from_millis(5));
        let caps: Vec<_> = (1..=5).map(|k| p.delay_cap(k).as_millis()).collect();
        assert_eq!(caps, [1, 2, 4, 5, 5]);
        assert_eq!(p.delay_cap(200), Duration::from_millis(5));
        assert_eq!(RetryPolicy::default().max_attempts(0).attempts(), 1);
    }
}
