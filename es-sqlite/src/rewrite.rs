//! Sanctioned rewrites on SQLite: the record appended, the payloads replaced and the stream
//! re-chained (hashes computed in Rust with `link_hash`, as at append) in one `BEGIN IMMEDIATE`
//! transaction of the single writer, so no append to the stream can come in between.

use es_core::backend::{id_from_text, to_i64, to_u32, to_u64};
use es_core::integrity::{ChainHash, Link, PayloadEdit, Rechain, Rewrite, Rewritten, REWRITES_STREAM};
use es_core::{ExpectedVersion, StoreError};
use sqlx::sqlite::SqliteRow;
use sqlx::Connection;

use crate::append::append_in;
use crate::error::{backend_error, BACKEND};
use crate::rows::get;
use crate::store::SqliteStore;

impl Rewrite for SqliteStore {
    async fn rewrite_payloads(
        &self,
        stream: &str,
        edits: Vec<PayloadEdit>,
        reason: &str,
    ) -> Result<Rewritten, StoreError> {
        let mut rechain = Rechain::new(BACKEND, stream, edits).map_err(|e| e.into_store(BACKEND))?;
        let mut conn = self.writer.acquire().await.map_err(backend_error)?;
        let mut tx = conn.begin_with("BEGIN IMMEDIATE").await.map_err(backend_error)?;
        let from = to_i64(rechain.from());
        let prev: Option<Vec<u8>> =
            sqlx::query_scalar("SELECT hash FROM events WHERE stream = ?1 AND stream_version = ?2")
                .bind(stream)
                .bind(from - 1)
                .fetch_optional(&mut *tx)
                .await
                .map_err(backend_error)?
                .flatten();
        if let Some(prev) = prev {
            // A damaged hash there does not verify: the first link fed then refuses the rewrite.
            rechain.prev(ChainHash::from_slice(&prev).unwrap_or(ChainHash::GENESIS));
        }
        let rows = sqlx::query(
            "SELECT position, stream, stream_version, event_id, name, schema_version, payload, metadata, recorded_at, hash
             FROM events WHERE stream = ?1 AND stream_version >= ?2 ORDER BY stream_version",
        )
        .bind(stream)
        .bind(from)
        .fetch_all(&mut *tx)
        .await
        .map_err(backend_error)?;
        for row in &rows {
            feed(row, &mut rechain)?;
        }
        let (updates, rewritten) = rechain.finish().map_err(|e| e.into_store(BACKEND))?;
        let at_us = es_core::backend::to_micros(std::time::SystemTime::now());
        let records = rewritten.records(reason, at_us)?;
        let appended = append_in(&mut tx, REWRITES_STREAM, ExpectedVersion::Any, records).await?;
        for u in &updates {
            let query = match &u.payload {
                Some(payload) => sqlx::query("UPDATE events SET payload = ?1, hash = ?2 WHERE position = ?3")
                    .bind(payload.get()),
                None => sqlx::query("UPDATE events SET hash = ?1 WHERE position = ?2"),
            };
            query
                .bind(&u.hash.0[..])
                .bind(to_i64(u.position))
                .execute(&mut *tx)
                .await
                .map_err(backend_error)?;
        }
        // The stream's snapshot was folded from the payloads as they were: it goes with them.
        sqlx::query("DELETE FROM snapshots WHERE stream = ?1")
            .bind(stream)
            .execute(&mut *tx)
            .await
            .map_err(backend_error)?;
        tx.commit().await.map_err(backend_error)?;
        drop(conn);
        self.appended.appended(&appended);
        // The replaced payloads leave the write-ahead log too (best effort: a busy reader only
        // delays it to the next automatic checkpoint).
        let _ = crate::keys::truncate_wal(&self.writer).await;
        Ok(rewritten)
    }
}

/// Feeds a row of the query above to `rechain`.
fn feed(row: &SqliteRow, rechain: &mut Rechain) -> Result<(), StoreError> {
    let position = to_u64(BACKEND, 0, "position", get(row, 0)?)?;
    let hash: Option<&[u8]> = get(row, 9)?;
    rechain.feed(&Link {
        position,
        stream: get(row, 1)?,
        stream_version: to_u64(BACKEND, position, "stream_version", get(row, 2)?)?,
        id: id_from_text(BACKEND, position, get(row, 3)?)?,
        name: get(row, 4)?,
        schema_version: to_u32(BACKEND, position, "schema_version", get(row, 5)?)?,
        payload: get(row, 6)?,
        metadata: get(row, 7)?,
        recorded_us: get(row, 8)?,
        hash: hash.and_then(ChainHash::from_slice),
    })
}
