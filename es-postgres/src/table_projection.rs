//! Read models kept in PostgreSQL tables, updated in the same transaction as their checkpoint,
//! so that each event takes effect exactly once, whatever crashes in between.
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

use es_core::backend::{to_i64, to_micros, to_u64};
use std::time::Duration;

use es_core::worker::Step;
use es_core::{Cursor, EventStore, Lease, Leases, StoreError, StoredEvent};
use sqlx::{Connection, PgConnection};

use crate::error::backend_error;
use crate::PostgresStore;

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
pub struct TableProjectionRunner<P> {
    store: PostgresStore,
    projection: P,
    batch: usize,
}

impl<P: TableProjection> TableProjectionRunner<P> {
    /// A runner for `projection` over `store`'s events; batches of 256.
    pub fn new(store: PostgresStore, projection: P) -> Self {
        TableProjectionRunner { store, projection, batch: 256 }
    }

    /// How many events to apply per transaction.
    pub fn with_batch(mut self, batch: usize) -> Self {
        self.batch = batch.max(1);
        self
    }

    /// The checkpoint: the cursor of the last event applied ([`Cursor::START`]: none).
    pub async fn cursor(&self) -> Result<Cursor, StoreError> {
        let row: Option<(i64, i64)> = sqlx::query_as(&format!(
            "SELECT commit_no, position FROM {}.es_checkpoints WHERE projection = $1",
            self.store.schema()
        ))
        .bind(self.projection.name())
        .fetch_optional(self.store.pool())
        .await
        .map_err(backend_error)?;
        cursor_of(row.unwrap_or_default())
    }

    /// How far the read model is behind the store's head, in positions (an estimate: positions
    /// are handed out at insert, not at commit).
    pub async fn lag(&self) -> Result<u64, StoreError> {
        Ok(self.store.head().await?.position().saturating_sub(self.cursor().await?.position()))
    }

    /// Applies every committed event, one transaction per batch. Returns how many events it
    /// read.
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

    /// Applies one batch and moves the checkpoint, in one transaction.
    pub async fn step(&mut self) -> Result<usize, StoreError> {
        self.step_in(None).await
    }

    /// Like [`step`](Self::step), in a transaction that first checks that `lease` is still held
    /// at its epoch and keeps the lease row locked to the commit: a worker that lost its lease
    /// applies nothing ([`StoreError::Fenced`]).
    pub async fn step_under(&mut self, lease: &Lease) -> Result<usize, StoreError> {
        self.step_in(Some(lease)).await
    }

    async fn step_in(&mut self, lease: Option<&Lease>) -> Result<usize, StoreError> {
        let schema = self.store.schema().to_owned();
        let mut conn = self.store.pool().acquire().await.map_err(backend_error)?;
        // READ COMMITTED whatever the session's default: after waiting for the checkpoint row,
        // the runner must read the checkpoint the runner before it committed (see `session`).
        let mut tx = conn.begin_with(crate::session::READ_COMMITTED).await.map_err(backend_error)?;
        if let Some(lease) = lease {
            self.store.check_lease(&mut tx, lease).await?;
        }
        // The checkpoint row is locked for the transaction: a second runner of the same
        // projection waits here instead of applying the same events again.
        sqlx::query(&format!(
            "INSERT INTO {schema}.es_checkpoints (projection, position, saved_us) VALUES ($1, 0, 0)
             ON CONFLICT (projection) DO NOTHING"
        ))
        .bind(self.projection.name())
        .execute(&mut *tx)
        .await
        .map_err(backend_error)?;
        let from: (i64, i64) = sqlx::query_as(&format!(
            "SELECT commit_no, position FROM {schema}.es_checkpoints WHERE projection = $1 FOR UPDATE"
        ))
        .bind(self.projection.name())
        .fetch_one(&mut *tx)
        .await
        .map_err(backend_error)?;
        let events = self.store.read_all(cursor_of(from)?, self.batch).await?;
        let Some(last) = events.last().map(|e| e.cursor) else {
            return Ok(0);
        };
        for event in &events {
            if self.projection.handles(&event.name) {
                self.projection.apply(&mut tx, event).await?;
            }
        }
        sqlx::query(&format!(
            "UPDATE {schema}.es_checkpoints SET commit_no = $2, position = $3, saved_us = $4 WHERE projection = $1"
        ))
        .bind(self.projection.name())
        .bind(to_i64(last.commit()))
        .bind(to_i64(last.position()))
        .bind(to_micros(std::time::SystemTime::now()))
        .execute(&mut *tx)
        .await
        .map_err(backend_error)?;
        tx.commit().await.map_err(backend_error)?;
        Ok(events.len())
    }

    /// The projection.
    pub fn projection(&self) -> &P {
        &self.projection
    }

    /// One step of a worker that runs this projection only while it holds the projection's
    /// lease as `owner` (taken or renewed for `ttl`): a fenced batch when it holds it,
    /// [`Step::Standby`] while another does, [`Step::Fenced`] when another took it over before
    /// the batch committed (nothing of it was applied). Start one in every process; see
    /// [`es_core::worker`] for the state-carrying equivalent.
    pub async fn step_leased(&mut self, owner: &str, ttl: Duration) -> Result<Step, StoreError> {
        let Some(lease) = self.store.acquire(self.projection.name(), owner, ttl).await? else {
            return Ok(Step::Standby { holder: self.store.lease(self.projection.name()).await? });
        };
        match self.step_under(&lease).await {
            Ok(read) => Ok(Step::Worked { read, lease }),
            Err(StoreError::Fenced { epoch, .. }) => Ok(Step::Fenced { epoch }),
            Err(e) => Err(e),
        }
    }
}

/// The cursor kept in a checkpoint row's `(commit_no, position)`.
fn cursor_of((commit, position): (i64, i64)) -> Result<Cursor, StoreError> {
    let position = to_u64(crate::error::BACKEND, 0, "checkpoint position", position)?;
    Ok(Cursor::in_commit(to_u64(crate::error::BACKEND, position, "checkpoint commit", commit)?, position))
}
