//! Subjects: one literal subject per event stream, its name encoded so that any name is one
//! valid token, and the subjects of the side tables.
//!
//! A name becomes `x` followed by the lowercase hex of its UTF-8 bytes: only `[0-9a-fx]`, never
//! empty, never a wildcard, and sorting subjects sorts names in byte order.

use std::fmt::Write;

/// The token of `name`: `x` + hex of its bytes.
pub(crate) fn token(name: &str) -> String {
    let mut t = String::with_capacity(1 + name.len() * 2);
    t.push('x');
    for b in name.as_bytes() {
        // Writing to a String cannot fail.
        let _ = write!(t, "{b:02x}");
    }
    t
}

/// The name a token encodes; `None` for a token this store did not write.
pub(crate) fn name(token: &str) -> Option<String> {
    let hex = token.strip_prefix('x')?;
    if hex.len() % 2 != 0 {
        return None;
    }
    let bytes: Option<Vec<u8>> =
        (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok()).collect();
    String::from_utf8(bytes?).ok()
}

/// The subjects of one store (one stream of events, one of side tables).
#[derive(Debug, Clone)]
pub(crate) struct Subjects {
    /// `es.<stream>`, lowercased.
    root: String,
}

impl Subjects {
    pub(crate) fn new(stream: &str) -> Self {
        Subjects { root: format!("es.{}", stream.to_ascii_lowercase()) }
    }

    /// Every event: `<root>.e.>`.
    pub(crate) fn events(&self) -> String {
        format!("{}.e.>", self.root)
    }

    /// The literal subject of one event stream.
    pub(crate) fn stream(&self, stream: &str) -> String {
        format!("{}.e.{}", self.root, token(stream))
    }

    /// The event stream a subject belongs to.
    pub(crate) fn stream_of(&self, subject: &str) -> Option<String> {
        let t = subject.strip_prefix(&self.root)?.strip_prefix(".e.")?;
        name(t)
    }

    /// Every side table: `<root>.s.>`.
    pub(crate) fn side(&self) -> String {
        format!("{}.s.>", self.root)
    }

    /// One table's keys: `<root>.s.<table>.>`.
    pub(crate) fn table(&self, table: &str) -> String {
        format!("{}.s.{table}.>", self.root)
    }

    /// One key of a table.
    pub(crate) fn key(&self, table: &str, key: &str) -> String {
        format!("{}.s.{table}.{}", self.root, token(key))
    }

    /// The key a side subject holds.
    pub(crate) fn key_of(&self, table: &str, subject: &str) -> Option<String> {
        let t =
            subject.strip_prefix(&self.root)?.strip_prefix(".s.")?.strip_prefix(table)?.strip_prefix('.')?;
        name(t)
    }

    /// Core NATS (not stored): a tick after each append, for watchers.
    pub(crate) fn tick(&self) -> String {
        format!("{}.tick", self.root)
    }
}

/// The longest event stream name the store takes, in bytes: its subject token is twice as long
/// (hex), and a subject must fit the server's 4,096-byte control line with its headers' line.
pub(crate) const MAX_STREAM_NAME: usize = 1_024;

/// Refuses a stream name the server could not carry in a subject, before any I/O (a longer
/// control line makes the server drop the shared connection).
pub(crate) fn check(stream: &str) -> Result<(), es_core::StoreError> {
    if stream.len() > MAX_STREAM_NAME {
        return Err(es_core::StoreError::backend(
            super::BACKEND,
            format!(
                "a stream name of {} bytes is longer than the {MAX_STREAM_NAME} bytes a JetStream subject can carry",
                stream.len()
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_name_is_one_token_and_round_trips_in_byte_order() {
        let names = ["", "a", "Account-o'brien", "a.b c>*", "ünï-🦀", "a\r\nb"];
        for n in names {
            let t = token(n);
            assert!(t.chars().all(|c| c.is_ascii_hexdigit() || c == 'x'), "{t}");
            assert_eq!(name(&t).as_deref(), Some(n));
        }
        let mut sorted = names.to_vec();
        sorted.sort_unstable();
        let mut tokens: Vec<String> = names.iter().map(|n| token(n)).collect();
        tokens.sort_unstable();
        assert_eq!(tokens, sorted.iter().map(|n| token(n)).collect::<Vec<_>>());
        assert_eq!(name("y00"), None);
        assert_eq!(name("x0"), None);
        let s = Subjects::new("ES");
        assert_eq!(s.stream_of(&s.stream("A-1")).as_deref(), Some("A-1"));
        assert_eq!(s.key_of("c", &s.key("c", "proj")).as_deref(), Some("proj"));
    }

    #[test]
    fn a_name_too_long_for_a_subject_is_refused_before_any_io() {
        assert!(check(&"a".repeat(MAX_STREAM_NAME)).is_ok());
        assert!(check(&"a".repeat(MAX_STREAM_NAME + 1)).is_err());
    }
}
