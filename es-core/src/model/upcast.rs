//! JSON upcasters: steps from an old payload to the next version's, for versions older than the
//! oldest struct you keep. Keyed by `(name, from version)`, never by registration order.
//!
//! ```
//! use serde_json::{json, Value};
//!
//! // Version 1 of "PriceSet" held cents as a string; version 2 (a struct) holds an integer.
//! fn price_v1_to_v2(mut v: Value) -> Value {
//!     let cents = v["cents"].as_str().and_then(|s| s.parse::<u64>().ok()).unwrap_or(0);
//!     v["cents"] = json!(cents);
//!     v
//! }
//! es_core::json_upcaster!("PriceSet", 1 => price_v1_to_v2);
//! ```
//!
//! Personal fields reach a step opened: it sees (and may change, move or rename) their plain
//! values. They are opened with the personal fields of the stored version's struct when the
//! program still has one (registered by `#[derive(Event)]`, with its `renamed_from` keys), else
//! with those of the nearest struct above it, up to the one the steps lead to; a sealed value
//! under a key none of them declares opens all the same (bound to that key). When the subject
//! was forgotten, a step sees the erased value (`null` for an undeclared key), and whatever the
//! steps make of it, every personal field of the result reads as its erased value. Nothing
//! upcast is stored again, so nothing is sealed anew.

use std::collections::HashMap;
use std::sync::OnceLock;

use serde_json::Value;

use crate::model::Event;
use crate::personal::{Opened, Opening, RenamedField};
use crate::personal::{PersonalFields, SEALED};
use crate::store::DecodeFailure;

/// One JSON step: a payload stored as `name` at version `from` becomes version `from + 1`.
#[derive(Debug, Clone, Copy)]
pub struct JsonUpcaster {
    /// The stored event name at version `from`.
    pub name: &'static str,
    /// The version this step reads.
    pub from: u32,
    /// The step.
    pub upcast: fn(Value) -> Value,
    /// Where it was declared (`module_path!()`), for the registry check's messages.
    pub declared_in: &'static str,
}

inventory::collect!(JsonUpcaster);

/// Registers a JSON upcaster: `json_upcaster!("Name", from_version => function)`.
#[macro_export]
macro_rules! json_upcaster {
    ($name:literal, $from:literal => $upcast:expr) => {
        $crate::__private::inventory::submit! {
            $crate::model::upcast::JsonUpcaster {
                name: $name,
                from: $from,
                upcast: $upcast,
                declared_in: ::core::module_path!(),
            }
        }
    };
}

/// A set of JSON upcasters, looked up by `(name, from)`. Two steps for one key make that key
/// ambiguous, whatever order they came in.
#[derive(Debug, Default)]
pub struct Upcasters {
    steps: HashMap<(&'static str, u32), Step>,
}

#[derive(Debug, Clone, Copy)]
enum Step {
    One(fn(Value) -> Value),
    Ambiguous,
}

impl Upcasters {
    /// A set from any list of steps.
    pub fn new(steps: impl IntoIterator<Item = JsonUpcaster>) -> Self {
        let mut set = Upcasters::default();
        for s in steps {
            set.steps
                .entry((s.name, s.from))
                .and_modify(|e| *e = Step::Ambiguous)
                .or_insert(Step::One(s.upcast));
        }
        set
    }

    /// Every upcaster registered with [`json_upcaster!`](crate::json_upcaster) in the program.
    pub fn registered() -> &'static Upcasters {
        static SET: OnceLock<Upcasters> = OnceLock::new();
        SET.get_or_init(|| Upcasters::new(inventory::iter::<JsonUpcaster>.into_iter().copied()))
    }

    /// Brings a payload stored at `from` (under any of `names`) to version `to`, one step at a
    /// time. `Ok(None)` when `from == to`.
    pub fn upcast(
        &self,
        names: &[&str],
        from: u32,
        to: u32,
        payload: &str,
    ) -> Result<Option<Value>, DecodeFailure> {
        if from >= to {
            return Ok(None);
        }
        let value: Value = serde_json::from_str(payload).map_err(DecodeFailure::Payload)?;
        self.upcast_value(names, from, to, value).map(Some)
    }

