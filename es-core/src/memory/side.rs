//! The `MemoryStore`'s tables beside the events: snapshots, checkpoints and leases; and its turns.

use std::sync::PoisonError;
use std::time::{Duration, SystemTime};

use uuid::Uuid;

use crate::store::checkpoint::{Checkpoint, CheckpointStore};
use crate::store::dead_letter::{DeadLetters, Parked};
use crate::store::lease::{Lease, Leases};
use crate::store::snapshot::{Snapshot, SnapshotStore};
use crate::store::ExpectedVersion;
use crate::store::StoreError;
use crate::store::{Appended, EventRef, NewEvent};
use crate::store::{EventStore, Lend};
use crate::store::{LocalQueue, LocalTurn, Turn, Turns};

use super::MemoryStore;

impl Turns for MemoryStore {
    type Turn<'a> = MemoryTurn<'a>;

    fn local_queue(&self, stream: &str) -> LocalQueue {
        self.queues.get(stream)
    }

    async fn take_turn<'a>(&'a self, stream: &'a str) -> Result<MemoryTurn<'a>, StoreError> {
        let held = self.turns.get(stream).wait().await;
        Ok(MemoryTurn { store: self, stream, _held: held })
    }
}

/// A turn on one stream of a [`MemoryStore`]: appends are visible at once, as outside turns.
#[derive(Debug)]
pub struct MemoryTurn<'a> {
    store: &'a MemoryStore,
    stream: &'a str,
    _held: LocalTurn,
}

impl Turn for MemoryTurn<'_> {
    async fn visit_stream<F>(
        &mut self,
        from: u64,
        limit: usize,
        lend: Lend,
        visit: F,
    ) -> Result<usize, StoreError>
    where
        F: FnMut(&EventRef<'_>) -> Result<(), StoreError> + Send,
    {
        self.store.visit_stream(self.stream, from, limit, lend, visit).await
    }

    async fn append(
        &mut self,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<Appended, StoreError> {
        self.store.append(self.stream, expected, events).await
    }

    async fn finish(self) -> Result<(), StoreError> {
        Ok(())
    }
}

impl SnapshotStore for MemoryStore {
    async fn save_snapshot(&self, stream: &str, snapshot: Snapshot) -> Result<(), StoreError> {
        let mut snapshots = self.snapshots.lock().unwrap_or_else(PoisonError::into_inner);
        let newer = snapshots.get(stream).is_none_or(|kept| snapshot.stream_version > kept.stream_version);
        if newer {
            snapshots.insert(stream.to_owned(), snapshot);
        }
        Ok(())
    }

    async fn load_snapshot(&self, stream: &str) -> Result<Option<Snapshot>, StoreError> {
        Ok(self.snapshots.lock().unwrap_or_else(PoisonError::into_inner).get(stream).cloned())
    }

    async fn delete_snapshot(&self, stream: &str) -> Result<bool, StoreError> {
        Ok(self.snapshots.lock().unwrap_or_else(PoisonError::into_inner).remove(stream).is_some())
    }
}

impl DeadLetters for MemoryStore {
    async fn park(&self, parked: Parked) -> Result<(), StoreError> {
        let key = (parked.reactor.clone(), parked.event.position);
        self.dead_letters.lock().unwrap_or_else(PoisonError::into_inner).insert(key, parked);
        Ok(())
    }

    async fn parked(&self, reactor: &str) -> Result<Vec<Parked>, StoreError> {
        let dead = self.dead_letters.lock().unwrap_or_else(PoisonError::into_inner);
        Ok(dead.values().filter(|p| p.reactor == reactor).cloned().collect())
    }

    async fn unpark(&self, reactor: &str, event: Uuid) -> Result<(), StoreError> {
        let mut dead = self.dead_letters.lock().unwrap_or_else(PoisonError::into_inner);
        dead.retain(|_, p| !(p.reactor == reactor && p.event.id == event));
        Ok(())
    }
}

impl Leases for MemoryStore {
    async fn acquire(&self, name: &str, owner: &str, ttl: Duration) -> Result<Option<Lease>, StoreError> {
        let now = SystemTime::now();
        let mut leases = self.leases.lock().unwrap_or_else(PoisonError::into_inner);
        let lease = match leases.get(name) {
            Some(held) if held.owner == owner => {
                Lease { renewed_at: now, expires_at: crate::store::lease::expiry(now, ttl), ..held.clone() }
            }
            Some(held) if held.expires_at > now => return Ok(None),
            taken => Lease {
                name: name.to_owned(),
                owner: owner.to_owned(),
                epoch: taken.map_or(0, |t| t.epoch) + 1,
                renewed_at: now,
                expires_at: crate::store::lease::expiry(now, ttl),
            },
        };
        leases.insert(name.to_owned(), lease.clone());
        Ok(Some(lease))
    }

    async fn release(&self, lease: &Lease) -> Result<(), StoreError> {
        let mut leases = self.leases.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(held) = leases.get_mut(&lease.name) {
            if held.owner == lease.owner && held.epoch == lease.epoch {
                held.expires_at = SystemTime::UNIX_EPOCH;
            }
        }
        Ok(())
    }

    async fn lease(&self, name: &str) -> Result<Option<Lease>, StoreError> {
        Ok(self.leases.lock().unwrap_or_else(PoisonError::into_inner).get(name).cloned())
    }

    async fn save_checkpoint_fenced(&self, checkpoint: Checkpoint, lease: &Lease) -> Result<(), StoreError> {
        // The lease table stays locked while the checkpoint is written: no takeover in between.
        let leases = self.leases.lock().unwrap_or_else(PoisonError::into_inner);
        let held = leases.get(&lease.name).is_some_and(|l| l.owner == lease.owner && l.epoch == lease.epoch);
        if !held {
            return Err(StoreError::Fenced { lease: lease.name.clone(), epoch: lease.epoch });
        }
        self.checkpoints
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(lease.name.clone(), checkpoint);
        Ok(())
    }
}

impl CheckpointStore for MemoryStore {
    async fn save_checkpoint(&self, projection: &str, checkpoint: Checkpoint) -> Result<(), StoreError> {
        self.checkpoints
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(projection.to_owned(), checkpoint);
        Ok(())
    }

    async fn load_checkpoint(&self, projection: &str) -> Result<Option<Checkpoint>, StoreError> {
        Ok(self.checkpoints.lock().unwrap_or_else(PoisonError::into_inner).get(projection).cloned())
    }

    async fn delete_checkpoint(&self, projection: &str) -> Result<(), StoreError> {
        self.checkpoints.lock().unwrap_or_else(PoisonError::into_inner).remove(projection);
        Ok(())
    }
}
