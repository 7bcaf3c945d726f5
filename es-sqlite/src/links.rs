//! The hash chain: links lent for verification, and the chain computed for events stored
//! before it existed.

use es_core::backend::{id_from_text, to_i64, to_u32, to_u64};
use es_core::integrity::{ChainHash, Link, LinkKey, Links};
use es_core::StoreError;
use sqlx::sqlite::SqliteRow;
use sqlx::SqliteConnection;

use crate::error::{backend_error, BACKEND};
use crate::rows::get;
use crate::store::SqliteStore;

/// The columns a link is read from, in the order [`lend_link`] takes them.
pub(crate) const LINK_COLUMNS: &str =
    "position, stream, stream_version, event_id, name, schema_version, payload, metadata, recorded_at, hash";

/// Lends a row of [`LINK_COLUMNS`] to `visit`, and returns what it returns.
pub(crate) fn lend_link<R>(row: &SqliteRow, visit: impl FnOnce(&Link<'_>) -> R) -> Result<R, StoreError> {
    let position = to_u64(BACKEND, 0, "position", get(row, 0)?)?;
    let hash: Option<&[u8]> = get(row, 9)?;
    Ok(visit(&Link {
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
    }))
}

async fn fetch_links(
    conn: &mut SqliteConnection,
    after: LinkKey<'_>,
    one_stream: bool,
    limit: usize,
) -> Result<Vec<SqliteRow>, StoreError> {
    let sql = if one_stream {
        format!("SELECT {LINK_COLUMNS} FROM events WHERE stream = ?1 AND stream_version > ?2 ORDER BY stream_version LIMIT ?3")
    } else {
        format!("SELECT {LINK_COLUMNS} FROM events WHERE (stream, stream_version) > (?1, ?2) ORDER BY stream, stream_version LIMIT ?3")
    };
    sqlx::query(&sql)
        .bind(after.stream)
        .bind(to_i64(after.version))
        .bind(to_i64(limit as u64))
        .fetch_all(conn)
        .await
        .map_err(backend_error)
}

impl Links for SqliteStore {
    async fn visit_links<F>(
        &self,
        after: LinkKey<'_>,
        one_stream: bool,
        limit: usize,
        mut visit: F,
    ) -> Result<usize, StoreError>
    where
        F: FnMut(&Link<'_>) + Send,
    {
        let mut conn = self.reader.acquire().await.map_err(backend_error)?;
        let rows = fetch_links(&mut conn, after, one_stream, limit).await?;
        for row in &rows {
            lend_link(row, &mut visit)?;
        }
        Ok(rows.len())
    }
}

/// Computes the chain of every stored event, in the migration's transaction.
pub(crate) async fn backfill(conn: &mut SqliteConnection) -> Result<(), StoreError> {
    let (mut stream, mut version, mut prev) = (String::new(), 0, ChainHash::GENESIS);
    loop {
        let rows = fetch_links(conn, LinkKey { stream: &stream, version }, false, 1_000).await?;
        let mut updates = Vec::with_capacity(rows.len());
        for row in &rows {
            lend_link(row, |l| {
                if l.stream != stream {
                    (stream, prev) = (l.stream.to_owned(), ChainHash::GENESIS);
                }
                prev = l.expected_hash(&prev);
                version = l.stream_version;
                updates.push((to_i64(l.position), prev));
            })?;
        }
        for (position, hash) in &updates {
            sqlx::query("UPDATE events SET hash = ?1 WHERE position = ?2")
                .bind(&hash.0[..])
                .bind(position)
                .execute(&mut *conn)
                .await
                .map_err(backend_error)?;
        }
        if rows.len() < 1_000 {
            return Ok(());
        }
    }
}
