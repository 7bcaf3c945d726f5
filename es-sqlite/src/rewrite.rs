//! Sanctioned rewrites on SQLite: the record appended, the payloads replaced and the stream
//! re-chained (hashes computed in Rust with `link_hash`, as at append) in one `BEGIN IMMEDIATE`
//! transaction of the single writer, so no append to the stream can come in between.

use es_core::backend::to_i64;
use es_core::integrity::{ChainHash, PayloadEdit, Rechain, Rewrite, Rewritten, REWRITES_STREAM};
use es_core::{ExpectedVersion, StoreError};
use sqlx::Connection;

use crate::append::append_in;
use crate::error::{backend_error, BACKEND};
use crate::links::{lend_link, LINK_COLUMNS};
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
        let rows = sqlx::query(&format!(
            "SELECT {LINK_COLUMNS} FROM events WHERE stream = ?1 AND stream_version >= ?2 ORDER BY stream_version"
        ))
        .bind(stream)
        .bind(from)
        .fetch_all(&mut *tx)
        .await
        .map_err(backend_error)?;
        for row in &rows {
            lend_link(row, |link| rechain.feed(link))??;
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
