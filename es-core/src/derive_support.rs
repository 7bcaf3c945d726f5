//! What only the derives' generated code calls, re-exported through `__private`.

use crate::error::DecodeError;
use crate::event::Event;
use crate::record::EventRef;

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
    }
}
