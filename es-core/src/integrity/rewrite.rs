//! The one sanctioned rewrite of stored history: replacing the payloads of stored events (to
//! seal personal data that was stored in plain text), re-chaining the stream from the first of
//! them, and recording it in [`REWRITES_STREAM`], in one transaction.
//!
//! Every store plans a rewrite with a [`Rechain`](super::Rechain): fed the stream's links from the first edited
//! version on, it checks that each still verifies (a rewrite never launders an edit made outside
//! the application: a broken link refuses the rewrite with [`StoreError::Tampered`]), computes
//! the new hashes with [`link_hash`](super::link_hash) (the definition `verify` uses, so the
//! result verifies byte for byte), and returns the rows to update and the record to append.

use std::future::Future;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use uuid::Uuid;

use super::ChainHash;
use crate::store::EventStore;
use crate::store::NewEvent;
use crate::store::StoreError;

/// The stream every rewrite is recorded in, one event per rewritten event.
pub const REWRITES_STREAM: &str = "$es-rewrites";

/// The name of the events in [`REWRITES_STREAM`] (schema version 1, payload [`RewriteRecord`]).
pub const REWRITE_EVENT: &str = "EventRewritten";

/// A new payload for one stored event.
#[derive(Debug)]
pub struct PayloadEdit {
    /// The event's version in its stream.
    pub version: u64,
    /// The payload that replaces the stored one.
    pub payload: Box<RawValue>,
    /// The hash the event must still carry (the one the edit was computed from); `None` to
    /// replace whatever is stored.
    pub expected_hash: Option<ChainHash>,
}

/// One event a rewrite replaced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RewrittenEvent {
    /// Its version.
    pub version: u64,
    /// Its id.
    pub id: Uuid,
    /// Its hash before.
    pub old_hash: ChainHash,
    /// Its hash now.
    pub new_hash: ChainHash,
}

/// What a rewrite did to one stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rewritten {
    /// The stream.
    pub stream: String,
    /// The events whose payload was replaced, in version order.
    pub events: Vec<RewrittenEvent>,
    /// The first version re-chained (the first edited one).
    pub from: u64,
    /// The stream's last version when it was rewritten.
    pub head_version: u64,
    /// The stream's head hash before.
    pub old_head: ChainHash,
    /// The stream's head hash after.
    pub new_head: ChainHash,
}

/// Why a store refused a rewrite (inside [`StoreError::Backend`]; downcast its source).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum RewriteError {
    /// The rewrite named no event.
    #[error("a rewrite of `{stream}` names no event")]
    NoEdits {
        /// The stream.
        stream: String,
    },
    /// An edited version is not stored.
    #[error("`{stream}` has no event at version {version} to rewrite")]
    NoSuchEvent {
        /// The stream.
        stream: String,
        /// The version.
        version: u64,
    },
    /// The event no longer carries the hash the edit was computed from.
    #[error("`{stream}` version {version} changed since its new payload was computed: compute it again")]
    Changed {
        /// The stream.
        stream: String,
        /// The version.
        version: u64,
    },
    /// The record stream itself is never rewritten.
    #[error("`{REWRITES_STREAM}` records rewrites and is never rewritten itself")]
    RecordStream,
}

impl RewriteError {
    /// As the store error a [`Rewrite`] returns.
    pub fn into_store(self, backend: &'static str) -> StoreError {
        StoreError::backend(backend, self)
    }
}

/// The payload of an event in [`REWRITES_STREAM`]: one rewritten event. It holds no old hash on
/// purpose: a hash over the plaintext payload would let anyone test guesses of the sealed value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RewriteRecord {
    /// The id shared by the records of one rewrite (one call, one stream).
    pub rewrite: Uuid,
    /// The rewritten event's stream.
    pub stream: String,
    /// Its version.
    pub version: u64,
    /// Its id.
    pub id: Uuid,
    /// Its hash after the rewrite (hex).
    pub new_hash: String,
    /// The first version the rewrite re-chained.
    pub from: u64,
    /// The stream's last version at the rewrite.
    pub head_version: u64,
    /// The stream's head hash after the rewrite (hex).
    pub new_head: String,
    /// Why (e.g. "seal plaintext personal data").
    pub reason: String,
    /// When, in microseconds since the Unix epoch.
    pub at_us: i64,
}

