//! Dead letters on SQLite: a copy of each parked event with its reactor's last error.

use es_core::backend::columns::ParkedColumns;
use es_core::backend::{metadata_to_json, owned, to_i64, to_micros};
use es_core::{DeadLetters, Lend, Parked, StoreError, Uuid};

use crate::error::{backend_error, BACKEND};
use crate::rows::{get, lend_row, CONTEXT_COLUMNS, DECODE_COLUMNS};
use crate::SqliteStore;

impl DeadLetters for SqliteStore {
    async fn park(&self, parked: Parked) -> Result<(), StoreError> {
        let e = &parked.event;
        sqlx::query(
            "INSERT OR REPLACE INTO dead_letters (reactor, event_id, position, stream, stream_version, name,
                 schema_version, payload, metadata, recorded_at, error, attempts, parked_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
        )
        .bind(&parked.reactor)
        .bind(e.id.to_string())
        .bind(to_i64(e.position))
        .bind(&e.stream)
        .bind(to_i64(e.stream_version))
        .bind(&e.name)
        .bind(i64::from(e.schema_version))
        .bind(e.payload.get())
        .bind(metadata_to_json(&e.metadata))
        .bind(to_micros(e.recorded_at))
        .bind(&parked.error)
        .bind(i64::from(parked.attempts))
        .bind(to_micros(parked.parked_at))
        .execute(&self.writer)
        .await
        .map_err(backend_error)?;
        Ok(())
    }

    async fn parked(&self, reactor: &str) -> Result<Vec<Parked>, StoreError> {
        let sql = format!(
            "SELECT {DECODE_COLUMNS}, {CONTEXT_COLUMNS}, stream, error, attempts, parked_at
             FROM dead_letters WHERE reactor = ?1 ORDER BY position"
        );
        let rows = sqlx::query(&sql).bind(reactor).fetch_all(&self.reader).await.map_err(backend_error)?;
        rows.iter()
            .map(|row| {
                let event = lend_row(row, None, Lend::All, |e| owned(BACKEND, e))?;
                let columns =
                    ParkedColumns { error: get(row, 9)?, attempts: get(row, 10)?, parked_us: get(row, 11)? };
                columns.decode(BACKEND, reactor, event)
            })
            .collect()
    }

    async fn unpark(&self, reactor: &str, event: Uuid) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM dead_letters WHERE reactor = ?1 AND event_id = ?2")
            .bind(reactor)
            .bind(event.to_string())
            .execute(&self.writer)
            .await
            .map_err(backend_error)?;
        Ok(())
    }
}
