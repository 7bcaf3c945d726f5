//! Projection versions: a projection whose code changed is built as a new version beside the
//! live one, and readers are switched over to it atomically once it has caught up.
//!
//! Version `n` of the projection `name` keeps its own checkpoint (and lease), named
//! [`versioned_name`]: `name` for version 1 (so that a projection that was never versioned is
//! version 1), `name@n` after. One *active version* record per projection says which version
//! readers read: a checkpoint named [`active_key`] (`name@active`) whose state is an
//! [`ActiveVersion`]. No record means version 1.
//!
//! A version switches when its feed has caught up (a batch read everything committed), it is
//! newer than the active one, and it is not behind the active one's checkpoint: [`switch`] takes
//! the lease `name@active` under a fresh owner id, compares with the active version's checkpoint,
//! and saves the new record fenced by the lease, so that of several processes exactly one
//! switches, a version never moves back, and readers never see the model go back to an earlier
//! position. An older version's worker that sees a newer active version retires: it gives its
//! lease up and stops. Its checkpoint can then be dropped with [`retire`].
//!
//! ```
//! use es_core::consume::versions::{self, Switched};
//! use es_core::{Cursor, MemoryStore};
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let store = MemoryStore::new();
//! assert_eq!(versions::active_version(&store, "balances").await?, 1, "no record: version 1");
//! let to2 = versions::switch(&store, "balances", 2, Cursor::at(10)).await?;
//! assert_eq!(to2, Switched::Now { from: None });
//! let again = versions::switch(&store, "balances", 2, Cursor::at(12)).await?;
//! assert_eq!(again, Switched::Already { active: 2 }, "exactly once");
//! assert_eq!(versions::active_version(&store, "balances").await?, 2);
//! assert_eq!(versions::versioned_name("balances", 2), "balances@2");
//! # Ok::<_, es_core::StoreError>(())
//! # }).unwrap();
//! ```

use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::store::checkpoint::{Checkpoint, CheckpointStore};
use crate::store::cursor::Cursor;
use crate::store::lease::Leases;
use crate::store::StoreError;

/// How long a switch holds the lease `name@active`: a switch is two reads and a write.
const SWITCH_TTL: Duration = Duration::from_secs(10);

/// How many switches a record remembers (the newest).
const HISTORY: usize = 100;

/// The checkpoint and lease name of version `version` of the projection `name`: `name` for
/// version 1 (and 0), `name@<version>` after.
pub fn versioned_name(name: &str, version: u64) -> String {
    if version <= 1 {
        name.to_owned()
    } else {
        format!("{name}@{version}")
    }
}

/// The checkpoint (and lease) name under which the active version of `name` is kept.
pub fn active_key(name: &str) -> String {
    format!("{name}@active")
}

/// Which version of a projection readers read, with the switches that led there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActiveVersion {
    /// The version readers read.
    pub version: u64,
    /// The switches so far, oldest first (the last hundred).
    pub switches: Vec<Switch>,
}

/// One switch of the active version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Switch {
    /// The version active before (`None`: no record, version 1 by default).
    pub from: Option<u64>,
    /// The version made active.
    pub to: u64,
    /// The position the new version had caught up to.
    pub position: u64,
    /// When, in microseconds since the Unix epoch.
    pub at_us: i64,
}

impl ActiveVersion {
    /// The record after switching `previous` (`None`: no record yet) to `to` at `cursor`.
    pub fn switched(previous: Option<ActiveVersion>, to: u64, cursor: Cursor) -> Self {
        let from = previous.as_ref().map(|p| p.version);
        let mut switches = previous.map(|p| p.switches).unwrap_or_default();
        let at_us = crate::store::time::to_micros(crate::store::time::now_micros());
        switches.push(Switch { from, to, position: cursor.position(), at_us });
        let excess = switches.len().saturating_sub(HISTORY);
        switches.drain(..excess);
        ActiveVersion { version: to, switches }
    }

    /// The record as saved in a checkpoint's state.
    pub fn to_state(&self) -> Result<Box<RawValue>, StoreError> {
        serde_json::value::to_raw_value(self)
            .map_err(|source| StoreError::State { owner: OWNER.into(), source })
    }

    /// The record in a checkpoint's state (`None`: no state, no record).
    pub fn from_state(state: Option<&RawValue>) -> Result<Option<Self>, StoreError> {
        state
            .map(|s| {
                serde_json::from_str(s.get())
                    .map_err(|source| StoreError::State { owner: OWNER.into(), source })
            })
            .transpose()
    }

    /// How many switches made `version` active (1 when it was switched to exactly once).
    pub fn switches_to(&self, version: u64) -> usize {
        self.switches.iter().filter(|s| s.to == version).count()
    }
}

/// The owner named in errors about the record.
const OWNER: &str = "active version record";

/// The active version record of `name`, if one was saved.
pub async fn active<S: CheckpointStore>(store: &S, name: &str) -> Result<Option<ActiveVersion>, StoreError> {
    let saved = store.load_checkpoint(&active_key(name)).await?;
    ActiveVersion::from_state(saved.as_ref().and_then(|c| c.state.as_deref()))
}

