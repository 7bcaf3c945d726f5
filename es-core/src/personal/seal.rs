//! Sealing personal fields in a payload, and opening them: each value becomes
//! `{"es:sealed": {"v": 1, "s": subject, "k": key id, "c": base64(nonce ‖ ciphertext)}}`.

use std::sync::Arc;

use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::keyring::{lookup, Lookup};
use super::{PersonalFields, SubjectKey};
use crate::error::{DecodeFailure, EncodeFailure};
use crate::event::Event;

/// The key of a sealed value's envelope object.
pub const SEALED: &str = "es:sealed";

const NONCE_LEN: usize = 12;

/// A key ready to use: its cipher, and its short id, kept with each value it sealed (a value
/// whose key was forgotten, and the subject given a new key since, reads as erased rather
/// than failing to open).
pub(crate) struct OpenKey {
    cipher: Aes256Gcm,
    id: String,
}

impl OpenKey {
    pub(crate) fn new(key: &SubjectKey) -> Self {
        let id = Sha256::digest(key.0)[..8].iter().map(|b| format!("{b:02x}")).collect();
        OpenKey { cipher: Aes256Gcm::new((&key.0).into()), id }
    }
}

/// What each sealed value is bound to: moved to another subject or field, it does not open.
fn aad(subject: &str, field: &str) -> Vec<u8> {
    [b"es-personal-v1\0".as_slice(), subject.as_bytes(), b"\0", field.as_bytes()].concat()
}

/// Serializes `event` with each personal field sealed with its subject's key.
pub(crate) fn seal<T: Serialize>(event: &T, fields: &PersonalFields) -> Result<Box<RawValue>, EncodeFailure> {
    let mut value = serde_json::to_value(event)?;
    let Some(object) = value.as_object_mut() else {
        return Err(EncodeFailure::Subject(format!(
            "the event does not serialize as an object, so `{}` cannot be found",
            fields.subject
        )));
    };
    let subject = match object.get(fields.subject) {
        Some(Value::String(s)) => s.clone(),
        other => {
            return Err(EncodeFailure::Subject(format!(
                "the subject field `{}` holds {other:?}, not a string",
                fields.subject
            )))
        }
    };
    let key = match lookup(&subject, true) {
        None => return Err(EncodeFailure::NoKeyring),
        Some(Lookup::Key(key)) => key,
        Some(Lookup::Gone | Lookup::NotLoaded) => return Err(EncodeFailure::KeyNotLoaded { subject }),
    };
    for field in fields.fields {
        let Some(plain) = object.get(field.key) else { continue };
        let plain = serde_json::to_vec(plain)?;
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let sealed = key
            .cipher
            .encrypt(&nonce, Payload { msg: &plain, aad: &aad(&subject, field.key) })
            .map_err(|_| EncodeFailure::Subject("the cipher refused the value".into()))?;
        let mut bytes = nonce.to_vec();
        bytes.extend_from_slice(&sealed);
        let envelope = serde_json::json!({ "v": 1, "s": subject, "k": key.id, "c": BASE64.encode(bytes) });
        object.insert(field.key.to_owned(), Value::Object(Map::from_iter([(SEALED.to_owned(), envelope)])));
    }
    Ok(serde_json::value::to_raw_value(&value)?)
}

/// `payload` as a JSON value with the personal fields of `fields` opened (or erased); `None`
/// when nothing is sealed in it (it is then decoded as it is, without this detour).
pub(crate) fn open(fields: Option<&PersonalFields>, payload: &str) -> Result<Option<Value>, DecodeFailure> {
    let Some(fields) = fields else { return Ok(None) };
    if !payload.contains(SEALED) {
        return Ok(None);
    }
    let mut value: Value = serde_json::from_str(payload).map_err(DecodeFailure::Payload)?;
    open_value(fields, &mut value)?;
    Ok(Some(value))
}

/// A subject and its key (`None`: gone), looked up once for the fields of an event.
type Memo = Option<(String, Option<Arc<OpenKey>>)>;

/// Opens (or erases) the personal fields of `fields` in `value`, in place.
pub(crate) fn open_value(fields: &PersonalFields, value: &mut Value) -> Result<(), DecodeFailure> {
    let Some(object) = value.as_object_mut() else { return Ok(()) };
    let mut memo = None;
    for field in fields.fields {
        let Some(slot) = object.get_mut(field.key) else { continue };
        let Some(envelope) = slot.get(SEALED) else { continue };
        *slot = open_one(envelope, field.key, &mut memo)?
            .map_or_else(|| (field.erased)().map_err(DecodeFailure::Payload), Ok)?;
    }
    Ok(())
}

/// The plain value of one envelope; `None` when its key is gone.
fn open_one(envelope: &Value, field: &str, memo: &mut Memo) -> Result<Option<Value>, DecodeFailure> {
    let part = |k: &str| {
        envelope
            .get(k)
            .and_then(Value::as_str)
            .ok_or_else(|| DecodeFailure::Sealed(format!("`{field}`: the sealed value has no `{k}`")))
    };
    let subject = part("s")?;
    let key = match memo {
        Some((s, key)) if s == subject => key.clone(),
        _ => {
            let key = match lookup(subject, false) {
                None => return Err(DecodeFailure::NoKeyring),
                Some(Lookup::NotLoaded) => {
                    return Err(DecodeFailure::KeyNotLoaded { subject: subject.to_owned() })
                }
                Some(Lookup::Gone) => None,
                Some(Lookup::Key(key)) => Some(key),
            };
            *memo = Some((subject.to_owned(), key.clone()));
            key
        }
    };
    let Some(key) = key else { return Ok(None) };
    if key.id != part("k")? {
        return Ok(None);
    }
    let bytes = BASE64.decode(part("c")?).map_err(|e| DecodeFailure::Sealed(format!("`{field}`: {e}")))?;
    if bytes.len() < NONCE_LEN {
        return Err(DecodeFailure::Sealed(format!("`{field}`: the sealed value is too short")));
    }
    let (nonce, sealed) = bytes.split_at(NONCE_LEN);
    let plain = key
        .cipher
        .decrypt(Nonce::from_slice(nonce), Payload { msg: sealed, aad: &aad(subject, field) })
        .map_err(|_| {
            DecodeFailure::Sealed(format!(
                "`{field}` of subject `{subject}` does not authenticate with its key"
            ))
        })?;
    serde_json::from_slice(&plain).map(Some).map_err(DecodeFailure::Payload)
}

/// Whether every personal field of `event` holds its erased value (what it reads as once its
/// subject was forgotten). True for an event without personal fields.
pub fn is_erased<T: Event>(event: &T) -> bool {
    let Some(fields) = T::PERSONAL else { return true };
    let Ok(value) = serde_json::to_value(event) else { return false };
    fields.fields.iter().all(|f| match ((f.erased)(), value.get(f.key)) {
        (Ok(erased), Some(v)) => *v == erased,
        _ => false,
    })
}

/// The subjects whose sealed values are in `payload` (none, without parsing, when it holds no
/// sealed value): the keys to load before decoding it.
pub fn sealed_subjects(payload: &str) -> Vec<String> {
    if !payload.contains(SEALED) {
        return Vec::new();
    }
    let Ok(Value::Object(object)) = serde_json::from_str::<Value>(payload) else { return Vec::new() };
    let mut subjects: Vec<String> =
        object.values().filter_map(|v| v.get(SEALED)?.get("s")?.as_str().map(str::to_owned)).collect();
    subjects.dedup();
    subjects
}
