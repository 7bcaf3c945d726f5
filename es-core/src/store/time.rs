//! Times as stores keep them: microseconds since the Unix epoch.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The current time, truncated to the microseconds every store keeps.
pub(crate) fn now_micros() -> SystemTime {
    from_micros(to_micros(SystemTime::now()))
}

/// Microseconds since the Unix epoch (negative before it), saturating at `i64`'s range.
pub fn to_micros(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_micros()).unwrap_or(i64::MAX),
        Err(e) => i64::try_from(e.duration().as_micros()).map_or(i64::MIN, |m| -m),
    }
}

/// The time `micros` microseconds after the Unix epoch.
pub fn from_micros(micros: i64) -> SystemTime {
    let d = Duration::from_micros(micros.unsigned_abs());
    if micros >= 0 {
        UNIX_EPOCH + d
    } else {
        UNIX_EPOCH - d
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn micros_round_trip() {
        let t = UNIX_EPOCH + Duration::from_micros(1_700_000_000_123_456);
        assert_eq!(from_micros(to_micros(t)), t);
        let before = UNIX_EPOCH - Duration::from_micros(5);
        assert_eq!(from_micros(to_micros(before)), before);
        let now = now_micros();
        assert_eq!(from_micros(to_micros(now)), now, "now_micros keeps whole microseconds");
    }
}