/// The version of `name` readers read: the record's, or 1 when none was saved.
pub async fn active_version<S: CheckpointStore>(store: &S, name: &str) -> Result<u64, StoreError> {
    Ok(active(store, name).await?.map_or(1, |a| a.version))
}

/// What [`switch`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Switched {
    /// Switched now, from the version that was active (`None`: no record).
    Now {
        /// The version active before.
        from: Option<u64>,
    },
    /// Nothing: `active` (the same version or a newer one) is active already.
    Already {
        /// The active version.
        active: u64,
    },
    /// Nothing: another process is switching right now; look again later.
    Busy,
    /// Nothing: the active version's checkpoint is at `at`, past the cursor given, so readers
    /// would see the model go back; read on and switch again.
    Behind {
        /// The active version.
        active: u64,
        /// Its checkpoint's cursor.
        at: Cursor,
    },
}

/// Makes version `to` of `name` the active one, caught up to `cursor`, unless the same or a
/// newer version is active already ([`Switched::Already`]) or the active version's checkpoint
/// is past `cursor` ([`Switched::Behind`]: read on first). Of several processes switching at
/// once, exactly one does: the record is saved fenced by the lease `name@active`, taken under a
/// fresh [`worker_id`](crate::store::lease::worker_id) for each switch.
///
/// The comparison with the active version is made under that lease, but the active version's
/// workers do not take it: one of them may still save a batch between the comparison and the
/// switch (a few milliseconds). Table projections on PostgreSQL lock the active version's
/// checkpoint row for the switch and have no such window.
pub async fn switch<S: Leases>(
    store: &S,
    name: &str,
    to: u64,
    cursor: Cursor,
) -> Result<Switched, StoreError> {
    let key = active_key(name);
    let owner = format!("switch/{}", crate::store::lease::worker_id());
    let Some(lease) = store.acquire(&key, &owner, SWITCH_TTL).await? else { return Ok(Switched::Busy) };
    let result = switch_under(store, name, to, cursor, &lease).await;
    let released = store.release(&lease).await;
    let switched = result?;
    released?;
    Ok(switched)
}

async fn switch_under<S: Leases>(
    store: &S,
    name: &str,
    to: u64,
    cursor: Cursor,
    lease: &crate::store::lease::Lease,
) -> Result<Switched, StoreError> {
    let previous = active(store, name).await?;
    if let Some(active) = previous.as_ref().map(|p| p.version).filter(|v| *v >= to) {
        return Ok(Switched::Already { active });
    }
    let from = previous.as_ref().map(|p| p.version);
    let active = from.unwrap_or(1);
    let at = store.load_checkpoint(&versioned_name(name, active)).await?.map(|c| c.cursor);
    if let Some(at) = at.filter(|at| *at > cursor) {
        tracing::debug!(projection = %name, to, active, %at, %cursor, "not switching: behind the active version");
        return Ok(Switched::Behind { active, at });
    }
    let record = ActiveVersion::switched(previous, to, cursor);
    let checkpoint =
        Checkpoint { cursor, state: Some(record.to_state()?), saved_at: crate::store::time::now_micros() };
    store.save_checkpoint_fenced(checkpoint, lease).await?;
    tracing::info!(projection = %name, from = ?from, to, position = cursor.position(), "switched the active version");
    Ok(Switched::Now { from })
}

/// The read model of the active version of `name`, as saved with its checkpoint.
#[derive(Debug, Clone)]
pub struct ActiveState {
    /// The active version.
    pub version: u64,
    /// The cursor of its last checkpoint ([`Cursor::START`]: none yet).
    pub cursor: Cursor,
    /// Its state as saved (`None`: nothing saved yet).
    pub state: Option<Box<RawValue>>,
}

impl ActiveState {
    /// The state as the read model `P` (its `Default` when nothing was saved yet).
    pub fn decode<P: DeserializeOwned + Default>(&self) -> Result<P, StoreError> {
        match &self.state {
            Some(state) => serde_json::from_str(state.get()).map_err(|source| StoreError::State {
                owner: format!("version {} of a projection", self.version),
                source,
            }),
            None => Ok(P::default()),
        }
    }
}

/// What readers of an in-memory projection read: the state of the active version of `name`
/// (never a version still being built beside it).
pub async fn load_active<S: CheckpointStore>(store: &S, name: &str) -> Result<ActiveState, StoreError> {
    let version = active_version(store, name).await?;
    let saved = store.load_checkpoint(&versioned_name(name, version)).await?;
    let (cursor, state) = saved.map_or((Cursor::START, None), |c| (c.cursor, c.state));
    Ok(ActiveState { version, cursor, state })
}

