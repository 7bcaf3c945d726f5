//! Property tests over what users and other programs put in a store: arbitrary stream names,
//! event names, metadata and payload bytes, through append and read on memory, SQLite and
//! PostgreSQL, and through the relay's header building. Every case ends in the event read back
//! unchanged or a typed error, never a panic; bytes that are not JSON never become a payload.
//!
//! Case counts are small (CI has 2 cores): `PROPTEST_CASES` overrides them.

use es_core::integration::Message;
use es_core::{EventStore, ExpectedVersion, Metadata, NewEvent, StoredEvent};
use es_testing::proptest::prelude::*;
use es_testing::proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::value::RawValue;

use crate::stores::pg_store;

/// `PROPTEST_CASES`, or `default`.
fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(default)
}

/// Text of every kind: control characters, escapes, `%`, bidi overrides, NUL, emoji, plain.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[A-Za-z0-9_-]{1,20}",
        "\\PC{0,24}",
        any::<String>(),
        prop::collection::vec(
            prop_oneof![
                Just('\r'),
                Just('\n'),
                Just('\u{1b}'),
                Just('%'),
                Just('\0'),
                Just(' '),
                Just('\u{202e}'),
                Just('\u{9b}'),
                any::<char>(),
            ],
            0..12
        )
        .prop_map(|cs| cs.into_iter().collect()),
    ]
}

/// One arbitrary event to append: stream, name, metadata, payload bytes (JSON or not).
#[derive(Debug, Clone)]
struct Case {
    stream: String,
    name: String,
    extra: Vec<(String, String)>,
    payload: Vec<u8>,
}

fn case() -> impl Strategy<Value = Case> {
    let json = prop_oneof![
        text().prop_map(|s| serde_json::json!({ "s": s })),
        (text(), any::<i64>()).prop_map(|(k, n)| {
            let mut object = serde_json::Map::new();
            object.insert(k, serde_json::json!([n, null, true]));
            serde_json::Value::Object(object)
        }),
        text().prop_map(serde_json::Value::String),
    ]
    .prop_map(|v| serde_json::to_vec(&v).unwrap_or_default());
    let bytes = prop_oneof![json, prop::collection::vec(any::<u8>(), 0..40)];
    (text(), text(), prop::collection::vec((text(), text()), 0..3), bytes)
        .prop_map(|(stream, name, extra, payload)| Case { stream, name, extra, payload })
}

/// The payload as the one constructor of a raw payload takes it; `Err` for anything not JSON.
fn payload_of(bytes: &[u8]) -> Result<Box<RawValue>, String> {
    let text = String::from_utf8(bytes.to_vec()).map_err(|e| e.to_string())?;
    RawValue::from_string(text).map_err(|e| e.to_string())
}

/// Appends the case's event to `store` and reads it back: the same, or (when `may_refuse`) a
/// typed error. Whether it was stored.
async fn round_trip<S: EventStore>(store: &S, case: &Case, may_refuse: bool) -> Result<bool, TestCaseError> {
    let is_json = serde_json::from_slice::<serde_json::Value>(&case.payload).is_ok();
    let payload = match payload_of(&case.payload) {
        Ok(payload) => payload,
        Err(_) => {
            prop_assert!(!is_json, "JSON refused as a payload: {:?}", case.payload);
            return Ok(false);
        }
    };
    prop_assert!(is_json, "not JSON, yet a payload: {:?}", case.payload);
    let mut metadata = Metadata::default();
    for (k, v) in &case.extra {
        metadata = metadata.with(k.clone(), v.clone());
    }
    let mut event = NewEvent::new(case.name.clone(), 1, serde_json::Value::Null).with_metadata(metadata);
    event.payload = payload;
    let id = event.id;
    let appended = match store.append(&case.stream, ExpectedVersion::Any, vec![event.clone()]).await {
        Ok(appended) => appended,
        // PostgreSQL refuses what it cannot keep (NUL in text, `\u0000` in jsonb): as an error.
        Err(_) if may_refuse => return Ok(false),
        Err(e) => return Err(TestCaseError::fail(format!("refused: {e}"))),
    };
    let version = appended.stream_version;
    let read = store
        .read_stream(&case.stream, version, 1)
        .await
        .map_err(|e| TestCaseError::fail(format!("stored, then unreadable: {e}")))?;
    let Some(back) = read.first() else {
        return Err(TestCaseError::fail(format!("stored at version {version}, then not found")));
    };
    prop_assert_eq!(back.id, id);
    prop_assert_eq!(&back.stream, &case.stream);
    prop_assert_eq!(&back.name, &event.name);
    prop_assert_eq!(&back.metadata.extra, &event.metadata.extra);
    let same: serde_json::Value =
        serde_json::from_str(back.payload.get()).map_err(|e| TestCaseError::fail(e.to_string()))?;
    let sent: serde_json::Value =
        serde_json::from_str(event.payload.get()).map_err(|e| TestCaseError::fail(e.to_string()))?;
    prop_assert_eq!(same, sent);
    headers_hold(back)?;
    Ok(true)
}

