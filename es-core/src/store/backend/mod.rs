//! What store implementations share: how times, metadata, numbers and rows are kept in columns.
//!
//! No SQL here: each store writes its own queries, reads its columns into the plain structs of
//! [`columns`], and converts them with these helpers, so that every store decodes alike and
//! reports a damaged row the same way.

pub mod columns;

use uuid::Uuid;

pub use crate::store::time::{from_micros, to_micros};
use crate::store::Metadata;
use crate::store::StoreError;
use crate::store::{EventRef, StoredEvent};

/// The span of an append (`es.append`, debug level): the store, the stream, the events, one
/// round trip. Free when no subscriber listens.
pub fn append_span(backend: &'static str, stream: &str, events: usize) -> tracing::Span {
    tracing::debug_span!("es.append", backend, stream, events, round_trips = 1)
}

/// The span of a visit (`es.visit`, debug level): the store, the stream (`*` for the global
/// order), one round trip; record `rows` when done.
pub fn visit_span(backend: &'static str, stream: Option<&str>) -> tracing::Span {
    let stream = stream.unwrap_or("*");
    tracing::debug_span!("es.visit", backend, stream, rows = tracing::field::Empty, round_trips = 1)
}

/// An owned copy of a lent event; a payload that is not JSON is a corrupt row of `backend`.
pub fn owned(backend: &'static str, event: &EventRef<'_>) -> Result<StoredEvent, StoreError> {
    event
        .to_stored()
        .map_err(|e| StoreError::corrupt(backend, event.position, format!("the payload is not JSON: {e}")))
}

/// Metadata as the JSON text stores keep.
pub fn metadata_to_json(metadata: &Metadata) -> String {
    if metadata.is_empty() {
        return "{}".to_owned();
    }
    // Metadata is UUIDs and string maps: serializing it cannot fail.
    serde_json::to_string(metadata).unwrap_or_else(|_| "{}".to_owned())
}

/// Metadata from stored JSON text; a typed error names the event when the text does not parse.
pub fn metadata_from_json(backend: &'static str, position: u64, text: &str) -> Result<Metadata, StoreError> {
    if text == "{}" {
        return Ok(Metadata::default());
    }
    serde_json::from_str(text)
        .map_err(|e| StoreError::corrupt(backend, position, format!("its metadata does not decode: {e}")))
}

/// An event id kept as text; a typed error names the event when it does not parse.
pub fn id_from_text(backend: &'static str, position: u64, text: &str) -> Result<Uuid, StoreError> {
    Uuid::parse_str(text)
        .map_err(|e| StoreError::corrupt(backend, position, format!("its id does not decode: {e}")))
}

/// A stored `i64` column as the `u64` the API uses; a negative value is a corrupt row.
pub fn to_u64(backend: &'static str, position: u64, column: &str, value: i64) -> Result<u64, StoreError> {
    u64::try_from(value)
        .map_err(|_| StoreError::corrupt(backend, position, format!("column {column} holds {value}")))
}

/// A stored schema version as the `u32` the API uses; out of range is a corrupt row.
pub fn to_u32(backend: &'static str, position: u64, column: &str, value: i64) -> Result<u32, StoreError> {
    u32::try_from(value)
        .map_err(|_| StoreError::corrupt(backend, position, format!("column {column} holds {value}")))
}

/// A `u64` version, position or limit as the `i64` SQL columns hold. Values past `i64::MAX`
/// (never a real version or position) become `i64::MAX`, which as a bound means "no limit".
pub fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// A schema version as an SQL `integer`; one past `i32::MAX` cannot be stored and is refused.
pub fn to_i32(backend: &'static str, what: &str, value: u32) -> Result<i32, StoreError> {
    i32::try_from(value).map_err(|_| {
        StoreError::backend(backend, format!("{what} {value} does not fit the column (at most {})", i32::MAX))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_round_trip_and_typed_errors() -> Result<(), StoreError> {
        let m = Metadata::default().with("k", "v");
        assert_eq!(metadata_from_json("t", 1, &metadata_to_json(&m))?, m);
        assert_eq!(metadata_to_json(&Metadata::default()), "{}");
        let err = metadata_from_json("t", 7, "[").map(|_| ()).unwrap_err();
        assert!(matches!(err, StoreError::CorruptRow { position: 7, .. }), "{err}");
        assert!(to_u64("t", 1, "position", -1).is_err());
        assert!(to_u32("t", 1, "schema_version", i64::from(u32::MAX) + 1).is_err());
        assert!(to_i32("t", "schema version", u32::MAX).is_err());
        assert!(id_from_text("t", 1, "nope").is_err());
        Ok(())
    }
}
