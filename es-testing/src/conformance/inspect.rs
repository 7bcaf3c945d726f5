//! What a store's [`Inspect`] must list: its streams by literal prefix, event names with their
//! counts, the consumers with a checkpoint or parked events, each list in byte order whatever
//! the database's collation.
//!
//! Not part of [`store_conformance!`](crate::store_conformance) (a store may leave `Inspect`
//! out); call it from a test of the store's own:
//!
//! ```
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! es_testing::conformance::inspect::lists_what_is_stored(es_core::MemoryStore::new()).await;
//! # });
//! ```
//!
//! It names `es_core` only.

use std::time::SystemTime;

use es_core::inspect::{Inspect, NameCount, StreamInfo};
use es_core::{Checkpoint, CheckpointStore, Cursor, DeadLetters, ExpectedVersion, NewEvent, Parked};

fn event(name: &str) -> NewEvent {
    NewEvent::new(name, 1, serde_json::json!({ "n": 1 }))
}

/// Names that sort differently by bytes than by a language's collation, and that hold LIKE's
/// wildcards, a case difference and non-ASCII text.
const STREAMS: &[(&str, &[&str])] = &[
    ("Acct-b", &["Opened", "deposited"]),
    ("Acct-a", &["Opened"]),
    ("acct-c", &["Opened"]),
    ("Acct_x", &["Closed"]),
    ("Acct%y", &["Closed"]),
    ("Ünïcode-1", &["deposited", "deposited", "Opened"]),
];

/// The names and versions of `streams`.
fn versions(streams: &[StreamInfo]) -> Vec<(&str, u64)> {
    streams.iter().map(|s| (s.stream.as_str(), s.version)).collect()
}

/// An empty store lists nothing; then every list holds what was stored, sorted by bytes, and a
/// stream prefix matches literally (no wildcards, case kept).
pub async fn lists_what_is_stored<S: Inspect + CheckpointStore + DeadLetters>(store: S) {
    assert!(store.streams("").await.expect("streams").is_empty(), "a fresh store has no streams");
    assert!(store.event_names().await.expect("event names").is_empty(), "nor event names");
    assert!(store.checkpoint_names().await.expect("checkpoints").is_empty(), "nor checkpoints");
    assert!(store.parked_consumers().await.expect("parked").is_empty(), "nor parked events");
    let version = store.schema_version().await.expect("schema version");
    assert!(version.is_none_or(|v| v > 0), "a store with a schema has a version: {version:?}");

    for (stream, names) in STREAMS {
        let events = names.iter().map(|n| event(n)).collect();
        store.append(stream, ExpectedVersion::NoStream, events).await.expect("append");
    }
    let all = store.streams("").await.expect("streams");
    assert_eq!(
        versions(&all),
        [("Acct%y", 1), ("Acct-a", 1), ("Acct-b", 2), ("Acct_x", 1), ("acct-c", 1), ("Ünïcode-1", 3)],
        "every stream, by bytes, with its version"
    );
    let listed = |prefix: &'static str| {
        let store = store.clone();
        async move { store.streams(prefix).await.expect("streams by prefix") }
    };
    assert_eq!(versions(&listed("Acct-").await), [("Acct-a", 1), ("Acct-b", 2)], "case kept, no wildcard");
    assert_eq!(versions(&listed("Acct_").await), [("Acct_x", 1)], "`_` is no wildcard");
    assert_eq!(versions(&listed("Acct%").await), [("Acct%y", 1)], "`%` is no wildcard");
    assert_eq!(versions(&listed("Ünï").await), [("Ünïcode-1", 3)], "non-ASCII prefixes");
    assert_eq!(versions(&listed("Acct-b").await), [("Acct-b", 2)], "a whole name is a prefix");
    assert!(listed("Acct-bb").await.is_empty(), "a longer prefix matches nothing");

    let last = store.read_stream("Ünïcode-1", 3, 1).await.expect("read").remove(0);
    let unicode = all.iter().find(|s| s.stream == "Ünïcode-1").expect("listed");
    assert_eq!(unicode.last_recorded, last.recorded_at, "the time of the stream's last event");
    assert!(unicode.last_recorded <= SystemTime::now());

    let count = |name: &str, events| NameCount { name: name.to_owned(), events };
    assert_eq!(
        store.event_names().await.expect("event names"),
        [count("Closed", 2), count("Opened", 4), count("deposited", 3)],
        "every name with its count, by bytes"
    );

    for name in ["proj-b", "proj-a", "Proj-c"] {
        let checkpoint = Checkpoint { cursor: Cursor::at(1), state: None, saved_at: SystemTime::now() };
        store.save_checkpoint(name, checkpoint).await.expect("save a checkpoint");
    }
    assert_eq!(store.checkpoint_names().await.expect("checkpoints"), ["Proj-c", "proj-a", "proj-b"]);
    store.delete_checkpoint("proj-a").await.expect("delete");
    assert_eq!(store.checkpoint_names().await.expect("checkpoints"), ["Proj-c", "proj-b"], "deleted");

    let events = store.read_stream("Ünïcode-1", 1, 3).await.expect("read");
    for (reactor, event) in [("mailer", &events[0]), ("mailer", &events[1]), ("Auditor", &events[2])] {
        let parked = Parked {
            reactor: reactor.to_owned(),
            event: event.clone(),
            error: "down".to_owned(),
            attempts: 1,
            parked_at: SystemTime::now(),
        };
        store.park(parked).await.expect("park");
    }
    assert_eq!(store.parked_consumers().await.expect("parked"), ["Auditor", "mailer"], "each once, by bytes");
    store.unpark("Auditor", events[2].id).await.expect("unpark");
    assert_eq!(store.parked_consumers().await.expect("parked"), ["mailer"], "none left for Auditor");
    assert_eq!(store.schema_version().await.expect("schema version"), version, "reading changes nothing");
}
