//! Sealing personal fields in a payload, and opening them: each value becomes
//! `{"es:sealed": {"v": 1, "s": subject, "k": key id, "c": base64(nonce ‖ ciphertext)}}`.

use std::sync::Arc;

use aes_gcm::aead::{Aead, AeadCore, AeadInPlace, KeyInit, OsRng, Payload};
use aes_gcm::{Aes256Gcm, Nonce, Tag};
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::keyring::{lookup, lookup_sealed, Lookup};
use super::{PersonalFields, SubjectKey};
use crate::store::{DecodeFailure, EncodeFailure};

/// The key of a sealed value's envelope object.
pub const SEALED: &str = "es:sealed";

const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;

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

    /// The key's short id, as sealed values carry it.
    pub(crate) fn id(&self) -> &str {
        &self.id
    }
}

/// What each sealed value is bound to: moved to another subject or field, it does not open.
fn aad(subject: &str, field: &str) -> Vec<u8> {
    [AAD_HEAD, subject.as_bytes(), b"\0", field.as_bytes()].concat()
}

const AAD_HEAD: &[u8] = b"es-personal-v1\0";

/// [`aad`], written into `stack` when it fits, else into `heap`.
fn aad_into<'b>(
    stack: &'b mut [u8; ON_STACK],
    heap: &'b mut Vec<u8>,
    subject: &str,
    field: &str,
) -> &'b [u8] {
    let len = AAD_HEAD.len() + subject.len() + 1 + field.len();
    let out = buffer(stack, heap, len);
    let (head, rest) = out.split_at_mut(AAD_HEAD.len());
    head.copy_from_slice(AAD_HEAD);
    let (s, rest) = rest.split_at_mut(subject.len());
    s.copy_from_slice(subject.as_bytes());
    rest[0] = 0;
    rest[1..].copy_from_slice(field.as_bytes());
    out
}

/// Serializes `event` with each personal field sealed with its subject's key.
pub(crate) fn seal<T: Serialize>(event: &T, fields: &PersonalFields) -> Result<Box<RawValue>, EncodeFailure> {
    // Serde's message is left out: a field type's own `Serialize` may quote the value it refused.
    let mut value = serde_json::to_value(event).map_err(|e| EncodeFailure::PersonalJson(e.classify()))?;
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

/// A subject, a key id and its key (`None`: gone), looked up once for the fields of an event.
type Memo = Option<(String, String, Option<Arc<OpenKey>>)>;

/// Opens (or erases) the sealed values of `value` in place: those of the declared personal
/// fields (under the current key, or under a former one, then moved to the current key), and
/// with `any_key` every other one at the top level.
pub(crate) fn open_value<'a>(
    how: impl Into<Opening<'a>>,
    value: &mut Value,
) -> Result<Opened, DecodeFailure> {
    let how = how.into();
    let mut opened = Opened::default();
    let Some(object) = value.as_object_mut() else { return Ok(opened) };
    let mut memo = None;
    for field in how.fields.map_or(&[][..], |f| f.fields) {
        let former = how.renamed.iter().find(|r| r.key == field.key).map_or(&[][..], |r| r.renamed_from);
        // A value stored before the rename sits under its old key (and is bound to it).
        let found = if object.contains_key(field.key) {
            Some(field.key)
        } else {
            former.iter().copied().find(|old| object.get(*old).is_some_and(|v| v.get(SEALED).is_some()))
        };
        let Some(found) = found else { continue };
        let Some(envelope) = object.get(found).and_then(|v| v.get(SEALED)) else { continue };
        let names: Vec<&str> = std::iter::once(field.key).chain(former.iter().copied()).collect();
        let plain = match open_one(envelope, &names, &mut memo)? {
            Some(plain) => plain,
            None => {
                opened.gone = true;
                (field.erased)().map_err(DecodeFailure::Payload)?
            }
        };
        object.remove(found);
        object.insert(field.key.to_owned(), plain);
    }
    if how.any_key {
        for (key, slot) in object.iter_mut() {
            let Some(envelope) = slot.get(SEALED) else { continue };
            let plain = open_one(envelope, &[key.as_str()], &mut memo)?;
            opened.gone |= plain.is_none();
            *slot = plain.unwrap_or(Value::Null);
        }
    }
    Ok(opened)
}

