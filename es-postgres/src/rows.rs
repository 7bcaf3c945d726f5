//! How PostgreSQL rows become records: the columns are read here into es-core's plain row
//! structs, which convert and check them as every store does. Columns are read by position, as
//! the queries select them.

use es_core::backend::columns::{AppendedColumns, EventColumns};
use es_core::{AppendedEvent, EventRef, StoreError};
use sqlx::postgres::PgRow;
use sqlx::Row;

use crate::error::{backend_error, BACKEND};

pub(crate) fn get<'r, T: sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres>>(
    row: &'r PgRow,
    column: usize,
) -> Result<T, StoreError> {
    row.try_get(column).map_err(backend_error)
}

/// The columns every event query selects, in this order (the second orders commits).
pub(crate) const EVENT_COLUMNS: &str = "position, 0::bigint, stream, stream_version, event_id, name, \
     schema_version, payload::text AS payload, metadata::text AS metadata, recorded_us";

/// Lends a row of [`EVENT_COLUMNS`] to `visit`.
pub(crate) fn lend_row<R>(
    row: &PgRow,
    visit: impl FnOnce(EventRef<'_>) -> Result<R, StoreError>,
) -> Result<R, StoreError> {
    let columns = EventColumns {
        position: get(row, 0)?,
        commit: get(row, 1)?,
        stream: get(row, 2)?,
        stream_version: get(row, 3)?,
        id: get(row, 4)?,
        name: get(row, 5)?,
        schema_version: i64::from(get::<i32>(row, 6)?),
        payload: get(row, 7)?,
        metadata: get(row, 8)?,
        recorded_us: get(row, 9)?,
    };
    columns.lend(BACKEND, visit)
}

/// A row of es_append: (status, event_id, stream, stream_version, position, recorded_us).
pub(crate) fn appended_row(row: &PgRow) -> Result<(String, AppendedEvent), StoreError> {
    let columns = AppendedColumns {
        id: get(row, 1)?,
        stream_version: get(row, 3)?,
        position: get(row, 4)?,
        recorded_us: get(row, 5)?,
    };
    Ok((get(row, 2)?, columns.decode(BACKEND)?))
}
