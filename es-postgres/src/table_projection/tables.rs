//! The [`Consume`] face of a [`TableProjection`]: each batch is applied in a transaction that
//! the checkpoint is written in, so that the feed's "state commits with its checkpoint, or not
//! at all" holds for tables too.
//!
//! Two runners of one projection without a lease must still apply each event once. The feed
//! reads its batch before the consumer sees it, so the transaction locks the checkpoint row
//! (`FOR UPDATE`) first: a second runner waits there until the first commits, then reads the
//! checkpoint the first wrote and applies only the events after it (READ COMMITTED gives the
//! statement after the wait a fresh snapshot). The checkpoint written is never behind the one
//! found, so a runner that was overtaken does not move it back.

use es_core::backend::{to_i64, to_micros, to_u64};
use es_core::consume::{Consume, ConsumeError, Resume};
use es_core::{Checkpoint, Cursor, EventRef, Lease, StoreError};
use serde_json::value::RawValue;
use sqlx::{PgConnection, Postgres, Transaction};

use super::beside::Version;
use super::TableProjection;
use crate::error::backend_error;
use crate::PostgresStore;

/// A batch's open transaction, with the checkpoint it found under the row lock.
struct Open {
    tx: Transaction<'static, Postgres>,
    found: Cursor,
}

/// A [`TableProjection`] run by a feed.
pub(super) struct Tables<P> {
    pub(super) projection: P,
    store: PostgresStore,
    /// The checkpoint's name: the projection's, or its version's.
    checkpoint: String,
    /// The version whose schema the projection's SQL runs in, when versioned.
    version: Option<Version>,
    /// Whether [`TableProjection::setup`] ran in a committed batch.
    set_up: bool,
    /// The transaction of the batch handled and not yet committed.
    open: Option<Open>,
    /// The checkpoint this runner last wrote; `None` after a restore (the feed's reload read it).
    written: Option<Cursor>,
}

impl<P: TableProjection> Tables<P> {
    /// `projection`, unversioned (`version` `None`: its SQL runs in the session's schemas) or
    /// as `version`.
    pub(super) fn new(store: PostgresStore, projection: P, version: Option<Version>) -> Self {
        let checkpoint =
            version.as_ref().map_or_else(|| projection.name().to_owned(), |v| v.checkpoint.clone());
        Tables { projection, store, checkpoint, version, set_up: false, open: None, written: None }
    }

    /// Begins the batch's transaction (in the version's schema, when versioned, set up until a
    /// batch committed) and locks the checkpoint row, creating it if needed.
    async fn open(&mut self) -> Result<Open, StoreError> {
        let schema = self.store.schema();
        let name = self.checkpoint.as_str();
        // READ COMMITTED whatever the session's default: after waiting for the row lock, the
        // next statement must see the checkpoint the runner before committed (see `session`).
        let mut tx = crate::session::begin(self.store.pool()).await.map_err(backend_error)?;
        if let Some(version) = &self.version {
            let create = format!("CREATE SCHEMA IF NOT EXISTS \"{}\"", version.tables);
            sqlx::query(&create).execute(&mut *tx).await.map_err(backend_error)?;
            sqlx::query(&version.search_path()).execute(&mut *tx).await.map_err(backend_error)?;
        }
        if !self.set_up {
            self.projection.setup(&mut tx).await?;
        }
        sqlx::query(&format!(
            "INSERT INTO {schema}.es_checkpoints (projection, position, saved_us) VALUES ($1, 0, 0)
             ON CONFLICT (projection) DO NOTHING"
        ))
        .bind(name)
        .execute(&mut *tx)
        .await
        .map_err(backend_error)?;
        let row: (i64, i64) = sqlx::query_as(&format!(
            "SELECT commit_no, position FROM {schema}.es_checkpoints WHERE projection = $1 FOR UPDATE"
        ))
        .bind(name)
        .fetch_one(&mut *tx)
        .await
        .map_err(backend_error)?;
        let found = cursor_of(row)?;
        if self.written.is_some_and(|written| found < written) {
            // Moved back by someone else (a reset): the feed must reload it and read from there.
            return Err(StoreError::backend(
                crate::error::BACKEND,
                format!("the checkpoint of `{name}` moved back to {found} since this runner wrote it"),
            ));
        }
        Ok(Open { tx, found })
    }

