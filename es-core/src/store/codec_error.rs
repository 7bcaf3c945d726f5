//! What the codec reports on stored records: the event (stream, version, name, schema
//! version) and what failed, without quoting personal data.

use serde_json::error::Category;

use super::record::EventRef;

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
    PersonalJson(Category),
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
    PersonalValue(Box<Redacted>),
}

/// Serde's error category, in words.
pub(crate) fn category_name(category: Category) -> &'static str {
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

/// Where the payload of an event with personal data does not fit the event's type, told
/// without the value (decode errors end up in logs, dead letters and HTTP responses).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Redacted {
    /// The JSON key of the personal field whose value does not fit (`None`: not found out).
    pub field: Option<String>,
    /// The JSON type of the stored (opened) value: `"a string"`, `"a number"`, ...
    pub found: &'static str,
    /// Serde's category of the error.
    pub category: Category,
    /// Serde's line in the stored payload (0: not known, as for an opened value).
    pub line: usize,
    /// Serde's column in that line (0: not known).
    pub column: usize,
}

impl std::fmt::Display for Redacted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.field {
            Some(field) => {
                write!(f, "the personal field `{field}` holds {} that does not fit its type", self.found)?
            }
            None => write!(f, "the payload ({}) does not fit the type", self.found)?,
        }
        write!(f, " ({} error", category_name(self.category))?;
        if self.line > 0 {
            write!(f, " at line {} column {}", self.line, self.column)?;
        }
        f.write_str("; serde's message is left out as it would quote personal data)")
    }
}
