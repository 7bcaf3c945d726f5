//! Sanctioned rewrites on PostgreSQL: one READ COMMITTED transaction holding the stream's
//! append lock (the advisory lock `es_append` takes), so no append to the stream comes in
//! between; the stream's links are read and re-chained in Rust with `link_hash` (the definition
//! `es_link_hash` computes in SQL, over the same `payload::text`), the record appended with
//! `es_append`, and the rows updated in one statement.
//!
//! The record is appended before the rows are updated: `es_append` takes the transaction's id
//! after its own lock, and a transaction that wrote before it could be older than the last
//! append to the record stream.

use es_core::backend::to_i64;
use es_core::integrity::{ChainHash, PayloadEdit, Rechain, Rewrite, Rewritten, REWRITES_STREAM};
use es_core::{ExpectedVersion, StoreError};

use crate::append::AppendArgs;
use crate::error::{backend_error, BACKEND};
use crate::links::{lend_link, LINK_COLUMNS};
use crate::session;
use crate::PostgresStore;

impl Rewrite for PostgresStore {
    async fn rewrite_payloads(
        &self,
        stream: &str,
        edits: Vec<PayloadEdit>,
        reason: &str,
    ) -> Result<Rewritten, StoreError> {
        let mut rechain = Rechain::new(BACKEND, stream, edits).map_err(|e| e.into_store(BACKEND))?;
        let schema = self.schema();
        let mut tx = session::begin(&self.pool).await.map_err(backend_error)?;
        // The key `es_append` locks a stream's appends with: hashtext of the quoted schema name.
        sqlx::query("SELECT pg_advisory_xact_lock(hashtext($1), hashtext($2))")
            .bind(schema)
            .bind(stream)
            .execute(&mut *tx)
            .await
            .map_err(backend_error)?;
        let from = to_i64(rechain.from());
        let prev: Option<Vec<u8>> = sqlx::query_scalar(&format!(
            "SELECT hash FROM {schema}.es_events WHERE stream = $1 AND stream_version = $2"
        ))
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
            "SELECT {LINK_COLUMNS} FROM {schema}.es_events WHERE stream = $1 AND stream_version >= $2 ORDER BY stream_version"
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
        let records = rewritten.records(reason, es_core::backend::to_micros(std::time::SystemTime::now()))?;
        let args = AppendArgs::new(REWRITES_STREAM, ExpectedVersion::Any, &records)?;
        let outcome = args.run(&self.queries.append, &mut *tx).await.map_err(backend_error)?;
        let appended = outcome.into_result(REWRITES_STREAM, ExpectedVersion::Any, &args.ids)?;
        let positions: Vec<i64> = updates.iter().map(|u| to_i64(u.position)).collect();
        let payloads: Vec<Option<&str>> =
            updates.iter().map(|u| u.payload.as_deref().map(|p| p.get())).collect();
        let hashes: Vec<Vec<u8>> = updates.iter().map(|u| u.hash.0.to_vec()).collect();
        sqlx::query(&format!(
            "UPDATE {schema}.es_events AS e SET payload = coalesce(u.payload::json, e.payload), hash = u.hash
             FROM unnest($1::bigint[], $2::text[], $3::bytea[]) AS u(position, payload, hash)
             WHERE e.position = u.position"
        ))
        .bind(&positions)
        .bind(&payloads)
        .bind(&hashes)
        .execute(&mut *tx)
        .await
        .map_err(backend_error)?;
        // The stream's snapshot was folded from the payloads as they were: it goes with them.
        sqlx::query(&format!("DELETE FROM {schema}.es_snapshots WHERE stream = $1"))
            .bind(stream)
            .execute(&mut *tx)
            .await
            .map_err(backend_error)?;
        tx.commit().await.map_err(backend_error)?;
        self.appended(&appended);
        Ok(rewritten)
    }
}
