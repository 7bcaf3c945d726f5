//! The `EventStore` trait: the one seam every backend implements, and the records it moves.

use std::fmt;
use std::future::Future;
use std::time::SystemTime;

use serde_json::value::RawValue;
use uuid::Uuid;

use crate::codec::{DecodeError, EncodeError};
use crate::event::EventEnum;
use crate::metadata::Metadata;
use crate::projection::EventContext;

/// Storage of event streams with optimistic concurrency and one global order.
///
/// Implementations are cheap to clone (a handle to shared state) and must pass the conformance
/// suite in `es-testing`.
pub trait EventStore: Clone + Send + Sync + 'static {
    /// Atomically appends `events` to `stream` if its version matches `expected`.
    ///
    /// Re-appending events whose ids are already stored, as the exact retry of an earlier
    /// successful append, acknowledges that append and stores nothing twice.
    fn append(
        &self,
        stream: &str,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> impl Future<Output = Result<Appended, StoreError>> + Send;

    /// Events of one stream with version >= `from`, at most `limit`, in version order.
    fn read_stream(
        &self,
        stream: &str,
        from: u64,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<StoredEvent>, StoreError>> + Send;

    /// Events of all streams with position >= `from`, at most `limit`, in position order; never
    /// returns a position while a lower one can still commit.
    fn read_all(
        &self,
        from: u64,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<StoredEvent>, StoreError>> + Send;

    /// Calls `visit` on each event [`read_all`](Self::read_all) would return, in order, lending
    /// it with its context, and returns how many it visited. Projection runners read with it.
    /// The default reads the page and lends from it; stores override it to avoid the copies.
    fn visit_all<F>(
        &self,
        from: u64,
        limit: usize,
        mut visit: F,
    ) -> impl Future<Output = Result<usize, StoreError>> + Send
    where
        F: FnMut(EventRef<'_>, &EventContext<'_>) -> Result<(), StoreError> + Send,
    {
        let read = self.read_all(from, limit);
        async move {
            let events = read.await?;
            for e in &events {
                visit(e.as_ref(), &EventContext::of(e))?;
            }
            Ok(events.len())
        }
    }

    /// A signal that ticks when events may have been appended, for subscriptions to wake up
    /// instead of polling. `None` (the default): subscribers poll.
    fn watch(&self) -> Option<tokio::sync::watch::Receiver<u64>> {
        None
    }

    /// The position of the last committed event (0: none). The default reads through
    /// `read_all`; stores override it with one cheap query.
    fn head_position(&self) -> impl Future<Output = Result<u64, StoreError>> + Send {
        async move {
            let mut head = 0;
            loop {
                let page = self.read_all(head + 1, 4096).await?;
                match page.last() {
                    Some(last) => head = last.position,
                    None => return Ok(head),
                }
            }
        }
    }

    /// Calls `visit` on each event [`read_stream`](Self::read_stream) would return, in order, with
    /// what decoding it needs, and returns how many it visited. `Repository::load` folds a
    /// stream with it. Stores that hold events in memory override it to lend them
    /// without copying; the default reads the page and lends from it. An error from `visit`
    /// stops the visit and is returned.
    fn visit_stream<F>(
        &self,
        stream: &str,
        from: u64,
        limit: usize,
        mut visit: F,
    ) -> impl Future<Output = Result<usize, StoreError>> + Send
    where
        F: FnMut(EventRef<'_>) -> Result<(), StoreError> + Send,
    {
        let read = self.read_stream(stream, from, limit);
        async move {
            let events = read.await?;
            for e in &events {
                visit(e.as_ref())?;
            }
            Ok(events.len())
        }
    }
}

/// What decoding a stored event needs, lent by a store: where it is, its name, schema version
/// and payload. (Ids, metadata and times come with the full [`StoredEvent`]s of
/// [`EventStore::read_stream`] and [`EventStore::read_all`].)
#[derive(Debug, Clone, Copy)]
pub struct EventRef<'a> {
    /// The stream it belongs to.
    pub stream: &'a str,
    /// Its version in the stream.
    pub stream_version: u64,
    /// Its global position.
    pub position: u64,
    /// The stored name.
    pub name: &'a str,
    /// The schema version of the payload.
    pub schema_version: u32,
    /// The JSON payload, as text the store vouches for (it stored it as JSON).
    pub payload: &'a str,
}

/// The version a stream must be at for an append to go through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ExpectedVersion {
    /// No check.
    Any,
    /// The stream must not exist yet (the same as `Exact(0)`).
    NoStream,
    /// The stream's last event must have this version (0: the stream must not exist).
    Exact(u64),
}

impl ExpectedVersion {
    /// Whether a stream at `actual` (0 for none) satisfies this expectation.
    pub fn matches(self, actual: u64) -> bool {
        match self {
            ExpectedVersion::Any => true,
            ExpectedVersion::NoStream => actual == 0,
            ExpectedVersion::Exact(n) => actual == n,
        }
    }

    /// The version the stream must be at, if any is required.
    pub fn required(self) -> Option<u64> {
        match self {
            ExpectedVersion::Any => None,
            ExpectedVersion::NoStream => Some(0),
            ExpectedVersion::Exact(n) => Some(n),
        }
    }
}

impl fmt::Display for ExpectedVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExpectedVersion::Any => f.write_str("any version"),
            ExpectedVersion::NoStream | ExpectedVersion::Exact(0) => f.write_str("no stream"),
            ExpectedVersion::Exact(n) => write!(f, "version {n}"),
        }
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
        }
    }

    /// Encodes a typed event with a fresh id and the given metadata.
    pub fn encode<E: EventEnum>(event: &E, metadata: Metadata) -> Result<Self, EncodeError> {
        let encoded = event.encode()?;
        Ok(NewEvent {
            id: Uuid::new_v4(),
            name: encoded.name.to_owned(),
            schema_version: encoded.schema_version,
            payload: encoded.payload,
            metadata,
        })
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
    /// Its global position, from 1, in commit order.
    pub position: u64,
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
    /// A borrowed view, as [`EventStore::visit_stream`] lends it.
    pub fn as_ref(&self) -> EventRef<'_> {
        EventRef {
            stream: &self.stream,
            stream_version: self.stream_version,
            position: self.position,
            name: &self.name,
            schema_version: self.schema_version,
            payload: self.payload.get(),
        }
    }
}

