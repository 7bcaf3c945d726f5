//! What a store reports: every variant names what failed and where.

use uuid::Uuid;

use super::codec_error::{DecodeError, DecodeFailure, EncodeError, EncodeFailure};
use super::expected::ExpectedVersion;
use super::tamper::Break;

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
    /// A decision's boundary changed: an event matching its query was committed after the
    /// decision read its states ([`AppendCondition`](crate::store::AppendCondition)).
    #[error("boundary conflict appending to `{stream}`: an event matching {query} was committed after the decision read its states")]
    BoundaryConflict {
        /// The stream appended to.
        stream: String,
        /// The query, as text.
        query: String,
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
    Tampered(Box<Break>),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::ExpectedVersion;

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