/// The relay's headers for the event: built without a panic, and the stream read back exactly.
fn headers_hold(event: &StoredEvent) -> Result<(), TestCaseError> {
    let message = Message { name: "Thing", version: 1, payload: event.payload.clone() };
    let headers = es_nats::build_headers("relay\r\n%", event, 0, &message)
        .map_err(|e| TestCaseError::fail(format!("headers refused: {e}")))?;
    let stream = headers.get(es_nats::headers::STREAM).map(|v| v.as_str().to_owned()).unwrap_or_default();
    prop_assert!(!stream.contains(['\r', '\n']));
    prop_assert_eq!(es_nats::unescape_header_value(&stream), Some(event.stream.clone()));
    Ok(())
}

/// Runs `cases` arbitrary cases against `store`, on `rt` (the runtime that opened it: a pool
/// belongs to its runtime); some must be stored.
fn check<S: EventStore>(rt: &tokio::runtime::Runtime, cases: u32, may_refuse: bool, store: &S) {
    let mut runner = TestRunner::new(Config { cases, failure_persistence: None, ..Config::default() });
    let stored = std::cell::Cell::new(0u32);
    let result = runner.run(&case(), |case| {
        let kept = rt.block_on(round_trip(store, &case, may_refuse))?;
        stored.set(stored.get() + u32::from(kept));
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    assert!(stored.get() > 0, "no case was stored: the property says nothing");
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Runtime::new().expect("runtime")
}

#[test]
fn arbitrary_events_round_trip_in_memory() {
    check(&runtime(), cases(64), false, &es_core::MemoryStore::new());
}

#[test]
fn arbitrary_events_round_trip_on_sqlite() {
    let dir = tempfile::tempdir().expect("temp dir");
    let rt = runtime();
    let store = rt.block_on(es_sqlite::SqliteStore::open(dir.path().join("names.db"))).expect("open");
    check(&rt, cases(48), false, &store);
}

#[test]
fn arbitrary_events_round_trip_on_postgres() {
    let rt = runtime();
    let store = rt.block_on(pg_store("es_names"));
    check(&rt, cases(16), true, &store);
    rt.block_on(store.drop_schema()).expect("drop the test schema");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases(256)))]

    /// Any text survives the relay's header escaping: the escaped form holds no control
    /// character and no edge space (which the client would trim), and unescapes to the text.
    #[test]
    fn header_values_escape_and_unescape(value in text()) {
        let escaped = es_nats::escape_header_value(&value);
        prop_assert!(!escaped.chars().any(char::is_control), "{escaped:?}");
        prop_assert!(!escaped.starts_with(char::is_whitespace) && !escaped.ends_with(char::is_whitespace));
        prop_assert_eq!(es_nats::unescape_header_value(&escaped), Some(value));
    }
}
