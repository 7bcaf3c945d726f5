//! The errors of the store and the codec. Every variant names what failed and where.

use uuid::Uuid;

use crate::expected::ExpectedVersion;
use crate::record::EventRef;

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
    /// A state kept beside the events (a snapshot, a projection's checkpoint) does not
    /// serialize, or what is stored does not parse.
    #[error("the state of `{owner}` is not JSON: {source}")]
    State {
        /// The stream or projection whose state it is.
        owner: String,
        /// What serde_json reported.
        #[source]
        source: serde_json::Error,
    },
    /// A write under a lease was refused: the lease has passed to another holder (its epoch
    /// moved on), so this worker's work is stale and must stop.
    #[error("lease `{lease}` is no longer held at epoch {epoch}: another worker took it over")]
    Fenced {
        /// The lease's name.
        lease: String,
        /// The epoch the refused write held.
        epoch: u64,
    },
    /// The store could not be reached or opened (the target names the server without its
    /// password, or the file).
    #[error("{backend} event store unavailable at {target}: {source}")]
    Unavailable {
        /// Which store (its `BACKEND` constant).
        backend: &'static str,
        /// Where it was looked for.
        target: String,
        /// The underlying error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A stream's hash chain is broken: its stored history was changed outside the application
    /// (see [`crate::integrity`]).
    #[error("the hash chain is broken: {0}")]
    Tampered(Box<crate::integrity::Break>),
    /// A stored event row does not decode into a record (corrupt or foreign data).
    #[error("{backend} event store: the stored event at position {position} is corrupt: {reason}")]
    CorruptRow {
        /// Which store (its `BACKEND` constant).
        backend: &'static str,
        /// The row's position (0 when the position itself is unreadable).
        position: u64,
        /// What does not decode.
        reason: String,
    },
    /// The backend failed (I/O, a query, ...).
    #[error("{backend} event store: {source}")]
    Backend {
        /// Which store (its `BACKEND` constant).
        backend: &'static str,
        /// The underlying error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl StoreError {
    /// The subject whose key a decode or encode was missing, for callers that load it and try
    /// again.
    pub fn missing_key(&self) -> Option<&str> {
        match self {
            StoreError::Decode(DecodeError { failure: DecodeFailure::KeyNotLoaded { subject }, .. })
            | StoreError::Encode(EncodeError { source: EncodeFailure::KeyNotLoaded { subject }, .. }) => {
                Some(subject)
            }
            _ => None,
        }
    }

    /// The event row at `position` does not decode.
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

/// An event that could not be encoded.
#[derive(Debug, thiserror::Error)]
#[error("cannot encode event `{event_name}`: {source}")]
pub struct EncodeError {
    /// The stored name of the event.
    pub event_name: &'static str,
    /// What went wrong.
    #[source]
    pub source: EncodeFailure,
}

/// Why an event could not be encoded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeFailure {
    /// It does not serialize as JSON (for example a map with non-string keys).
    #[error("it does not serialize as JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// It holds personal data, and no keyring is in scope to seal it.
    #[error("it holds personal data and no keyring is in scope: encode through a Repository on a store that keeps keys, or inside `Keyring::scope`")]
    NoKeyring,
    /// It holds personal data of a subject whose key was not loaded first.
    #[error("the key of subject `{subject}` is not loaded: call `Keyring::ensure` before encoding")]
    KeyNotLoaded {
        /// The subject.
        subject: String,
    },
    /// Its subject field cannot name a subject.
    #[error("{0}")]
    Subject(String),
    /// It holds personal data and does not serialize as JSON. Serde's message is left out: a
    /// type's own `Serialize` may quote the value it refused.
    #[error("it does not serialize as JSON ({} error; the message is left out as it may quote personal data: call serde_json::to_value on the event to see it)", category_name(*.0))]
    PersonalJson(serde_json::error::Category),
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
    /// It holds sealed personal data, and no keyring is in scope to open it.
    #[error("it holds personal data and no keyring is in scope: decode through a Repository or runner on a store that keeps keys, or inside `Keyring::scope`")]
    NoKeyring,
    /// It holds personal data of a subject whose key was not loaded first (repositories and
    /// runners load it and decode again).
    #[error("the key of subject `{subject}` is not loaded: call `Keyring::load` and decode again")]
    KeyNotLoaded {
        /// The subject.
        subject: String,
    },
    /// A sealed personal value does not open with its subject's key (it was changed).
    #[error("a personal field does not open: {0}")]
    Sealed(String),
    /// The payload of an event with personal data does not fit the event's type: where, without
    /// serde's message (which would quote the value).
    #[error("the payload does not fit the event's type: {0}")]
    PersonalValue(Box<crate::codec::Redacted>),
}

/// Serde's error category, in words.
pub(crate) fn category_name(category: serde_json::error::Category) -> &'static str {
    use serde_json::error::Category;
    match category {
        Category::Io => "an I/O",
        Category::Syntax => "a syntax",
        Category::Data => "a data",
        Category::Eof => "an end-of-input",
    }
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

impl DecodeError {
    /// The error `failure` for the event `stored`.
    pub fn at(stored: &EventRef<'_>, failure: DecodeFailure) -> Self {
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

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn corrupt_rows_name_the_row() {
        let e = StoreError::corrupt("sqlite", 7, "the payload does not decode");
        assert_eq!(
            e.to_string(),
            "sqlite event store: the stored event at position 7 is corrupt: the payload does not decode"
        );
    }
}
