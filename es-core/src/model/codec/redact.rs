//! Decode errors of events with personal data, told without the personal values: serde's
//! messages quote the value they refused (`invalid type: string "Ann", expected u32`).

use serde_json::error::Category;
use serde_json::{Map, Value};

use crate::model::Event;
use crate::personal::PersonalFields;
use crate::store::{DecodeFailure, Redacted};

/// Deserializes `T` from JSON text; a failure of a type with personal fields quotes none of them.
pub(crate) fn from_str<T: Event>(payload: &str) -> Result<T, DecodeFailure> {
    match serde_json::from_str(payload) {
        Ok(event) => Ok(event),
        // Syntax and end-of-input errors say where, never what.
        Err(e) if e.classify() != Category::Data => Err(DecodeFailure::Payload(e)),
        Err(e) => match serde_json::from_str::<Value>(payload) {
            Ok(value) => Err(explain::<T>(&value, e)),
            Err(syntax) => Err(DecodeFailure::Payload(syntax)),
        },
    }
}

/// Deserializes `T` from a JSON value (its personal fields opened); a failure quotes none of them.
pub(crate) fn from_value<T: Event>(value: Value) -> Result<T, DecodeFailure> {
    if T::PERSONAL.is_none() {
        return T::deserialize(value).map_err(DecodeFailure::Payload);
    }
    T::deserialize(&value).map_err(|e| explain::<T>(&value, e))
}

/// The failure `error` of decoding `value` into `T`, without personal values: decoded again
/// with every personal field at its erased value, a failure lies elsewhere and serde's message
/// is safe to keep; a success means a personal field is at fault, found by unmasking one at a
/// time, and named without its value.
fn explain<T: Event>(value: &Value, error: serde_json::Error) -> DecodeFailure {
    let Some(fields) = T::PERSONAL else { return DecodeFailure::Payload(error) };
    let redacted = |field: Option<&str>, found| Redacted {
        field: field.map(str::to_owned),
        found,
        category: error.classify(),
        line: error.line(),
        column: error.column(),
    };
    let Some(object) = value.as_object() else {
        return DecodeFailure::PersonalValue(Box::new(redacted(None, kind(value))));
    };
    if let Err(elsewhere) = T::deserialize(&Value::Object(masked(object, fields, None))) {
        return DecodeFailure::Payload(elsewhere);
    }
    for field in fields.fields {
        let Some(plain) = object.get(field.key) else { continue };
        if T::deserialize(&Value::Object(masked(object, fields, Some(field.key)))).is_err() {
            return DecodeFailure::PersonalValue(Box::new(redacted(Some(field.key), kind(plain))));
        }
    }
    DecodeFailure::PersonalValue(Box::new(redacted(None, kind(value))))
}

/// `object` with every personal field but `keep` at its erased value (`null` if that does not
/// serialize).
fn masked(object: &Map<String, Value>, fields: &PersonalFields, keep: Option<&str>) -> Map<String, Value> {
    let mut masked = object.clone();
    for field in fields.fields.iter().filter(|f| Some(f.key) != keep) {
        if let Some(slot) = masked.get_mut(field.key) {
            *slot = (field.erased)().unwrap_or(Value::Null);
        }
    }
    masked
}

/// A JSON value's type, in words.
fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::{Deserialize, Serialize};

    #[derive(crate::Event, Serialize, Deserialize, Debug)]
    struct Aged {
        #[event(subject)]
        person: String,
        #[event(personal)]
        age: u32,
        plan: String,
    }

    #[derive(crate::Event, Serialize, Deserialize, Debug)]
    struct Plain {
        age: u32,
    }

    #[test]
    fn a_personal_value_that_does_not_fit_is_named_not_quoted() {
        let text = r#"{"person":"p","age":"Ann Secret","plan":"gold"}"#;
        for e in [
            from_str::<Aged>(text).expect_err("text"),
            from_value::<Aged>(serde_json::from_str(text).expect("json")).expect_err("value"),
        ] {
            let (shown, debug) = (e.to_string(), format!("{e:?}"));
            assert!(!shown.contains("Ann Secret") && !debug.contains("Ann Secret"), "{shown} / {debug}");
            assert!(
                matches!(&e, DecodeFailure::PersonalValue(r) if r.field.as_deref() == Some("age") && r.found == "a string"),
                "{e:?}"
            );
        }
        let e = from_str::<Aged>(text).expect_err("text");
        assert!(e.to_string().contains("a data error at line 1 column"), "{e}");
    }

    #[test]
    fn other_mistakes_keep_serdes_message() {
        let e = from_str::<Aged>(r#"{"person":"p","age":"Ann Secret","plan":7}"#).expect_err("plan");
        let shown = e.to_string();
        assert!(shown.contains("invalid type: integer `7`") && !shown.contains("Ann Secret"), "{shown}");
        let e = from_str::<Aged>(r#"{"person":"p","plan":"x"#).expect_err("syntax");
        assert!(matches!(e, DecodeFailure::Payload(_)), "{e:?}");
        let e = from_str::<Plain>(r#"{"age":"x"}"#).expect_err("no personal fields");
        assert!(e.to_string().contains("invalid type: string \"x\""), "{e}");
    }
}
