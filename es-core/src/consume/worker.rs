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
use crate::consume::versions::{self, versioned_name, Phase, Switched};
use crate::consume::{Feed, FeedError, Projected, Stepped};
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
///
/// Given a [`version`](Self::version), it runs that version of the projection beside the
/// others ([`crate::consume::versions`]): under its own checkpoint and lease, switching readers
/// to it once it has caught up, and retiring when a newer version was switched to.
pub struct ProjectionWorker<P, S> {
    feed: Feed<Projected<P>, S>,
    name: String,
    owner: String,
    ttl: Duration,
    batch: usize,
    /// The version run, when versioned.
    version: Option<u64>,
    phase: Phase,
    /// The version active before this worker switched to its own, when it did.
    switched: Option<Switched>,
    /// Whether the last switch was refused because the active version is further: read on at
    /// once rather than wait for the store's signal.
    behind: bool,
}

impl<P, S> ProjectionWorker<P, S>
where
    P: Projection + Default + Serialize + DeserializeOwned,
    S: EventStore + Leases + crate::personal::Privacy,
{
    /// A worker for the projection `name`, with a fresh id ([`worker_id`](crate::store::lease::worker_id):
    /// unique per worker, labelled with host and process), a 10 s lease and batches of 512.
    pub fn new(name: impl Into<String>, store: S) -> Self {
        let name = name.into();
        let (owner, ttl, batch) = (crate::store::lease::worker_id(), Duration::from_secs(10), 512);
        let feed = Feed::new(name.clone(), Projected::new(P::default()), store)
            .leased(ttl)
            .batch(batch)
            .owner(owner.clone());
        ProjectionWorker {
            feed,
            name,
            owner,
            ttl,
            batch,
            version: None,
            phase: Phase::Active,
            switched: None,
            behind: false,
        }
    }

    /// Names this worker (default: a fresh worker id). Workers need distinct names: two
    /// workers with one name both pass the fence.
    pub fn owner(mut self, owner: impl Into<String>) -> Self {
        self.owner = owner.into();
        self.feed = self.feed.owner(self.owner.clone());
        self
    }

    /// How long the lease lasts unless renewed; every step renews it. Another worker takes over
    /// within this time after the holder stops. Keep it well above a batch's duration.
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self.feed = self.feed.leased(ttl);
        self
    }

    /// Events per batch (and per checkpoint), at least 1.
    pub fn batch(mut self, batch: usize) -> Self {
        self.batch = batch.max(1);
        self.feed = self.feed.batch(batch);
        self
    }

    /// Runs version `version` of the projection (bump it when the projection's code changes):
    /// under the checkpoint and lease [`versioned_name`]`(name, version)` (`name` for version
    /// 1), beside the active version, which readers keep reading
    /// ([`versions::load_active`](crate::consume::versions::load_active)). Once this version
    /// has caught up it becomes the active one, exactly once whatever the number of processes;
    /// a worker whose version is older than the active one retires: it gives its lease up and
    /// [`step`](Self::step) does nothing more ([`phase`](Self::phase) says so).
    pub fn version(mut self, version: u64) -> Self {
        let version = version.max(1);
        let store = self.feed.store().clone();
        self.feed = Feed::new(versioned_name(&self.name, version), Projected::new(P::default()), store)
            .leased(self.ttl)
            .batch(self.batch)
            .owner(self.owner.clone());
        self.version = Some(version);
        self.phase = Phase::of(version, None);
        self
    }

    /// The cursor of the last checkpoint this worker saved or resumed from.
    pub fn cursor(&self) -> Cursor {
        self.feed.cursor()
    }

    /// Where this worker's version stands: built beside the active one, active, or retired.
    /// An unversioned worker is always [`Phase::Active`].
    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// What this worker's switch to its version did, once it switched ([`Switched::Now`]) or
    /// found its version active already.
    pub fn switched(&self) -> Option<Switched> {
        self.switched
    }

    /// The read model, while this worker holds the lease.
    pub fn projection(&self) -> Option<&P> {
        self.feed.lease().map(|_| self.feed.consumer().projection())
    }

    /// Takes or renews the lease; holding it, handles one batch and saves it under the lease. A
    /// worker that took the lease over resumes from the last saved checkpoint and state; a
    /// failed batch leaves the read model at its last checkpoint.
    ///
    /// A versioned worker that caught up looks at the active version: it switches to its own
    /// when that is newer and not behind the active version's checkpoint (else it reads on and
    /// tries again), and retires when an even newer one is active. A retired worker's step does
    /// nothing and returns [`Step::Standby`] with no holder.
    pub async fn step(&mut self) -> Result<Step, StoreError> {
        if let Phase::Retired { .. } = self.phase {
            return Ok(Step::Standby { holder: None });
        }
        let stepped = self.feed.step().await.map_err(FeedError::into_store_error)?;
        if let (Some(version), Stepped::Worked { more: false, lease: Some(_), .. }) = (self.version, &stepped)
        {
            self.settle(version).await?;
        }
        Ok(match stepped {
            Stepped::Worked { read, lease: Some(lease), .. } => Step::Worked { read, lease },
            Stepped::Worked { lease: None, .. } => Step::Standby { holder: None },
            Stepped::Standby { holder } => Step::Standby { holder },
            Stepped::Fenced { epoch } => Step::Fenced { epoch },
        })
    }

    /// After a batch that read everything committed: switches to this version when it is newer
    /// than the active one, retires when an even newer one is active.
    async fn settle(&mut self, version: u64) -> Result<(), StoreError> {
        let store = self.feed.store().clone();
        let active = versions::active(&store, &self.name).await?.map(|a| a.version);
        self.behind = false;
        self.phase = match Phase::of(version, active) {
            Phase::Beside => match versions::switch(&store, &self.name, version, self.feed.cursor()).await? {
                switched @ Switched::Now { .. } => {
                    self.switched = Some(switched);
                    Phase::Active
                }
                Switched::Already { active } => Phase::of(version, Some(active)),
                Switched::Behind { .. } => {
                    self.behind = true;
                    Phase::Beside
                }
                Switched::Busy => Phase::Beside,
            },
            phase => phase,
        };
        if let Phase::Retired { active } = self.phase {
            tracing::info!(projection = %self.name, version, active, "a newer version is active: retiring");
            self.feed.release().await?;
        }
        Ok(())
    }

    /// Steps until `stop` completes: batches back to back while behind, waiting for the store's
    /// signal (or `poll`) when caught up, every `poll` on standby; then gives the lease up.
    /// Store errors that outlast the retries end it, the read model at its last checkpoint (run
    /// it again to go on). A versioned worker also ends when it retires.
    pub async fn run(&mut self, poll: Duration, stop: impl Future<Output = ()>) -> Result<(), StoreError> {
        self.feed.set_poll(poll);
        if self.version.is_none() {
            return self.feed.run(stop).await.map_err(FeedError::into_store_error);
        }
        tokio::pin!(stop);
        let mut watch = self.feed.store().watch();
        loop {
            if let Some(watch) = &mut watch {
                watch.mark_seen();
            }
            let idle = match self.step().await? {
                // Refused a switch while behind the active version after reading events: the
                // events that put it behind are there to read now.
                Step::Worked { read, .. } => read < self.batch && !(self.behind && read > 0),
                Step::Standby { .. } | Step::Fenced { .. } => true,
            };
            if let Phase::Retired { .. } = self.phase {
                return Ok(());
            }
            // Renew the lease in time when idle: a third of its time at most.
            let wait = poll.min(self.ttl / 3);
            let signal = async {
                match &mut watch {
                    Some(watch) => {
                        let _ = tokio::time::timeout(wait, watch.changed()).await;
                    }
                    None => tokio::time::sleep(wait).await,
                }
            };
            tokio::select! {
                biased;
                () = &mut stop => break,
                () = signal, if idle => {}
                () = std::future::ready(()), if !idle => {}
            }
        }
        self.feed.release().await
    }

    /// Gives the lease up, so another worker takes over without waiting for it to expire.
    pub async fn release(&mut self) -> Result<(), StoreError> {
        self.feed.release().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{EventContext, MemoryStore, Project};
    use serde::Deserialize;

    #[derive(crate::Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
    struct Pinged;

    #[derive(crate::Projection, Default, Serialize, Deserialize)]
    #[projection(events(Pinged))]
    struct Pings {
        pings: u64,
    }

    impl Project<Pinged> for Pings {
        fn project(&mut self, _: &Pinged, _: &EventContext<'_>) {
            self.pings += 1
        }
    }

    /// `batch(0)` made `run` of a versioned worker spin: a read of 0 events was never below 0.
    #[test]
    fn a_batch_is_at_least_one_event() {
        let worker = ProjectionWorker::<Pings, _>::new("pings", MemoryStore::new()).batch(0).version(2);
        assert_eq!(worker.batch, 1);
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
