//! Helpers for store implementations: how times, metadata and numbers are kept in columns.
//! No SQL here: each store writes its own; these keep the conversions identical across stores.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::metadata::Metadata;
use crate::store::StoreError;

/// Microseconds since the Unix epoch (negative before it), the precision stores keep.
pub fn to_micros(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_micros()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_micros()).unwrap_or(i64::MAX),
    }
}

/// The time `micros` microseconds after the Unix epoch.
pub fn from_micros(micros: i64) -> SystemTime {
    let d = Duration::from_micros(micros.unsigned_abs());
    if micros >= 0 {
        UNIX_EPOCH + d
    } else {
        UNIX_EPOCH - d
    }
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
        .map_err(|e| StoreError::corrupt(backend, position, format!("its metadata: {e}")))
}

/// A stored `i64` column as the `u64` the API uses; a negative value is a corrupt row.
pub fn to_u64(backend: &'static str, column: &str, value: i64) -> Result<u64, StoreError> {
    u64::try_from(value)
        .map_err(|_| StoreError::corrupt(backend, 0, format!("column {column} holds {value}")))
}

/// A `u64` version or position as the `i64` SQL columns hold, saturating at `i64::MAX`.
pub fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn micros_round_trip() {
        let t = UNIX_EPOCH + Duration::from_micros(1_700_000_000_123_456);
        assert_eq!(from_micros(to_micros(t)), t);
        let before = UNIX_EPOCH - Duration::from_micros(5);
        assert_eq!(from_micros(to_micros(before)), before);
    }

    #[test]
    fn metadata_round_trip_and_typed_error() -> Result<(), StoreError> {
        let m = Metadata::default().with("k", "v");
        assert_eq!(metadata_from_json("t", 1, &metadata_to_json(&m))?, m);
        assert_eq!(metadata_to_json(&Metadata::default()), "{}");
        let err = metadata_from_json("t", 7, "[").map(|_| ()).unwrap_err();
        assert!(matches!(err, StoreError::CorruptRow { position: 7, .. }), "{err}");
        assert!(to_u64("t", "position", -1).is_err());
        Ok(())
    }
}
