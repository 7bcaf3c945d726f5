//! What only the derives' generated code calls, re-exported through `__private`.

use crate::model::Event;
use crate::store::DecodeError;
use crate::store::EventRef;

/// Decodes one event type from a lent record, upcasting (the projection derive's dispatch).
pub fn decode_one<T: Event>(stored: &EventRef<'_>) -> Result<T, DecodeError> {
    T::decode_version(stored.schema_version, stored.payload)
        .map_err(|failure| DecodeError::at(stored, failure))
}

/// `a == b` for strings, usable in constants (the derives' compile-time checks).
pub const fn str_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// Whether an older version named `older` may upcast to an event named `current` that was
/// formerly stored under `renamed_from`.
pub const fn upcast_names_match(older: &str, current: &str, renamed_from: &[&str]) -> bool {
    if str_eq(older, current) {
        return true;
    }
    let mut i = 0;
    while i < renamed_from.len() {
        if str_eq(older, renamed_from[i]) {
            return true;
        }
        i += 1;
    }
    false
}

/// Whether `keys` (an event's tag keys) holds `key`: `#[derive(State)]`'s check that each
/// listed event carries the state's tag.
pub const fn has_tag(keys: &[&str], key: &str) -> bool {
    let mut i = 0;
    while i < keys.len() {
        if str_eq(keys[i], key) {
            return true;
        }
        i += 1;
    }
    false
}

/// The index of the first event before `k` in `names` with the same stored name as event `k`.
pub const fn earlier_same_name(names: &[&str], k: usize) -> Option<usize> {
    let mut i = 0;
    while i < k {
        if str_eq(names[i], names[k]) {
            return Some(i);
        }
        i += 1;
    }
    None
}

/// A message built at compile time, so that the derives' checks can name the events, stored
/// names and versions they compare (const panics take one `&str`).
pub struct ConstMessage {
    buf: [u8; 512],
    len: usize,
}

impl ConstMessage {
    /// An empty message.
    #[allow(clippy::new_without_default)]
    pub const fn new() -> Self {
        ConstMessage { buf: [0; 512], len: 0 }
    }

    /// Appends `s` (what does not fit is cut, at a character boundary).
    pub const fn str(mut self, s: &str) -> Self {
        let bytes = s.as_bytes();
        if self.len + bytes.len() > self.buf.len() {
            return self;
        }
        let mut i = 0;
        while i < bytes.len() {
            self.buf[self.len] = bytes[i];
            self.len += 1;
            i += 1;
        }
        self
    }

    /// Appends `n` in decimal.
    pub const fn num(self, mut n: u32) -> Self {
        let mut digits = [0u8; 10];
        let mut k = 0;
        loop {
            digits[k] = b'0' + (n % 10) as u8;
            n /= 10;
            k += 1;
            if n == 0 {
                break;
            }
        }
        let mut me = self;
        while k > 0 {
            k -= 1;
            if me.len < me.buf.len() {
                me.buf[me.len] = digits[k];
                me.len += 1;
            }
        }
        me
    }

    /// The message.
    pub const fn as_str(&self) -> &str {
        match core::str::from_utf8(self.buf.split_at(self.len).0) {
            Ok(s) => s,
            Err(_) => "",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn const_string_helpers() {
        assert!(str_eq("abc", "abc"));
        assert!(!str_eq("abc", "abd"));
        assert!(!str_eq("abc", "ab"));
        assert!(upcast_names_match("Old", "New", &["Other", "Old"]));
        assert!(!upcast_names_match("Old", "New", &[]));
        assert_eq!(earlier_same_name(&["A", "B", "A"], 2), Some(0));
        assert_eq!(earlier_same_name(&["A", "B", "C"], 2), None);
    }

    #[test]
    fn const_messages_name_values() {
        const M: ConstMessage = ConstMessage::new().str("`A` is v").num(0).str(", `B` v").num(4_294_967_295);
        assert_eq!(M.as_str(), "`A` is v0, `B` v4294967295");
        let long = "x".repeat(600);
        assert_eq!(ConstMessage::new().str("ok").str(&long).as_str(), "ok", "what does not fit is cut");
    }
}
