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

use crate::store::checkpoint::{Checkpoint, CheckpointStore};
use crate::store::StoreError;

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

/// The longest lease: a longer TTL is clamped to it (100 years, far from any clock's or
/// column's limit), so that `now + ttl` never overflows, in Rust or in SQL.
pub const MAX_TTL: Duration = Duration::from_secs(100 * 365 * 24 * 60 * 60);

/// `ttl`, clamped to [`MAX_TTL`]: what stores compute expiries with.
pub fn clamp_ttl(ttl: Duration) -> Duration {
    ttl.min(MAX_TTL)
}

/// When a lease taken or renewed at `now` for `ttl` lapses: `now + ttl`, the TTL clamped to
/// [`MAX_TTL`], so a huge TTL (`Duration::MAX`) means "practically never", not a panic.
pub fn expiry(now: SystemTime, ttl: Duration) -> SystemTime {
    // Only a clock set some hundreds of billions of years ahead fails the addition; such a
    // lease lapses at once rather than never.
    now.checked_add(clamp_ttl(ttl)).unwrap_or(now)
}

/// A fresh worker id, different for every call: `host/pid/random`, e.g. `web-1/1/9f86d081`.
///
/// Only the random part makes it unique: two containers both run their process as pid 1, and
/// may share a host name. The host name and process id are a label for operators (`es
/// status`), read from `HOSTNAME`, else `/etc/hostname`, else `unknown`. Call it once per
/// worker instance, so that two workers of one process never share an id either.
///
/// ```
/// let (a, b) = (es_core::lease::worker_id(), es_core::lease::worker_id());
/// assert_ne!(a, b);
/// ```
pub fn worker_id() -> String {
    let random = uuid::Uuid::new_v4().simple().to_string();
    format!("{}/{}/{}", host(), std::process::id(), &random[..8])
}

/// This machine's host name, as a label (see [`worker_id`]).
fn host() -> String {
    let from_env = std::env::var("HOSTNAME").ok();
    let from_file = || std::fs::read_to_string("/etc/hostname").ok();
    host_label(from_env).or_else(|| host_label(from_file())).unwrap_or_else(|| "unknown".to_owned())
}

/// The longest host label kept (a DNS name has at most 253 characters; a label needs fewer).
const HOST_LABEL_MAX: usize = 64;

/// A host name fit for a label: trimmed, without control characters or whitespace or `/` (it
/// is printed, and `/` separates the id's parts), at most [`HOST_LABEL_MAX`] characters;
/// `None` when nothing is left.
fn host_label(raw: Option<String>) -> Option<String> {
    let label: String = raw?
        .trim()
        .chars()
        .filter(|c| !c.is_control() && !c.is_whitespace() && *c != '/')
        .take(HOST_LABEL_MAX)
        .collect();
    (!label.is_empty()).then_some(label)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worker_ids_differ_within_one_process() {
        let ids: std::collections::HashSet<String> = (0..100).map(|_| worker_id()).collect();
        assert_eq!(ids.len(), 100, "every call makes a new id");
    }

    #[test]
    fn a_worker_id_is_labelled_with_host_and_pid() {
        let id = worker_id();
        let parts: Vec<&str> = id.split('/').collect();
        assert_eq!(parts.len(), 3, "{id}");
        assert_eq!(parts[0], host());
        assert_eq!(parts[1], std::process::id().to_string());
        assert!(parts[2].len() == 8 && parts[2].chars().all(|c| c.is_ascii_hexdigit()), "{id}");
    }

    #[test]
    fn the_host_label_comes_from_the_first_usable_source() {
        assert_eq!(host_label(Some(" web-1\n".to_owned())), Some("web-1".to_owned()));
        assert_eq!(host_label(Some("a/b\r\nc".to_owned())), Some("abc".to_owned()));
        assert_eq!(host_label(Some("  \n".to_owned())), None, "blank: try the next source");
        assert_eq!(host_label(None), None);
        assert_eq!(host_label(Some("h".repeat(300))).map(|h| h.len()), Some(HOST_LABEL_MAX));
        let host = host();
        assert!(!host.is_empty() && !host.contains('/') && !host.contains(char::is_whitespace), "{host:?}");
    }

    #[test]
    fn a_huge_ttl_is_clamped_not_an_overflow() {
        let now = SystemTime::now();
        assert_eq!(expiry(now, Duration::MAX), now + MAX_TTL);
        assert_eq!(expiry(now, Duration::from_secs(5)), now + Duration::from_secs(5));
        assert_eq!(clamp_ttl(Duration::MAX), MAX_TTL);
    }
}
