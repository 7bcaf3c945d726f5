//! `Cursor`: a reader's place in a store's global order.

use std::fmt;
use std::str::FromStr;

/// A place in the global order of a store: a reader that has handled the event at a cursor asks
/// for the events after it.
///
/// Cursors are ordered the way the store delivers events. They are opaque: compare them, keep
/// them in checkpoints, print and parse them, but do not compute with them. In the memory and
/// SQLite stores a cursor is the event's position; PostgreSQL also orders by the committing
/// transaction, so that appends can commit in parallel while readers never skip an event.
///
/// ```
/// use es_core::Cursor;
/// let c: Cursor = "17".parse()?;
/// assert_eq!((c.position(), c.to_string()), (17, "17".to_owned()));
/// assert!(Cursor::START < c);
/// let pg: Cursor = "901:17".parse()?;
/// assert!(c < pg && pg.to_string() == "901:17");
/// # Ok::<_, es_core::cursor::ParseCursorError>(())
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Cursor {
    // Field order is the sort order.
    commit: u64,
    position: u64,
}

impl Cursor {
    /// Before the first event: reading after it reads everything.
    pub const START: Cursor = Cursor { commit: 0, position: 0 };

    /// For stores whose global order is the position itself.
    pub const fn at(position: u64) -> Self {
        Cursor { commit: 0, position }
    }

    /// For stores that order by a commit number first (PostgreSQL's transaction id), then by
    /// position within it.
    pub const fn in_commit(commit: u64, position: u64) -> Self {
        Cursor { commit, position }
    }

    /// The position of the event at this cursor (0 for [`Cursor::START`]).
    pub const fn position(self) -> u64 {
        self.position
    }

    /// The commit number (0 in stores that order by position alone).
    pub const fn commit(self) -> u64 {
        self.commit
    }
}

impl fmt::Display for Cursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.commit {
            0 => write!(f, "{}", self.position),
            commit => write!(f, "{commit}:{}", self.position),
        }
    }
}

/// A cursor's text that does not parse: `POSITION` or `COMMIT:POSITION`, both whole numbers.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a cursor: write POSITION or COMMIT:POSITION, e.g. `17` or `901:17`")]
pub struct ParseCursorError(pub String);

impl FromStr for Cursor {
    type Err = ParseCursorError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let number = |t: &str| t.trim().parse::<u64>().map_err(|_| ParseCursorError(s.to_owned()));
        match s.split_once(':') {
            Some((commit, position)) => Ok(Cursor::in_commit(number(commit)?, number(position)?)),
            None => Ok(Cursor::at(number(s)?)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders_by_commit_then_position() {
        assert!(Cursor::in_commit(5, 100) < Cursor::in_commit(6, 1));
        assert!(Cursor::at(3) < Cursor::at(4));
        assert_eq!(Cursor::default(), Cursor::START);
    }

    #[test]
    fn text_round_trips_and_bad_text_is_a_typed_error() {
        for c in [Cursor::START, Cursor::at(9), Cursor::in_commit(7, 2)] {
            assert_eq!(c.to_string().parse::<Cursor>(), Ok(c));
        }
        for bad in ["", "x", "1:", "-1", "1:2:3"] {
            assert!(bad.parse::<Cursor>().is_err(), "{bad}");
        }
    }
}
