//! Read models kept in PostgreSQL tables, updated in the same transaction as their checkpoint,
//! so that each event takes effect exactly once, whatever crashes in between.
//!
//! The runner is a [`Feed`] (the lifecycle every consumer runs on) over the projection: a batch
//! that fails anywhere (the projection, the database, a lost lease) rolls back with its
//! checkpoint, and the feed retries it from the checkpoint (3 attempts) before it returns the
//! error.
//!
//! ```no_run
//! use es_core::{StoreError, StoredEvent};
//! use es_postgres::{PostgresStore, TableProjection, TableProjectionRunner};
//! use sqlx::PgConnection;
//!
//! /// Counts events per stream in a table.
//! struct EventsPerStream;
//!
//! impl TableProjection for EventsPerStream {
//!     fn name(&self) -> &str { "events-per-stream" }
//!     fn handles(&self, _event_name: &str) -> bool { true }
//!     async fn apply(&mut self, tx: &mut PgConnection, event: &StoredEvent) -> Result<(), StoreError> {
//!         sqlx::query("INSERT INTO counts (stream, n) VALUES ($1, 1)
//!                      ON CONFLICT (stream) DO UPDATE SET n = counts.n + 1")
//!             .bind(&event.stream)
//!             .execute(tx)
//!             .await
//!             .map_err(|e| StoreError::backend(<PostgresStore as es_core::EventStore>::BACKEND, e))?;
//!         Ok(())
//!     }
//! }
//!
//! # async fn f(store: PostgresStore) -> Result<(), StoreError> {
//! let mut runner = TableProjectionRunner::new(store, EventsPerStream);
//! runner.catch_up().await?;
//! # Ok(()) }
//! ```

use std::future::Future;
use std::time::Duration;

use es_core::consume::{Feed, FeedError, Stepped};
use es_core::worker::Step;
use es_core::{Cursor, EventStore, Lease, Leases, RetryPolicy, StoreError, StoredEvent};
use sqlx::PgConnection;

use crate::PostgresStore;

mod tables;

use tables::Tables;

/// A read model in tables of the store's database, updated inside the runner's transaction.
pub trait TableProjection: Send + 'static {
    /// The name its checkpoint is kept under.
    fn name(&self) -> &str;

    /// Whether it consumes events stored under `event_name` (others are skipped unread).
    fn handles(&self, event_name: &str) -> bool;

    /// Applies one event using `tx`, the batch's transaction. An error rolls the whole batch
    /// back, checkpoint included.
    fn apply(
        &mut self,
        tx: &mut PgConnection,
        event: &StoredEvent,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// Runs a [`TableProjection`]: each batch of events and the checkpoint commit together.
///
/// Runners of one projection in several processes without a lease take turns: each batch's
/// transaction locks the checkpoint row, and applies only the events after the checkpoint it
/// finds there. A step cut off mid-way (its future dropped) keeps its transaction, and that
/// lock, until the runner steps again or is dropped.
pub struct TableProjectionRunner<P> {
    feed: Feed<Tables<P>, PostgresStore>,
    batch: usize,
}

impl<P: TableProjection> TableProjectionRunner<P> {
    /// A runner for `projection` over `store`'s events; batches of 256.
    pub fn new(store: PostgresStore, projection: P) -> Self {
        let name = projection.name().to_owned();
        let feed = Feed::new(name, Tables::new(store.clone(), projection), store);
        TableProjectionRunner { feed: feed.batch(256), batch: 256 }
    }

    /// How many events to apply per transaction.
    pub fn with_batch(self, batch: usize) -> Self {
        let batch = batch.max(1);
        TableProjectionRunner { feed: self.feed.batch(batch), batch }
    }

    /// How many times a batch is tried, and the backoff between tries (default: 3 attempts,
    /// from 10 ms to 1 s). Every try starts from the checkpoint.
    pub fn with_retry(self, retry: RetryPolicy) -> Self {
        TableProjectionRunner { feed: self.feed.retry(retry), batch: self.batch }
    }

    /// The checkpoint: the cursor of the last event applied ([`Cursor::START`]: none).
    pub async fn cursor(&self) -> Result<Cursor, StoreError> {
        let saved = es_core::CheckpointStore::load_checkpoint(self.feed.store(), self.feed.name()).await?;
        Ok(saved.map_or(Cursor::START, |c| c.cursor))
    }

    /// How far the read model is behind the store's head, in positions (an estimate: positions
    /// are handed out at insert, not at commit).
    pub async fn lag(&self) -> Result<u64, StoreError> {
        Ok(self.feed.store().head().await?.position().saturating_sub(self.cursor().await?.position()))
    }

    /// Applies every committed event, one transaction per batch. Returns how many events it
    /// read.
    pub async fn catch_up(&mut self) -> Result<usize, StoreError> {
        self.feed.catch_up().await.map_err(store_error)
    }

    /// Applies one batch and moves the checkpoint, in one transaction. Returns how many events
    /// it read.
    pub async fn step(&mut self) -> Result<usize, StoreError> {
        match self.feed.step().await.map_err(store_error)? {
            Stepped::Worked { read, .. } => Ok(read),
            // Unleased, the feed neither stands by nor is fenced.
            Stepped::Standby { .. } => Ok(0),
            Stepped::Fenced { epoch } => Err(self.fenced(epoch)),
        }
    }

    /// Like [`step`](Self::step), in a transaction that checks that `lease` is still held at
    /// its epoch and keeps the lease row locked to the commit: a worker that lost its lease
    /// applies nothing ([`StoreError::Fenced`]).
    pub async fn step_under(&mut self, lease: &Lease) -> Result<usize, StoreError> {
        match self.feed.step_under(lease).await.map_err(store_error)? {
            Stepped::Worked { read, .. } => Ok(read),
            Stepped::Standby { .. } => Ok(0),
            Stepped::Fenced { epoch } => Err(self.fenced(epoch)),
        }
    }

    /// The projection.
    pub fn projection(&self) -> &P {
        &self.feed.consumer().projection
    }

    /// One step of a worker that runs this projection only while it holds the projection's
    /// lease as `owner` (taken or renewed for `ttl`): a fenced batch when it holds it,
    /// [`Step::Standby`] while another does, [`Step::Fenced`] when another took it over before
    /// the batch committed (nothing of it was applied). Start one in every process; see
    /// [`es_core::consume`] for the lifecycle it runs on.
    pub async fn step_leased(&mut self, owner: &str, ttl: Duration) -> Result<Step, StoreError> {
        let store = self.feed.store().clone();
        let name = self.feed.name().to_owned();
        let Some(lease) = store.acquire(&name, owner, ttl).await? else {
            return Ok(Step::Standby { holder: store.lease(&name).await? });
        };
        match self.step_under(&lease).await {
            Ok(read) => Ok(Step::Worked { read, lease }),
            Err(StoreError::Fenced { epoch, .. }) => Ok(Step::Fenced { epoch }),
            Err(e) => Err(e),
        }
    }

    fn fenced(&self, epoch: u64) -> StoreError {
        StoreError::Fenced { lease: self.feed.name().to_owned(), epoch }
    }
}

/// The runner's errors stay [`StoreError`]s, as before it ran on a feed: the projection's
/// errors are store errors already.
fn store_error(e: FeedError) -> StoreError {
    match e {
        FeedError::Store(e) => e,
        other => StoreError::backend(crate::error::BACKEND, other),
    }
}
