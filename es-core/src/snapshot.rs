//! Snapshots: an aggregate's state saved at a version, so that loading reads only the events
//! after it. A [`SnapshotStore`] keeps them beside the events; a repository takes one every N
//! events when asked to with [`Repository::with_snapshots`](crate::Repository::with_snapshots).
//!
//! A snapshot carries the aggregate's `SNAPSHOT_VERSION` (set with
//! `#[aggregate(snapshot_version = N)]`, 1 by default): when the state's shape changes, bump it,
//! and snapshots of the old shape are ignored and the state is rebuilt from the events.

use std::future::Future;
use std::pin::Pin;
use std::time::SystemTime;

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::value::RawValue;

use crate::aggregate::Aggregate;
use crate::error::StoreError;

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
}

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What a repository does with snapshots, with the store and the state's serde bounds erased,
/// so that `Repository` needs them only where snapshots are switched on.
pub(crate) trait SnapshotPolicy<A>: Send + Sync {
    /// Take a snapshot every this many events.
    fn every(&self) -> u64;
    /// The state and version of the newest usable snapshot.
    fn load<'a>(&'a self, stream: &'a str) -> BoxFuture<'a, Result<Option<(A, u64)>, StoreError>>;
    /// Saves `state` as of `version`.
    fn save<'a>(&'a self, stream: &'a str, state: &A, version: u64) -> BoxFuture<'a, Result<(), StoreError>>;
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

    fn load<'a>(&'a self, stream: &'a str) -> BoxFuture<'a, Result<Option<(A, u64)>, StoreError>> {
        Box::pin(async move {
            let Some(snapshot) = self.store.load_snapshot(stream).await? else {
                return Ok(None);
            };
            // Another shape of the state, or one that no longer parses: rebuild from events.
            if snapshot.schema_version != A::SNAPSHOT_VERSION {
                return Ok(None);
            }
            Ok(serde_json::from_str(snapshot.state.get()).ok().map(|state| (state, snapshot.stream_version)))
        })
    }

    fn save<'a>(&'a self, stream: &'a str, state: &A, version: u64) -> BoxFuture<'a, Result<(), StoreError>> {
        let state = serde_json::value::to_raw_value(state);
        Box::pin(async move {
            let state = state.map_err(|source| StoreError::State { owner: stream.to_owned(), source })?;
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