    /// Applies the events after `found` (those before were applied by another runner).
    async fn apply(
        &mut self,
        tx: &mut PgConnection,
        found: Cursor,
        batch: &[EventRef<'_>],
    ) -> Result<(), StoreError> {
        for event in batch.iter().filter(|e| e.cursor > found) {
            let owned = event
                .to_stored()
                .map_err(|e| StoreError::corrupt(crate::error::BACKEND, event.position, e.to_string()))?;
            self.projection.apply(tx, &owned).await?;
        }
        Ok(())
    }

    /// Writes the checkpoint (never behind the one found) in `open`'s transaction, after checking
    /// the lease there when fenced (its row stays locked to the commit, so no takeover commits in
    /// between), and commits.
    async fn write(
        &mut self,
        open: &mut Open,
        checkpoint: &Checkpoint,
        fence: Option<&Lease>,
    ) -> Result<Cursor, StoreError> {
        if let Some(lease) = fence {
            self.store.check_lease(&mut open.tx, lease).await?;
        }
        let cursor = checkpoint.cursor.max(open.found);
        sqlx::query(&self.store.queries.save_checkpoint)
            .bind(&self.checkpoint)
            .bind(to_i64(cursor.commit()))
            .bind(to_i64(cursor.position()))
            .bind(checkpoint.state.as_ref().map(|s| s.get()))
            .bind(to_micros(checkpoint.saved_at))
            .execute(&mut *open.tx)
            .await
            .map_err(backend_error)?;
        Ok(cursor)
    }
}

impl<P: TableProjection> Consume for Tables<P> {
    fn handles(&self, name: &str) -> bool {
        self.projection.handles(name)
    }

    async fn handle(&mut self, batch: &[EventRef<'_>]) -> Result<(), ConsumeError> {
        // A transaction left by a step cut off mid-way is void: the feed reloads before this.
        self.open = None;
        let mut open = self.open().await?;
        if let Err(e) = self.apply(&mut open.tx, open.found, batch).await {
            rollback(open).await;
            return Err(e.into());
        }
        self.open = Some(open);
        Ok(())
    }

    async fn commit(
        &mut self,
        checkpoint: Checkpoint,
        fence: Option<&Lease>,
    ) -> Result<Option<Checkpoint>, ConsumeError> {
        // A batch with no event this projection handles comes without a transaction.
        let mut open = match self.open.take() {
            Some(open) => open,
            None => self.open().await?,
        };
        match self.write(&mut open, &checkpoint, fence).await {
            Ok(cursor) => {
                open.tx.commit().await.map_err(backend_error)?;
                self.written = Some(cursor);
                self.set_up = true;
                Ok(None)
            }
            Err(e) => {
                rollback(open).await;
                Err(e.into())
            }
        }
    }

    fn restore(&mut self, _state: Option<&RawValue>) -> Result<Resume, ConsumeError> {
        // The tables hold the state: dropping the open transaction rolls the batch back.
        self.open = None;
        self.written = None;
        Ok(Resume::Checkpoint)
    }
}

/// Rolls `open` back now rather than when its connection is next used, releasing the checkpoint
/// row (and a fenced batch's lease row) for the runner that waits on it.
async fn rollback(open: Open) {
    if let Err(e) = open.tx.rollback().await {
        tracing::debug!(error = %e, "rollback failed: the connection is closed, and the transaction with it");
    }
}

/// The cursor kept in a checkpoint row's `(commit_no, position)`.
pub(super) fn cursor_of((commit, position): (i64, i64)) -> Result<Cursor, StoreError> {
    let position = to_u64(crate::error::BACKEND, 0, "checkpoint position", position)?;
    Ok(Cursor::in_commit(to_u64(crate::error::BACKEND, position, "checkpoint commit", commit)?, position))
}
