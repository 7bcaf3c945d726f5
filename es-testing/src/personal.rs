//! Personal data in the harness: one keyring in memory for the whole test process, so events
//! with `#[event(personal)]` fields are sealed and opened through the codec round trip like
//! every other event; and helpers that show what an event reads as once its subject is
//! forgotten.

use std::fmt::Debug;
use std::sync::OnceLock;

use es_core::personal::{Keyring, MemoryKeys};
use es_core::Event;

/// The keyring the harness seals and opens personal data with (keys in memory).
pub fn harness_keys() -> &'static Keyring {
    static KEYS: OnceLock<Keyring> = OnceLock::new();
    KEYS.get_or_init(Keyring::default)
}

/// Runs `f` with the harness's keyring in scope.
pub(crate) fn scoped<R>(f: impl FnOnce() -> R) -> R {
    harness_keys().scope(f)
}

/// `event` as it reads once its subject is forgotten: sealed with a fresh key, the key
/// deleted, decoded again. Events without personal data come back unchanged.
///
/// ```
/// use es_core::Event;
/// use es_testing::{assert_erased, forgotten};
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
/// pub struct Registered {
///     #[event(subject)] pub customer: String,
///     #[event(personal)] pub name: String,
///     pub plan: String,
/// }
///
/// let e = Registered { customer: "c-1".into(), name: "Ann".into(), plan: "gold".into() };
/// let after = forgotten(&e);
/// assert_erased(&after);
/// assert_eq!((after.name.as_str(), after.plan.as_str()), ("", "gold"));
/// ```
pub fn forgotten<T: Event + Debug>(event: &T) -> T {
    let keys = MemoryKeys::new();
    let keyring = Keyring::new(keys.clone());
    let encoded =
        keyring.scope(|| event.encode_payload()).unwrap_or_else(|e| panic!("{event:?} does not encode: {e}"));
    if let Some(subject) = event.personal_subject() {
        keys.remove(&subject);
    }
    Keyring::new(keys)
        .scope(|| T::decode_version(encoded.schema_version, encoded.payload.get()))
        .unwrap_or_else(|e| panic!("{event:?} does not decode once its subject is forgotten: {e}"))
}

/// Asserts that every personal field of `event` holds its erased value, as it reads once its
/// subject was forgotten.
#[track_caller]
pub fn assert_erased<T: Event + Debug>(event: &T) {
    assert!(event.is_erased(), "the personal data of {event:?} is not erased");
}
