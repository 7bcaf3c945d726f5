//! Testing schema evolution: scenarios given as stored records, upcast assertions, and the
//! registry check as a one-line test.

use std::fmt::Debug;

use es_core::{Aggregate, EventEnum, StoredEvent};
use serde_json::Value;

use crate::roundtrip::stored_record;
use crate::scenario::{AggregateTest, Given};

/// Asserts that a payload stored as `name` at schema `version` (as an older program wrote it)
/// decodes, through the upcast chain, into `expected`.
///
/// ```
/// # use es_core::Event;
/// # use serde::{Deserialize, Serialize};
/// # #[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
/// # #[event(version = 2, upcast_from = PingedV1)]
/// # pub struct Pinged { n: u32, loud: bool }
/// # #[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
/// # #[event(name = "Pinged")]
/// # pub struct PingedV1 { n: u32 }
/// # impl From<PingedV1> for Pinged { fn from(o: PingedV1) -> Self { Pinged { n: o.n, loud: false } } }
/// # #[derive(es_core::Aggregate, Default)]
/// # #[aggregate(events(Pinged), error = String)]
/// # pub struct Pinger;
/// # impl es_core::Apply<Pinged> for Pinger { fn apply(&mut self, _: &Pinged) {} }
/// es_testing::assert_upcasts::<PingerEvent>("Pinged", 1, serde_json::json!({ "n": 7 }), Pinged { n: 7, loud: false });
/// ```
#[track_caller]
pub fn assert_upcasts<E: EventEnum + PartialEq>(
    name: &str,
    version: u32,
    payload: Value,
    expected: impl Into<E>,
) {
    let stored = record(name, version, payload, 1);
    match crate::personal::scoped(|| es_core::codec::decode::<E>(&stored)) {
        Ok(actual) => {
            let expected = expected.into();
            assert!(
                actual == expected,
                "`{name}` version {version} upcast to\n{actual:#?}\nbut the test expected\n{expected:#?}"
            );
        }
        Err(e) => panic!("`{name}` version {version} does not upcast: {e}"),
    }
}

/// Panics listing every problem [`es_core::registry::check`] finds in the program's events and
/// upcasters: duplicate versions, gaps in chains, ambiguous or orphaned upcasters.
///
/// ```
/// es_testing::assert_event_registry_ok();
/// ```
#[track_caller]
pub fn assert_event_registry_ok() {
    if let Err(problems) = es_core::registry::check() {
        let list: Vec<String> = problems.iter().map(|p| format!("- {p}")).collect();
        panic!("the event registry has {} problem(s):\n{}", problems.len(), list.join("\n"));
    }
}

/// A stored record of `payload` as `name` at `version`, for decoding in tests.
fn record(name: &str, version: u32, payload: Value, position: u64) -> StoredEvent {
    stored_record(name, version, es_core::NewEvent::new(name, version, payload).payload, position)
}

/// Scenarios given as stored records: `(name, schema version, JSON payload)` as an older program
/// stored them. Each is decoded (and upcast) as a store's reader would.
pub trait GivenStored: Aggregate {
    /// The aggregate after the stored `records`.
    #[track_caller]
    fn given_stored<'a>(records: impl IntoIterator<Item = (&'a str, u32, Value)>) -> Given<Self>;
}

impl<A: AggregateTest> GivenStored for A
where
    A::Event: PartialEq + Debug,
{
    #[track_caller]
    fn given_stored<'a>(records: impl IntoIterator<Item = (&'a str, u32, Value)>) -> Given<Self> {
        let events: Vec<A::Event> = records
            .into_iter()
            .enumerate()
            .map(|(i, (name, version, payload))| {
                let stored = record(name, version, payload, i as u64 + 1);
                crate::personal::scoped(|| es_core::codec::decode(&stored))
                    .unwrap_or_else(|e| panic!("given record {} does not decode: {e}", i + 1))
            })
            .collect();
        A::given(events)
    }
}
