//! `ProjectionRunner`: feeds a projection the store's events in position order, from its
//! checkpoint, saving the checkpoint and the projection's state together after each batch.
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

use crate::checkpoint::{Checkpoint, CheckpointStore};
use crate::cursor::Cursor;
use crate::error::StoreError;
use crate::lease::{Lease, Leases};
use crate::personal::keys;
use crate::projection::Projection;
use crate::store::EventStore;
use tracing::Instrument;

/// Runs one projection, named for its checkpoint, over a store.
pub struct ProjectionRunner<P, S> {
    name: String,
    projection: P,
    store: S,
    cursor: Cursor,
    batch: usize,
}

impl<P, S> ProjectionRunner<P, S>
where
    P: Projection + Default + Serialize + DeserializeOwned,
    S: EventStore + CheckpointStore,
{
    /// Resumes the projection `name` from its saved checkpoint and state, or starts it fresh.
    /// A saved state that no longer deserializes (the projection's shape changed) starts a
    /// rebuild from the first event.
    pub async fn start(name: impl Into<String>, store: S) -> Result<Self, StoreError> {
        let name = name.into();
        let saved = store.load_checkpoint(&name).await?;
        let resumed = saved.and_then(|c| {
            let state = serde_json::from_str::<P>(c.state.as_ref()?.get()).ok()?;
            Some((state, c.cursor))
        });
        let (projection, cursor) = resumed.unwrap_or_default();
        Ok(ProjectionRunner { name, projection, store, cursor, batch: 512 })
    }

    /// How many events to handle between checkpoints (default 512).
    pub fn with_batch(mut self, batch: usize) -> Self {
        self.batch = batch.max(1);
        self
    }

    /// The read model.
    pub fn projection(&self) -> &P {
        &self.projection
    }

    /// The cursor of the last event handled ([`Cursor::START`]: none).
    pub fn cursor(&self) -> Cursor {
        self.cursor
    }

    /// Handles every event committed so far, a batch at a time, saving the checkpoint after
    /// each batch. Returns how many events it read (handled or skipped).
    pub async fn catch_up(&mut self) -> Result<usize, StoreError> {
        let mut read = 0;
        loop {
            let n = self.step().await?;
            read += n;
            if n < self.batch {
                return Ok(read);
            }
        }
    }

    /// Handles one batch and saves the checkpoint; returns how many events it read.
    pub async fn step(&mut self) -> Result<usize, StoreError> {
        let (read, checkpoint) = self.batch().await?;
        if let Some(checkpoint) = checkpoint {
            let cursor = checkpoint.cursor;
            self.store.save_checkpoint(&self.name, checkpoint).await?;
            self.cursor = cursor;
        }
        Ok(read)
    }

    /// Like [`step`](Self::step), saving the checkpoint only while `lease` is still held at its
    /// epoch ([`Leases::save_checkpoint_fenced`]): a worker that lost its lease writes nothing.
    pub async fn step_under(&mut self, lease: &Lease) -> Result<usize, StoreError>
    where
        S: Leases,
    {
        let (read, checkpoint) = self.batch().await?;
        if let Some(checkpoint) = checkpoint {
            let cursor = checkpoint.cursor;
            self.store.save_checkpoint_fenced(checkpoint, lease).await?;
            self.cursor = cursor;
        }
        Ok(read)
    }

    /// Handles one batch; returns how many events it read and the checkpoint to save after it.
    async fn batch(&mut self) -> Result<(usize, Option<Checkpoint>), StoreError> {
        let span = tracing::debug_span!(
            "es.projection.batch",
            projection = %self.name,
            after = %self.cursor,
            read = tracing::field::Empty,
        );
        // Personal data opens with the store's keys: an event whose subject's key is not
        // cached stops the visit; the key is loaded and the batch goes on after the last event
        // handled.
        let keys = self.store.keys();
        let (projection, mut last, mut read, mut stuck_at) = (&mut self.projection, None, 0, None);
        loop {
            let visit = self.store.visit_all(last.unwrap_or(self.cursor), self.batch - read, |event| {
                if P::handles(event.name) {
                    projection.project_event(event)?;
                }
                last = Some(event.cursor);
                read += 1;
                Ok(())
            });
            let Err(e) = keys::scoped(keys.as_ref(), visit).instrument(span.clone()).await else { break };
            if stuck_at == Some(last) {
                return Err(e);
            }
            stuck_at = Some(last);
            keys::load_missing_or(keys.as_ref(), e).await?;
        }
        span.record("read", read);
        let Some(last) = last else {
            return Ok((0, None));
        };
        // Saved after the batch is handled, with the state: never ahead of what it contains.
        let state = serde_json::value::to_raw_value(&self.projection)
            .map_err(|source| StoreError::State { owner: self.name.clone(), source })?;
        Ok((read, Some(Checkpoint { cursor: last, state: Some(state), saved_at: crate::time::now_micros() })))
    }

    /// The projection's name, its checkpoint's key.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// How far the projection is behind the store's head, in positions (an estimate where
    /// positions are not handed out in commit order, as in PostgreSQL).
    pub async fn lag(&self) -> Result<u64, StoreError> {
        Ok(self.store.head().await?.position().saturating_sub(self.cursor.position()))
    }

    /// Forgets the checkpoint and the state, and builds the read model again from the first
    /// event (after the projection's code changed).
    pub async fn rebuild(&mut self) -> Result<usize, StoreError> {
        self.store.delete_checkpoint(&self.name).await?;
        self.projection = P::default();
        self.cursor = Cursor::START;
        self.catch_up().await
    }

    /// Catches up, then keeps following new events, checking every `poll`, until `stop`
    /// completes.
    pub async fn follow(&mut self, poll: Duration, stop: impl Future<Output = ()>) -> Result<(), StoreError> {
        tokio::pin!(stop);
        loop {
            self.catch_up().await?;
            tokio::select! {
                () = &mut stop => return Ok(()),
                () = tokio::time::sleep(poll) => {}
            }
        }
    }
}
