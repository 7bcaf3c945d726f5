//! What verification reports: the first broken link of a stream and how it is broken, per
//! stream and for the whole store, and progress on the way.

use std::fmt;

use uuid::Uuid;

use super::ChainHash;

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

/// What verifying one stream found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamCheck {
    /// The stream.
    pub stream: String,
    /// Its events.
    pub events: u64,
    /// The hash of its last event, when the whole chain holds: keep it elsewhere to detect
    /// later removal of the newest events.
    pub head: Option<ChainHash>,
    /// The first broken link, if any.
    pub broken: Option<Break>,
    /// Its events rewritten by recorded, sanctioned rewrites (counted once per rewrite, from
    /// [`REWRITES_STREAM`](super::REWRITES_STREAM)): intact with rewrites when `broken` is
    /// `None`.
    pub rewrites: u64,
}

/// What verifying the whole store found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Verification {
    /// Streams verified.
    pub streams: u64,
    /// Events verified.
    pub events: u64,
    /// The first broken link of each broken stream, in stream order (then the streams that
    /// recorded rewrites name and that hold no event any more).
    pub breaks: Vec<Break>,
    /// Events rewritten by recorded, sanctioned rewrites, over all streams.
    pub rewrites: u64,
}

/// How far [`verify_all`](super::verify_all) is, after each batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Events verified so far.
    pub events: u64,
    /// Streams begun so far.
    pub streams: u64,
    /// About how many events the store holds (its head position).
    pub total: u64,
}
