//! Tamper-evident streams: every stored event carries a SHA-256 hash chained to the previous
//! event of its stream, and [`verify_stream`] / [`verify_all`] report the first broken link of
//! each stream.
//!
//! The hash covers, in this order: the previous event's hash (32 zero bytes for version 1), the
//! stream, the version, the event id, the name, the schema version, the stored payload text, the
//! stored metadata text and the recorded time in microseconds (strings length-prefixed, numbers
//! big-endian; see [`link_hash`]). Every store computes it at append (PostgreSQL in SQL, with
//! the same definition) and keeps it beside the event.
//!
//! What it protects: history edited, deleted, inserted or reordered by someone who changes the
//! database without the application is found, at the event where it happened. What it does not:
//! the hash is not a signature (someone who knows this definition can recompute a whole stream),
//! and removing the newest events of a stream leaves a shorter, valid chain; keep the heads
//! [`verify_all`] reports somewhere else to detect that.
//!
//! # Sanctioned rewrites
//!
//! One change of history is part of the design: sealing personal data that was stored in plain
//! text before its field was marked personal (`es_core::shredding::seal_plaintext`). A store that
//! implements [`Rewrite`] replaces the payloads, re-chains the stream from the first of them and
//! appends a [`RewriteRecord`] per event to [`REWRITES_STREAM`], in one transaction; a rewrite is
//! refused where the chain does not verify, so it never launders an edit. Afterwards the stream
//! verifies clean and its [`StreamCheck::rewrites`] counts the rewritten events ("intact with
//! rewrites"); an edit by SQL is still [`BreakKind::Edited`]. The records also hold the hashes
//! the rewrite produced: a chain recomputed after it, without a record, reports
//! [`BreakKind::Rechained`], and a recorded version that is gone reports
//! [`BreakKind::Truncated`]. Records never excuse a link that does not verify, so a forged
//! record can raise a false alarm but hide nothing; someone who can write the tables and knows
//! the hash definition can recompute the chain *and* write matching records, as before.
//!
//! ```
//! use es_core::integrity::verify_stream;
//! use es_core::{EventStore, ExpectedVersion, MemoryStore, NewEvent};
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let store = MemoryStore::new();
//! let e = NewEvent::new("Pinged", 1, serde_json::json!({ "n": 1 }));
//! store.append("Pinger-1", ExpectedVersion::NoStream, vec![e]).await?;
//! let check = verify_stream(&store, "Pinger-1").await?;
//! assert_eq!(check.events, 1);
//! assert!(check.broken.is_none());
//! # Ok::<_, es_core::StoreError>(())
//! # }).unwrap();
//! ```

mod expect;
mod rechain;
mod report;
mod rewrite;
mod verify;

pub use rechain::{Rechain, RowUpdate};
pub use report::{Break, BreakKind, Progress, StreamCheck, Verification};
pub use rewrite::{
    recorded_rewrites, rewrite_payload, PayloadEdit, Rewrite, RewriteError, RewriteRecord, Rewritten,
    RewrittenEvent, REWRITES_STREAM, REWRITE_EVENT,
};
pub use verify::{verify_all, verify_chain, verify_stream, Verifier};

use std::fmt;
use std::future::Future;

use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::store::EventStore;
use crate::store::StoreError;

/// A link's SHA-256 hash.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ChainHash(pub [u8; 32]);

impl ChainHash {
    /// The hash before a stream's first event: 32 zero bytes.
    pub const GENESIS: ChainHash = ChainHash([0; 32]);

    /// A stored hash; `None` when it is not 32 bytes.
    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        bytes.try_into().ok().map(ChainHash)
    }
}

impl fmt::Display for ChainHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

impl fmt::Debug for ChainHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ChainHash({self})")
    }
}

/// One stored event as the chain sees it: the stored text of payload and metadata, not their
/// parsed values, and the hash kept beside it.
#[derive(Debug, Clone, Copy)]
pub struct Link<'a> {
    /// Its global position.
    pub position: u64,
    /// Its stream.
    pub stream: &'a str,
    /// Its version in the stream.
    pub stream_version: u64,
    /// Its id.
    pub id: Uuid,
    /// The stored name.
    pub name: &'a str,
    /// The schema version.
    pub schema_version: u32,
    /// The payload, as stored.
    pub payload: &'a str,
    /// The metadata, as stored.
    pub metadata: &'a str,
    /// When it was recorded, in microseconds since the Unix epoch.
    pub recorded_us: i64,
    /// The hash stored with it (`None`: missing, or not 32 bytes).
    pub hash: Option<ChainHash>,
}

