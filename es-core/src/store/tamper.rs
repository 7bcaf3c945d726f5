//! A broken link of the hash chain, as a store reports it (see `integrity`).

use std::fmt;

use uuid::Uuid;

/// How a link is broken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BreakKind {
    /// The event's content (payload, metadata, name, id, time) or its stored hash was changed.
    Edited,
    /// Events are missing before this one: versions `from..=to` are gone.
    Deleted {
        /// The first missing version.
        from: u64,
        /// The last missing version.
        to: u64,
    },
    /// This event was not in the chain: without it, the next event links on.
    Inserted,
    /// This event is out of its place: the stream's order (versions or positions) was changed.
    Reordered,
    /// This event's hash matches its content, but not the hash a recorded rewrite gave it (or the
    /// stream's head then): the chain was recomputed after that rewrite, without a record.
    Rechained,
    /// A recorded rewrite names this version, and the stream now ends before it: its newest
    /// events were removed. The break's position is 0 and its id the recorded one.
    Truncated,
}

/// The first broken link of a stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Break {
    /// The stream.
    pub stream: String,
    /// The version of the event where the chain breaks (for [`BreakKind::Deleted`], the first
    /// event after the hole).
    pub version: u64,
    /// That event's position.
    pub position: u64,
    /// That event's id, as stored.
    pub id: Uuid,
    /// What differs.
    pub kind: BreakKind,
}

impl fmt::Display for Break {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Break { stream, version, position, .. } = self;
        match &self.kind {
            BreakKind::Edited => write!(f, "`{stream}` version {version} (position {position}) was edited: its hash does not match its content and the previous event"),
            BreakKind::Deleted { from, to } if from == to => write!(f, "`{stream}` version {from} was deleted: the stream goes on at version {version} (position {position})"),
            BreakKind::Deleted { from, to } => write!(f, "`{stream}` versions {from} to {to} were deleted: the stream goes on at version {version} (position {position})"),
            BreakKind::Inserted => write!(f, "`{stream}` version {version} (position {position}) was inserted: the chain goes on without it"),
            BreakKind::Reordered => write!(f, "`{stream}` version {version} (position {position}) is out of order"),
            BreakKind::Rechained => write!(f, "`{stream}` version {version} (position {position}) does not carry the hash a recorded rewrite gave it: the chain was recomputed since, without a record"),
            BreakKind::Truncated => write!(f, "`{stream}` version {version}, named by a recorded rewrite, is gone: the newest events of the stream were removed"),
        }
    }
}
