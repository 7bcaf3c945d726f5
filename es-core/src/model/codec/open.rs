//! Decoding an event with sealed personal fields in one pass over its payload: the struct is
//! deserialized straight from the stored text, and the value of each personal field is opened
//! where it is met (its envelope parsed borrowed, decrypted in place), with no JSON value of the
//! whole payload.
//!
//! This is the fast path only: any failure (a missing key, a value that does not fit, a damaged
//! envelope) answers `None`, and the caller decodes through the JSON value, which reports it
//! exactly and without quoting personal values.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::Value;

use crate::model::Event;
use crate::personal::{Opening, PersonalFields};

/// Opens one sealed value of a field: (field's JSON key, subject, key id, ciphertext) to its
/// plain value, `None` when the key is gone.
type Open<'o> = dyn FnMut(&str, &str, &str, &str) -> Option<Option<Value>> + 'o;

/// `T` from `payload`, its personal fields (`fields`, none of them renamed) opened on the way;
/// `None` if anything fails.
pub(super) fn from_str<T: Event>(payload: &str, fields: &'static PersonalFields) -> Option<T> {
    let mut scratch = Opening::scratch();
    let mut open = |field: &str, subject: &str, key_id: &str, sealed: &str| {
        let parse = |plain: &[u8]| serde_json::from_slice::<Value>(plain).ok();
        match Opening::open_sealed(&mut scratch, field, subject, key_id, sealed, parse) {
            Ok(Some(Some(plain))) => Some(Some(plain)),
            Ok(None) => Some(None),
            Ok(Some(None)) | Err(_) => None,
        }
    };
    let mut de = serde_json::Deserializer::from_str(payload);
    let event = T::deserialize(Opener { inner: &mut de, fields, open: &mut open }).ok()?;
    de.end().ok()?;
    Some(event)
}

/// The payload's deserializer: a struct or map read from it meets its personal fields opened.
struct Opener<'o, D> {
    inner: D,
    fields: &'static PersonalFields,
    open: &'o mut Open<'o>,
}

macro_rules! forward {
    ($($method:ident($($arg:ident: $ty:ty),*);)*) => {$(
        fn $method<V: Visitor<'de>>(self, $($arg: $ty,)* visitor: V) -> Result<V::Value, D::Error> {
            self.inner.$method($($arg,)* visitor)
        }
    )*};
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for Opener<'_, D> {
    type Error = D::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        let Opener { inner, fields, open } = self;
        inner.deserialize_any(Struct { visitor, fields, open })
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        let Opener { inner, fields, open } = self;
        inner.deserialize_map(Struct { visitor, fields, open })
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        names: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        let Opener { inner, fields, open } = self;
        inner.deserialize_struct(name, names, Struct { visitor, fields, open })
    }

    forward! {
        deserialize_bool(); deserialize_i8(); deserialize_i16(); deserialize_i32(); deserialize_i64();
        deserialize_u8(); deserialize_u16(); deserialize_u32(); deserialize_u64();
        deserialize_f32(); deserialize_f64(); deserialize_char(); deserialize_str();
        deserialize_string(); deserialize_bytes(); deserialize_byte_buf(); deserialize_option();
        deserialize_unit(); deserialize_seq(); deserialize_identifier(); deserialize_ignored_any();
        deserialize_unit_struct(name: &'static str);
        deserialize_newtype_struct(name: &'static str);
        deserialize_tuple(len: usize);
        deserialize_tuple_struct(name: &'static str, len: usize);
        deserialize_enum(name: &'static str, variants: &'static [&'static str]);
    }
}

/// The user's visitor, handed a map whose personal values open.
struct Struct<'o, V> {
    visitor: V,
    fields: &'static PersonalFields,
    open: &'o mut Open<'o>,
}

impl<'de, V: Visitor<'de>> Visitor<'de> for Struct<'_, V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        self.visitor.expecting(f)
    }

    fn visit_map<M: MapAccess<'de>>(self, map: M) -> Result<V::Value, M::Error> {
        let Struct { visitor, fields, open } = self;
        visitor.visit_map(Fields { map, fields, open, personal: None })
    }

    fn visit_seq<S: SeqAccess<'de>>(self, seq: S) -> Result<V::Value, S::Error> {
        self.visitor.visit_seq(seq)
    }
}

/// The payload's top-level entries; `personal` is the personal field whose value comes next.
struct Fields<'o, M> {
    map: M,
    fields: &'static PersonalFields,
    open: &'o mut Open<'o>,
    personal: Option<&'static str>,
}

impl<'de, M: MapAccess<'de>> MapAccess<'de> for Fields<'_, M> {
    type Error = M::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, M::Error> {
        self.personal = None;
        self.map.next_key_seed(Key { seed, fields: self.fields, personal: &mut self.personal })
    }

    fn next_value_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<S::Value, M::Error> {
        let Some(field) = self.personal.take() else { return self.map.next_value_seed(seed) };
        // The envelope is read where it stands; a plain value (stored before the field was
        // marked personal) is not one, and is left to the full path.
        let envelope: Envelope<'de> = self.map.next_value()?;
        let Some(Sealed { s: Some(subject), k: Some(key_id), c: Some(sealed) }) = envelope.sealed else {
            return Err(de::Error::custom("not a complete sealed value"));
        };
        let plain = match (self.open)(field, &subject, &key_id, &sealed) {
            Some(Some(plain)) => plain,
            Some(None) => {
                let erased = self.fields.fields.iter().find(|f| f.key == field).map(|f| (f.erased)());
                erased.and_then(Result::ok).ok_or_else(|| de::Error::custom("no erased value"))?
            }
            None => return Err(de::Error::custom("a sealed value that does not open")),
        };
        seed.deserialize(plain).map_err(de::Error::custom)
    }

