//! `Recorded<E>`: a typed event with where and when it was stored.

use std::time::SystemTime;

use uuid::Uuid;

use crate::model::codec;
use crate::model::EventEnum;
use crate::store::DecodeError;
use crate::store::Metadata;
use crate::store::{AppendedEvent, StoredEvent};

/// A typed event together with its stream, version, global position, id and metadata.
#[derive(Debug, Clone, PartialEq)]
pub struct Recorded<E> {
    /// The event, decoded (and upcast) to its current type.
    pub event: E,
    /// The event's id.
    pub id: Uuid,
    /// The stream it belongs to.
    pub stream: String,
    /// Its version in the stream.
    pub stream_version: u64,
    /// Its global position.
    pub position: u64,
    /// Correlation, causation and free key/values.
    pub metadata: Metadata,
    /// When the store recorded it.
    pub recorded_at: SystemTime,
}

impl<E: EventEnum> Recorded<E> {
    /// Decodes a stored event, upcasting it if it was stored at an older schema version.
    pub fn decode(stored: StoredEvent) -> Result<Self, DecodeError> {
        Ok(Self::of(codec::decode(&stored)?, stored))
    }

    /// `event`, decoded from `stored`, with where and when it was stored.
    pub(crate) fn of(event: E, stored: StoredEvent) -> Self {
        Recorded {
            event,
            id: stored.id,
            stream: stored.stream,
            stream_version: stored.stream_version,
            position: stored.position,
            metadata: stored.metadata,
            recorded_at: stored.recorded_at,
        }
    }
}

impl<E> Recorded<E> {
    /// The events just appended to `stream` with `metadata`, each with where and when the store
    /// put it (`appended`, in the same order).
    pub(crate) fn appended(
        events: Vec<E>,
        appended: Vec<AppendedEvent>,
        stream: &str,
        metadata: &Metadata,
    ) -> Vec<Self> {
        events
            .into_iter()
            .zip(appended)
            .map(|(event, at)| Recorded {
                event,
                id: at.id,
                stream: stream.to_owned(),
                stream_version: at.stream_version,
                position: at.position,
                metadata: metadata.clone(),
                recorded_at: at.recorded_at,
            })
            .collect()
    }
}
