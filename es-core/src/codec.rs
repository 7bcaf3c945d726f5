//! The codec: typed events to `(name, schema version, JSON payload)` and back.
//!
//! Encoding always writes the current version. Decoding goes through [`decode`], the one place
//! where stored records become typed events; each event's `decode_version` runs its upcast chain.

use serde_json::value::RawValue;

use crate::event::{Event, EventEnum};
use crate::store::{EventRef, StoredEvent};
use crate::upcast::Upcasters;

/// An event serialized for storage.
#[derive(Debug, Clone)]
pub struct EncodedEvent {
    /// The stored name.
    pub name: &'static str,
    /// The schema version the payload is written in.
    pub schema_version: u32,
    /// The JSON payload.
    pub payload: Box<RawValue>,
}

/// An event that could not be serialized (for example a map with non-string keys).
#[derive(Debug, thiserror::Error)]
#[error("cannot encode event `{event_name}` as JSON: {source}")]
pub struct EncodeError {
    /// The stored name of the event.
    pub event_name: &'static str,
    /// What serde_json reported.
    #[source]
    pub source: serde_json::Error,
}

/// Why a stored event could not be decoded, before the caller adds where it was stored.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeFailure {
    /// No event of this aggregate (or projection) has this name, current or former.
    #[error("no event type of this name is known")]
    UnknownEvent,
    /// The name is known but not at this schema version, and no upcast chain reaches it.
    #[error("schema version {found} is not known (the current version is {current}, and no upcast chain starts at {found})")]
    UnknownVersion {
        /// The version that was stored.
        found: u32,
        /// The version the program knows.
        current: u32,
    },
    /// A JSON upcaster is missing: the chain has a gap at `from`.
    #[error("no upcaster from schema version {from} (a gap in the chain to version {to}): register one with json_upcaster!")]
    MissingUpcast {
        /// The version with no step out of it.
        from: u32,
        /// The version the chain leads to.
        to: u32,
    },
    /// Two JSON upcasters are registered for the same name and version.
    #[error("two upcasters are registered from schema version {from}: keep one")]
    AmbiguousUpcast {
        /// The version with two steps out of it.
        from: u32,
    },
    /// The payload does not fit the event's type at its version.
    #[error("the payload does not fit the event's type: {0}")]
    Payload(#[source] serde_json::Error),
}

/// A stored event that could not be decoded, with where it was stored.
#[derive(Debug, thiserror::Error)]
#[error("cannot decode event `{event_name}` (schema version {schema_version}) at `{stream}` version {stream_version}, position {position}: {failure}")]
pub struct DecodeError {
    /// The stream the event belongs to.
    pub stream: String,
    /// Its version in that stream.
    pub stream_version: u64,
    /// Its global position.
    pub position: u64,
    /// Its stored name.
    pub event_name: String,
    /// Its stored schema version.
    pub schema_version: u32,
    /// What went wrong.
    #[source]
    pub failure: DecodeFailure,
}

/// Decodes a stored event into the enum `E`, upcasting old versions.
pub fn decode<E: EventEnum>(stored: &StoredEvent) -> Result<E, DecodeError> {
    decode_ref(stored.as_ref())
}

/// Decodes a lent event into the enum `E`, upcasting old versions.
pub fn decode_ref<E: EventEnum>(stored: EventRef<'_>) -> Result<E, DecodeError> {
    E::decode(stored.name, stored.schema_version, stored.payload)
        .map_err(|failure| DecodeError::at(stored, failure))
}

impl DecodeError {
    /// The error `failure` for the event `stored`.
    pub fn at(stored: EventRef<'_>, failure: DecodeFailure) -> Self {
        DecodeError {
            stream: stored.stream.to_owned(),
            stream_version: stored.stream_version,
            position: stored.position,
            event_name: stored.name.to_owned(),
            schema_version: stored.schema_version,
            failure,
        }
    }
}

/// Serializes one event at its current version.
pub fn encode_event<T: Event>(event: &T) -> Result<EncodedEvent, EncodeError> {
    serde_json::value::to_raw_value(event)
        .map(|payload| EncodedEvent { name: T::NAME, schema_version: T::VERSION, payload })
        .map_err(|source| EncodeError { event_name: T::NAME, source })
}

/// Decodes a payload into `T`, the oldest struct of a chain: at `T`'s version directly, at an
/// older version through the registered JSON upcasters. The end of every typed chain.
pub fn decode_current<T: Event>(version: u32, payload: &str) -> Result<T, DecodeFailure> {
    if version == T::VERSION {
        return serde_json::from_str(payload).map_err(DecodeFailure::Payload);
    }
    if version > T::VERSION {
        return Err(DecodeFailure::UnknownVersion { found: version, current: T::VERSION });
    }
    let names: Vec<&str> = std::iter::once(T::NAME).chain(T::RENAMED_FROM.iter().copied()).collect();
    match Upcasters::registered().upcast(&names, version, T::VERSION, payload)? {
        Some(value) => T::deserialize(value).map_err(DecodeFailure::Payload),
        None => serde_json::from_str(payload).map_err(DecodeFailure::Payload),
    }
}

/// `a == b` for strings, usable in constants (the derives' compile-time checks).
pub const fn str_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// Whether an older version named `older` may upcast to an event named `current` that was
/// formerly stored under `renamed_from`.
pub const fn upcast_names_match(older: &str, current: &str, renamed_from: &[&str]) -> bool {
    if str_eq(older, current) {
        return true;
    }
    let mut i = 0;
    while i < renamed_from.len() {
        if str_eq(older, renamed_from[i]) {
            return true;
        }
        i += 1;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn const_string_helpers() {
        assert!(str_eq("abc", "abc"));
        assert!(!str_eq("abc", "abd"));
        assert!(!str_eq("abc", "ab"));
        assert!(upcast_names_match("Old", "New", &["Other", "Old"]));
        assert!(!upcast_names_match("Old", "New", &[]));
    }
}
