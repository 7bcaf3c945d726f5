//! Personal data that can be forgotten (crypto-shredding).
//!
//! An event marks the field naming whose data it holds with `#[event(subject)]` (a `String` or a
//! `Uuid`), and the fields holding that subject's personal data with `#[event(personal)]`. When
//! the event is encoded, each personal field is encrypted (AES-256-GCM, a fresh random nonce per
//! value, bound to the subject and the field's name) with the subject's own key; the stored
//! payload holds only ciphertext there. [`Keyring::forget`] (or `forget` on a store) deletes the
//! key: from then on those fields decode as their replacement value (`Default`, or
//! `#[event(personal, erased = ..)]`), while aggregates and projections still load and the hash
//! chain still verifies (it covers the ciphertext).
//!
//! Keys live in a [`KeyStore`]: every store keeps its own table, and a [`Keyring`] in front of
//! it caches keys for a short while ([`Keyring::with_ttl`], 30 s by default). With a
//! [`MasterKey`] (`ES_MASTER_KEY`, `ES_MASTER_KEY_FILE`, or [`Keyring::with_master_key`]) every
//! key is stored wrapped by it, so a copy of the database alone opens nothing. The subject's
//! identifier itself stays in plain text: use an opaque id.
//!
//! Across processes: a writer seals only with a key it has just confirmed at the store, never
//! one from its cache, so a key forgotten by another process is never used again (the subject
//! gets a new key). A value sealed with a key the cache does not hold is looked up at the store
//! before it reads as erased, and a key id once found deleted is remembered as dead (a deleted key
//! never comes back), so old values of a forgotten subject read as erased without asking again.
//! Other processes stop opening a forgotten subject's data once their cached key expires.
//!
//! Snapshots of states that folded personal data are sealed with a key derived from every
//! subject's key they hold: a forget makes them unreadable, so loads equal a full replay.
//! [`forget`](crate::shredding::forget) (what the stores' `forget` calls) also reports the subject's personal data stored
//! in plain text, which deleting a key cannot erase; [`seal_plaintext`](crate::shredding::seal_plaintext) seals it in place.
//!
//! Personal fields meet the codec's other features this way. *Errors*: a decode error of an
//! event with personal fields never quotes a personal value (serde would: `invalid type: string
//! "Ann"`); [`DecodeFailure::PersonalValue`](crate::DecodeFailure::PersonalValue) names the
//! field, the JSON type found, serde's category, line and column instead. *JSON upcasters*: the
//! stored payload's sealed values are opened before the first step, so steps see, and may
//! transform, plain values; for a payload stored at an old version, the fields of the struct
//! registered at that version apply, else those of the nearest registered struct above it; a
//! forgotten subject's values reach the steps erased, and every personal field of the result
//! reads as erased. *Renames*: each sealed value is bound to its subject and JSON key, so a
//! renamed personal field lists its former keys with `#[event(personal, renamed_from = "old")]`.
//!
//! Repositories, projection and reactor runners load the keys they need through their store's
//! keyring. Code that decodes on its own (a subscription's events, say) loads the keys a
//! payload needs with [`Keyring::load_sealed`], then decodes inside [`Keyring::scope`].
//!
//! ```
//! use es_core::{Aggregate, Apply, Event, Handle, MemoryStore, Repository};
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
//! pub struct Registered {
//!     #[event(subject)]
//!     pub customer: String,
//!     #[event(personal)]
//!     pub name: String,
//!     #[event(personal, erased = "unknown".to_owned())]
//!     pub email: String,
//! }
//!
//! #[derive(Aggregate, Default)]
//! #[aggregate(events(Registered), error = std::convert::Infallible)]
//! pub struct Customer { pub name: String, pub email: String }
//!
//! impl Apply<Registered> for Customer {
//!     fn apply(&mut self, e: &Registered) { (self.name, self.email) = (e.name.clone(), e.email.clone()); }
//! }
//! impl Handle<(String, String)> for Customer {
//!     fn handle(&self, (name, email): &(String, String)) -> Result<Vec<CustomerEvent>, Self::Error> {
//!         Ok(vec![Registered { customer: "c-42".into(), name: name.clone(), email: email.clone() }.into()])
//!     }
//! }
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let store = MemoryStore::new();
//! let customers = Repository::<Customer, _>::new(store.clone());
//! customers.execute("c-42", ("Ann".to_owned(), "ann@example.com".to_owned())).await?;
//! assert_eq!(customers.load("c-42").await?.state.name, "Ann");
//!
//! store.forget("c-42").await?;
//! let after = customers.load("c-42").await?.state;
//! assert_eq!((after.name.as_str(), after.email.as_str()), ("", "unknown"));
//! # Ok::<_, Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```

mod keyring;
mod memory_keys;
mod privacy;
mod seal;
pub(crate) mod sealed_state;
mod wrap;

pub use keyring::{KeyFuture, KeyStore, Keyring};
pub use memory_keys::MemoryKeys;
pub use privacy::Privacy;
pub use seal::{is_erased, sealed_subjects, RenamedField, SEALED};
pub use sealed_state::SEALED_STATE;
pub use wrap::{MasterKey, MasterKeyError, MASTER_KEY_ENV, MASTER_KEY_FILE_ENV};

pub(crate) use seal::{open_value, seal, Opened, Opening};

use std::fmt;

/// A subject's 256-bit key.
#[derive(Clone, PartialEq, Eq)]
pub struct SubjectKey(pub [u8; 32]);

impl SubjectKey {
    /// A fresh random key (from the operating system's generator).
    pub fn generate() -> Self {
        use aes_gcm::aead::{KeyInit, OsRng};
        SubjectKey(aes_gcm::Aes256Gcm::generate_key(OsRng).into())
    }

    /// A stored key; `None` when it is not 32 bytes.
    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        bytes.try_into().ok().map(SubjectKey)
    }

    /// The key of `subject` as store `backend` keeps it; a typed error when it is not 32 bytes.
    pub fn stored(backend: &'static str, subject: &str, bytes: &[u8]) -> Result<Self, crate::StoreError> {
        Self::from_slice(bytes).ok_or_else(|| {
            crate::StoreError::backend(backend, format!("the key of subject `{subject}` is not 32 bytes"))
        })
    }
}

impl fmt::Debug for SubjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SubjectKey(..)")
    }
}

/// Which fields of an event are personal, and whose: generated by `#[derive(Event)]`.
#[derive(Debug)]
pub struct PersonalFields {
    /// The JSON key of the subject field.
    pub subject: &'static str,
    /// The personal fields.
    pub fields: &'static [PersonalField],
}

/// One personal field: its JSON key, and its replacement value once the key is forgotten.
#[derive(Debug)]
pub struct PersonalField {
    /// The JSON key.
    pub key: &'static str,
    /// The replacement value, serialized.
    pub erased: fn() -> Result<serde_json::Value, serde_json::Error>,
}
