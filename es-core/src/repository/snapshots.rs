//! When a repository takes snapshots (every N events), and how it seals and opens a state that
//! folded personal data (see [`crate::store::SnapshotStore`]).

use std::collections::BTreeSet;
use std::future::Future;
use std::pin::Pin;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::model::Aggregate;
use crate::personal::{sealed_state, Keyring};
use crate::store::{Snapshot, SnapshotStore, StoreError};

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
                taken_at: crate::store::time::now_micros(),
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
