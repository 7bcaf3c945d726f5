//! The SQLite tables beside the events: the newest snapshot per stream, and a checkpoint
//! per projection.

use es_core::backend::columns::{CheckpointColumns, SnapshotColumns};
use es_core::backend::{to_i64, to_micros};
use es_core::{Checkpoint, CheckpointStore, Snapshot, SnapshotStore, StoreError};

use crate::error::{backend_error, BACKEND};
use crate::rows::get;
use crate::SqliteStore;

/// Replaces a projection's checkpoint: ?1 projection, ?2 position, ?3 state, ?4 saved at.
pub(crate) const SAVE_CHECKPOINT: &str = "INSERT INTO checkpoints (projection, position, state, saved_at)
     VALUES (?1, ?2, ?3, ?4)
     ON CONFLICT (projection) DO UPDATE SET position = excluded.position, state = excluded.state,
         saved_at = excluded.saved_at";

impl SnapshotStore for SqliteStore {
    async fn save_snapshot(&self, stream: &str, snapshot: Snapshot) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO snapshots (stream, stream_version, schema_version, state, taken_at) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (stream) DO UPDATE SET stream_version = excluded.stream_version,
                 schema_version = excluded.schema_version, state = excluded.state, taken_at = excluded.taken_at
             WHERE excluded.stream_version > snapshots.stream_version",
        )
        .bind(stream)
        .bind(to_i64(snapshot.stream_version))
        .bind(i64::from(snapshot.schema_version))
        .bind(snapshot.state.get())
        .bind(to_micros(snapshot.taken_at))
        .execute(&self.writer)
        .await
        .map_err(backend_error)?;
        Ok(())
    }

    async fn load_snapshot(&self, stream: &str) -> Result<Option<Snapshot>, StoreError> {
        let row = sqlx::query(
            "SELECT stream_version, schema_version, state, taken_at FROM snapshots WHERE stream = ?1",
        )
        .bind(stream)
        .fetch_optional(&self.reader)
        .await
        .map_err(backend_error)?;
        let Some(row) = row else { return Ok(None) };
        let columns = SnapshotColumns {
            stream_version: get(&row, 0)?,
            schema_version: get(&row, 1)?,
            state: get(&row, 2)?,
            taken_us: get(&row, 3)?,
        };
        columns.decode(BACKEND, stream).map(Some)
    }

    async fn delete_snapshot(&self, stream: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM snapshots WHERE stream = ?1")
            .bind(stream)
            .execute(&self.writer)
            .await
            .map_err(backend_error)?;
        Ok(done.rows_affected() > 0)
    }
}

impl CheckpointStore for SqliteStore {
    async fn save_checkpoint(&self, projection: &str, checkpoint: Checkpoint) -> Result<(), StoreError> {
        sqlx::query(SAVE_CHECKPOINT)
            .bind(projection)
            .bind(to_i64(checkpoint.cursor.position()))
            .bind(checkpoint.state.as_ref().map(|s| s.get()))
            .bind(to_micros(checkpoint.saved_at))
            .execute(&self.writer)
            .await
            .map_err(backend_error)?;
        Ok(())
    }

    async fn load_checkpoint(&self, projection: &str) -> Result<Option<Checkpoint>, StoreError> {
        let row = sqlx::query("SELECT position, state, saved_at FROM checkpoints WHERE projection = ?1")
            .bind(projection)
            .fetch_optional(&self.reader)
            .await
            .map_err(backend_error)?;
        let Some(row) = row else { return Ok(None) };
        // SQLite orders events by position alone: a cursor is its position.
        let columns = CheckpointColumns {
            commit: 0,
            position: get(&row, 0)?,
            state: get(&row, 1)?,
            saved_us: get(&row, 2)?,
        };
        columns.decode(BACKEND, projection).map(Some)
    }

    async fn delete_checkpoint(&self, projection: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM checkpoints WHERE projection = ?1")
            .bind(projection)
            .execute(&self.writer)
            .await
            .map_err(backend_error)?;
        Ok(())
    }
}
