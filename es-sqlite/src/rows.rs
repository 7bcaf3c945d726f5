//! How SQLite rows become records: the columns are read here into es-core's plain row structs,
//! which convert and check them as every store does. Columns are read by position, as the
//! queries select them.

use es_core::backend::columns::{AppendedColumns, EventColumns};
use es_core::backend::id_from_text;
use es_core::{EventRef, StoreError};
use sqlx::sqlite::SqliteRow;
use sqlx::Row;

use crate::error::{backend_error, BACKEND};

pub(crate) fn get<'r, T: sqlx::Decode<'r, sqlx::Sqlite> + sqlx::Type<sqlx::Sqlite>>(
    row: &'r SqliteRow,
    column: usize,
) -> Result<T, StoreError> {
    row.try_get(column).map_err(backend_error)
}

/// The columns every event query selects, in this order.
pub(crate) const EVENT_COLUMNS: &str =
    "position, stream, stream_version, event_id, name, schema_version, payload, metadata, recorded_at";

/// Lends a row of [`EVENT_COLUMNS`] to `visit`.
pub(crate) fn lend_row<R>(
    row: &SqliteRow,
    visit: impl FnOnce(EventRef<'_>) -> Result<R, StoreError>,
) -> Result<R, StoreError> {
    let position: i64 = get(row, 0)?;
    let columns = EventColumns {
        position,
        commit: 0,
        stream: get(row, 1)?,
        stream_version: get(row, 2)?,
        id: id_from_text(BACKEND, position.unsigned_abs(), get(row, 3)?)?,
        name: get(row, 4)?,
        schema_version: get(row, 5)?,
        payload: get(row, 6)?,
        metadata: get(row, 7)?,
        recorded_us: get(row, 8)?,
    };
    columns.lend(BACKEND, visit)
}

/// A row of `event_id, stream, stream_version, position, recorded_at`: where a stored id is.
pub(crate) fn stored_id_row(row: &SqliteRow) -> Result<(String, es_core::AppendedEvent), StoreError> {
    let position: i64 = get(row, 3)?;
    let columns = AppendedColumns {
        id: id_from_text(BACKEND, position.unsigned_abs(), get(row, 0)?)?,
        stream_version: get(row, 2)?,
        position,
        recorded_us: get(row, 4)?,
    };
    Ok((get(row, 1)?, columns.decode(BACKEND)?))
}
