//! The records a store moves: [`NewEvent`] in, [`StoredEvent`] out (owned) or [`EventRef`]
//! (lent), [`Appended`] back from an append.

use std::time::SystemTime;

use serde_json::value::RawValue;
use uuid::Uuid;

use crate::store::cursor::Cursor;
use crate::store::Metadata;

/// A stored event lent by a store while it visits its rows: every field of a [`StoredEvent`],
/// borrowed. The one record that stores lend, that projections see as their context and that
/// decoding reads. (A stream visit with [`Lend::ForDecoding`](crate::Lend::ForDecoding) leaves
/// `id`, `metadata` and `recorded_at` empty.)
#[derive(Debug, Clone, Copy)]
pub struct EventRef<'a> {
    /// The event's id.
    pub id: Uuid,
    /// The stream it belongs to.
    pub stream: &'a str,
    /// Its version in the stream.
    pub stream_version: u64,
    /// Its global position: a number unique in the store.
    pub position: u64,
    /// Its place in the global order, to read on after it.
    pub cursor: Cursor,
    /// The stored name.
    pub name: &'a str,
    /// The schema version of the payload.
    pub schema_version: u32,
    /// The JSON payload, as stored.
    pub payload: &'a str,
    /// Correlation, causation and free key/values.
    pub metadata: &'a Metadata,
    /// When the store recorded it (microsecond precision).
    pub recorded_at: SystemTime,
}

/// What a projection is told about the event it handles: where and when it was recorded, with
/// its metadata. It is the lent record itself.
pub type EventContext<'a> = EventRef<'a>;

impl EventRef<'_> {
    /// An owned copy; an error if the payload is not JSON (a damaged row).
    pub fn to_stored(&self) -> Result<StoredEvent, serde_json::Error> {
        Ok(StoredEvent {
            id: self.id,
            stream: self.stream.to_owned(),
            stream_version: self.stream_version,
            position: self.position,
            cursor: self.cursor,
            name: self.name.to_owned(),
            schema_version: self.schema_version,
            payload: RawValue::from_string(self.payload.to_owned())?,
            metadata: self.metadata.clone(),
            recorded_at: self.recorded_at,
        })
    }
}

/// An event to append: id, stored name, schema version, JSON payload and metadata.
#[derive(Debug, Clone)]
pub struct NewEvent {
    /// Unique id; appending an id that is already stored does not store it twice.
    pub id: Uuid,
    /// The stored name.
    pub name: String,
    /// The schema version of the payload.
    pub schema_version: u32,
    /// The JSON payload.
    pub payload: Box<RawValue>,
    /// Correlation, causation and free key/values.
    pub metadata: Metadata,
    /// Its tags (`key:value`, from `#[event(tag)]` fields), kept by stores with
    /// [`Boundaries`](crate::store::Boundaries) for the decisions that read them.
    pub tags: Vec<String>,
}

impl NewEvent {
    /// An event with a fresh id and empty metadata, for tools, migrations and tests that write
    /// raw events.
    ///
    /// ```
    /// let e = es_core::NewEvent::new("AccountOpened", 1, serde_json::json!({ "owner": "ann" }));
    /// assert_eq!(e.payload.get(), r#"{"owner":"ann"}"#);
    /// ```
    pub fn new(name: impl Into<String>, schema_version: u32, payload: serde_json::Value) -> Self {
        NewEvent {
            id: Uuid::new_v4(),
            name: name.into(),
            schema_version,
            payload: raw_json(&payload),
            metadata: Metadata::default(),
            tags: Vec::new(),
        }
    }

    /// Replaces the tags (`key:value`).
    pub fn with_tags<T: Into<String>>(mut self, tags: impl IntoIterator<Item = T>) -> Self {
        self.tags = tags.into_iter().map(Into::into).collect();
        self
    }

    /// Replaces the id (to make an append retryable with the same ids).
    pub fn with_id(mut self, id: Uuid) -> Self {
        self.id = id;
        self
    }

    /// Replaces the metadata.
    pub fn with_metadata(mut self, metadata: Metadata) -> Self {
        self.metadata = metadata;
        self
    }
}

/// An event serialized by the codec, before it gets an id and metadata.
#[derive(Debug, Clone)]
pub struct EncodedEvent {
    /// The stored name.
    pub name: &'static str,
    /// The schema version the payload is written in.
    pub schema_version: u32,
    /// The JSON payload.
    pub payload: Box<RawValue>,
    /// Its tags (`key:value`).
    pub tags: Vec<String>,
}

/// An event as stored: a [`NewEvent`]'s fields plus where and when it was recorded.
///
/// Equality compares every field, the payload as JSON text.
#[derive(Debug, Clone)]
pub struct StoredEvent {
    /// The event's id.
    pub id: Uuid,
    /// The stream it belongs to.
    pub stream: String,
    /// Its version in the stream, from 1, without gaps.
    pub stream_version: u64,
    /// Its global position: a number unique in the store, from 1.
    pub position: u64,
    /// Its place in the global order, to read on after it.
    pub cursor: Cursor,
    /// The stored name.
    pub name: String,
    /// The schema version of the payload.
    pub schema_version: u32,
    /// The JSON payload.
    pub payload: Box<RawValue>,
    /// Correlation, causation and free key/values.
    pub metadata: Metadata,
    /// When the store recorded it (microsecond precision).
    pub recorded_at: SystemTime,
}

impl StoredEvent {
    /// A borrowed view, as stores lend it.
    pub fn as_ref(&self) -> EventRef<'_> {
        EventRef {
            id: self.id,
            stream: &self.stream,
            stream_version: self.stream_version,
            position: self.position,
            cursor: self.cursor,
            name: &self.name,
            schema_version: self.schema_version,
            payload: self.payload.get(),
            metadata: &self.metadata,
            recorded_at: self.recorded_at,
        }
    }
}

impl PartialEq for StoredEvent {
    fn eq(&self, other: &Self) -> bool {
        self.id == other.id
            && self.stream == other.stream
            && self.stream_version == other.stream_version
            && self.position == other.position
            && self.cursor == other.cursor
            && self.name == other.name
            && self.schema_version == other.schema_version
            && self.payload.get() == other.payload.get()
            && self.metadata == other.metadata
            && self.recorded_at == other.recorded_at
    }
}

/// What an append recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Appended {
    /// The stream's version after the append (unchanged when no event was given).
    pub stream_version: u64,
    /// Where each event of the call landed, in the order given.
    pub events: Vec<AppendedEvent>,
}

/// Where one appended event landed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppendedEvent {
    /// The event's id.
    pub id: Uuid,
    /// Its version in the stream.
    pub stream_version: u64,
    /// Its global position.
    pub position: u64,
    /// When the store recorded it.
    pub recorded_at: SystemTime,
}

/// Serializes a JSON value to its raw text. Infallible for `Value`, whose keys are strings.
pub(crate) fn raw_json(value: &serde_json::Value) -> Box<RawValue> {
    serde_json::value::to_raw_value(value).unwrap_or_else(|_| unreachable_json())
}

#[cold]
fn unreachable_json() -> Box<RawValue> {
    // serde_json::Value has string keys only, so serializing it cannot fail.
    unreachable!("a serde_json::Value always serializes")
}
