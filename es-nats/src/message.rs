//! What each published message carries: the integration event's JSON as payload, and headers
//! that say where it came from, with a message id the broker deduplicates by.
//!
//! Stores accept any UTF-8 stream name; NATS header values cannot hold CR or LF, and lose
//! leading and trailing whitespace on the way. So every header value built from stored text (the
//! stream, the relay's name in the message id) is escaped with [`escape_header_value`]; a
//! consumer gets the original back with [`unescape_header_value`]. Names without `%`, control
//! characters or unusual whitespace are left exactly as they are.

use std::borrow::Cow;
use std::fmt::Write as _;

use async_nats::{HeaderMap, HeaderValue};
use es_core::integration::Message;
use es_core::{EventRef, StoredEvent};

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
    /// The stream of that domain event, escaped with
    /// [`escape_header_value`](super::escape_header_value): `%`, control characters, whitespace
    /// other than an inner space are percent-encoded (UTF-8 bytes, `%XX`), so `a\r\nb` arrives as
    /// `a%0D%0Ab`; [`unescape_header_value`](super::unescape_header_value) gives it back.
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
/// consumers can drop one beyond it. Escaped as a header value (see [`escape_header_value`]).
pub fn message_id(relay: &str, event_id: es_core::Uuid, index: usize) -> String {
    format!("{}:{event_id}:{index}", escape_header_value(relay))
}

/// Whether `c` at this place must be percent-encoded: `%` itself, control characters (CR and LF
/// break the protocol, others a terminal), and whitespace a header parser would trim or fold.
fn needs_escape(c: char, at_edge: bool) -> bool {
    c == '%' || c.is_control() || (c.is_whitespace() && (c != ' ' || at_edge))
}

