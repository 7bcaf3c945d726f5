//! `ExpectedVersion`: the optimistic-concurrency check of an append.

use std::fmt;

/// The version a stream must be at for an append to go through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ExpectedVersion {
    /// No check.
    Any,
    /// The stream must not exist yet (the same as `Exact(0)`).
    NoStream,
    /// The stream's last event must have this version (0: the stream must not exist).
    Exact(u64),
}

impl ExpectedVersion {
    /// Whether a stream at `actual` (0 for none) satisfies this expectation.
    pub fn matches(self, actual: u64) -> bool {
        self.required().is_none_or(|n| n == actual)
    }

    /// The version the stream must be at, if any is required.
    pub fn required(self) -> Option<u64> {
        match self {
            ExpectedVersion::Any => None,
            ExpectedVersion::NoStream => Some(0),
            ExpectedVersion::Exact(n) => Some(n),
        }
    }
}

impl fmt::Display for ExpectedVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExpectedVersion::Any => f.write_str("any version"),
            ExpectedVersion::NoStream | ExpectedVersion::Exact(0) => f.write_str("no stream"),
            ExpectedVersion::Exact(n) => write!(f, "version {n}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expected_version_matches() {
        assert!(ExpectedVersion::Any.matches(7));
        assert!(ExpectedVersion::NoStream.matches(0) && !ExpectedVersion::NoStream.matches(1));
        assert!(ExpectedVersion::Exact(0).matches(0));
        assert!(ExpectedVersion::Exact(3).matches(3) && !ExpectedVersion::Exact(3).matches(2));
        assert_eq!(ExpectedVersion::Exact(0).to_string(), "no stream");
    }
}
