//! The one place that makes stored text safe to print: stream names, event names, payloads,
//! metadata and error messages come from whoever wrote the store, and a terminal obeys the
//! escape sequences and control characters in them.

use std::borrow::Cow;
use std::fmt::Write as _;

/// Whether `c` would change what the terminal shows rather than show itself: control
/// characters (C0 with ESC, CR, LF; DEL; C1), and the bidirectional and invisible formatting
/// characters that reorder or hide text.
fn unsafe_char(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200b}'..='\u{200f}' | '\u{2028}'..='\u{202e}' | '\u{2060}'..='\u{2069}' | '\u{feff}')
}

/// `text` with every character that a terminal would act on written as a Rust escape (`\r`,
/// `\n`, `\t`, `\u{1b}`, `\u{202e}`); everything else, backslashes included, as it is. Borrowed
/// when nothing needed escaping.
///
/// ```
/// assert_eq!(es_cli::escape("Account-ann"), "Account-ann");
/// assert_eq!(es_cli::escape("a\r\nb\u{1b}[31m"), "a\\r\\nb\\u{1b}[31m");
/// ```
pub fn escape(text: &str) -> Cow<'_, str> {
    if !text.chars().any(unsafe_char) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\r' => out.push_str("\\r"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\0' => out.push_str("\\0"),
            c if unsafe_char(c) => {
                // Writing to a String cannot fail.
                let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::{escape, unsafe_char};

    fn cases() -> u32 {
        std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(512)
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: cases(), failure_persistence: None, ..ProptestConfig::default() })]

        /// Whatever a store holds prints without a character a terminal acts on, and text
        /// without such characters prints as it is.
        #[test]
        fn printed_text_is_inert(text in any::<String>()) {
            let printed = escape(&text);
            prop_assert!(!printed.chars().any(unsafe_char), "{printed:?}");
            if !text.chars().any(unsafe_char) {
                prop_assert_eq!(&*printed, &*text);
            }
        }

        /// Payloads, JSON or not, sealed or not, print inert and without a panic.
        #[test]
        fn printed_payloads_are_inert(name in any::<String>(), subject in any::<String>(), plain in any::<String>()) {
            let payload = serde_json::json!({ &name: { "es:sealed": { "s": subject } }, "plain": plain }).to_string();
            let fields = [crate::sealed::Field { name, subject, state: crate::sealed::State::Sealed }];
            for shown in [crate::sealed::text(&payload, &fields), crate::sealed::text(&plain, &[])] {
                prop_assert!(!shown.chars().any(unsafe_char), "{shown:?}");
            }
        }
    }

    #[test]
    fn control_and_formatting_characters_are_escaped() {
        assert_eq!(escape("plain-Zoë 1\\2"), "plain-Zoë 1\\2");
        assert_eq!(escape("a\r\nb\t"), "a\\r\\nb\\t");
        assert_eq!(escape("\u{1b}[2J\u{7f}\u{9b}"), "\\u{1b}[2J\\u{7f}\\u{9b}");
        assert_eq!(escape("evil\u{202e}txt.exe"), "evil\\u{202e}txt.exe");
        assert_eq!(escape("zero\u{200b}width\u{feff}"), "zero\\u{200b}width\\u{feff}");
        assert_eq!(escape("nul\0"), "nul\\0");
    }
}
