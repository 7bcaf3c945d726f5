//! Forgetting a subject, and saying what could not be forgotten.

use super::{plaintext_of, PersonalCatalogue, PlaintextAt};
use crate::integrity::Links;
use crate::personal::Keyring;
use crate::store::StoreError;

/// What [`forget`] did: whether the subject had a key (now deleted), and the events that hold
/// its personal data in plain text, which no key deletion can erase (stored before the field
/// was marked personal; [`seal_plaintext`](super::seal_plaintext) seals them, then forget again).
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use = "a forget that left plaintext behind says so here"]
pub struct Forgotten {
    /// Whether the subject had a key.
    pub had_key: bool,
    /// Events holding the subject's personal fields in plain text.
    pub plaintext: Vec<PlaintextAt>,
}

impl Forgotten {
    /// Whether nothing of the subject's personal data is left readable in the events.
    pub fn is_complete(&self) -> bool {
        self.plaintext.is_empty()
    }
}

/// Forgets `subject` in `store` through `keys`: deletes its key (its sealed personal data reads
/// as erased from now on, and snapshots holding it no longer open), then looks for its personal
/// data stored in plain text by the event types this program registers. The look walks every
/// event once (O(events) reads): forgetting is rare, and a subject's data must not stay behind
/// silently.
pub async fn forget<S: Links>(store: &S, keys: &Keyring, subject: &str) -> Result<Forgotten, StoreError> {
    let had_key = keys.forget(subject).await?;
    let catalogue = PersonalCatalogue::registered();
    let plaintext =
        if catalogue.is_empty() { Vec::new() } else { plaintext_of(store, &catalogue, subject).await? };
    Ok(Forgotten { had_key, plaintext })
}
