//! The hash chain on PostgreSQL: links lent for verification. The hashes are computed in SQL at
//! append (`es_link_hash`, migration 9), the same definition as es-core's `link_hash`.

use es_core::backend::{to_i64, to_u32, to_u64};
use es_core::integrity::{ChainHash, Link, LinkKey, Links};
use es_core::{StoreError, Uuid};

use sqlx::postgres::PgRow;

use crate::error::{backend_error, BACKEND};
use crate::rows::get;
use crate::PostgresStore;

impl Links for PostgresStore {
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
        let columns = LINK_COLUMNS;
        let schema = self.schema();
        let sql = if one_stream {
            format!("SELECT {columns} FROM {schema}.es_events WHERE stream = $1 AND stream_version > $2 ORDER BY stream_version LIMIT $3")
        } else {
            format!("SELECT {columns} FROM {schema}.es_events WHERE (stream, stream_version) > ($1, $2) ORDER BY stream, stream_version LIMIT $3")
        };
        let rows = sqlx::query(&sql)
            .bind(after.stream)
            .bind(to_i64(after.version))
            .bind(to_i64(limit as u64))
            .fetch_all(self.pool())
            .await
            .map_err(backend_error)?;
        for row in &rows {
            lend_link(row, &mut visit)?;
        }
        Ok(rows.len())
    }
}

/// The columns a link is read from, in the order [`lend_link`] takes them.
pub(crate) const LINK_COLUMNS: &str =
    "position, stream, stream_version, event_id, name, schema_version, payload::text, metadata::text, recorded_us, hash";

/// Lends a row of [`LINK_COLUMNS`] to `visit`, and returns what it returns.
pub(crate) fn lend_link<R>(row: &PgRow, visit: impl FnOnce(&Link<'_>) -> R) -> Result<R, StoreError> {
    let position = to_u64(BACKEND, 0, "position", get(row, 0)?)?;
    let hash: Option<&[u8]> = get(row, 9)?;
    Ok(visit(&Link {
        position,
        stream: get(row, 1)?,
        stream_version: to_u64(BACKEND, position, "stream_version", get(row, 2)?)?,
        id: get::<Uuid>(row, 3)?,
        name: get(row, 4)?,
        schema_version: to_u32(BACKEND, position, "schema_version", i64::from(get::<i32>(row, 5)?))?,
        payload: get(row, 6)?,
        metadata: get(row, 7)?,
        recorded_us: get(row, 8)?,
        hash: hash.and_then(ChainHash::from_slice),
    }))
}