/// A store that can replace the payloads of stored events and re-chain their stream, recording
/// each rewrite in [`REWRITES_STREAM`] in the same transaction.
pub trait Rewrite: super::Links {
    /// Replaces the payloads of `stream`'s events named in `edits`, re-chains the stream from
    /// the first of them to its end, and appends one [`RewriteRecord`] per edited event to
    /// [`REWRITES_STREAM`], all in one transaction, which also drops the stream's snapshot (it
    /// was folded from the old payloads). Refused, changing nothing, when a link from
    /// the first edited version on does not verify ([`StoreError::Tampered`]), or with a
    /// [`RewriteError`].
    fn rewrite_payloads(
        &self,
        stream: &str,
        edits: Vec<PayloadEdit>,
        reason: &str,
    ) -> impl Future<Output = Result<Rewritten, StoreError>> + Send;
}

/// Replaces the payload of one stored event (see [`Rewrite::rewrite_payloads`]).
pub async fn rewrite_payload<S: Rewrite>(
    store: &S,
    stream: &str,
    version: u64,
    payload: Box<RawValue>,
    reason: &str,
) -> Result<Rewritten, StoreError> {
    let edit = PayloadEdit { version, payload, expected_hash: None };
    store.rewrite_payloads(stream, vec![edit], reason).await
}

impl Rewritten {
    /// The events to append to [`REWRITES_STREAM`] for this rewrite, at `at_us`.
    pub fn records(&self, reason: &str, at_us: i64) -> Result<Vec<NewEvent>, StoreError> {
        let rewrite = Uuid::new_v4();
        self.events
            .iter()
            .map(|e| {
                let record = RewriteRecord {
                    rewrite,
                    stream: self.stream.clone(),
                    version: e.version,
                    id: e.id,
                    new_hash: e.new_hash.to_string(),
                    from: self.from,
                    head_version: self.head_version,
                    new_head: self.new_head.to_string(),
                    reason: reason.to_owned(),
                    at_us,
                };
                let payload = serde_json::to_value(&record).map_err(|e| StoreError::backend("rewrite", e))?;
                Ok(NewEvent::new(REWRITE_EVENT, 1, payload))
            })
            .collect()
    }
}

/// Reads every record of [`REWRITES_STREAM`] about `stream` (all of them with `None`), in the
/// order they were recorded. O(records): the stream is read whole.
pub async fn recorded_rewrites<S: EventStore>(
    store: &S,
    stream: Option<&str>,
) -> Result<Vec<RewriteRecord>, StoreError> {
    const BATCH: usize = 1_000;
    let mut records = Vec::new();
    let mut from = 1;
    loop {
        let n = store
            .visit_stream(REWRITES_STREAM, from, BATCH, crate::store::Lend::ForDecoding, |e| {
                if e.name != REWRITE_EVENT {
                    return Ok(());
                }
                let record: RewriteRecord = serde_json::from_str(e.payload).map_err(|err| {
                    StoreError::corrupt(
                        S::BACKEND,
                        e.position,
                        format!("a rewrite record does not parse: {err}"),
                    )
                })?;
                if stream.is_none_or(|s| s == record.stream) {
                    records.push(record);
                }
                Ok(())
            })
            .await?;
        if n < BATCH {
            return Ok(records);
        }
        from += n as u64;
    }
}

/// Parses a hash written by [`ChainHash`]'s `Display`.
pub(crate) fn parse_hash(hex: &str) -> Option<ChainHash> {
    if hex.len() != 64 || !hex.is_ascii() {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(ChainHash(out))
}
