//! How SQLite rows become records: the columns are read here into es-core's plain row structs,
//! which convert and check them as every store does. Columns are read by position, as the
//! queries select them.

use es_core::backend::columns::{AppendedColumns, ContextColumns, EventColumns};
use es_core::backend::id_from_text;
use es_core::{EventRef, Lend, StoreError};
use sqlx::sqlite::SqliteRow;
use sqlx::Row;

use crate::error::{backend_error, BACKEND};

pub(crate) fn get<'r, T: sqlx::Decode<'r, sqlx::Sqlite> + sqlx::Type<sqlx::Sqlite>>(
    row: &'r SqliteRow,
    column: usize,
) -> Result<T, StoreError> {
    row.try_get(column).map_err(backend_error)
}

/// What decoding needs, first in every event query.
pub(crate) const DECODE_COLUMNS: &str = "position, stream_version, name, schema_version, payload";
/// The rest of a record, after [`DECODE_COLUMNS`]. (sqlx copies every value of a row, an
/// allocation each: these three cost a third of a stream load, so loads leave them out.)
pub(crate) const CONTEXT_COLUMNS: &str = "event_id, metadata, recorded_at";

/// Lends a row of [`DECODE_COLUMNS`], then [`CONTEXT_COLUMNS`] unless `lend` is for decoding,
/// then `stream` unless `stream` names it.
pub(crate) fn lend_row<R>(
    row: &SqliteRow,
    stream: Option<&str>,
    lend: Lend,
    visit: impl FnOnce(&EventRef<'_>) -> Result<R, StoreError>,
) -> Result<R, StoreError> {
    let position: i64 = get(row, 0)?;
    let context = match lend {
        Lend::ForDecoding => None,
        Lend::All => Some(ContextColumns {
            id: id_from_text(BACKEND, position.unsigned_abs(), get(row, 5)?)?,
            metadata: get(row, 6)?,
            recorded_us: get(row, 7)?,
        }),
    };
    let columns = EventColumns {
        position,
        commit: 0,
        stream: match stream {
            Some(stream) => stream,
            None => get(row, 8)?,
        },
        stream_version: get(row, 1)?,
        name: get(row, 2)?,
        schema_version: get(row, 3)?,
        payload: get(row, 4)?,
        context,
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
