//! What a feed reports: the outcome of a step, and its status for operators.

use std::time::SystemTime;

use crate::store::cursor::Cursor;
use crate::store::lease::Lease;

/// What one [`Feed::step`](super::Feed::step) did.
#[derive(Debug, Clone, PartialEq)]
pub enum Stepped {
    /// It handled and checkpointed `read` events (0: it was caught up).
    Worked {
        /// Events the checkpoint moved past (handled, skipped or parked).
        read: usize,
        /// Whether the last read was a full batch: more events may be waiting.
        more: bool,
        /// The lease it holds, when the feed is leased.
        lease: Option<Lease>,
    },
    /// Another holds the lease: this feed waits, holding no state.
    Standby {
        /// The holder, when known.
        holder: Option<Lease>,
    },
    /// This feed held the lease at `epoch`, but another took it over before the batch was
    /// saved: the batch was refused and thrown away, and this feed waits.
    Fenced {
        /// The epoch this feed held.
        epoch: u64,
    },
}

/// A consumer's state for operators: how far it is, who runs it, what it parked.
#[derive(Debug, Clone, PartialEq)]
pub struct FeedStatus {
    /// The consumer's name (its checkpoint, lease and dead letters).
    pub name: String,
    /// The cursor of its last saved checkpoint, if any.
    pub cursor: Option<Cursor>,
    /// When that checkpoint was saved.
    pub saved_at: Option<SystemTime>,
    /// How far it is behind the store's head, in positions (an estimate where positions are not
    /// handed out in commit order, as in PostgreSQL).
    pub lag: u64,
    /// Its lease as stored (owner, epoch, last renewal, expiry), when the feed is leased and the
    /// lease was ever taken.
    pub lease: Option<Lease>,
    /// How many events it parked, when the feed parks.
    pub parked: Option<usize>,
}
