//! Personal fields in `show` and `tail`: a payload holds each one as a sealed envelope
//! (`{"es:sealed": {"s": subject, ..}}`). They are shown as what they mean: sealed for a subject
//! whose key exists, erased once the subject was forgotten. The values are never opened here.

use std::collections::HashMap;

use es_core::personal::{Privacy, SEALED};
use es_core::EventStore;
use serde_json::{json, Map, Value};

use crate::escape::escape;

/// What a sealed field holds for a reader of the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    /// Its subject has a key: the value can be opened by a program with the types.
    Sealed,
    /// Its subject was forgotten: the value reads as erased.
    Erased,
    /// The key could not be looked up (the reason).
    Unknown(String),
}

impl State {
    fn label(&self) -> &'static str {
        match self {
            State::Sealed => "sealed",
            State::Erased => "erased",
            State::Unknown(_) => "unknown",
        }
    }
}

/// One sealed field of a payload.
#[derive(Debug, Clone)]
pub struct Field {
    /// The field's name.
    pub name: String,
    /// The subject it belongs to.
    pub subject: String,
    /// Whether it can still be opened.
    pub state: State,
}

/// The id of each subject's key now (`None`: it has none), asked once per subject and command.
#[derive(Default)]
pub struct Subjects(HashMap<String, Result<Option<String>, String>>);

impl Subjects {
    /// What a value of `subject` sealed with key `key_id` holds now: sealed while that very key
    /// exists, erased once it was deleted (even if the subject has a new key since).
    async fn state<S: EventStore + Privacy>(
        &mut self,
        store: &S,
        subject: &str,
        key_id: Option<&str>,
    ) -> State {
        if !self.0.contains_key(subject) {
            let current = match store.keys() {
                None => Err("this store keeps no keys".to_owned()),
                Some(keys) => keys.key_id(subject).await.map_err(|e| e.to_string()),
            };
            self.0.insert(subject.to_owned(), current);
        }
        match self.0.get(subject) {
            Some(Ok(Some(id))) if key_id.is_none_or(|k| k == id) => State::Sealed,
            Some(Ok(_)) => State::Erased,
            Some(Err(why)) => State::Unknown(why.clone()),
            None => State::Unknown("not looked up".into()),
        }
    }

    /// The sealed fields of `payload` (top-level fields holding an envelope), by name.
    pub async fn fields<S: EventStore + Privacy>(&mut self, store: &S, payload: &str) -> Vec<Field> {
        let Some(object) = sealed_object(payload) else { return Vec::new() };
        let mut fields = Vec::new();
        for (name, value) in &object {
            if let Some(subject) = subject_of(value) {
                let key_id = value.get(SEALED).and_then(|e| e.get("k")).and_then(Value::as_str);
                let state = self.state(store, subject, key_id).await;
                fields.push(Field { name: name.clone(), subject: subject.to_owned(), state });
            }
        }
        fields
    }
}

/// The payload as an object, when it holds a sealed value.
fn sealed_object(payload: &str) -> Option<Map<String, Value>> {
    if !payload.contains(SEALED) {
        return None;
    }
    match serde_json::from_str(payload) {
        Ok(Value::Object(object)) => Some(object),
        _ => None,
    }
}

fn subject_of(value: &Value) -> Option<&str> {
    value.get(SEALED)?.get("s")?.as_str()
}

/// The payload for a person: as stored, with each sealed field shown as
/// `<sealed: subject c-1>` or `<erased>` instead of its ciphertext; escaped for the terminal.
pub fn text(payload: &str, fields: &[Field]) -> String {
    let object = match sealed_object(payload) {
        Some(object) if !fields.is_empty() => object,
        _ => return escape(payload).into_owned(),
    };
    let parts: Vec<String> = object
        .iter()
        .map(|(name, value)| {
            let key = serde_json::to_string(name).unwrap_or_default();
            let shown = match fields.iter().find(|f| &f.name == name) {
                Some(f) => match &f.state {
                    State::Sealed => format!("<sealed: subject {}>", f.subject),
                    State::Erased => "<erased>".to_owned(),
                    State::Unknown(why) => format!("<sealed: subject {}, key unknown: {why}>", f.subject),
                },
                None => serde_json::to_string(value).unwrap_or_default(),
            };
            format!("{key}:{shown}")
        })
        .collect();
    escape(&format!("{{{}}}", parts.join(","))).into_owned()
}

/// The sealed fields as JSON: `[{"field", "subject", "state": "sealed"|"erased"|"unknown"}]`.
pub fn json(fields: &[Field]) -> Value {
    Value::Array(
        fields
            .iter()
            .map(|f| {
                let mut v = json!({ "field": f.name, "subject": f.subject, "state": f.state.label() });
                if let State::Unknown(why) = &f.state {
                    v["error"] = json!(why);
                }
                v
            })
            .collect(),
    )
}