    fn size_hint(&self) -> Option<usize> {
        self.map.size_hint()
    }
}

/// A sealed value's envelope, borrowed from the payload where it needs no unescaping.
#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(rename = "es:sealed", borrow)]
    sealed: Option<Sealed<'a>>,
}

#[derive(Deserialize)]
struct Sealed<'a> {
    #[serde(borrow)]
    s: Option<Cow<'a, str>>,
    #[serde(borrow)]
    k: Option<Cow<'a, str>>,
    #[serde(borrow)]
    c: Option<Cow<'a, str>>,
}

/// A map key, noting whether it names a personal field.
struct Key<'p, K> {
    seed: K,
    fields: &'static PersonalFields,
    personal: &'p mut Option<&'static str>,
}

impl<'de, K: DeserializeSeed<'de>> DeserializeSeed<'de> for Key<'_, K> {
    type Value = K::Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<K::Value, D::Error> {
        let Key { seed, fields, personal } = self;
        seed.deserialize(KeyText { inner: deserializer, fields, personal })
    }
}

/// The deserializer of a map key: every request reads the key as text, noted, then visited.
struct KeyText<'p, D> {
    inner: D,
    fields: &'static PersonalFields,
    personal: &'p mut Option<&'static str>,
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for KeyText<'_, D> {
    type Error = D::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        let KeyText { inner, fields, personal } = self;
        inner.deserialize_any(Noting { visitor, fields, personal })
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf option
        unit unit_struct newtype_struct seq tuple tuple_struct map struct enum identifier ignored_any
    }
}

/// Notes whether a key is a personal field's, then hands it on.
struct Noting<'p, V> {
    visitor: V,
    fields: &'static PersonalFields,
    personal: &'p mut Option<&'static str>,
}

impl<V> Noting<'_, V> {
    fn note(&mut self, key: &str) {
        *self.personal = self.fields.fields.iter().find(|f| f.key == key).map(|f| f.key);
    }
}

impl<'de, V: Visitor<'de>> Visitor<'de> for Noting<'_, V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        self.visitor.expecting(f)
    }

    fn visit_borrowed_str<E: de::Error>(mut self, key: &'de str) -> Result<V::Value, E> {
        self.note(key);
        self.visitor.visit_borrowed_str(key)
    }

    fn visit_str<E: de::Error>(mut self, key: &str) -> Result<V::Value, E> {
        self.note(key);
        self.visitor.visit_str(key)
    }

    fn visit_string<E: de::Error>(mut self, key: String) -> Result<V::Value, E> {
        self.note(&key);
        self.visitor.visit_string(key)
    }
}

#[cfg(test)]
mod tests {
    use serde::{Deserialize, Serialize};

    use crate::model::Event;
    use crate::personal::Keyring;

    #[derive(crate::Event, Serialize, Deserialize, Debug, PartialEq)]
    struct Registered {
        #[event(subject)]
        customer: String,
        #[event(personal)]
        name: String,
        #[event(personal, erased = "unknown".to_owned())]
        email: String,
        plan: Plan,
    }

    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    struct Plan {
        tier: String,
    }

    fn ann() -> Registered {
        Registered {
            customer: "c-\"42\"".into(),
            name: "Ann \"A\" Example".into(),
            email: "ann@example.com".into(),
            plan: Plan { tier: "gold".into() },
        }
    }

    #[test]
    fn sealed_values_open_in_one_pass() {
        let keys = Keyring::default();
        let payload = keys.scope(|| ann().encode_payload()).expect("seal").payload;
        let fields = Registered::PERSONAL.expect("personal");
        let opened = keys.scope(|| super::from_str::<Registered>(payload.get(), fields));
        assert_eq!(opened, Some(ann()), "the fast path opens what was sealed");
        assert_eq!(keys.scope(|| Registered::decode_version(1, payload.get())).expect("decode"), ann());
        // Without a keyring the fast path gives up, and the full path says why.
        assert_eq!(super::from_str::<Registered>(payload.get(), fields), None);
        assert!(Registered::decode_version(1, payload.get()).is_err());
    }

    #[test]
    fn plain_forgotten_and_damaged_values() {
        let keys = Keyring::default();
        let fields = Registered::PERSONAL.expect("personal");
        // Stored before the fields were marked: plain values are left to the full path.
        let plain = serde_json::to_string(&ann()).expect("json");
        assert_eq!(super::from_str::<Registered>(&plain, fields), None);
        assert_eq!(keys.scope(|| Registered::decode_version(1, &plain)).expect("plain"), ann());
        // A value sealed with a key that does not open it, or a damaged envelope: the fast path
        // gives up, and the full path reports it.
        let payload = keys.scope(|| ann().encode_payload()).expect("seal").payload;
        let other = Keyring::default();
        let damaged = payload.get().replacen("\"c\":\"", "\"c\":\"A", 1);
        for text in [damaged.as_str(), &payload.get().replacen("\"k\":", "\"x\":", 1)] {
            assert_eq!(keys.scope(|| super::from_str::<Registered>(text, fields)), None, "{text}");
            assert!(keys.scope(|| Registered::decode_version(1, text)).is_err(), "{text}");
        }
        // Under a keyring whose store has no key for the subject, the values read as erased, on
        // both paths.
        let erased = Registered { name: String::new(), email: "unknown".into(), ..ann() };
        assert_eq!(other.scope(|| super::from_str::<Registered>(payload.get(), fields)), Some(erased));
        let full = other.scope(|| Registered::decode_version(1, payload.get())).expect("decode");
        assert_eq!((full.name.as_str(), full.email.as_str()), ("", "unknown"));
    }
}
