//! Tampering with stored history by SQL, as someone with write access to the database but
//! without the application would: each change is found by `verify`, at the event where it was
//! made, on SQLite and on PostgreSQL; untouched streams still verify. Stores migrated from before
//! the chain get theirs.

use es_core::integrity::{verify_all, verify_stream, BreakKind, Links};
use es_core::{EventStore, ExpectedVersion, Metadata, NewEvent};

use crate::stores::{pg_store, sqlite_store};

/// Ten events in each stream; version 2 carries metadata.
async fn fill<S: EventStore>(store: &S, streams: &[&str]) {
    for stream in streams {
        let events = (1..=10u64)
            .map(|n| {
                let e = NewEvent::new("Numbered", 1, serde_json::json!({ "n": n * 11 }));
                if n == 2 {
                    e.with_metadata(Metadata::default().with("who", "ann"))
                } else {
                    e
                }
            })
            .collect();
        store.append(stream, ExpectedVersion::NoStream, events).await.expect("append");
    }
}

const STREAMS: [&str; 7] = ["t-clean", "t-edit", "t-del", "t-ins", "t-swap", "t-meta", "t-hash"];

/// The SQL of each tampering, in a dialect where `{t}` is the events table.
fn tamperings(pg: bool) -> Vec<String> {
    let json = if pg { "::json" } else { "" };
    let text = if pg { "::text" } else { "" };
    let renumber = |stream: &str, from: u64, by: i64| {
        [
            format!("UPDATE {{t}} SET stream_version = -stream_version WHERE stream = '{stream}' AND stream_version >= {from}"),
            format!("UPDATE {{t}} SET stream_version = -stream_version + {by} WHERE stream = '{stream}' AND stream_version < 0"),
        ]
    };
    let insert_columns = if pg {
        "(commit_no, stream, stream_version, event_id, name, schema_version, payload, metadata, recorded_at, recorded_us, hash)
         SELECT commit_no, stream, 5, gen_random_uuid(), name, schema_version, payload, metadata, recorded_at, recorded_us, hash"
    } else {
        "(stream, stream_version, event_id, name, schema_version, payload, metadata, recorded_at, hash)
         SELECT stream, 5, '00000000-0000-4000-8000-000000000005', name, schema_version, payload, metadata, recorded_at, hash"
    };
    let [down, up] = renumber("t-ins", 5, 1);
    let mut sql = vec![
        // One byte of a payload: 44 -> 45.
        format!("UPDATE {{t}} SET payload = replace(payload{text}, '44', '45'){json} WHERE stream = 't-edit' AND stream_version = 4"),
        "DELETE FROM {t} WHERE stream = 't-del' AND stream_version = 5".to_owned(),
        down,
        up,
        format!("INSERT INTO {{t}} {insert_columns} FROM {{t}} WHERE stream = 't-ins' AND stream_version = 4"),
        // Versions 3 and 4 trade places.
        "UPDATE {t} SET stream_version = -3 WHERE stream = 't-swap' AND stream_version = 3".to_owned(),
        "UPDATE {t} SET stream_version = 3 WHERE stream = 't-swap' AND stream_version = 4".to_owned(),
        "UPDATE {t} SET stream_version = 4 WHERE stream = 't-swap' AND stream_version = -3".to_owned(),
        format!("UPDATE {{t}} SET metadata = replace(metadata{text}, 'ann', 'eve'){json} WHERE stream = 't-meta' AND stream_version = 2"),
    ];
    // A stored hash replaced by one byte.
    sql.push(if pg {
        "UPDATE {t} SET hash = '\\x00' WHERE stream = 't-hash' AND stream_version = 7".to_owned()
    } else {
        "UPDATE {t} SET hash = x'00' WHERE stream = 't-hash' AND stream_version = 7".to_owned()
    });
    sql
}

/// What verification must find, per stream: (kind, version).
fn expected() -> Vec<(&'static str, BreakKind, u64)> {
    vec![
        ("t-edit", BreakKind::Edited, 4),
        ("t-del", BreakKind::Deleted { from: 5, to: 5 }, 6),
        ("t-ins", BreakKind::Inserted, 5),
        ("t-swap", BreakKind::Reordered, 3),
        ("t-meta", BreakKind::Edited, 2),
        ("t-hash", BreakKind::Edited, 7),
    ]
}

