//! `ProjectionWorker`: runs a named projection in one process at a time, under a lease, and
//! takes over when the process that ran it dies or stops renewing. A thin face over a leased
//! [`Feed`] of the projection.
//!
//! ```
//! use es_core::{Event, EventContext, EventStore, ExpectedVersion, MemoryStore, NewEvent, Project, Projection};
//! use es_core::worker::{ProjectionWorker, Step};
//! use serde::{Deserialize, Serialize};
//! use std::time::Duration;
//!
//! #[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
//! pub struct Pinged;
//!
//! #[derive(Projection, Default, Serialize, Deserialize)]
//! #[projection(events(Pinged))]
//! pub struct PingCount { pings: u64 }
//! impl Project<Pinged> for PingCount {
//!     fn project(&mut self, _: &Pinged, _: &EventContext<'_>) { self.pings += 1 }
//! }
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let store = MemoryStore::new();
//! store.append("Pinger-1", ExpectedVersion::Any, vec![NewEvent::new("Pinged", 1, serde_json::json!(null))]).await?;
//! let ttl = Duration::from_secs(5);
//! let mut a = ProjectionWorker::<PingCount, _>::new("pings", store.clone()).owner("a").ttl(ttl);
//! let mut b = ProjectionWorker::<PingCount, _>::new("pings", store.clone()).owner("b").ttl(ttl);
//! assert!(matches!(a.step().await?, Step::Worked { read: 1, .. }));
//! assert!(matches!(b.step().await?, Step::Standby { .. }), "a holds the lease");
//! a.release().await?;                                   // or a dies and its lease expires
//! assert!(matches!(b.step().await?, Step::Worked { read: 0, .. }));
//! assert_eq!(b.projection().map(|p| p.pings), Some(1), "b resumed from a's checkpoint");
//! let status = es_core::worker::status(&store, "pings").await?;
//! assert_eq!(status.lease.map(|l| (l.owner, l.epoch)), Some(("b".to_owned(), 2)));
//! assert_eq!(status.lag, 0);
//! # Ok::<_, es_core::StoreError>(())
//! # }).unwrap();
//! ```

use std::future::Future;
use std::time::{Duration, SystemTime};

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::consume::projection::Projection;
use crate::consume::{Feed, Projected, Stepped};
use crate::runner::store_error;
use crate::store::cursor::Cursor;
use crate::store::lease::{Lease, Leases};
use crate::store::EventStore;
use crate::store::StoreError;

/// What one [`ProjectionWorker::step`] did.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// This worker holds the lease and handled a batch of `read` events (0: caught up).
    Worked {
        /// Events read in the batch.
        read: usize,
        /// The lease it holds.
        lease: Lease,
    },
    /// Another worker holds the lease: this one waits.
    Standby {
        /// The holder, when known.
        holder: Option<Lease>,
    },
    /// This worker held the lease at `epoch`, but another took it over before the batch was
    /// saved: the batch was refused and thrown away, and this worker waits.
    Fenced {
        /// The epoch this worker held.
        epoch: u64,
    },
}

/// Runs the projection `P` named `name` on `S` while it holds the lease of that name.
pub struct ProjectionWorker<P, S> {
    feed: Feed<Projected<P>, S>,
}

impl<P, S> ProjectionWorker<P, S>
where
    P: Projection + Default + Serialize + DeserializeOwned,
    S: EventStore + Leases + crate::personal::Privacy,
{
    /// A worker for the projection `name`, with a fresh id ([`worker_id`](crate::store::lease::worker_id):
    /// unique per worker, labelled with host and process), a 10 s lease and batches of 512.
    pub fn new(name: impl Into<String>, store: S) -> Self {
        let feed =
            Feed::new(name, Projected::new(P::default()), store).leased(Duration::from_secs(10)).batch(512);
        ProjectionWorker { feed }
    }

    /// Names this worker (default: a fresh worker id). Workers need distinct names: two
    /// workers with one name both pass the fence.
    pub fn owner(mut self, owner: impl Into<String>) -> Self {
        self.feed = self.feed.owner(owner);
        self
    }

    /// How long the lease lasts unless renewed; every step renews it. Another worker takes over
    /// within this time after the holder stops. Keep it well above a batch's duration.
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.feed = self.feed.leased(ttl);
        self
    }

    /// Events per batch (and per checkpoint).
    pub fn batch(mut self, batch: usize) -> Self {
        self.feed = self.feed.batch(batch);
        self
    }

    /// The read model, while this worker holds the lease.
    pub fn projection(&self) -> Option<&P> {
        self.feed.lease().map(|_| self.feed.consumer().projection())
    }

    /// Takes or renews the lease; holding it, handles one batch and saves it under the lease. A
    /// worker that took the lease over resumes from the last saved checkpoint and state; a
    /// failed batch leaves the read model at its last checkpoint.
    pub async fn step(&mut self) -> Result<Step, StoreError> {
        Ok(match self.feed.step().await.map_err(store_error)? {
            Stepped::Worked { read, lease: Some(lease), .. } => Step::Worked { read, lease },
            Stepped::Worked { lease: None, .. } => Step::Standby { holder: None },
            Stepped::Standby { holder } => Step::Standby { holder },
            Stepped::Fenced { epoch } => Step::Fenced { epoch },
        })
    }

    /// Steps until `stop` completes: batches back to back while behind, waiting for the store's
    /// signal (or `poll`) when caught up, every `poll` on standby; then gives the lease up.
    /// Store errors that outlast the retries end it, the read model at its last checkpoint (run
    /// it again to go on).
    pub async fn run(&mut self, poll: Duration, stop: impl Future<Output = ()>) -> Result<(), StoreError> {
        self.feed.set_poll(poll);
        self.feed.run(stop).await.map_err(store_error)
    }

    /// Gives the lease up, so another worker takes over without waiting for it to expire.
    pub async fn release(&mut self) -> Result<(), StoreError> {
        self.feed.release().await
    }
}

/// A projection's state for operators: who runs it, at which epoch, how far it is.
#[derive(Debug, Clone, PartialEq)]
pub struct ProjectionStatus {
    /// The projection's name.
    pub name: String,
    /// Its lease (owner, epoch, last renewal, expiry), if a worker ever took it.
    pub lease: Option<Lease>,
    /// The cursor of its last saved batch, if any.
    pub cursor: Option<Cursor>,
    /// When that batch was saved.
    pub saved_at: Option<SystemTime>,
    /// How far it is behind the store's head, in positions (an estimate where positions are not
    /// handed out in commit order, as in PostgreSQL).
    pub lag: u64,
}

/// The status of the projection `name` on `store`: its lease, checkpoint and lag.
pub async fn status<S: EventStore + Leases>(store: &S, name: &str) -> Result<ProjectionStatus, StoreError> {
    let lease = store.lease(name).await?;
    let checkpoint = store.load_checkpoint(name).await?;
    let cursor = checkpoint.as_ref().map(|c| c.cursor);
    let head = store.head().await?;
    Ok(ProjectionStatus {
        name: name.to_owned(),
        lease,
        cursor,
        saved_at: checkpoint.map(|c| c.saved_at),
        lag: head.position().saturating_sub(cursor.unwrap_or_default().position()),
    })
}