/// `value` as a valid NATS header value that survives the trip unchanged: `%`, control
/// characters, whitespace other than a space inside the value become `%XX` (one per UTF-8
/// byte). Borrowed when nothing needed escaping.
///
/// ```
/// assert_eq!(es_nats::escape_header_value("Account-ann"), "Account-ann");
/// assert_eq!(es_nats::escape_header_value("a\r\nb%\u{1b}"), "a%0D%0Ab%25%1B");
/// assert_eq!(es_nats::unescape_header_value("a%0D%0Ab%25%1B").as_deref(), Some("a\r\nb%\u{1b}"));
/// ```
pub fn escape_header_value(value: &str) -> Cow<'_, str> {
    let last = value.chars().count().saturating_sub(1);
    let edge = |i: usize| i == 0 || i == last;
    if !value.chars().enumerate().any(|(i, c)| needs_escape(c, edge(i))) {
        return Cow::Borrowed(value);
    }
    let mut out = String::with_capacity(value.len() + 8);
    for (i, c) in value.chars().enumerate() {
        if needs_escape(c, edge(i)) {
            let mut buf = [0; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                // Writing to a String cannot fail.
                let _ = write!(out, "%{b:02X}");
            }
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// The original of a value escaped by [`escape_header_value`]; `None` when it holds a `%` not
/// followed by two hex digits, or bytes that are not UTF-8 (it was not escaped by us).
pub fn unescape_header_value(value: &str) -> Option<String> {
    if !value.contains('%') {
        return Some(value.to_owned());
    }
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = value.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Why a message cannot be published as it is: the event is parked with this reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Unpublishable {
    /// The subject is not one NATS takes.
    #[error("`{subject}` cannot be a subject: no whitespace, control characters, wildcards or empty tokens")]
    Subject {
        /// The subject, escaped.
        subject: String,
    },
    /// A header value NATS refuses (cannot happen for the values the relay escapes).
    #[error("the header {name} cannot hold {value:?}")]
    Header {
        /// The header's name.
        name: &'static str,
        /// Its value.
        value: String,
    },
    /// Headers and payload together exceed what the server takes in one message.
    #[error("the message is {size} bytes with its headers, more than the {limit} bytes the server takes")]
    TooLarge {
        /// Headers and payload, in bytes.
        size: usize,
        /// The server's limit.
        limit: usize,
    },
    /// The broker refused to store this message (a stream limit, say).
    #[error("the broker refused the message: {0}")]
    Refused(String),
}

fn value(name: &'static str, v: &str) -> Result<HeaderValue, Unpublishable> {
    v.parse().map_err(|_| Unpublishable::Header { name, value: v.to_owned() })
}

/// The headers of the `index`-th message mapped from `event`, by relay `relay`: every value
/// built from stored text escaped, so this never fails for any stream or relay name (the
/// `Result` keeps a refusal by the client library from becoming a panic).
pub fn build_headers(
    relay: &str,
    event: &StoredEvent,
    index: usize,
    message: &Message,
) -> Result<HeaderMap, Unpublishable> {
    headers_for(relay, &event.as_ref(), index, message)
}

/// [`build_headers`] for a lent event (as a feed hands it to the relay).
pub(crate) fn headers_for(
    relay: &str,
    event: &EventRef<'_>,
    index: usize,
    message: &Message,
) -> Result<HeaderMap, Unpublishable> {
    let mut h = HeaderMap::new();
    h.insert(headers::MSG_ID, value(headers::MSG_ID, &message_id(relay, event.id, index))?);
    h.insert(headers::NAME, value(headers::NAME, &escape_header_value(message.name))?);
    h.insert(headers::VERSION, HeaderValue::from(message.version));
    h.insert(headers::EVENT_ID, value(headers::EVENT_ID, &event.id.to_string())?);
    h.insert(headers::STREAM, value(headers::STREAM, &escape_header_value(event.stream))?);
    h.insert(headers::STREAM_VERSION, HeaderValue::from(event.stream_version));
    h.insert(headers::POSITION, HeaderValue::from(event.position));
    if let Some(id) = event.metadata.correlation_id {
        h.insert(headers::CORRELATION_ID, value(headers::CORRELATION_ID, &id.to_string())?);
    }
    if let Some(id) = event.metadata.causation_id {
        h.insert(headers::CAUSATION_ID, value(headers::CAUSATION_ID, &id.to_string())?);
    }
    Ok(h)
}

/// Whether `name` can be the last tokens of a subject (no whitespace, control characters,
/// wildcards or empty tokens).
pub(crate) fn valid_subject_name(name: &str) -> bool {
    !name.is_empty()
        && name.split('.').all(|token| {
            !token.is_empty()
                && !token.chars().any(|c| c.is_whitespace() || c.is_control() || c == '*' || c == '>')
        })
}

/// The header block's size on the wire: `NATS/1.0\r\n`, each `Name: value\r\n`, `\r\n`.
fn wire_len(headers: &HeaderMap) -> usize {
    let lines: usize = headers
        .iter()
        .map(|(name, values)| {
            let name: &str = name.as_ref();
            values.iter().map(|v| name.len() + 2 + v.as_str().len() + 2).sum::<usize>()
        })
        .sum();
    "NATS/1.0\r\n".len() + lines + 2
}

/// Checks what the client would refuse (by a panic or an error) before anything is sent: the
/// subject, and the size of headers and payload against the server's `limit`.
pub(crate) fn check_publishable(
    subject: &str,
    headers: &HeaderMap,
    payload_len: usize,
    limit: usize,
) -> Result<(), Unpublishable> {
    if !valid_subject_name(subject) {
        return Err(Unpublishable::Subject { subject: escape_header_value(subject).into_owned() });
    }
    let size = wire_len(headers) + payload_len;
    // A limit of 0 means the client has not heard from a server yet: the broker decides.
    if limit > 0 && size > limit {
        return Err(Unpublishable::TooLarge { size, limit });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_only_what_needs_it_and_round_trips() {
        for (raw, escaped) in [
            ("Account-ann", "Account-ann"),
            ("Konto-Zoë", "Konto-Zoë"),
            ("a b", "a b"),
            (" a ", "%20a%20"),
            ("a\r\nb", "a%0D%0Ab"),
            ("50%", "50%25"),
            ("\u{1b}[31mred", "%1B[31mred"),
            ("tab\there", "tab%09here"),
            ("nbsp\u{a0}", "nbsp%C2%A0"),
            ("", ""),
        ] {
            assert_eq!(escape_header_value(raw), escaped, "{raw:?}");
            assert_eq!(unescape_header_value(escaped).as_deref(), Some(raw), "{escaped:?}");
        }
        assert_eq!(unescape_header_value("bad%2"), None);
        assert_eq!(unescape_header_value("bad%zz"), None);
        assert_eq!(unescape_header_value("%FF"), None);
    }

    #[test]
    fn subjects_with_whitespace_or_wildcards_are_refused() {
        assert!(valid_subject_name("risk.Flag"));
        for bad in ["", "a..b", "a b", "a\r\nb", "a.*", "a.>", "a\u{0}"] {
            assert!(!valid_subject_name(bad), "{bad:?}");
        }
    }
}
