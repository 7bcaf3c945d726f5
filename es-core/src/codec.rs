//! The codec: typed events to `(name, schema version, JSON payload)` and back.
//!
//! Encoding always writes the current version. Decoding goes through [`decode`] or
//! [`decode_ref`], the one place where stored records become typed events; each event's
//! chain upcasts older versions on the way.

use crate::error::{DecodeError, EncodeError};
use crate::event::{Event, EventEnum};
use crate::metadata::Metadata;
use crate::record::{EncodedEvent, EventRef, NewEvent, StoredEvent};

/// Decodes a stored event into the enum `E`, upcasting old versions.
pub fn decode<E: EventEnum>(stored: &StoredEvent) -> Result<E, DecodeError> {
    decode_ref(&stored.as_ref())
}

/// Decodes a lent event into the enum `E`, upcasting old versions.
pub fn decode_ref<E: EventEnum>(stored: &EventRef<'_>) -> Result<E, DecodeError> {
    E::decode(stored.name, stored.schema_version, stored.payload)
        .map_err(|failure| DecodeError::at(stored, failure))
}

/// Serializes one event at its current version.
pub fn encode_event<T: Event>(event: &T) -> Result<EncodedEvent, EncodeError> {
    event.encode_payload()
}

impl NewEvent {
    /// Encodes a typed event with a fresh id and the given metadata.
    pub fn encode<E: EventEnum>(event: &E, metadata: Metadata) -> Result<Self, EncodeError> {
        let encoded = event.encode()?;
        Ok(NewEvent {
            id: uuid::Uuid::new_v4(),
            name: encoded.name.to_owned(),
            schema_version: encoded.schema_version,
            payload: encoded.payload,
            metadata,
        })
    }
}