impl PartialEq for StoredEvent {
    fn eq(&self, other: &Self) -> bool {
        self.id == other.id
            && self.stream == other.stream
            && self.stream_version == other.stream_version
            && self.position == other.position
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

/// Everything a store (or the codec on a store's records) can report.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The stream was not at the expected version.
    #[error(
        "version conflict on stream `{stream}`: expected {expected}, but the stream is at version {actual}"
    )]
    Conflict {
        /// The stream appended to.
        stream: String,
        /// What the append expected.
        expected: ExpectedVersion,
        /// The stream's version (0: no stream).
        actual: u64,
    },
    /// An event id of the append is already stored, and the append is not an exact retry of the
    /// one that stored it.
    #[error("event id {id} appended to `{stream}` is already stored (in `{stored_stream}` at version {stored_version}), and this append is not an exact retry of the one that stored it")]
    DuplicateEventId {
        /// The stream appended to.
        stream: String,
        /// The id already stored.
        id: Uuid,
        /// The stream holding it.
        stored_stream: String,
        /// Its version there (0 when it is repeated within the append itself).
        stored_version: u64,
    },
    /// An event could not be serialized.
    #[error(transparent)]
    Encode(#[from] EncodeError),
    /// A stored event could not be decoded.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// The store could not be reached or opened (the target names the server without its
    /// password, or the file).
    #[error("{backend} event store unavailable at {target}: {source}")]
    Unavailable {
        /// Which store.
        backend: &'static str,
        /// Where it was looked for.
        target: String,
        /// The underlying error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A stored row does not decode into an event record (corrupt or foreign data).
    #[error("{backend} event store: the stored event at position {position} is corrupt: {reason}")]
    CorruptRow {
        /// Which store.
        backend: &'static str,
        /// The row's position (0 when the position itself is unreadable).
        position: u64,
        /// What does not decode.
        reason: String,
    },
    /// The backend failed (I/O, a query, ...).
    #[error("{backend} event store: {source}")]
    Backend {
        /// Which store: "memory", "sqlite", "postgres", ...
        backend: &'static str,
        /// The underlying error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl StoreError {
    /// A row at `position` that does not decode.
    pub fn corrupt(backend: &'static str, position: u64, reason: impl Into<String>) -> Self {
        StoreError::CorruptRow { backend, position, reason: reason.into() }
    }

    /// Wraps a backend error.
    pub fn backend(
        backend: &'static str,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        StoreError::Backend { backend, source: source.into() }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expected_version_matches() {
        assert!(ExpectedVersion::Any.matches(7));
        assert!(ExpectedVersion::NoStream.matches(0) && !ExpectedVersion::NoStream.matches(1));
        assert!(ExpectedVersion::Exact(0).matches(0));
        assert!(ExpectedVersion::Exact(3).matches(3) && !ExpectedVersion::Exact(3).matches(2));
        assert_eq!(ExpectedVersion::Exact(0).to_string(), "no stream");
    }

    #[test]
    fn conflict_message_names_stream_and_versions() {
        let e = StoreError::Conflict {
            stream: "Account-ann".into(),
            expected: ExpectedVersion::Exact(2),
            actual: 3,
        };
        assert_eq!(
            e.to_string(),
            "version conflict on stream `Account-ann`: expected version 2, but the stream is at version 3"
        );
    }
}
