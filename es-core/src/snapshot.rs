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

use std::collections::BTreeSet;
use std::future::Future;
use std::pin::Pin;
use std::time::SystemTime;

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::value::RawValue;

use crate::aggregate::Aggregate;
use crate::error::StoreError;
use crate::personal::{sealed_state, Keyring};

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

/// A state loaded from a snapshot: the state, its version, and the subjects whose personal
/// data it holds.
pub(crate) type Based<A> = (A, u64, BTreeSet<String>);

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What a repository does with snapshots, with the store and the state's serde bounds erased,
/// so that `Repository` needs them only where snapshots are switched on.
pub(crate) trait SnapshotPolicy<A>: Send + Sync {
    /// Take a snapshot every this many events.
    fn every(&self) -> u64;
    /// The state and version of the newest usable snapshot (opened with `keys`), and the
    /// subjects it was sealed for.
    fn load<'a>(
        &'a self,
        stream: &'a str,
        keys: Option<&'a Keyring>,
    ) -> BoxFuture<'a, Result<Option<Based<A>>, StoreError>>;
    /// Saves `state` as of `version`, sealed for `subjects` (not at all if one was forgotten).
    fn save<'a>(
        &'a self,
        stream: &'a str,
        state: &A,
        version: u64,
        subjects: &'a BTreeSet<String>,
        keys: Option<&'a Keyring>,
    ) -> BoxFuture<'a, Result<(), StoreError>>;
}

/// Every `every` events, into `store`.
pub(crate) struct EveryN<S> {
    pub(crate) store: S,
    pub(crate) every: u64,
}

impl<A, S> SnapshotPolicy<A> for EveryN<S>
where
    A: Aggregate + Serialize + DeserializeOwned,
    S: SnapshotStore,
{
    fn every(&self) -> u64 {
        self.every
    }

    fn load<'a>(
        &'a self,
        stream: &'a str,
        keys: Option<&'a Keyring>,
    ) -> BoxFuture<'a, Result<Option<Based<A>>, StoreError>> {
        Box::pin(async move {
            let Some(snapshot) = self.store.load_snapshot(stream).await? else {
                return Ok(None);
            };
            // Another shape of the state, or one that no longer parses: rebuild from events.
            if snapshot.schema_version != A::SNAPSHOT_VERSION {
                return Ok(None);
            }
            let opened = sealed_state::open(keys, stream, snapshot.stream_version, &snapshot.state).await?;
            let Some((state, subjects)) = opened else { return Ok(None) };
            Ok(serde_json::from_str(&state).ok().map(|state| (state, snapshot.stream_version, subjects)))
        })
    }

    fn save<'a>(
        &'a self,
        stream: &'a str,
        state: &A,
        version: u64,
        subjects: &'a BTreeSet<String>,
        keys: Option<&'a Keyring>,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        let state = serde_json::value::to_raw_value(state);
        Box::pin(async move {
            let state = state.map_err(|source| StoreError::State { owner: stream.to_owned(), source })?;
            let state = match keys {
                Some(keys) => sealed_state::seal(keys, subjects, stream, version, state).await?,
                // Personal data can only be kept sealed.
                None => subjects.is_empty().then_some(state),
            };
            let Some(state) = state else { return Ok(()) };
            let snapshot = Snapshot {
                stream_version: version,
                schema_version: A::SNAPSHOT_VERSION,
                state,
                taken_at: crate::time::now_micros(),
            };
            self.store.save_snapshot(stream, snapshot).await
        })
    }
}

/// Whether appending from `before` to `after` crossed a multiple of `every`.
pub(crate) fn crosses(before: u64, after: u64, every: u64) -> bool {
    every > 0 && after / every > before / every
}

#[cfg(test)]
mod tests {
    use super::crosses;

    #[test]
    fn snapshots_are_due_when_a_multiple_is_crossed() {
        assert!(crosses(999, 1000, 1000));
        assert!(crosses(998, 1003, 1000));
        assert!(!crosses(1000, 1999, 1000));
        assert!(!crosses(1, 5, 0));
    }
}
