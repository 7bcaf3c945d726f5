//! Snapshots of states that hold personal data: the whole state is sealed with a key derived
//! from the keys of every subject whose values it folded, so forgetting any one of them makes
//! the snapshot unreadable (the state is then rebuilt from the events, where that subject's
//! fields read as erased). A snapshot without personal data is kept as it is.
//!
//! The stored form is `{"es:sealed-state": {"v": 1, "s": [subjects], "k": [key ids],
//! "c": base64(nonce ‖ AES-256-GCM(state))}}`, the key HKDF-SHA-256 over the subjects' keys in
//! order, bound to the stream and version as associated data.

use std::collections::BTreeSet;

use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use hkdf::Hkdf;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use sha2::Sha256;

use super::keyring::Held;
use super::Keyring;
use crate::store::StoreError;

/// The key of a sealed state's envelope object.
pub const SEALED_STATE: &str = "es:sealed-state";

const NONCE_LEN: usize = 12;

#[derive(Serialize, Deserialize)]
struct Envelope {
    #[serde(rename = "es:sealed-state")]
    sealed: Sealed,
}

#[derive(Serialize, Deserialize)]
struct Sealed {
    v: u32,
    s: Vec<String>,
    k: Vec<String>,
    c: String,
}

fn cipher(keys: &[std::sync::Arc<Held>]) -> Aes256Gcm {
    let ikm: Vec<u8> = keys.iter().flat_map(|k| k.raw.0).collect();
    let mut okm = [0u8; 32];
    // 32 bytes is far below HKDF-SHA-256's limit of 8160, so expanding cannot fail.
    let _ = Hkdf::<Sha256>::new(None, &ikm).expand(b"es-snapshot-v1", &mut okm);
    Aes256Gcm::new((&okm).into())
}

fn aad(stream: &str, version: u64) -> Vec<u8> {
    [b"es-snapshot-v1\0".as_slice(), stream.as_bytes(), b"\0", &version.to_le_bytes()].concat()
}

/// `state` sealed for the `subjects` whose personal values it folded (as it is when there are
/// none); `None` when one of them has no key any more: such a state must not be kept.
pub(crate) async fn seal(
    keys: &Keyring,
    subjects: &BTreeSet<String>,
    stream: &str,
    version: u64,
    state: Box<RawValue>,
) -> Result<Option<Box<RawValue>>, StoreError> {
    if subjects.is_empty() {
        return Ok(Some(state));
    }
    // From the store, not the cache: a subject forgotten by another process meanwhile must not
    // have its data kept here.
    for subject in subjects {
        keys.load(subject).await?;
    }
    let Some(held) = keys.held(subjects) else { return Ok(None) };
    let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
    let sealed = cipher(&held)
        .encrypt(&nonce, Payload { msg: state.get().as_bytes(), aad: &aad(stream, version) })
        .map_err(|_| StoreError::backend("keyring", "the cipher refused a snapshot"))?;
    let mut bytes = nonce.to_vec();
    bytes.extend_from_slice(&sealed);
    let envelope = Envelope {
        sealed: Sealed {
            v: 1,
            s: subjects.iter().cloned().collect(),
            k: held.iter().map(|h| h.open.id().to_owned()).collect(),
            c: BASE64.encode(bytes),
        },
    };
    let raw = serde_json::value::to_raw_value(&envelope)
        .map_err(|source| StoreError::State { owner: stream.to_owned(), source })?;
    Ok(Some(raw))
}

/// What a stored snapshot state holds: the state's JSON text and the subjects it was sealed
/// for; `None` when it cannot be opened (a subject was forgotten, or no keyring): the state is
/// then rebuilt from the events.
pub(crate) async fn open(
    keys: Option<&Keyring>,
    stream: &str,
    version: u64,
    state: &RawValue,
) -> Result<Option<(String, BTreeSet<String>)>, StoreError> {
    let text = state.get();
    if !text.trim_start().starts_with(&format!("{{\"{SEALED_STATE}\"")) {
        return Ok(Some((text.to_owned(), BTreeSet::new())));
    }
    let Ok(Envelope { sealed }) = serde_json::from_str::<Envelope>(text) else { return Ok(None) };
    let Some(keys) = keys else { return Ok(None) };
    let subjects: BTreeSet<String> = sealed.s.iter().cloned().collect();
    if sealed.v != 1 || subjects.len() != sealed.s.len() || sealed.k.len() != sealed.s.len() {
        return Ok(None);
    }
    let current = |keys: &Keyring| {
        keys.held(&subjects).filter(|held| held.iter().zip(&sealed.k).all(|(h, id)| h.open.id() == id))
    };
    let held = match current(keys) {
        Some(held) => held,
        None => {
            for subject in &subjects {
                keys.load(subject).await?;
            }
            match current(keys) {
                Some(held) => held,
                None => return Ok(None),
            }
        }
    };
    let Ok(bytes) = BASE64.decode(&sealed.c) else { return Ok(None) };
    if bytes.len() < NONCE_LEN {
        return Ok(None);
    }
    let (nonce, ciphertext) = bytes.split_at(NONCE_LEN);
    let Ok(plain) = cipher(&held)
        .decrypt(Nonce::from_slice(nonce), Payload { msg: ciphertext, aad: &aad(stream, version) })
    else {
        return Ok(None);
    };
    Ok(String::from_utf8(plain).ok().map(|text| (text, subjects)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::personal::MemoryKeys;

    fn raw(text: &str) -> Box<RawValue> {
        RawValue::from_string(text.to_owned()).expect("json")
    }

    #[tokio::test]
    async fn a_sealed_state_opens_until_one_subject_is_forgotten() {
        let keys = Keyring::new(MemoryKeys::new());
        keys.ensure(["a", "b"]).await.expect("keys");
        let subjects = BTreeSet::from(["a".to_owned(), "b".to_owned()]);
        let state = r#"{"name":"Ann Lee"}"#;
        let sealed = seal(&keys, &subjects, "S-1", 4, raw(state)).await.expect("seal").expect("keys there");
        assert!(!sealed.get().contains("Ann"), "no plaintext in {}", sealed.get());
        let (opened, seen) = open(Some(&keys), "S-1", 4, &sealed).await.expect("open").expect("opens");
        assert_eq!((opened.as_str(), seen), (state, subjects.clone()));
        assert!(open(Some(&keys), "S-2", 4, &sealed).await.expect("open").is_none(), "another stream");
        assert!(open(Some(&keys), "S-1", 5, &sealed).await.expect("open").is_none(), "another version");
        assert!(open(None, "S-1", 4, &sealed).await.expect("open").is_none(), "no keyring");
        keys.forget("b").await.expect("forget");
        assert!(open(Some(&keys), "S-1", 4, &sealed).await.expect("open").is_none(), "b forgotten");
        assert!(seal(&keys, &subjects, "S-1", 8, raw(state)).await.expect("seal").is_none(), "not kept");
    }

    #[tokio::test]
    async fn a_state_without_personal_data_is_kept_as_it_is() {
        let plain = seal(&Keyring::default(), &BTreeSet::new(), "S", 1, raw("{\"n\":1}")).await;
        let plain = plain.expect("seal").expect("kept");
        assert_eq!(plain.get(), "{\"n\":1}");
        let opened = open(None, "S", 1, &plain).await.expect("open").expect("plain");
        assert_eq!(opened.0, "{\"n\":1}");
    }
}
