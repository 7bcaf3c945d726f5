//! Snapshots: an aggregate's state saved at a version, so that loading reads only the events
//! after it. A [`SnapshotStore`] keeps them beside the events; a repository takes one every N
//! events when asked to with [`Repository::with_snapshots`](crate::Repository::with_snapshots).
//!
//! A snapshot carries the aggregate's `SNAPSHOT_VERSION` (set with
//! `#[aggregate(snapshot_version = N)]`, 1 by default): when the state's shape changes, bump it,
//! and snapshots of the old shape are ignored and the state is rebuilt from the events.
//!
//! A state that folded personal data ([`crate::personal`]) is kept sealed with a key derived
//! from the keys of every subject whose values it holds: once any of them is forgotten the
//! snapshot no longer opens, and the state is rebuilt from the events, where that subject's
//! fields read as erased. So `load` after `forget` equals a full replay, with or without
//! snapshots. [`SnapshotStore::delete_snapshot`] drops a stream's snapshot outright.

use std::future::Future;
use std::time::SystemTime;

use serde_json::value::RawValue;

use super::error::StoreError;

/// An aggregate's state as of one version of its stream.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// The version of the last event folded into `state`.
    pub stream_version: u64,
    /// The aggregate's `SNAPSHOT_VERSION` when it was taken.
    pub schema_version: u32,
    /// The state, as JSON.
    pub state: Box<RawValue>,
    /// When it was taken.
    pub taken_at: SystemTime,
}

impl PartialEq for Snapshot {
    fn eq(&self, other: &Self) -> bool {
        self.stream_version == other.stream_version
            && self.schema_version == other.schema_version
            && self.state.get() == other.state.get()
            && self.taken_at == other.taken_at
    }
}

/// Storage of the newest snapshot per stream, beside an [`EventStore`](crate::EventStore).
pub trait SnapshotStore: Clone + Send + Sync + 'static {
    /// Keeps `snapshot` for `stream` unless a snapshot of a later version is already kept.
    fn save_snapshot(
        &self,
        stream: &str,
        snapshot: Snapshot,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The newest snapshot of `stream`, if any.
    fn load_snapshot(
        &self,
        stream: &str,
    ) -> impl Future<Output = Result<Option<Snapshot>, StoreError>> + Send;

    /// Deletes the snapshot of `stream`; whether there was one. The next load folds the whole
    /// stream (and a repository taking snapshots saves a new one when the next is due).
    fn delete_snapshot(&self, stream: &str) -> impl Future<Output = Result<bool, StoreError>> + Send;
}
