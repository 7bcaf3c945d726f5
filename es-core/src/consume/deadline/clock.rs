//! The clock a deadline router reads to decide what is due: the system's, or a test's.

use std::time::SystemTime;

/// Where a [`Deadlines`](super::Deadlines) router reads the time. [`SystemClock`] in
/// production; `es_testing::VirtualClock` in tests, which the test moves forward by hand.
pub trait Clock: Send + Sync + 'static {
    /// The time now.
    fn now(&self) -> SystemTime;
}

/// The operating system's clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// Milliseconds since 1970 (0 before it, saturating far after it).
pub(crate) fn to_ms(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// The time `ms` milliseconds after 1970.
pub(crate) fn from_ms(ms: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + std::time::Duration::from_millis(ms)
}

/// Milliseconds since 1970, rounded up: a due time never moves earlier by rounding.
pub(crate) fn to_ms_ceil(t: SystemTime) -> u64 {
    match t.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) => {
            let ms = u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
            if d.subsec_nanos() % 1_000_000 == 0 {
                ms
            } else {
                ms.saturating_add(1)
            }
        }
        Err(_) => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn rounding_up_never_moves_a_time_earlier() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_micros(1_500);
        assert_eq!((to_ms(t), to_ms_ceil(t)), (1, 2));
        assert!(from_ms(to_ms_ceil(t)) >= t);
        let exact = from_ms(7);
        assert_eq!(to_ms_ceil(exact), 7);
        assert_eq!(to_ms(SystemTime::UNIX_EPOCH - Duration::from_secs(1)), 0);
    }
}
