//! `MemoryStore` basics. The full conformance suite runs in `es-testing/tests/memory_conformance.rs`.

use es_core::{EventStore, ExpectedVersion, MemoryStore, NewEvent, StoreError};
use serde_json::json;

fn event(n: u64) -> NewEvent {
    NewEvent::new("Numbered", 1, json!({ "n": n }))
}

#[tokio::test]
async fn expected_versions_are_checked() -> Result<(), StoreError> {
    let store = MemoryStore::new();
    store.append("s", ExpectedVersion::NoStream, vec![event(1)]).await?;
    match store.append("s", ExpectedVersion::NoStream, vec![event(2)]).await {
        Err(StoreError::Conflict { stream, expected, actual }) => {
            assert_eq!((stream.as_str(), expected, actual), ("s", ExpectedVersion::NoStream, 1));
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
    store.append("s", ExpectedVersion::Exact(1), vec![event(2)]).await?;
    let appended = store.append("s", ExpectedVersion::Any, vec![event(3), event(4)]).await?;
    assert_eq!(appended.stream_version, 4);
    assert_eq!(appended.events.iter().map(|e| e.position).collect::<Vec<_>>(), [3, 4]);
    Ok(())
}

#[tokio::test]
async fn reads_honour_from_and_limit() -> Result<(), StoreError> {
    let store = MemoryStore::new();
    store.append("a", ExpectedVersion::Any, (1..=5).map(event).collect()).await?;
    store.append("b", ExpectedVersion::Any, vec![event(6)]).await?;
    let page = store.read_stream("a", 2, 2).await?;
    assert_eq!(page.iter().map(|e| e.stream_version).collect::<Vec<_>>(), [2, 3]);
    let all = store.read_all(es_core::Cursor::at(4), 10).await?;
    assert_eq!(all.iter().map(|e| (e.stream.as_str(), e.position)).collect::<Vec<_>>(), [("a", 5), ("b", 6)]);
    assert!(store.read_stream("missing", 1, 10).await?.is_empty());
    Ok(())
}

#[tokio::test]
async fn an_exact_retry_is_acknowledged_once() -> Result<(), StoreError> {
    let store = MemoryStore::new();
    let batch = vec![event(1), event(2)];
    let first = store.append("s", ExpectedVersion::NoStream, batch.clone()).await?;
    let again = store.append("s", ExpectedVersion::NoStream, batch.clone()).await?;
    assert_eq!(first, again);
    assert_eq!(store.len(), 2);
    let partial = vec![batch[0].clone(), event(3)];
    assert!(matches!(
        store.append("s", ExpectedVersion::Any, partial).await,
        Err(StoreError::DuplicateEventId { .. })
    ));
    Ok(())
}
