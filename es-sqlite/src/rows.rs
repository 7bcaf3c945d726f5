//! How SQLite rows become events: owned records, lent views with their context, and the
//! rows an append returns. Columns are read by position, as the queries select them.

use es_core::backend::{self, from_micros, to_u64};
use es_core::{EventContext, EventRef, StoreError, StoredEvent, Uuid};
use serde_json::value::RawValue;
use sqlx::sqlite::SqliteRow;
use sqlx::Row;

use crate::store::{backend_error, BACKEND};

pub(crate) fn get<'r, T: sqlx::Decode<'r, sqlx::Sqlite> + sqlx::Type<sqlx::Sqlite>>(
    row: &'r SqliteRow,
    column: usize,
) -> Result<T, StoreError> {
    row.try_get(column).map_err(backend_error)
}

/// A full row of `READ_STREAM`/`READ_ALL`, columns by position.
pub(crate) fn decode_row(row: &SqliteRow) -> Result<StoredEvent, StoreError> {
    let position = to_u64(BACKEND, "position", get(row, 0)?)?;
    let bad = |what: &str, e: &dyn std::fmt::Display| {
        StoreError::corrupt(BACKEND, position, format!("the {what} does not decode: {e}"))
    };
    Ok(StoredEvent {
        id: Uuid::parse_str(get(row, 3)?).map_err(|e| bad("id", &e))?,
        stream: get(row, 1)?,
        stream_version: to_u64(BACKEND, "stream_version", get(row, 2)?)?,
        position,
        name: get(row, 4)?,
        schema_version: u32::try_from(get::<i64>(row, 5)?).map_err(|e| bad("schema version", &e))?,
        payload: RawValue::from_string(get(row, 6)?).map_err(|e| bad("payload", &e))?,
        metadata: backend::metadata_from_json(BACKEND, position, get(row, 7)?)?,
        recorded_at: from_micros(get(row, 8)?),
    })
}

/// Lends a full row of `READ_ALL` (columns as `decode_row` reads them) with its context.
pub(crate) fn visit_full_row<F>(row: &SqliteRow, visit: &mut F) -> Result<(), StoreError>
where
    F: FnMut(EventRef<'_>, &EventContext<'_>) -> Result<(), StoreError>,
{
    let position = to_u64(BACKEND, "position", get(row, 0)?)?;
    let bad = |what: &str, e: &dyn std::fmt::Display| {
        StoreError::corrupt(BACKEND, position, format!("the {what} does not decode: {e}"))
    };
    let metadata = backend::metadata_from_json(BACKEND, position, get(row, 7)?)?;
    let stream: &str = get(row, 1)?;
    let stream_version = to_u64(BACKEND, "stream_version", get(row, 2)?)?;
    let schema_version = u32::try_from(get::<i64>(row, 5)?).map_err(|e| bad("schema version", &e))?;
    let event = EventRef {
        stream,
        stream_version,
        position,
        name: get(row, 4)?,
        schema_version,
        payload: get(row, 6)?,
    };
    let context = EventContext {
        id: Uuid::parse_str(get(row, 3)?).map_err(|e| bad("id", &e))?,
        stream,
        stream_version,
        position,
        recorded_at: from_micros(get(row, 8)?),
        metadata: &metadata,
    };
    visit(event, &context)
}

/// Lends a row of `VISIT_STREAM`: position, stream_version, name, schema_version, payload.
pub(crate) fn lend_row<'r>(stream: &'r str, row: &'r SqliteRow) -> Result<EventRef<'r>, StoreError> {
    let position = to_u64(BACKEND, "position", get(row, 0)?)?;
    Ok(EventRef {
        stream,
        stream_version: to_u64(BACKEND, "stream_version", get(row, 1)?)?,
        position,
        name: get(row, 2)?,
        schema_version: u32::try_from(get::<i64>(row, 3)?).map_err(|e| {
            StoreError::corrupt(BACKEND, position, format!("the schema version does not decode: {e}"))
        })?,
        payload: get(row, 4)?,
    })
}
