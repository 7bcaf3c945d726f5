//! Appends: expected versions, atomic batches, idempotent retries, what is kept with an event.

use std::time::{Duration, SystemTime};

use es_core::{EventStore, ExpectedVersion, Metadata, StoreError, Uuid};

use super::{batch, numbered, show};

async fn conflict<S: EventStore>(store: &S, stream: &str, expected: ExpectedVersion, actual: u64) {
    match store.append(stream, expected, vec![numbered(99)]).await {
        Err(StoreError::Conflict { stream: s, expected: e, actual: a }) => {
            assert_eq!(s, stream, "the conflict must name the stream appended to");
            assert_eq!(e, expected, "the conflict must carry the expected version");
            assert_eq!(a, actual, "the conflict must carry the stream's actual version");
        }
        other => panic!(
            "append to `{stream}` expecting {} at version {actual}: expected a Conflict, got {other:?}",
            show(expected)
        ),
    }
}

/// `Any`, `NoStream`, `Exact(n)` (and `Exact(0)` as `NoStream`), with the conflict's contents.
pub async fn expected_versions<S: EventStore>(store: S) {
    let ok = |r: Result<es_core::Appended, StoreError>, what: &str| match r {
        Ok(a) => a,
        Err(e) => panic!("{what}: {e}"),
    };
    ok(store.append("ev-a", ExpectedVersion::NoStream, batch(1, 1)).await, "NoStream on a new stream");
    conflict(&store, "ev-a", ExpectedVersion::NoStream, 1).await;
    conflict(&store, "ev-a", ExpectedVersion::Exact(0), 1).await;
    conflict(&store, "ev-a", ExpectedVersion::Exact(2), 1).await;
    conflict(&store, "ev-missing", ExpectedVersion::Exact(3), 0).await;
    let a = ok(store.append("ev-a", ExpectedVersion::Exact(1), batch(2, 2)).await, "Exact(1) at version 1");
    assert_eq!(a.stream_version, 3, "the append must report the stream's new version");
    ok(store.append("ev-b", ExpectedVersion::Exact(0), batch(1, 1)).await, "Exact(0) on a new stream");
    let a = ok(store.append("ev-a", ExpectedVersion::Any, batch(4, 1)).await, "Any");
    assert_eq!(a.stream_version, 4);
    let empty = ok(store.append("ev-a", ExpectedVersion::Exact(4), vec![]).await, "an empty append");
    assert_eq!((empty.stream_version, empty.events.len()), (4, 0), "an empty append records nothing");
    let read = store.read_stream("ev-a", 1, 100).await.expect("read_stream");
    assert_eq!(read.len(), 4, "conflicting appends must store nothing");
}

/// Versions start at 1 and have no gaps, over several appends and streams.
pub async fn versions_start_at_one_without_gaps<S: EventStore>(store: S) {
    for (stream, sizes) in [("gap-a", [1, 3, 2]), ("gap-b", [2, 1, 4])] {
        for n in sizes {
            store.append(stream, ExpectedVersion::Any, batch(0, n)).await.expect("append");
        }
        let versions: Vec<u64> =
            store.read_stream(stream, 1, 100).await.expect("read").iter().map(|e| e.stream_version).collect();
        assert_eq!(versions, (1..=versions.len() as u64).collect::<Vec<_>>(), "versions of `{stream}`");
    }
    let all = super::read_all_settled(&store, 13).await;
    let positions: Vec<u64> = all.iter().map(|e| e.position).collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "positions must increase: {positions:?}");
    assert_eq!(positions.first(), Some(&1), "positions start at 1");
}

