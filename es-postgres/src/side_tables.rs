//! The PostgreSQL tables beside the events: the newest snapshot per stream, and a checkpoint
//! per projection.

use es_core::backend::{from_micros, to_i64, to_micros, to_u64};
use es_core::{Checkpoint, CheckpointStore, Snapshot, SnapshotStore, StoreError};
use serde_json::value::RawValue;

use crate::rows::get;
use crate::store::{backend_error, BACKEND};
use crate::PostgresStore;

impl SnapshotStore for PostgresStore {
    async fn save_snapshot(&self, stream: &str, snapshot: Snapshot) -> Result<(), StoreError> {
        sqlx::query(&self.queries.save_snapshot)
            .bind(stream)
            .bind(to_i64(snapshot.stream_version))
            .bind(i32::try_from(snapshot.schema_version).unwrap_or(i32::MAX))
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
        let bad = |e: &dyn std::fmt::Display| {
            StoreError::backend(BACKEND, format!("the snapshot of `{stream}`: {e}"))
        };
        Ok(Some(Snapshot {
            stream_version: to_u64(BACKEND, "stream_version", get(&row, 0)?)?,
            schema_version: u32::try_from(get::<i32>(&row, 1)?).map_err(|e| bad(&e))?,
            state: RawValue::from_string(get(&row, 2)?).map_err(|e| bad(&e))?,
            taken_at: from_micros(get(&row, 3)?),
        }))
    }
}

impl CheckpointStore for PostgresStore {
    async fn save_checkpoint(&self, projection: &str, checkpoint: Checkpoint) -> Result<(), StoreError> {
        sqlx::query(&self.queries.save_checkpoint)
            .bind(projection)
            .bind(to_i64(checkpoint.position))
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
        sqlx::query(&self.queries.delete_checkpoint)
            .bind(projection)
            .execute(&self.pool)
            .await
            .map_err(backend_error)?;
        Ok(())
    }
}
