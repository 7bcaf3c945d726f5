//! What verification reports: the first broken link of a stream and how it is broken, per
//! stream and for the whole store, and progress on the way.

use super::ChainHash;
pub use crate::store::{Break, BreakKind};

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
