//! The privacy side of a store: the keyring kept beside its events.

use super::Keyring;

/// A store's privacy side: the keyring of subjects' keys kept beside its events, through which
/// repositories and feeds seal and open personal data. A side trait beside
/// [`EventStore`](crate::store::EventStore), so the core seam knows nothing of privacy.
///
/// A store that keeps no keys answers `None`: events with personal fields then fail to encode,
/// and sealed values to decode, unless a keyring is given to the repository or feed
/// (`Repository::with_keys`, `Feed::keys`).
///
/// ```
/// use es_core::personal::Privacy;
/// use es_core::MemoryStore;
///
/// assert!(MemoryStore::new().keys().is_some());
/// ```
pub trait Privacy {
    /// The store's keyring, or `None` when it keeps no keys.
    fn keys(&self) -> Option<Keyring>;
}
