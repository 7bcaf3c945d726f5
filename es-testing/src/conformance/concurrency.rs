//! Concurrency: racing appends to one stream, and a reader following `read_all` while many
//! writers commit.

use std::collections::HashSet;

use es_core::{Cursor, EventStore, ExpectedVersion, StoreError, Uuid};
use tokio::task::JoinSet;

use super::{batch, numbered};

/// 20 concurrent appends expecting the same version: exactly 1 succeeds, 19 conflict.
pub async fn concurrent_exact_appends<S: EventStore>(store: S) {
    store.append("race", ExpectedVersion::NoStream, batch(0, 1)).await.expect("append");
    let mut tasks = JoinSet::new();
    for i in 0..20 {
        let store = store.clone();
        tasks.spawn(async move { store.append("race", ExpectedVersion::Exact(1), batch(i, 2)).await });
    }
    let (mut ok, mut conflicts) = (0, 0);
    while let Some(result) = tasks.join_next().await {
        match result.expect("task") {
            Ok(a) => {
                ok += 1;
                assert_eq!(
                    a.stream_version, 3,
                    "racing Exact(1) appends: the winner ends at version 3, or a loser overwrote it"
                );
            }
            Err(StoreError::Conflict { actual, .. }) => {
                conflicts += 1;
                assert_eq!(actual, 3, "a losing append must see the winner's version");
            }
            Err(other) => panic!("a racing append failed with something other than a conflict: {other}"),
        }
    }
    assert_eq!((ok, conflicts), (1, 19), "exactly one of 20 racing Exact(1) appends may succeed");
    assert_eq!(store.read_stream("race", 1, 100).await.expect("read").len(), 3);
}

/// 20 concurrent `Any` appends all succeed, with contiguous versions, each told its own.
pub async fn concurrent_any_appends<S: EventStore>(store: S) {
    let mut tasks = JoinSet::new();
    for i in 0..20 {
        let store = store.clone();
        tasks.spawn(async move {
            let events = batch(i * 2, 2);
            let ids: Vec<Uuid> = events.iter().map(|e| e.id).collect();
            (ids, store.append("any", ExpectedVersion::Any, events).await)
        });
    }
    let mut claimed = Vec::new();
    while let Some(result) = tasks.join_next().await {
        let (ids, appended) = result.expect("task");
        let appended = appended.unwrap_or_else(|e| panic!("an Any append failed: {e}"));
        let got: Vec<Uuid> = appended.events.iter().map(|e| e.id).collect();
        assert_eq!(got, ids, "each result names its own events");
        let v: Vec<u64> = appended.events.iter().map(|e| e.stream_version).collect();
        assert_eq!(v[1], v[0] + 1, "one append's events are contiguous");
        claimed.extend(appended.events.iter().map(|e| (e.id, e.stream_version)));
    }
    let stored = store.read_stream("any", 1, 100).await.expect("read");
    assert_eq!(stored.len(), 40, "all 20 appends of 2 events are stored");
    let stored: HashSet<(Uuid, u64)> = stored.iter().map(|e| (e.id, e.stream_version)).collect();
    let claimed: HashSet<(Uuid, u64)> = claimed.into_iter().collect();
    assert_eq!(stored, claimed, "the versions each append reported are where its events are");
}

/// Writers append to many streams while a reader follows `read_all` from its last cursor: the
/// reader sees every committed event exactly once, each stream's in version order, skipping none.
pub async fn readers_never_skip<S: EventStore>(store: S) {
    const WRITERS: u64 = 8;
    const APPENDS: u64 = 40;
    let mut writers = JoinSet::new();
    for w in 0..WRITERS {
        let store = store.clone();
        writers.spawn(async move {
            let mut ids = Vec::new();
            for a in 0..APPENDS {
                let stream = format!("skip-{}", (w * 7 + a) % 5);
                let events = vec![numbered(a), numbered(a + 1)];
                ids.extend(events.iter().map(|e| e.id));
                store.append(&stream, ExpectedVersion::Any, events).await.expect("append");
            }
            ids
        });
    }
    let reader = {
        let store = store.clone();
        tokio::spawn(async move {
            let (mut after, mut seen) = (Cursor::START, Vec::new());
            let mut versions = std::collections::HashMap::<String, u64>::new();
            let total = (WRITERS * APPENDS * 2) as usize;
            let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(120);
            while seen.len() < total {
                let page = store.read_all(after, 64).await.expect("read_all");
                for e in &page {
                    assert!(e.cursor > after, "read_all went back: cursor {} after {after}", e.cursor);
                    let last = versions.insert(e.stream.clone(), e.stream_version).unwrap_or(0);
                    assert_eq!(e.stream_version, last + 1, "`{}` read out of version order", e.stream);
                    after = e.cursor;
                    seen.push(e.id);
                }
                if page.is_empty() {
                    assert!(
                        tokio::time::Instant::now() < deadline,
                        "the reader saw only {} of {total} events",
                        seen.len()
                    );
                    tokio::task::yield_now().await;
                }
            }
            seen
        })
    };
    let mut written = HashSet::new();
    while let Some(ids) = writers.join_next().await {
        written.extend(ids.expect("writer"));
    }
    let seen = reader.await.expect("reader");
    let unique: HashSet<Uuid> = seen.iter().copied().collect();
    assert_eq!(unique.len(), seen.len(), "the reader saw an event twice");
    assert_eq!(unique, written, "the reader must see exactly the committed events");
}

/// A subscription from the start sees the history, then events committed while it follows,
/// each exactly once, in the global order, with nothing lost at the switch from history to live.
pub async fn subscription_follows_without_gap<S: EventStore + Unpin>(store: S) {
    let history = batch(0, 30);
    let mut written: HashSet<Uuid> = history.iter().map(|e| e.id).collect();
    store.append("sub-history", ExpectedVersion::Any, history).await.expect("append");
    let mut subscription = es_core::subscribe(store.clone(), Cursor::START);
    let mut writers = JoinSet::new();
    for w in 0..4u64 {
        let store = store.clone();
        writers.spawn(async move {
            let mut ids = Vec::new();
            for a in 0..20 {
                let events = vec![numbered(w * 100 + a)];
                ids.push(events[0].id);
                store.append(&format!("sub-live-{w}"), ExpectedVersion::Any, events).await.expect("append");
                tokio::task::yield_now().await;
            }
            ids
        });
    }
    let (mut seen, mut last) = (HashSet::new(), Cursor::START);
    let deadline = std::time::Duration::from_secs(60);
    while seen.len() < 110 {
        let event = tokio::time::timeout(deadline, subscription.next_event())
            .await
            .unwrap_or_else(|_| panic!("the subscription stalled after {} of 110 events", seen.len()))
            .expect("subscription");
        assert!(event.cursor > last, "cursor {} came after {last}", event.cursor);
        last = event.cursor;
        assert!(seen.insert(event.id), "event at position {} delivered twice", event.position);
    }
    while let Some(ids) = writers.join_next().await {
        written.extend(ids.expect("writer"));
    }
    assert_eq!(seen, written, "the subscription delivers exactly the committed events");
}
