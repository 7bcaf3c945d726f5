//! The codec: typed events to `(name, schema version, JSON payload)` and back.
//!
//! Encoding always writes the current version. Decoding goes through [`decode`] or
//! [`decode_ref`], the one place where stored records become typed events; each event's
//! chain upcasts older versions on the way.
//!
//! Personal fields (`#[event(personal)]`) are opened before anything else sees the payload:
//! JSON upcasters get their plain values, a field renamed with
//! `#[event(personal, renamed_from = "old")]` opens what was sealed under its old key, and an
//! error never quotes a personal value ([`Redacted`] says where instead).

mod open;
mod redact;

use serde_json::Value;

use crate::model::{Event, EventEnum};
use crate::personal::{Opening, RenamedField, SEALED};
use crate::store::Metadata;
use crate::store::{DecodeError, DecodeFailure, EncodeError};
use crate::store::{EncodedEvent, EventRef, NewEvent, StoredEvent};

pub use crate::store::Redacted;
pub(crate) use redact::from_value;

/// Decodes a stored event into the enum `E`, upcasting old versions.
pub fn decode<E: EventEnum>(stored: &StoredEvent) -> Result<E, DecodeError> {
    decode_ref(&stored.as_ref())
}

/// Decodes a lent event into the enum `E`, upcasting old versions.
#[inline]
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
            tags: encoded.tags,
        })
    }
}

/// Decodes a payload stored at schema `version` into `T`, the oldest struct of its typed chain:
/// at `T`'s version directly, at an older one through the JSON upcasters. What every derived
/// event's `decode_version` ends in; `renamed` are the former keys of `T`'s personal fields.
#[doc(hidden)]
#[inline]
pub fn decode_version<T: Event>(
    version: u32,
    payload: &str,
    renamed: &'static [RenamedField],
) -> Result<T, DecodeFailure> {
    if version > T::VERSION {
        return Err(DecodeFailure::UnknownVersion { found: version, current: T::VERSION });
    }
    if version < T::VERSION {
        return crate::model::upcast::decode_upcast::<T>(version, payload, renamed);
    }
    let Some(fields) = T::PERSONAL else {
        return serde_json::from_str(payload).map_err(DecodeFailure::Payload);
    };
    if !payload.contains(SEALED) {
        // Plain values of personal fields (stored before they were marked) are not quoted either.
        return redact::from_str::<T>(payload);
    }
    // One pass, opening each sealed value where it is met; if anything fails, the JSON value's
    // path below tells exactly what.
    if renamed.is_empty() {
        if let Some(event) = open::from_str::<T>(payload, fields) {
            return Ok(event);
        }
    }
    // Only a syntax error can fail here, and serde quotes no value in those.
    let mut value: Value = serde_json::from_str(payload).map_err(DecodeFailure::Payload)?;
    crate::personal::open_value(Opening { fields: Some(fields), renamed, any_key: false }, &mut value)?;
    from_value::<T>(value)
}
