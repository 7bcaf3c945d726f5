//! Leases: one holder at a time for a named piece of work (a projection), with a fencing epoch.
//!
//! A worker takes the lease, renews it while it works, and saves its checkpoint only through
//! [`Leases::save_checkpoint_fenced`], which checks in the same transaction that the lease is
//! still held at the epoch the worker took it with. When the holder dies or stops renewing,
//! another takes the lease once it expires, with the next epoch; the old holder, should it wake
//! up, can no longer write: its epoch is stale. A lock that vanished silently on failover would
//! let it write; the epoch does not.

use std::future::Future;
use std::time::{Duration, SystemTime};

use crate::checkpoint::{Checkpoint, CheckpointStore};
use crate::error::StoreError;

/// A lease as stored: who holds `name`, at which epoch, until when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    /// What is leased (a projection's name).
    pub name: String,
    /// Who holds it (a worker's id, e.g. host and process id).
    pub owner: String,
    /// The fencing token: one more at every change of holder.
    pub epoch: u64,
    /// When it was last taken or renewed.
    pub renewed_at: SystemTime,
    /// When it lapses unless renewed.
    pub expires_at: SystemTime,
}

/// Storage of leases beside the events and checkpoints, shared by every process on the store.
pub trait Leases: CheckpointStore {
    /// Takes `name` for `owner` for `ttl`: when nobody holds it, its holder let it expire (the
    /// epoch moves on), or `owner` holds it already (renewed, same epoch). `None` while another
    /// holds it. Expiry is judged by the store's clock (the server's, for PostgreSQL).
    fn acquire(
        &self,
        name: &str,
        owner: &str,
        ttl: Duration,
    ) -> impl Future<Output = Result<Option<Lease>, StoreError>> + Send;

    /// Gives the lease up at once if `lease` still holds it, so another can take it without
    /// waiting for the expiry.
    fn release(&self, lease: &Lease) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The lease `name` as stored, if it was ever taken.
    fn lease(&self, name: &str) -> impl Future<Output = Result<Option<Lease>, StoreError>> + Send;

    /// Saves `checkpoint` for `lease.name` in one transaction with the check that `lease` is
    /// still held at its epoch; [`StoreError::Fenced`] (and nothing saved) otherwise.
    fn save_checkpoint_fenced(
        &self,
        checkpoint: Checkpoint,
        lease: &Lease,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// A worker id for this process: host name (when known) and process id.
pub fn worker_id() -> String {
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "localhost".to_owned());
    format!("{host}:{}", std::process::id())
}
