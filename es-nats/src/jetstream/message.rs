//! An event as a JetStream message: the payload is the body, every other stored field a header.
//! The stream is the subject; the position is the stream sequence.

use std::time::SystemTime;

use async_nats::HeaderMap;
use es_core::backend::{from_micros, metadata_from_json, to_micros};
use es_core::integrity::ChainHash;
use es_core::{Cursor, EventRef, Metadata, Uuid};

use super::direct::Got;
use super::BACKEND;
use crate::{escape_header_value, unescape_header_value};
use es_core::StoreError;

/// The headers of an event message.
pub(crate) mod header {
    /// The event id (JetStream deduplicates by it within the stream's duplicate window).
    pub const ID: &str = "Nats-Msg-Id";
    /// The stored name (escaped: `%XX` for bytes a header cannot carry).
    pub const NAME: &str = "Es-Name";
    /// The payload's schema version.
    pub const SCHEMA: &str = "Es-Schema";
    /// The version in its stream.
    pub const VERSION: &str = "Es-Version";
    /// Recorded time, microseconds since the Unix epoch.
    pub const RECORDED: &str = "Es-Recorded-Us";
    /// The metadata JSON (escaped), absent when empty.
    pub const METADATA: &str = "Es-Metadata";
    /// The link in the stream's hash chain, hex.
    pub const HASH: &str = "Es-Hash";
    /// The expectation on the first message of an append.
    pub const EXPECTED_SUBJECT_SEQ: &str = "Nats-Expected-Last-Subject-Sequence";
}

/// What an event message holds, decoded (the payload stays in the message).
#[derive(Debug)]
pub(crate) struct Decoded {
    pub(crate) id: Uuid,
    pub(crate) stream: String,
    pub(crate) version: u64,
    pub(crate) position: u64,
    pub(crate) name: String,
    pub(crate) schema_version: u32,
    pub(crate) metadata: Metadata,
    /// The metadata as stored (what the chain hashes).
    pub(crate) metadata_text: String,
    pub(crate) recorded_us: i64,
    pub(crate) hash: Option<ChainHash>,
}

impl Decoded {
    /// Decodes `got` of event stream `stream`.
    pub(crate) fn new(got: &Got, stream: String) -> Result<Decoded, StoreError> {
        let position = got.seq;
        let corrupt =
            |what: &str| StoreError::corrupt(BACKEND, position, format!("header {what} is missing or bad"));
        let text = |name: &str| got.header(name).ok_or_else(|| corrupt(name));
        let id = Uuid::parse_str(text(header::ID)?).map_err(|_| corrupt(header::ID))?;
        let name = unescape_header_value(text(header::NAME)?).ok_or_else(|| corrupt(header::NAME))?;
        let schema_version = text(header::SCHEMA)?.parse().map_err(|_| corrupt(header::SCHEMA))?;
        let version = text(header::VERSION)?.parse().map_err(|_| corrupt(header::VERSION))?;
        let recorded_us = text(header::RECORDED)?.parse().map_err(|_| corrupt(header::RECORDED))?;
        let metadata_text = match got.header(header::METADATA) {
            Some(m) => unescape_header_value(m).ok_or_else(|| corrupt(header::METADATA))?,
            None => "{}".to_owned(),
        };
        let metadata = metadata_from_json(BACKEND, position, &metadata_text)?;
        let hash = got.header(header::HASH).and_then(hash_from_hex);
        Ok(Decoded {
            id,
            stream,
            version,
            position,
            name,
            schema_version,
            metadata,
            metadata_text,
            recorded_us,
            hash,
        })
    }

    /// Lends it with `payload`.
    pub(crate) fn lend<'a>(&'a self, payload: &'a str) -> EventRef<'a> {
        EventRef {
            id: self.id,
            stream: &self.stream,
            stream_version: self.version,
            position: self.position,
            cursor: Cursor::at(self.position),
            name: &self.name,
            schema_version: self.schema_version,
            payload,
            metadata: &self.metadata,
            recorded_at: self.recorded_at(),
        }
    }

    /// When it was recorded.
    pub(crate) fn recorded_at(&self) -> SystemTime {
        from_micros(self.recorded_us)
    }
}

/// The payload of `got` as text; a body that is not UTF-8 is a corrupt event.
pub(crate) fn payload(got: &Got) -> Result<&str, StoreError> {
    std::str::from_utf8(&got.message.payload)
        .map_err(|_| StoreError::corrupt(BACKEND, got.seq, "the payload is not UTF-8"))
}

/// The headers of a new event.
pub(crate) struct Fields<'a> {
    pub(crate) id: Uuid,
    pub(crate) name: &'a str,
    pub(crate) schema_version: u32,
    pub(crate) version: u64,
    pub(crate) recorded_at: SystemTime,
    pub(crate) metadata: &'a str,
    pub(crate) hash: ChainHash,
}

/// The headers of `fields` as a message.
pub(crate) fn headers(fields: &Fields<'_>) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(header::ID, fields.id.to_string().as_str());
    h.insert(header::NAME, escape_header_value(fields.name).as_ref());
    h.insert(header::SCHEMA, fields.schema_version.to_string().as_str());
    h.insert(header::VERSION, fields.version.to_string().as_str());
    h.insert(header::RECORDED, to_micros(fields.recorded_at).to_string().as_str());
    if fields.metadata != "{}" {
        h.insert(header::METADATA, escape_header_value(fields.metadata).as_ref());
    }
    h.insert(header::HASH, fields.hash.to_string().as_str());
    h
}

/// A hash from its hex text.
pub(crate) fn hash_from_hex(text: &str) -> Option<ChainHash> {
    if text.len() != 64 {
        return None;
    }
    let bytes: Option<Vec<u8>> =
        (0..64).step_by(2).map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok()).collect();
    ChainHash::from_slice(&bytes?)
}
