//! Dead letters on PostgreSQL: a copy of each parked event with its reactor's last error.

use es_core::backend::columns::ParkedColumns;
use es_core::backend::{metadata_to_json, owned, to_i32, to_i64, to_micros};
use es_core::{DeadLetters, Lend, Parked, StoreError, Uuid};

use crate::error::{backend_error, BACKEND};
use crate::rows::{get, lend_row, CONTEXT_COLUMNS, DECODE_COLUMNS};
use crate::PostgresStore;

impl DeadLetters for PostgresStore {
    async fn park(&self, parked: Parked) -> Result<(), StoreError> {
        let e = &parked.event;
        let sql = format!(
            "INSERT INTO {}.es_dead_letters (reactor, event_id, position, commit_no, stream, stream_version, name,
                 schema_version, payload, metadata, recorded_us, error, attempts, parked_us)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::json, $10::json, $11, $12, $13, $14)
             ON CONFLICT (reactor, event_id) DO UPDATE SET error = excluded.error,
                 attempts = excluded.attempts, parked_us = excluded.parked_us",
            self.schema()
        );
        sqlx::query(&sql)
            .bind(&parked.reactor)
            .bind(e.id)
            .bind(to_i64(e.position))
            .bind(to_i64(e.cursor.commit()))
            .bind(&e.stream)
            .bind(to_i64(e.stream_version))
            .bind(&e.name)
            .bind(to_i32(BACKEND, "schema version", e.schema_version)?)
            .bind(e.payload.get())
            .bind(metadata_to_json(&e.metadata))
            .bind(to_micros(e.recorded_at))
            .bind(&parked.error)
            .bind(i64::from(parked.attempts))
            .bind(to_micros(parked.parked_at))
            .execute(&self.pool)
            .await
            .map_err(backend_error)?;
        Ok(())
    }

    async fn parked(&self, reactor: &str) -> Result<Vec<Parked>, StoreError> {
        let sql = format!(
            "SELECT {DECODE_COLUMNS}, {CONTEXT_COLUMNS}, stream, error, attempts, parked_us
             FROM {}.es_dead_letters WHERE reactor = $1 ORDER BY commit_no, position",
            self.schema()
        );
        let rows = sqlx::query(&sql).bind(reactor).fetch_all(&self.pool).await.map_err(backend_error)?;
        rows.iter()
            .map(|row| {
                let event = lend_row(row, None, Lend::All, |e| owned(BACKEND, e))?;
                let columns =
                    ParkedColumns { error: get(row, 10)?, attempts: get(row, 11)?, parked_us: get(row, 12)? };
                columns.decode(BACKEND, reactor, event)
            })
            .collect()
    }

    async fn unpark(&self, reactor: &str, event: Uuid) -> Result<(), StoreError> {
        let sql =
            format!("DELETE FROM {}.es_dead_letters WHERE reactor = $1 AND event_id = $2", self.schema());
        sqlx::query(&sql).bind(reactor).bind(event).execute(&self.pool).await.map_err(backend_error)?;
        Ok(())
    }
}