/// A batch with one event the store must refuse (its id is stored elsewhere) leaves nothing.
pub async fn atomic_batches<S: EventStore>(store: S) {
    let taken = numbered(0);
    store.append("atomic-other", ExpectedVersion::Any, vec![taken.clone()]).await.expect("append");
    store.append("atomic", ExpectedVersion::NoStream, batch(1, 2)).await.expect("append");
    let mut poisoned = batch(3, 5);
    poisoned.push(taken.clone().with_id(taken.id));
    poisoned.extend(batch(8, 3));
    let result = store.append("atomic", ExpectedVersion::Exact(2), poisoned).await;
    assert!(
        matches!(result, Err(StoreError::DuplicateEventId { id, .. }) if id == taken.id),
        "a batch holding an id stored in another stream must fail with DuplicateEventId, got {result:?}"
    );
    let after = store.read_stream("atomic", 1, 100).await.expect("read");
    assert_eq!(after.len(), 2, "a refused batch must leave the stream as it was, found {after:?}");
    let again = store.append("atomic", ExpectedVersion::Exact(2), batch(3, 1)).await.expect("append");
    assert_eq!(again.stream_version, 3, "the version is unchanged after a refused batch");
}

/// KurrentDB's idempotence: an exact retry is acknowledged without duplicates; a partial
/// overlap is an error; new ids with a stale version are a conflict.
pub async fn idempotent_retries<S: EventStore>(store: S) {
    let first = batch(1, 3);
    let done = store.append("idem", ExpectedVersion::NoStream, first.clone()).await.expect("append");
    let retried = store.append("idem", ExpectedVersion::NoStream, first.clone()).await;
    assert_eq!(retried.as_ref().ok(), Some(&done), "an exact retry must acknowledge the original append");
    let any = store.append("idem", ExpectedVersion::Any, first.clone()).await;
    assert_eq!(any.as_ref().ok(), Some(&done), "an exact retry with Any must acknowledge too");
    assert_eq!(store.read_stream("idem", 1, 100).await.expect("read").len(), 3, "a retry must store nothing");

    let mut partial = vec![first[2].clone()];
    partial.extend(batch(4, 1));
    let r = store.append("idem", ExpectedVersion::Exact(3), partial).await;
    assert!(
        matches!(r, Err(StoreError::DuplicateEventId { .. })),
        "a partial overlap is an error, got {r:?}"
    );
    let r = store.append("idem", ExpectedVersion::NoStream, batch(7, 1)).await;
    assert!(
        matches!(r, Err(StoreError::Conflict { .. })),
        "new ids with a stale version conflict, got {r:?}"
    );
    assert_eq!(store.read_stream("idem", 1, 100).await.expect("read").len(), 3);
}

/// Ids, names, schema versions, payloads, metadata and the recorded time come back as written.
pub async fn metadata_and_time_round_trip<S: EventStore>(store: S) {
    let meta = Metadata::default()
        .correlation_id(Uuid::new_v4())
        .causation_id(Uuid::new_v4())
        .with("user", "ann")
        .with("quote's", "\"ü\"");
    let event = es_core::NewEvent::new(
        "Described",
        7,
        serde_json::json!({ "text": "a \"b\" ü", "n": [1, 2.5, null] }),
    )
    .with_metadata(meta.clone());
    let before = SystemTime::now() - Duration::from_secs(5);
    let appended = store.append("meta", ExpectedVersion::Any, vec![event.clone()]).await.expect("append");
    let after = SystemTime::now() + Duration::from_secs(5);
    let read = store.read_stream("meta", 1, 10).await.expect("read");
    let stored = read.first().expect("the event is stored");
    assert_eq!(stored.id, event.id);
    assert_eq!((stored.name.as_str(), stored.schema_version), ("Described", 7));
    let json = |s: &str| serde_json::from_str::<serde_json::Value>(s).expect("stored payload is JSON");
    assert_eq!(json(stored.payload.get()), json(event.payload.get()), "the payload round trips");
    assert_eq!(stored.metadata, meta, "the metadata round trips");
    assert_eq!(stored.recorded_at, appended.events[0].recorded_at, "append and read agree on the time");
    assert!(
        before <= stored.recorded_at && stored.recorded_at <= after,
        "recorded_at is the time of the append"
    );
}
