//! What each published message carries: the integration event's JSON as payload, and headers
//! that say where it came from, with a message id the broker deduplicates by.

use async_nats::HeaderMap;
use es_core::integration::Message;
use es_core::StoredEvent;

/// Header names the relay sets on every message.
pub mod headers {
    /// JetStream's deduplication id: [`message_id`](super::message_id).
    pub const MSG_ID: &str = "Nats-Msg-Id";
    /// The integration event's public name.
    pub const NAME: &str = "Es-Name";
    /// The integration event's version.
    pub const VERSION: &str = "Es-Version";
    /// The id of the domain event it was mapped from.
    pub const EVENT_ID: &str = "Es-Event-Id";
    /// The stream of that domain event.
    pub const STREAM: &str = "Es-Stream";
    /// Its version in the stream.
    pub const STREAM_VERSION: &str = "Es-Stream-Version";
    /// Its global position in the store.
    pub const POSITION: &str = "Es-Position";
    /// The correlation id of its metadata, when it has one.
    pub const CORRELATION_ID: &str = "Es-Correlation-Id";
    /// The causation id of its metadata, when it has one.
    pub const CAUSATION_ID: &str = "Es-Causation-Id";
}

/// The id of the `index`-th message relay `relay` publishes for the domain event `event_id`:
/// the same on every redelivery, so the broker drops a repeat within its duplicate window, and
/// consumers can drop one beyond it.
pub fn message_id(relay: &str, event_id: es_core::Uuid, index: usize) -> String {
    format!("{relay}:{event_id}:{index}")
}

/// The headers of the `index`-th message mapped from `event`.
pub(crate) fn headers(relay: &str, event: &StoredEvent, index: usize, message: &Message) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(headers::MSG_ID, message_id(relay, event.id, index).as_str());
    h.insert(headers::NAME, message.name);
    h.insert(headers::VERSION, message.version.to_string().as_str());
    h.insert(headers::EVENT_ID, event.id.to_string().as_str());
    h.insert(headers::STREAM, event.stream.as_str());
    h.insert(headers::STREAM_VERSION, event.stream_version.to_string().as_str());
    h.insert(headers::POSITION, event.position.to_string().as_str());
    if let Some(id) = event.metadata.correlation_id {
        h.insert(headers::CORRELATION_ID, id.to_string().as_str());
    }
    if let Some(id) = event.metadata.causation_id {
        h.insert(headers::CAUSATION_ID, id.to_string().as_str());
    }
    h
}

/// Whether `name` can be the last tokens of a subject (no spaces, no wildcards, no empty token).
pub(crate) fn valid_subject_name(name: &str) -> bool {
    !name.is_empty()
        && name.split('.').all(|token| !token.is_empty() && !token.contains([' ', '\t', '*', '>']))
}