async fn every_tampering_is_found<S: Links>(store: &S) {
    let report = verify_all(store, |_| {}).await.expect("verify_all");
    let mut found: Vec<_> =
        report.breaks.iter().map(|b| (b.stream.as_str(), b.kind.clone(), b.version)).collect();
    found.sort_by(|a, b| a.0.cmp(b.0));
    let mut want = expected();
    want.sort_by(|a, b| a.0.cmp(b.0));
    assert_eq!(found, want, "each tampering, found where it was made: {:#?}", report.breaks);
    for (stream, kind, version) in expected() {
        let check = verify_stream(store, stream).await.expect("verify_stream");
        let broken = check.broken.unwrap_or_else(|| panic!("{stream} verifies after tampering"));
        assert_eq!((&broken.kind, broken.version), (&kind, version), "{stream}: {broken}");
        assert!(check.head.is_none(), "a broken stream reports no head");
    }
    let clean = verify_stream(store, "t-clean").await.expect("verify_stream");
    assert_eq!((clean.events, clean.broken), (10, None), "the untouched stream still verifies");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_tampering_is_found() {
    let (store, dir) = sqlite_store("tamper.db").await;
    fill(&store, &STREAMS).await;
    let raw = sqlx::SqlitePool::connect(&format!("sqlite:{}", dir.path().join("tamper.db").display()))
        .await
        .expect("connect");
    for sql in tamperings(false) {
        sqlx::query(&sql.replace("{t}", "events"))
            .execute(&raw)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
    every_tampering_is_found(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_tampering_is_found() {
    let store = pg_store("es_tamper").await;
    fill(&store, &STREAMS).await;
    let table = format!("{}.es_events", store.schema());
    for sql in tamperings(true) {
        sqlx::query(&sql.replace("{t}", &table))
            .execute(store.pool())
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
    every_tampering_is_found(&store).await;
    store.drop_schema().await.expect("drop the test schema");
}

/// 100,000 events in 100 streams, appended in batches of every size from 1 to 1,000.
async fn a_large_clean_store_verifies<S: Links>(store: &S) {
    let mut size = 1;
    let (mut total, mut call) = (0u64, 0);
    while total < 100_000 {
        let n = size.min(100_000 - total);
        let stream = format!("big-{}", call % 100);
        call += 1;
        let events =
            (0..n).map(|i| NewEvent::new("Numbered", 1, serde_json::json!({ "n": total + i }))).collect();
        store.append(&stream, ExpectedVersion::Any, events).await.expect("append");
        total += n;
        size = size % 1_000 + 37;
    }
    let report = verify_all(store, |_| {}).await.expect("verify_all");
    assert_eq!((report.events, report.streams, report.breaks), (100_000, 100, vec![]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_100_000_clean_events_verify() {
    let (store, _dir) = sqlite_store("big.db").await;
    a_large_clean_store_verifies(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_100_000_clean_events_verify() {
    let store = pg_store("es_verify").await;
    a_large_clean_store_verifies(&store).await;
    store.drop_schema().await.expect("drop the test schema");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_events_stored_before_the_chain_get_theirs() {
    let (store, dir) = sqlite_store("old.db").await;
    fill(&store, &["old-a", "old-b"]).await;
    let path = dir.path().join("old.db");
    let raw = sqlx::SqlitePool::connect(&format!("sqlite:{}", path.display())).await.expect("connect");
    // As a store of schema 5 left them: no hashes.
    sqlx::query("UPDATE events SET hash = NULL").execute(&raw).await.expect("unhash");
    assert!(
        verify_all(&store, |_| {}).await.expect("verify").breaks.len() == 2,
        "without hashes, nothing verifies"
    );
    sqlx::query("ALTER TABLE events DROP COLUMN hash").execute(&raw).await.expect("drop the column");
    sqlx::query("DROP TABLE personal_keys").execute(&raw).await.expect("drop the later table");
    sqlx::query("PRAGMA user_version = 5").execute(&raw).await.expect("downgrade");
    raw.close().await;
    drop(store);
    let store = es_sqlite::SqliteStore::open(&path).await.expect("reopen and migrate");
    let report = verify_all(&store, |_| {}).await.expect("verify");
    assert_eq!((report.events, report.breaks), (20, vec![]), "the migration chained the stored events");
    store
        .append("old-a", ExpectedVersion::Exact(10), vec![NewEvent::new("N", 1, serde_json::json!({}))])
        .await
        .expect("append");
    assert_eq!(
        verify_stream(&store, "old-a").await.expect("verify").broken,
        None,
        "appends go on from the chain"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_events_stored_before_the_chain_get_theirs() {
    let store = pg_store("es_oldchain").await;
    fill(&store, &["old-a", "old-b"]).await;
    let s = store.schema();
    for sql in [
        format!("ALTER TABLE {s}.es_events DROP COLUMN hash"),
        format!("DROP FUNCTION {s}.es_link_hash"),
        format!("DROP TABLE {s}.es_personal_keys"),
        format!("DELETE FROM {s}.es_migrations WHERE version >= 9"),
    ] {
        sqlx::query(&sql).execute(store.pool()).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
    let store = es_postgres::PostgresOptions::new()
        .schema(store.schema_name())
        .connect(&es_postgres::url_from_env())
        .await
        .expect("reopen and migrate");
    let report = verify_all(&store, |_| {}).await.expect("verify");
    assert_eq!((report.events, report.breaks), (20, vec![]), "the migration chained the stored events");
    store
        .append("old-a", ExpectedVersion::Exact(10), vec![NewEvent::new("N", 1, serde_json::json!({}))])
        .await
        .expect("append");
    assert_eq!(
        verify_stream(&store, "old-a").await.expect("verify").broken,
        None,
        "appends go on from the chain"
    );
    store.drop_schema().await.expect("drop the test schema");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_verified_refuses_a_tampered_stream() {
    use crate::domain::{Account, Deposit, Open};
    let (store, dir) = sqlite_store("bank.db").await;
    let accounts = es_core::Repository::<Account, _>::new(store.clone());
    accounts.execute("ann", Open { owner: "ann".into() }).await.expect("open");
    accounts.execute("ann", Deposit { amount: 10 }).await.expect("deposit");
    assert_eq!(accounts.load_verified("ann").await.expect("an intact stream loads").state.balance, 10);
    let raw = sqlx::SqlitePool::connect(&format!("sqlite:{}", dir.path().join("bank.db").display()))
        .await
        .expect("connect");
    sqlx::query("UPDATE events SET payload = replace(payload, '10', '99') WHERE stream_version = 2")
        .execute(&raw)
        .await
        .expect("tamper");
    assert_eq!(accounts.load("ann").await.expect("load does not verify").state.balance, 99);
    match accounts.load_verified("ann").await {
        Err(es_core::StoreError::Tampered(b)) => {
            assert_eq!((b.stream.as_str(), b.version, b.kind), ("Account-ann", 2, BreakKind::Edited));
        }
        other => panic!("a tampered stream must not load verified: {other:?}"),
    }
}
