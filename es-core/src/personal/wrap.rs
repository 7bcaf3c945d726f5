//! Envelope encryption of subjects' keys: a [`MasterKey`] (a key-encryption key the store does
//! not hold) wraps each subject's key before it is stored, so a copy of the database alone
//! opens nothing.
//!
//! A stored key is either the 32 raw key bytes (a keyring without a master key, and keys
//! stored before one was set) or `0x01 ‖ nonce (12) ‖ AES-256-GCM(master, key)` (61 bytes),
//! bound to its subject as associated data, so a wrapped key moved to another subject does not
//! open.

use std::fmt;
use std::path::Path;

use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;

use super::SubjectKey;
use crate::store::StoreError;

/// The environment variable holding the master key, base64 of 32 bytes.
pub const MASTER_KEY_ENV: &str = "ES_MASTER_KEY";
/// The environment variable naming a file that holds the master key (base64, or 32 raw bytes).
pub const MASTER_KEY_FILE_ENV: &str = "ES_MASTER_KEY_FILE";

const WRAPPED_TAG: u8 = 1;
const NONCE_LEN: usize = 12;
/// The length of a wrapped key: tag, nonce, 32 key bytes and the 16-byte tag of AES-GCM.
const WRAPPED_LEN: usize = 1 + NONCE_LEN + 32 + 16;

/// A key-encryption key: wraps subjects' keys before a [`KeyStore`](super::KeyStore) keeps them.
/// Keep it outside the database (an environment variable, a file, a secret manager).
#[derive(Clone)]
pub struct MasterKey(Aes256Gcm);

/// Why a master key could not be read.
#[derive(Debug, thiserror::Error)]
pub enum MasterKeyError {
    /// The text is not base64 of exactly 32 bytes.
    #[error("the master key from {from} is not base64 of 32 bytes (make one with `head -c 32 /dev/urandom | base64`)")]
    Malformed {
        /// Where it came from: the variable or the file.
        from: String,
    },
    /// The file named by `ES_MASTER_KEY_FILE` cannot be read.
    #[error("cannot read the master key file {path}: {source}")]
    File {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

impl MasterKey {
    /// A master key from its 32 bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        MasterKey(Aes256Gcm::new((&bytes).into()))
    }

    /// A fresh random master key (from the operating system's generator).
    pub fn generate() -> Self {
        MasterKey(Aes256Gcm::new(&Aes256Gcm::generate_key(OsRng)))
    }

    /// A master key from base64 text (surrounding white space ignored).
    pub fn from_base64(text: &str, from: &str) -> Result<Self, MasterKeyError> {
        let malformed = || MasterKeyError::Malformed { from: from.to_owned() };
        let bytes = BASE64.decode(text.trim()).map_err(|_| malformed())?;
        let bytes: [u8; 32] = bytes.try_into().map_err(|_| malformed())?;
        Ok(Self::from_bytes(bytes))
    }

    /// A master key from a file: base64 text, or exactly 32 raw bytes.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, MasterKeyError> {
        let path = path.as_ref();
        let bytes = std::fs::read(path)
            .map_err(|source| MasterKeyError::File { path: path.display().to_string(), source })?;
        if let Ok(raw) = <[u8; 32]>::try_from(bytes.as_slice()) {
            return Ok(Self::from_bytes(raw));
        }
        let text = String::from_utf8_lossy(&bytes);
        Self::from_base64(&text, &path.display().to_string())
    }

    /// The master key named by the environment: `ES_MASTER_KEY` (base64), else the file named
    /// by `ES_MASTER_KEY_FILE`; `None` when neither is set. Stores opened without an explicit
    /// keyring use it.
    pub fn from_env() -> Result<Option<Self>, MasterKeyError> {
        if let Ok(text) = std::env::var(MASTER_KEY_ENV) {
            return Self::from_base64(&text, MASTER_KEY_ENV).map(Some);
        }
        match std::env::var(MASTER_KEY_FILE_ENV) {
            Ok(path) => Self::from_file(path).map(Some),
            Err(_) => Ok(None),
        }
    }

