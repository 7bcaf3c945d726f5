//! The PostgreSQL tables beside the events: the newest snapshot per stream, and a checkpoint
//! per projection.

use es_core::backend::columns::{CheckpointColumns, SnapshotColumns};
use es_core::backend::{to_i32, to_i64, to_micros};
use es_core::{Checkpoint, CheckpointStore, Snapshot, SnapshotStore, StoreError};

use crate::error::{backend_error, BACKEND};
use crate::rows::get;
use crate::PostgresStore;

impl SnapshotStore for PostgresStore {
    async fn save_snapshot(&self, stream: &str, snapshot: Snapshot) -> Result<(), StoreError> {
        sqlx::query(&self.queries.save_snapshot)
            .bind(stream)
            .bind(to_i64(snapshot.stream_version))
            .bind(to_i32(BACKEND, "snapshot schema version", snapshot.schema_version)?)
            .bind(snapshot.state.get())
            .bind(to_micros(snapshot.taken_at))
            .execute(&self.pool)
            .await
            .map_err(backend_error)?;
        Ok(())
    }

    async fn load_snapshot(&self, stream: &str) -> Result<Option<Snapshot>, StoreError> {
        let row = sqlx::query(&self.queries.load_snapshot)
            .bind(stream)
            .fetch_optional(&self.pool)
            .await
            .map_err(backend_error)?;
        let Some(row) = row else { return Ok(None) };
        let columns = SnapshotColumns {
            stream_version: get(&row, 0)?,
            schema_version: i64::from(get::<i32>(&row, 1)?),
            state: get(&row, 2)?,
            taken_us: get(&row, 3)?,
        };
        columns.decode(BACKEND, stream).map(Some)
    }

    async fn delete_snapshot(&self, stream: &str) -> Result<bool, StoreError> {
        let sql = format!("DELETE FROM {}.es_snapshots WHERE stream = $1", self.queries.schema);
        let done = sqlx::query(&sql).bind(stream).execute(&self.pool).await.map_err(backend_error)?;
        Ok(done.rows_affected() > 0)
    }
}

impl CheckpointStore for PostgresStore {
    async fn save_checkpoint(&self, projection: &str, checkpoint: Checkpoint) -> Result<(), StoreError> {
        sqlx::query(&self.queries.save_checkpoint)
            .bind(projection)
            .bind(to_i64(checkpoint.cursor.commit()))
            .bind(to_i64(checkpoint.cursor.position()))
            .bind(checkpoint.state.as_ref().map(|s| s.get()))
            .bind(to_micros(checkpoint.saved_at))
            .execute(&self.pool)
            .await
            .map_err(backend_error)?;
        Ok(())
    }

    async fn load_checkpoint(&self, projection: &str) -> Result<Option<Checkpoint>, StoreError> {
        let row = sqlx::query(&self.queries.load_checkpoint)
            .bind(projection)
            .fetch_optional(&self.pool)
            .await
            .map_err(backend_error)?;
        let Some(row) = row else { return Ok(None) };
        let columns = CheckpointColumns {
            commit: get(&row, 0)?,
            position: get(&row, 1)?,
            state: get(&row, 2)?,
            saved_us: get(&row, 3)?,
        };
        columns.decode(BACKEND, projection).map(Some)
    }

    async fn delete_checkpoint(&self, projection: &str) -> Result<(), StoreError> {
        sqlx::query(&self.queries.delete_checkpoint)
            .bind(projection)
            .execute(&self.pool)
            .await
            .map_err(backend_error)?;
        Ok(())
    }
}
