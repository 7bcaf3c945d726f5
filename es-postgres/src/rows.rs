//! How PostgreSQL rows become records: the columns are read here into es-core's plain row
//! structs, which convert and check them as every store does. Columns are read by position, as
//! the queries select them.

use es_core::backend::columns::{AppendedColumns, ContextColumns, EventColumns};
use es_core::{AppendedEvent, EventRef, Lend, StoreError};
use sqlx::postgres::PgRow;
use sqlx::Row;

use crate::error::{backend_error, BACKEND};

pub(crate) fn get<'r, T: sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres>>(
    row: &'r PgRow,
    column: usize,
) -> Result<T, StoreError> {
    row.try_get(column).map_err(backend_error)
}

/// [`get`] without sqlx's check that the column's type matches `T`, for the event columns,
/// whose types the store's own queries fix. The check cost about a sixth of a catch-up's client
/// time (callgrind); the value is still decoded with its length checked.
fn get_event_column<'r, T: sqlx::Decode<'r, sqlx::Postgres>>(
    row: &'r PgRow,
    column: usize,
) -> Result<T, StoreError> {
    row.try_get_unchecked(column).map_err(backend_error)
}

/// What decoding needs, first in every event query (`commit_no` orders commits).
pub(crate) const DECODE_COLUMNS: &str =
    "position, commit_no, stream_version, name, schema_version, payload::text AS payload";
/// The rest of a record, after [`DECODE_COLUMNS`]; loads leave them out.
pub(crate) const CONTEXT_COLUMNS: &str = "event_id, metadata::text AS metadata, recorded_us";

/// Lends a row of [`DECODE_COLUMNS`], then [`CONTEXT_COLUMNS`] unless `lend` is for decoding,
/// then `stream` unless `stream` names it.
pub(crate) fn lend_row<R>(
    row: &PgRow,
    stream: Option<&str>,
    lend: Lend,
    visit: impl FnOnce(&EventRef<'_>) -> Result<R, StoreError>,
) -> Result<R, StoreError> {
    let context = match lend {
        Lend::ForDecoding => None,
        Lend::All => Some(ContextColumns {
            id: get_event_column(row, 6)?,
            metadata: get_event_column(row, 7)?,
            recorded_us: get_event_column(row, 8)?,
        }),
    };
    let columns = EventColumns {
        position: get_event_column(row, 0)?,
        commit: get_event_column(row, 1)?,
        stream: match stream {
            Some(stream) => stream,
            None => get_event_column(row, 9)?,
        },
        stream_version: get_event_column(row, 2)?,
        name: get_event_column(row, 3)?,
        schema_version: i64::from(get_event_column::<i32>(row, 4)?),
        payload: get_event_column(row, 5)?,
        context,
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