/// The plain value of one envelope; `None` when its key is gone. `names`: the field's JSON key,
/// then its former keys, each tried as what the value is bound to.
fn open_one(envelope: &Value, names: &[&str], memo: &mut Memo) -> Result<Option<Value>, DecodeFailure> {
    let field = names.first().copied().unwrap_or_default();
    let part = |k: &str| {
        envelope
            .get(k)
            .and_then(Value::as_str)
            .ok_or_else(|| DecodeFailure::Sealed(format!("`{field}`: the sealed value has no `{k}`")))
    };
    let (subject, key_id) = (part("s")?, part("k")?);
    let mut scratch = Scratch { memo: memo.take() };
    let opened = open_parts(
        &mut scratch,
        names,
        subject,
        key_id,
        || part("c"),
        |plain| plain_json(plain, field, subject),
    );
    *memo = scratch.memo.take();
    opened?.transpose()
}

/// The plain value opened from a sealed one, as JSON.
fn plain_json(plain: &[u8], field: &str, subject: &str) -> Result<Value, DecodeFailure> {
    // Serde's message is left out: the text is the plain personal value.
    serde_json::from_slice(plain).map_err(|_| {
        DecodeFailure::Sealed(format!("`{field}` of subject `{subject}` opens to text that is not JSON"))
    })
}

/// What opening the sealed values of one payload reuses from one value to the next: the key
/// last looked up (within one payload only: the keyring decides afresh for the next).
#[derive(Default)]
pub(crate) struct Scratch {
    memo: Memo,
}

/// Bytes that fit here are decoded and decrypted on the stack.
const ON_STACK: usize = 384;

/// A buffer of `len` bytes: on the stack when it fits, else on the heap.
fn buffer<'b>(stack: &'b mut [u8; ON_STACK], heap: &'b mut Vec<u8>, len: usize) -> &'b mut [u8] {
    if len <= ON_STACK {
        &mut stack[..len]
    } else {
        heap.resize(len, 0);
        heap
    }
}

/// Hands `then` the plain JSON text of the value sealed with `subject`'s key `key_id` as
/// `sealed` (base64 of nonce, ciphertext and tag), decrypted in place; `None` when that key is
/// gone.
fn open_parts<'p, R>(
    scratch: &mut Scratch,
    names: &[&str],
    subject: &str,
    key_id: &str,
    sealed: impl FnOnce() -> Result<&'p str, DecodeFailure>,
    then: impl FnOnce(&[u8]) -> R,
) -> Result<Option<R>, DecodeFailure> {
    let field = names.first().copied().unwrap_or_default();
    let key = match &scratch.memo {
        Some((s, id, key)) if s == subject && id == key_id => key.clone(),
        _ => {
            // A value sealed with a key the cache does not hold is looked up again at the
            // store (the cache may be stale), and reads as erased only once that key is known
            // to be deleted.
            let key = match lookup_sealed(subject, key_id) {
                None => return Err(DecodeFailure::NoKeyring),
                Some(Lookup::NotLoaded) => {
                    return Err(DecodeFailure::KeyNotLoaded { subject: subject.to_owned() })
                }
                Some(Lookup::Gone) => None,
                Some(Lookup::Key(key)) => Some(key),
            };
            scratch.memo = Some((subject.to_owned(), key_id.to_owned(), key.clone()));
            key
        }
    };
    let Some(key) = key else { return Ok(None) };
    let sealed = sealed()?;
    let (mut stack, mut heap) = ([0u8; ON_STACK], Vec::new());
    let bytes = buffer(&mut stack, &mut heap, base64::decoded_len_estimate(sealed.len()));
    let len = BASE64.decode_slice(sealed, bytes).map_err(|e| {
        let e = match e {
            base64::DecodeSliceError::DecodeError(e) => e.to_string(),
            e => e.to_string(),
        };
        DecodeFailure::Sealed(format!("`{field}`: {e}"))
    })?;
    if len < NONCE_LEN {
        return Err(DecodeFailure::Sealed(format!("`{field}`: the sealed value is too short")));
    }
    let refused = || {
        DecodeFailure::Sealed(format!(
            "`{field}` of subject `{subject}` does not authenticate with its key{}",
            if names.len() > 1 { " under its name or any former one" } else { "" }
        ))
    };
    let Some(end) = len.checked_sub(TAG_LEN).filter(|end| *end >= NONCE_LEN) else {
        return Err(refused());
    };
    let (nonce, rest) = bytes[..len].split_at_mut(NONCE_LEN);
    let (sealed, tag) = rest.split_at_mut(end - NONCE_LEN);
    let (nonce, tag) = (Nonce::from_slice(nonce), Tag::from_slice(tag));
    let (mut aad_stack, mut aad_heap) = ([0u8; ON_STACK], Vec::new());
    // A refused attempt leaves the ciphertext as it was (the tag is checked first).
    for name in names {
        let aad = aad_into(&mut aad_stack, &mut aad_heap, subject, name);
        if key.cipher.decrypt_in_place_detached(nonce, aad, sealed, tag).is_ok() {
            return Ok(Some(then(sealed)));
        }
    }
    Err(refused())
}

