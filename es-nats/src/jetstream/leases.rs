//! Leases with fencing epochs in the side tables: taken and renewed by a write conditional on
//! the lease's revision; a fenced checkpoint is one atomic batch of the lease, rewritten under
//! the same condition, and the checkpoint, so it is refused once another holder took over.

use std::time::Duration;

use es_core::backend::{from_micros, to_micros};
use es_core::lease::expiry;
use es_core::{Checkpoint, Lease, Leases, StoreError};
use serde_json::{json, Value};

use super::side::Entry;
use super::tables::{checkpoint_json, now, CHECKPOINTS};
use super::{JetStreamStore, BACKEND};

const LEASES: &str = "l";

fn lease_json(l: &Lease) -> Value {
    json!({ "owner": l.owner, "epoch": l.epoch, "renewed_us": to_micros(l.renewed_at), "expires_us": to_micros(l.expires_at) })
}

fn lease_from(name: &str, v: &Value) -> Result<Lease, StoreError> {
    let bad = || StoreError::backend(BACKEND, format!("the stored lease `{name}` does not parse"));
    Ok(Lease {
        name: name.to_owned(),
        owner: v["owner"].as_str().ok_or_else(bad)?.to_owned(),
        epoch: v["epoch"].as_u64().ok_or_else(bad)?,
        renewed_at: from_micros(v["renewed_us"].as_i64().ok_or_else(bad)?),
        expires_at: from_micros(v["expires_us"].as_i64().ok_or_else(bad)?),
    })
}

impl JetStreamStore {
    async fn lease_entry(&self, name: &str) -> Result<Option<(Entry, Lease)>, StoreError> {
        let Some(entry) = self.inner.side.get(LEASES, name).await? else { return Ok(None) };
        let lease = lease_from(name, &entry.value)?;
        Ok(Some((entry, lease)))
    }
}

impl Leases for JetStreamStore {
    async fn acquire(&self, name: &str, owner: &str, ttl: Duration) -> Result<Option<Lease>, StoreError> {
        loop {
            let held = self.lease_entry(name).await?;
            let now = now();
            let lease = match &held {
                Some((_, l)) if l.owner == owner => {
                    Lease { renewed_at: now, expires_at: expiry(now, ttl), ..l.clone() }
                }
                Some((_, l)) if l.expires_at > now => return Ok(None),
                taken => Lease {
                    name: name.to_owned(),
                    owner: owner.to_owned(),
                    epoch: taken.as_ref().map_or(0, |(_, l)| l.epoch) + 1,
                    renewed_at: now,
                    expires_at: expiry(now, ttl),
                },
            };
            let revision = held.map_or(0, |(e, _)| e.revision);
            if self.inner.side.put(LEASES, name, &lease_json(&lease), Some(revision)).await?.is_ok() {
                return Ok(Some(lease));
            }
        }
    }

    async fn release(&self, lease: &Lease) -> Result<(), StoreError> {
        loop {
            let Some((entry, held)) = self.lease_entry(&lease.name).await? else { return Ok(()) };
            if held.owner != lease.owner || held.epoch != lease.epoch {
                return Ok(());
            }
            let expired = Lease { expires_at: std::time::SystemTime::UNIX_EPOCH, ..held };
            if self
                .inner
                .side
                .put(LEASES, &lease.name, &lease_json(&expired), Some(entry.revision))
                .await?
                .is_ok()
            {
                return Ok(());
            }
        }
    }

    async fn lease(&self, name: &str) -> Result<Option<Lease>, StoreError> {
        Ok(self.lease_entry(name).await?.map(|(_, l)| l))
    }

    async fn save_checkpoint_fenced(&self, checkpoint: Checkpoint, lease: &Lease) -> Result<(), StoreError> {
        let value = checkpoint_json(&checkpoint);
        loop {
            let held = self.lease_entry(&lease.name).await?;
            let Some((entry, held)) = held.filter(|(_, l)| l.owner == lease.owner && l.epoch == lease.epoch)
            else {
                return Err(StoreError::Fenced { lease: lease.name.clone(), epoch: lease.epoch });
            };
            let writes = vec![
                (LEASES, lease.name.as_str(), &entry.value, Some(entry.revision)),
                (CHECKPOINTS, lease.name.as_str(), &value, None),
            ];
            let _ = held;
            if self.inner.side.put_all(writes).await?.is_ok() {
                return Ok(());
            }
        }
    }
}
