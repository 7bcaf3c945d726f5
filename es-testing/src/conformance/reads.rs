//! Reads: by stream from a version with a limit, all in the global order, visits, big payloads,
//! odd names.

use es_core::{Cursor, EventStore, ExpectedVersion, Lend, StoreError};

use super::{batch, read_all_settled};

/// `read_stream` honours `from` and `limit`, and a missing stream reads empty.
pub async fn read_stream_from_and_limit<S: EventStore>(store: S) {
    store.append("rs", ExpectedVersion::Any, batch(1, 10)).await.expect("append");
    store.append("rs-other", ExpectedVersion::Any, batch(1, 3)).await.expect("append");
    let versions = |v: Vec<es_core::StoredEvent>| v.iter().map(|e| e.stream_version).collect::<Vec<_>>();
    assert_eq!(versions(store.read_stream("rs", 4, 3).await.expect("read")), [4, 5, 6]);
    assert_eq!(versions(store.read_stream("rs", 9, 100).await.expect("read")), [9, 10]);
    assert_eq!(versions(store.read_stream("rs", 11, 100).await.expect("read")), Vec::<u64>::new());
    assert_eq!(
        versions(store.read_stream("rs", 0, 2).await.expect("read")),
        [1, 2],
        "from 0 reads from the start"
    );
    assert!(store.read_stream("rs", 1, 0).await.expect("read").is_empty(), "limit 0 reads nothing");
    assert!(store.read_stream("nope", 1, 10).await.expect("read").is_empty());
    let all = store.read_stream("rs", 1, 100).await.expect("read");
    assert!(all.iter().all(|e| e.stream == "rs"), "read_stream returns only its stream");
}

/// `read_all` returns every stream's events in the global order, after a cursor, with a limit;
/// one writer's appends get positions 1, 2, 3, ... in the order they were made.
pub async fn read_all_in_global_order<S: EventStore>(store: S) {
    for round in 0..3 {
        for stream in ["ra-a", "ra-b", "ra-c"] {
            store.append(stream, ExpectedVersion::Any, batch(round, 2)).await.expect("append");
        }
    }
    let all = read_all_settled(&store, 18).await;
    assert!(store.read_all(Cursor::START, 1000).await.expect("read_all").len() == 18, "18 events, no more");
    let positions: Vec<u64> = all.iter().map(|e| e.position).collect();
    assert_eq!(positions, (1..=18).collect::<Vec<_>>(), "positions of a single writer are 1..=18");
    assert!(all.windows(2).all(|w| w[0].cursor < w[1].cursor), "cursors rise in the order read");
    assert!(all.iter().all(|e| e.cursor.position() == e.position), "a cursor carries its position");
    let page = store.read_all(all[3].cursor, 4).await.expect("read_all");
    assert_eq!(page.iter().map(|e| e.position).collect::<Vec<_>>(), [5, 6, 7, 8], "after the 4th");
    assert!(store.read_all(all[17].cursor, 10).await.expect("read_all").is_empty());
    assert_eq!(store.head().await.expect("head"), all[17].cursor, "the head is the last cursor");
    let first = &all[0];
    assert_eq!((first.stream.as_str(), first.stream_version), ("ra-a", 1));
}

/// A 1 MiB payload is stored and read back intact.
pub async fn large_payloads<S: EventStore>(store: S) {
    let text: String = (0..(1 << 20)).map(|i| char::from(b'a' + (i % 26) as u8)).collect();
    let event = es_core::NewEvent::new("Big", 1, serde_json::json!({ "text": text }));
    store.append("big", ExpectedVersion::NoStream, vec![event]).await.expect("append a 1 MiB payload");
    let read = store.read_stream("big", 1, 1).await.expect("read");
    let value: serde_json::Value = serde_json::from_str(read[0].payload.get()).expect("JSON");
    assert_eq!(value["text"].as_str().map(str::len), Some(1 << 20), "the 1 MiB payload round trips");
    assert_eq!(value["text"].as_str(), Some(text.as_str()));
}

/// Stream names with quotes, unicode and SQL-looking text are stored verbatim and kept apart.
pub async fn odd_stream_names<S: EventStore>(store: S) {
    let names = [
        "Account-o'brien",
        "Account-\"quoted\"",
        "Account-'; DROP TABLE events; --",
        "Account-ünïcødé-名前-🦀",
        "Account-%_\\",
        "Account- spaced ",
    ];
    for (i, name) in names.iter().enumerate() {
        store.append(name, ExpectedVersion::NoStream, batch(i as u64, i as u64 + 1)).await.expect("append");
    }
    for (i, name) in names.iter().enumerate() {
        let read = store.read_stream(name, 1, 100).await.expect("read");
        assert_eq!(read.len(), i + 1, "stream {name:?} holds its own events only");
        assert!(read.iter().all(|e| e.stream == *name), "stream {name:?} is stored verbatim");
    }
    assert!(store.read_stream("Account-%", 1, 100).await.expect("read").is_empty(), "names are not patterns");
}

/// `visit_stream` and `visit_all` lend exactly what `read_stream` and `read_all` return.
pub async fn visits_match_reads<S: EventStore>(store: S) {
    for (i, stream) in ["vm-a", "vm-b", "vm-a"].iter().enumerate() {
        let meta = es_core::Metadata::default().with("n", i.to_string());
        let events = batch(i as u64 * 10, 3).into_iter().map(|e| e.with_metadata(meta.clone())).collect();
        store.append(stream, ExpectedVersion::Any, events).await.expect("append");
    }
    let all = read_all_settled(&store, 9).await;
    let after = all[0].cursor;
    let read = store.read_all(after, 6).await.expect("read_all");
    assert_eq!(read.as_slice(), &all[1..7], "read_all after a cursor reads on from it");
    let mut visited = Vec::new();
    let n = store
        .visit_all(after, 6, |e| {
            visited.push(e.to_stored().expect("a stored payload is JSON"));
            Ok(())
        })
        .await
        .expect("visit_all");
    assert_eq!((n, &visited), (6, &read), "visit_all lends what read_all returns");

    let read = store.read_stream("vm-a", 2, 10).await.expect("read_stream");
    assert_eq!(read.len(), 5);
    let mut visited = Vec::new();
    store
        .visit_stream("vm-a", 2, 10, Lend::All, |e| {
            visited.push(e.to_stored().expect("a stored payload is JSON"));
            Ok(())
        })
        .await
        .expect("visit_stream");
    assert_eq!(visited, read, "visit_stream lends what read_stream returns");
    assert!(read.iter().all(|e| e.metadata.extra.contains_key("n")), "metadata is lent with the record");
    let mut decodable = Vec::new();
    store
        .visit_stream("vm-a", 2, 10, Lend::ForDecoding, |e| {
            decodable.push((
                e.stream.to_owned(),
                e.stream_version,
                e.position,
                e.cursor,
                e.name.to_owned(),
                e.schema_version,
                e.payload.to_owned(),
            ));
            Ok(())
        })
        .await
        .expect("visit_stream for decoding");
    let expected: Vec<_> = read
        .iter()
        .map(|e| {
            (
                e.stream.clone(),
                e.stream_version,
                e.position,
                e.cursor,
                e.name.clone(),
                e.schema_version,
                e.payload.get().to_owned(),
            )
        })
        .collect();
    assert_eq!(decodable, expected, "a visit for decoding lends what decoding needs");
    let stop =
        store.visit_stream("vm-a", 1, 10, Lend::All, |_| Err(StoreError::backend("test", "stop"))).await;
    assert!(stop.is_err(), "an error from the visitor stops the visit and is returned");
}