impl Opening<'_> {
    /// Fresh scratch space for [`open_sealed`](Self::open_sealed), for one payload.
    pub(crate) fn scratch() -> Scratch {
        Scratch::default()
    }

    /// Opens one sealed value of field `field`, given by its envelope's parts (`s`, `k`, `c`),
    /// without going through a JSON value: hands `then` the plain JSON text (decrypted in place,
    /// on the stack when small), or answers `None` when the subject's key is gone (the field
    /// reads as erased).
    pub(crate) fn open_sealed<R>(
        scratch: &mut Scratch,
        field: &str,
        subject: &str,
        key_id: &str,
        sealed: &str,
        then: impl FnOnce(&[u8]) -> R,
    ) -> Result<Option<R>, DecodeFailure> {
        open_parts(scratch, &[field], subject, key_id, || Ok(sealed), then)
    }
}

/// Whether every personal field (`fields`) of `event` holds its erased value (what it reads as
/// once its subject was forgotten). True without personal fields. See `Event::is_erased`.
pub fn is_erased<T: Serialize>(event: &T, fields: Option<&PersonalFields>) -> bool {
    let Some(fields) = fields else { return true };
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

/// Former JSON keys of one personal field (`#[event(personal, renamed_from = "..")]`): a value
/// sealed under an old key is bound to it, so opening tries the current key, then these.
/// Generated by `#[derive(Event)]`.
#[doc(hidden)]
#[derive(Debug)]
pub struct RenamedField {
    /// The field's current JSON key.
    pub key: &'static str,
    /// Its former JSON keys.
    pub renamed_from: &'static [&'static str],
}

/// What opening the sealed values of one payload needs.
#[derive(Clone, Copy, Default)]
pub(crate) struct Opening<'a> {
    /// The personal fields of the payload's shape: where to look, what a forgotten value reads as.
    pub fields: Option<&'a PersonalFields>,
    /// Former keys of those fields.
    pub renamed: &'a [RenamedField],
    /// Also open sealed values under keys no field declares (a forgotten one becomes `null`):
    /// the input of JSON upcasters, whose shape no struct may describe any more.
    pub any_key: bool,
}

impl<'a> From<&'a PersonalFields> for Opening<'a> {
    fn from(fields: &'a PersonalFields) -> Self {
        Opening { fields: Some(fields), ..Opening::default() }
    }
}

/// What opening a payload found.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Opened {
    /// Some sealed value's key is gone: its subject was forgotten.
    pub gone: bool,
}