/// An error of [`retire`].
#[derive(Debug, thiserror::Error)]
pub enum VersionError {
    /// Readers read this version: it cannot be retired.
    #[error(
        "version {version} of projection `{name}` is the active one: switch to another before retiring it"
    )]
    Active {
        /// The projection.
        name: String,
        /// The version asked for.
        version: u64,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Drops the checkpoint of version `version` of `name`, once it is no longer active (stop its
/// workers first: a worker that has not seen the switch yet would save it again).
pub async fn retire<S: CheckpointStore>(store: &S, name: &str, version: u64) -> Result<(), VersionError> {
    if active_version(store, name).await? == version {
        return Err(VersionError::Active { name: name.to_owned(), version });
    }
    store.delete_checkpoint(&versioned_name(name, version)).await?;
    Ok(())
}

/// Where a versioned consumer stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Built beside the active version; readers do not see it yet.
    Beside,
    /// The active version: readers read it.
    Active,
    /// A newer version is active: this one stopped.
    Retired {
        /// The active version.
        active: u64,
    },
}

impl Phase {
    /// Where version `own` stands when the record says `active` (`None`: no record).
    pub fn of(own: u64, active: Option<u64>) -> Self {
        match active {
            Some(active) if active > own => Phase::Retired { active },
            Some(active) if active == own => Phase::Active,
            None if own <= 1 => Phase::Active,
            _ => Phase::Beside,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MemoryStore;

    #[test]
    fn names_and_phases() {
        assert_eq!(versioned_name("b", 1), "b");
        assert_eq!(versioned_name("b", 3), "b@3");
        assert_eq!(active_key("b"), "b@active");
        assert_eq!(Phase::of(1, None), Phase::Active);
        assert_eq!(Phase::of(2, None), Phase::Beside);
        assert_eq!(Phase::of(2, Some(1)), Phase::Beside);
        assert_eq!(Phase::of(2, Some(2)), Phase::Active);
        assert_eq!(Phase::of(1, Some(2)), Phase::Retired { active: 2 });
    }

    #[tokio::test]
    async fn a_switch_happens_once_and_never_moves_back() {
        let store = MemoryStore::new();
        assert_eq!(switch(&store, "p", 2, Cursor::at(5)).await.ok(), Some(Switched::Now { from: None }));
        assert_eq!(switch(&store, "p", 2, Cursor::at(6)).await.ok(), Some(Switched::Already { active: 2 }));
        assert_eq!(switch(&store, "p", 1, Cursor::at(7)).await.ok(), Some(Switched::Already { active: 2 }));
        assert_eq!(switch(&store, "p", 3, Cursor::at(8)).await.ok(), Some(Switched::Now { from: Some(2) }));
        let record = active(&store, "p").await.ok().flatten().expect("a record");
        assert_eq!((record.version, record.switches_to(2), record.switches_to(3)), (3, 1, 1));
        assert!(matches!(retire(&store, "p", 3).await, Err(VersionError::Active { version: 3, .. })));
        assert!(retire(&store, "p", 2).await.is_ok());
    }

    #[tokio::test]
    async fn a_switch_waits_for_another_switcher() {
        let store = MemoryStore::new();
        let held = store.acquire(&active_key("p"), "other", SWITCH_TTL).await.ok().flatten().expect("lease");
        assert_eq!(switch(&store, "p", 2, Cursor::at(5)).await.ok(), Some(Switched::Busy));
        store.release(&held).await.expect("release");
        assert_eq!(switch(&store, "p", 2, Cursor::at(5)).await.ok(), Some(Switched::Now { from: None }));
    }

    /// Version 2 read up to 990, version 1 saved 1000 meanwhile: switching would show readers
    /// the model at 990 after 1000. Refused until version 2 is at least where version 1 is.
    #[tokio::test]
    async fn a_switch_waits_until_the_new_version_is_not_behind_the_active_one() {
        let store = MemoryStore::new();
        let saved = |at| Checkpoint {
            cursor: Cursor::at(at),
            state: None,
            saved_at: crate::store::time::now_micros(),
        };
        store.save_checkpoint("p", saved(1000)).await.expect("version 1 at 1000");
        let behind = Switched::Behind { active: 1, at: Cursor::at(1000) };
        assert_eq!(switch(&store, "p", 2, Cursor::at(990)).await.ok(), Some(behind));
        assert_eq!(active_version(&store, "p").await.ok(), Some(1), "nothing switched");
        assert_eq!(switch(&store, "p", 2, Cursor::at(1000)).await.ok(), Some(Switched::Now { from: None }));
        // Version 3 against the active version 2's checkpoint.
        store.save_checkpoint("p@2", saved(1200)).await.expect("version 2 at 1200");
        let behind = Switched::Behind { active: 2, at: Cursor::at(1200) };
        assert_eq!(switch(&store, "p", 3, Cursor::at(1100)).await.ok(), Some(behind));
        assert_eq!(
            switch(&store, "p", 3, Cursor::at(1300)).await.ok(),
            Some(Switched::Now { from: Some(2) })
        );
    }

    #[tokio::test]
    async fn every_switch_takes_the_lease_under_a_fresh_owner() {
        let store = MemoryStore::new();
        switch(&store, "p", 2, Cursor::at(1)).await.expect("switch");
        let first = store.lease(&active_key("p")).await.ok().flatten().expect("a lease row");
        switch(&store, "p", 3, Cursor::at(1)).await.expect("switch");
        let second = store.lease(&active_key("p")).await.ok().flatten().expect("a lease row");
        assert!(first.owner.starts_with("switch/"), "{first:?}");
        assert_ne!(first.owner, second.owner);
    }
}
