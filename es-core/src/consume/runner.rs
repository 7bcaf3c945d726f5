//! `ProjectionRunner`: feeds a projection the store's events in position order, from its
//! checkpoint, saving the checkpoint and the projection's state together after each batch. A
//! thin face over a [`Feed`] of the projection ([`Projected`]): an error at any point leaves the
//! read model at its last checkpoint, so calling it again applies nothing twice.
//!
//! ```
//! use es_core::{CheckpointStore, Event, EventContext, EventStore, ExpectedVersion, MemoryStore, NewEvent, Project, Projection, ProjectionRunner};
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
//! pub struct Pinged;
//!
//! #[derive(Projection, Default, Serialize, Deserialize)]
//! #[projection(events(Pinged))]
//! pub struct PingCount { pings: u64 }
//!
//! impl Project<Pinged> for PingCount {
//!     fn project(&mut self, _: &Pinged, _: &EventContext<'_>) { self.pings += 1 }
//! }
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let store = MemoryStore::new();
//! let ping = || NewEvent::new("Pinged", 1, serde_json::json!(null));
//! store.append("Pinger-1", ExpectedVersion::Any, vec![ping(), ping()]).await?;
//!
//! let mut runner = ProjectionRunner::<PingCount, _>::start("ping-count", store.clone()).await?;
//! runner.catch_up().await?;
//! assert_eq!((runner.projection().pings, runner.cursor().position()), (2, 2));
//!
//! // Restarted, it resumes from its checkpoint and state: nothing is read twice.
//! store.append("Pinger-1", ExpectedVersion::Any, vec![ping()]).await?;
//! let mut again = ProjectionRunner::<PingCount, _>::start("ping-count", store.clone()).await?;
//! assert_eq!(again.catch_up().await?, 1);
//! assert_eq!(again.projection().pings, 3);
//! assert_eq!(again.lag().await?, 0);
//! # Ok::<_, es_core::StoreError>(())
//! # }).unwrap();
//! ```

use std::future::Future;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::consume::projection::Projection;
use crate::consume::{Feed, FeedError, Projected, Stepped};
use crate::repository::RetryPolicy;
use crate::store::checkpoint::CheckpointStore;
use crate::store::cursor::Cursor;
use crate::store::lease::{Lease, Leases};
use crate::store::EventStore;
use crate::store::StoreError;

/// Runs one projection, named for its checkpoint, over a store.
pub struct ProjectionRunner<P, S> {
    feed: Feed<Projected<P>, S>,
}

impl<P, S> ProjectionRunner<P, S>
where
    P: Projection + Default + Serialize + DeserializeOwned,
    S: EventStore + CheckpointStore + crate::personal::Privacy,
{
    /// Resumes the projection `name` from its saved checkpoint and state, or starts it fresh.
    /// A saved state that no longer deserializes (the projection's shape changed) starts a
    /// rebuild from the first event.
    pub async fn start(name: impl Into<String>, store: S) -> Result<Self, StoreError> {
        let mut feed = Feed::new(name, Projected::new(P::default()), store).batch(512);
        feed.resume().await.map_err(FeedError::into_store_error)?;
        Ok(ProjectionRunner { feed })
    }

    /// How many events to handle between checkpoints (default 512).
    pub fn with_batch(mut self, batch: usize) -> Self {
        self.feed = self.feed.batch(batch);
        self
    }

    /// How many times a batch is tried, from the last checkpoint, before an error is returned
    /// (default 3, backoff from 10 ms to 1 s).
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.feed = self.feed.retry(retry);
        self
    }

    /// The read model: the state of the last checkpoint.
    pub fn projection(&self) -> &P {
        self.feed.consumer().projection()
    }

    /// The cursor of the last event handled ([`Cursor::START`]: none).
    pub fn cursor(&self) -> Cursor {
        self.feed.cursor()
    }

    /// Handles every event committed so far, a batch at a time, saving the checkpoint after
    /// each batch. Returns how many events it read (handled or skipped).
    pub async fn catch_up(&mut self) -> Result<usize, StoreError> {
        self.feed.catch_up().await.map_err(FeedError::into_store_error)
    }

    /// Handles one batch and saves the checkpoint; returns how many events it read.
    pub async fn step(&mut self) -> Result<usize, StoreError> {
        match self.feed.step().await.map_err(FeedError::into_store_error)? {
            Stepped::Worked { read, .. } => Ok(read),
            Stepped::Standby { .. } | Stepped::Fenced { .. } => Ok(0),
        }
    }

    /// Like [`step`](Self::step), saving the checkpoint only while `lease` is still held at its
    /// epoch ([`Leases::save_checkpoint_fenced`]): a worker that lost its lease writes nothing,
    /// gets [`StoreError::Fenced`], and its read model is back at its last checkpoint.
    pub async fn step_under(&mut self, lease: &Lease) -> Result<usize, StoreError>
    where
        S: Leases,
    {
        match self.feed.step_under(lease).await.map_err(FeedError::into_store_error)? {
            Stepped::Worked { read, .. } => Ok(read),
            Stepped::Fenced { epoch } => Err(StoreError::Fenced { lease: lease.name.clone(), epoch }),
            Stepped::Standby { .. } => Ok(0),
        }
    }

    /// The projection's name, its checkpoint's key.
    pub fn name(&self) -> &str {
        self.feed.name()
    }

    /// How far the projection is behind the store's head, in positions (an estimate where
    /// positions are not handed out in commit order, as in PostgreSQL).
    pub async fn lag(&self) -> Result<u64, StoreError> {
        Ok(self.feed.store().head().await?.position().saturating_sub(self.cursor().position()))
    }

    /// Forgets the checkpoint and the state, and builds the read model again from the first
    /// event (after the projection's code changed).
    pub async fn rebuild(&mut self) -> Result<usize, StoreError> {
        self.feed.reset().await.map_err(FeedError::into_store_error)?;
        self.catch_up().await
    }

    /// Catches up, then keeps following new events (woken by the store's signal, or every
    /// `poll`), until `stop` completes.
    pub async fn follow(&mut self, poll: Duration, stop: impl Future<Output = ()>) -> Result<(), StoreError> {
        self.feed.set_poll(poll);
        self.feed.run(stop).await.map_err(FeedError::into_store_error)
    }
}