    /// Brings a parsed payload stored at `from` (under any of `names`) to version `to`.
    pub fn upcast_value(
        &self,
        names: &[&str],
        from: u32,
        to: u32,
        mut value: Value,
    ) -> Result<Value, DecodeFailure> {
        for version in from..to {
            let step = names.iter().find_map(|n| self.steps.get(&(*n, version)));
            value = match step {
                Some(Step::One(f)) => f(value),
                Some(Step::Ambiguous) => return Err(DecodeFailure::AmbiguousUpcast { from: version }),
                None => return Err(DecodeFailure::MissingUpcast { from: version, to }),
            };
        }
        Ok(value)
    }
}

/// Decodes a payload stored at `version`, older than `T`'s, through the JSON steps into `T`
/// (the oldest struct of its chain; `renamed`: the former keys of its personal fields), its
/// personal fields opened before the first step (see the module's docs).
pub(crate) fn decode_upcast<T: Event>(
    version: u32,
    payload: &str,
    renamed: &'static [RenamedField],
) -> Result<T, DecodeFailure> {
    let names: Vec<&str> = std::iter::once(T::NAME).chain(T::RENAMED_FROM.iter().copied()).collect();
    let mut value: Value = serde_json::from_str(payload).map_err(DecodeFailure::Payload)?;
    let opened = if payload.contains(SEALED) {
        let (fields, renamed) = crate::model::registry::personal_at(&names, version, T::VERSION)
            .unwrap_or((T::PERSONAL, renamed));
        crate::personal::open_value(Opening { fields, renamed, any_key: true }, &mut value)?
    } else {
        Opened::default()
    };
    let mut value = Upcasters::registered().upcast_value(&names, version, T::VERSION, value)?;
    if let (true, Some(fields)) = (opened.gone, T::PERSONAL) {
        erase(fields, &mut value)?;
    }
    crate::model::codec::from_value::<T>(value)
}

/// Sets every personal field present in `value` to its erased value: the subject was forgotten,
/// whatever the steps made of the values they were given.
fn erase(fields: &PersonalFields, value: &mut Value) -> Result<(), DecodeFailure> {
    let Some(object) = value.as_object_mut() else { return Ok(()) };
    for field in fields.fields {
        if let Some(slot) = object.get_mut(field.key) {
            *slot = (field.erased)().map_err(DecodeFailure::Payload)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn add_b(mut v: Value) -> Value {
        v["b"] = json!(2);
        v
    }
    fn add_c(mut v: Value) -> Value {
        v["c"] = json!(3);
        v
    }
    fn step(name: &'static str, from: u32, upcast: fn(Value) -> Value) -> JsonUpcaster {
        JsonUpcaster { name, from, upcast, declared_in: "test" }
    }

    #[test]
    fn steps_chain_by_key_whatever_the_order() {
        let payload = r#"{"a":1}"#;
        let steps = [step("E", 1, add_b), step("E", 2, add_c), step("Other", 1, add_c)];
        let mut outputs = Vec::new();
        for order in [[0, 1, 2], [2, 1, 0], [1, 2, 0], [1, 0, 2]] {
            let set = Upcasters::new(order.map(|i| steps[i]));
            outputs.push(set.upcast(&["E"], 1, 3, payload).unwrap());
        }
        assert!(outputs.iter().all(|o| *o == Some(json!({"a": 1, "b": 2, "c": 3}))), "{outputs:?}");
    }

    #[test]
    fn gaps_and_duplicates_are_typed_errors() {
        let payload = "{}";
        let gap = Upcasters::new([step("E", 1, add_b)]).upcast(&["E"], 1, 3, payload);
        assert!(matches!(gap, Err(DecodeFailure::MissingUpcast { from: 2, to: 3 })), "{gap:?}");
        for order in [[0, 1], [1, 0]] {
            let twice = [step("E", 1, add_b), step("E", 1, add_c)];
            let r = Upcasters::new(order.map(|i| twice[i])).upcast(&["E"], 1, 2, payload);
            assert!(matches!(r, Err(DecodeFailure::AmbiguousUpcast { from: 1 })), "{r:?}");
        }
        assert!(matches!(Upcasters::default().upcast(&["E"], 2, 2, payload), Ok(None)));
    }
}
