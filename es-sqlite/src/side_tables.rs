//! The SQLite tables beside the events: the newest snapshot per stream, and a checkpoint
//! per projection.

use es_core::backend::{from_micros, to_i64, to_micros, to_u64};
use es_core::{Checkpoint, CheckpointStore, Snapshot, SnapshotStore, StoreError};
use serde_json::value::RawValue;

use crate::rows::get;
use crate::store::{backend_error, BACKEND};
use crate::SqliteStore;

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
        let bad = |e: &dyn std::fmt::Display| {
            StoreError::backend(BACKEND, format!("the snapshot of `{stream}`: {e}"))
        };
        Ok(Some(Snapshot {
            stream_version: to_u64(BACKEND, "stream_version", get(&row, 0)?)?,
            schema_version: u32::try_from(get::<i64>(&row, 1)?).map_err(|e| bad(&e))?,
            state: RawValue::from_string(get(&row, 2)?).map_err(|e| bad(&e))?,
            taken_at: from_micros(get(&row, 3)?),
        }))
    }
}

impl CheckpointStore for SqliteStore {
    async fn save_checkpoint(&self, projection: &str, checkpoint: Checkpoint) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO checkpoints (projection, position, state, saved_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (projection) DO UPDATE SET position = excluded.position, state = excluded.state,
                 saved_at = excluded.saved_at",
        )
        .bind(projection)
        .bind(to_i64(checkpoint.position))
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
        let state = get::<Option<String>>(&row, 1)?
            .map(RawValue::from_string)
            .transpose()
            .map_err(|e| StoreError::backend(BACKEND, format!("the checkpoint of `{projection}`: {e}")))?;
        Ok(Some(Checkpoint {
            position: to_u64(BACKEND, "position", get(&row, 0)?)?,
            state,
            saved_at: from_micros(get(&row, 2)?),
        }))
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