impl Link<'_> {
    /// The hash this link must carry after `prev`.
    pub fn expected_hash(&self, prev: &ChainHash) -> ChainHash {
        link_hash(
            prev,
            self.stream,
            self.stream_version,
            self.id,
            self.name,
            self.schema_version,
            self.payload,
            self.metadata,
            self.recorded_us,
        )
    }
}

/// The chain's hash of one event after `prev`: SHA-256 over `prev`, then each field in this
/// order, strings as a big-endian `u64` byte length and their UTF-8 bytes, numbers big-endian
/// (`version` and the recorded time as 8 bytes, the schema version as 4), the id as its 16
/// bytes. PostgreSQL's `es_link_hash` computes the same.
#[allow(clippy::too_many_arguments)]
pub fn link_hash(
    prev: &ChainHash,
    stream: &str,
    version: u64,
    id: Uuid,
    name: &str,
    schema_version: u32,
    payload: &str,
    metadata: &str,
    recorded_us: i64,
) -> ChainHash {
    let mut h = Sha256::new();
    h.update(prev.0);
    let text = |h: &mut Sha256, s: &str| {
        h.update((s.len() as u64).to_be_bytes());
        h.update(s.as_bytes());
    };
    text(&mut h, stream);
    h.update(version.to_be_bytes());
    h.update(id.as_bytes());
    text(&mut h, name);
    h.update(schema_version.to_be_bytes());
    text(&mut h, payload);
    text(&mut h, metadata);
    h.update(recorded_us.to_be_bytes());
    ChainHash(h.finalize().into())
}

/// Where a link visit starts: strictly after `version` of `stream`, in (stream, version) order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkKey<'a> {
    /// The stream.
    pub stream: &'a str,
    /// The version in it.
    pub version: u64,
}

impl LinkKey<'_> {
    /// Before every link of every stream.
    pub const START: LinkKey<'static> = LinkKey { stream: "", version: 0 };
}

/// A store that keeps the hash chain: it lends its events as [`Link`]s, by stream.
pub trait Links: EventStore {
    /// Lends the links after `after` in (stream, version) order, at most `limit`, to `visit`,
    /// and returns how many it lent; with `one_stream`, only links of `after.stream`. Streams
    /// come in the store's order of their names (the next visit starts after the last link seen).
    fn visit_links<F>(
        &self,
        after: LinkKey<'_>,
        one_stream: bool,
        limit: usize,
        visit: F,
    ) -> impl Future<Output = Result<usize, StoreError>> + Send
    where
        F: FnMut(&Link<'_>) + Send;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_covers_every_field_and_the_previous_link() {
        let id = Uuid::from_u128(7);
        let base = || link_hash(&ChainHash::GENESIS, "S-1", 1, id, "Opened", 1, "{}", "{}", 5);
        assert_eq!(base(), base());
        let others = [
            link_hash(&ChainHash([1; 32]), "S-1", 1, id, "Opened", 1, "{}", "{}", 5),
            link_hash(&ChainHash::GENESIS, "S-2", 1, id, "Opened", 1, "{}", "{}", 5),
            link_hash(&ChainHash::GENESIS, "S-1", 2, id, "Opened", 1, "{}", "{}", 5),
            link_hash(&ChainHash::GENESIS, "S-1", 1, Uuid::from_u128(8), "Opened", 1, "{}", "{}", 5),
            link_hash(&ChainHash::GENESIS, "S-1", 1, id, "Closed", 1, "{}", "{}", 5),
            link_hash(&ChainHash::GENESIS, "S-1", 1, id, "Opened", 2, "{}", "{}", 5),
            link_hash(&ChainHash::GENESIS, "S-1", 1, id, "Opened", 1, "{ }", "{}", 5),
            link_hash(&ChainHash::GENESIS, "S-1", 1, id, "Opened", 1, "{}", "{ }", 5),
            link_hash(&ChainHash::GENESIS, "S-1", 1, id, "Opened", 1, "{}", "{}", 6),
            // Length prefixes: moving a byte from one string to the next changes the hash.
            link_hash(&ChainHash::GENESIS, "S-1", 1, id, "Opened", 1, "{}{", "}", 5),
        ];
        for other in others {
            assert_ne!(other, base());
        }
        assert_eq!(ChainHash::from_slice(&[0; 31]), None);
        assert_eq!(ChainHash::GENESIS.to_string(), "0".repeat(64));
    }
}
