//! Every event a scenario touches goes through the aggregate's codec, as a store would take it:
//! an event that does not survive encoding and decoding fails its test, naming the field.

use std::fmt::Debug;

use es_core::{EventEnum, StoredEvent};
use serde_json::value::RawValue;

use crate::report;

/// Encodes and decodes `event`; `Err` says why it does not survive storage.
/// Personal fields are sealed and opened with [`harness_keys`](crate::harness_keys).
pub fn check<E: EventEnum + PartialEq>(event: &E) -> Result<(), String> {
    crate::personal::scoped(|| check_in_scope(event))
}

fn check_in_scope<E: EventEnum + PartialEq>(event: &E) -> Result<(), String> {
    let encoded = event.encode().map_err(|e| format!("{e}"))?;
    let decoded = E::decode(encoded.name, encoded.schema_version, encoded.payload.get()).map_err(|e| {
        format!(
            "event `{}` does not decode from its own encoding {}: {e}",
            encoded.name,
            encoded.payload.get()
        )
    })?;
    if &decoded == event {
        return Ok(());
    }
    Err(format!(
        "event `{}` does not survive storage: it encodes to {} and decodes to something else\n{}",
        encoded.name,
        encoded.payload.get(),
        field_difference(event, &decoded)
    ))
}

/// The first line of the pretty `Debug` output that differs, which names the field.
fn field_difference<E: Debug>(before: &E, after: &E) -> String {
    let (b, a) = (report::lines(before), report::lines(after));
    match b.iter().zip(&a).find(|(x, y)| x != y) {
        Some((x, y)) => format!("the field that changed: `{}` became `{}`", x.trim(), y.trim()),
        None => format!("before: {before:?}\nafter:  {after:?}"),
    }
}

/// The record a store would hand back for a payload stored as `name` at `schema_version`,
/// at `position` of stream `test`.
pub(crate) fn stored_record(
    name: &str,
    schema_version: u32,
    payload: Box<RawValue>,
    position: u64,
) -> StoredEvent {
    StoredEvent {
        id: es_core::Uuid::new_v4(),
        stream: "test".to_owned(),
        stream_version: position,
        position,
        cursor: es_core::Cursor::at(position),
        name: name.to_owned(),
        schema_version,
        payload,
        metadata: es_core::Metadata::default(),
        recorded_at: std::time::SystemTime::now(),
    }
}
