//! What a relay reports about itself: where it is, how far behind, what the broker said last.

use std::time::SystemTime;

use es_core::Cursor;

/// A relay's progress and health.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelayStatus {
    /// The last event published (or skipped, or parked).
    pub cursor: Cursor,
    /// How far behind the store's head, in positions (an estimate on PostgreSQL).
    pub lag: u64,
    /// When the broker last acknowledged a message (this process).
    pub last_ack: Option<SystemTime>,
    /// Messages acknowledged as stored (this process).
    pub published: u64,
    /// Messages the broker dropped as duplicates (this process).
    pub duplicates: u64,
    /// Events parked because they do not map.
    pub parked: usize,
    /// Whether the broker failed on the last attempt.
    pub broker_down: bool,
}

/// The counts a relay keeps as it goes.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    last_ack: Option<SystemTime>,
    published: u64,
    duplicates: u64,
}

impl Counters {
    pub(crate) fn acked(&mut self, duplicate: bool) {
        self.last_ack = Some(SystemTime::now());
        if duplicate {
            self.duplicates += 1;
        } else {
            self.published += 1;
        }
    }

    pub(crate) fn status(&self, cursor: Cursor, lag: u64, parked: usize, broker_down: bool) -> RelayStatus {
        RelayStatus {
            cursor,
            lag,
            last_ack: self.last_ack,
            published: self.published,
            duplicates: self.duplicates,
            parked,
            broker_down,
        }
    }
}