    /// `key` wrapped for `subject`, as a key store keeps it.
    pub(crate) fn wrap(&self, subject: &str, key: &SubjectKey) -> Result<Vec<u8>, StoreError> {
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let sealed = self
            .0
            .encrypt(&nonce, Payload { msg: &key.0, aad: &aad(subject) })
            .map_err(|_| StoreError::backend("keyring", "the master key refused to wrap a key"))?;
        let mut out = Vec::with_capacity(WRAPPED_LEN);
        out.push(WRAPPED_TAG);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    fn unwrap_key(&self, subject: &str, stored: &[u8]) -> Result<SubjectKey, StoreError> {
        let (nonce, sealed) = stored[1..].split_at(NONCE_LEN);
        let plain = self
            .0
            .decrypt(Nonce::from_slice(nonce), Payload { msg: sealed, aad: &aad(subject) })
            .map_err(|_| {
                StoreError::backend(
                    "keyring",
                    format!("the key of subject `{subject}` does not open with this master key (is ES_MASTER_KEY the one the keys were wrapped with?)"),
                )
            })?;
        SubjectKey::stored("keyring", subject, &plain)
    }
}

fn aad(subject: &str) -> Vec<u8> {
    [b"es-key-v1\0".as_slice(), subject.as_bytes()].concat()
}

/// Whether `stored` is a wrapped key (rather than raw key bytes).
pub(crate) fn is_wrapped(stored: &[u8]) -> bool {
    stored.len() == WRAPPED_LEN && stored[0] == WRAPPED_TAG
}

/// The subject key in `stored`: raw bytes as they are, a wrapped key opened with `master`.
pub(crate) fn unwrap(
    master: Option<&MasterKey>,
    subject: &str,
    stored: &[u8],
) -> Result<SubjectKey, StoreError> {
    if !is_wrapped(stored) {
        return SubjectKey::stored("keyring", subject, stored);
    }
    match master {
        Some(master) => master.unwrap_key(subject, stored),
        None => Err(StoreError::backend(
            "keyring",
            format!(
                "the key of subject `{subject}` is wrapped by a master key and none is set: set {MASTER_KEY_ENV} or {MASTER_KEY_FILE_ENV}"
            ),
        )),
    }
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKey(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wrapped_key_opens_only_with_its_master_and_subject() {
        let (master, other) = (MasterKey::generate(), MasterKey::generate());
        let key = SubjectKey::generate();
        let wrapped = master.wrap("c-1", &key).expect("wrap");
        assert!(is_wrapped(&wrapped));
        assert!(!wrapped.windows(32).any(|w| w == key.0), "the key bytes are not in the wrapped form");
        assert_eq!(unwrap(Some(&master), "c-1", &wrapped).expect("opens"), key);
        assert!(unwrap(Some(&other), "c-1", &wrapped).is_err(), "another master");
        assert!(unwrap(Some(&master), "c-2", &wrapped).is_err(), "another subject");
        let none = unwrap(None, "c-1", &wrapped).expect_err("no master");
        assert!(none.to_string().contains(MASTER_KEY_ENV), "{none}");
        assert_eq!(unwrap(None, "c-1", &key.0).expect("raw keys still read"), key);
    }

    #[test]
    fn master_keys_parse_from_base64_only_at_32_bytes() {
        assert!(MasterKey::from_base64(&BASE64.encode([7u8; 32]), "t").is_ok());
        assert!(MasterKey::from_base64(&BASE64.encode([7u8; 31]), "t").is_err());
        assert!(MasterKey::from_base64("not base64!", "t").is_err());
        let e = MasterKey::from_file("/nonexistent/es-master-key").expect_err("no file");
        assert!(e.to_string().contains("/nonexistent/es-master-key"), "{e}");
    }
}
