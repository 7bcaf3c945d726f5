//! `AnyStore` by URL: `memory:`, `sqlite:` (a file in a temporary directory) and `postgres://`
//! (a schema of the test's own) each pass the store conformance suite and the `Inspect` checks
//! through it; URLs and access modes open what they say, with errors that say what is wrong.

use std::path::PathBuf;

use es_cli::{Access, AnyOptions, AnyStore, OpenError};
use es_core::inspect::Inspect;
use es_core::{EventStore, ExpectedVersion, NewEvent, Turn, Turns};

use es_testing::conformance::inspect as inspect_checks;

/// A store in a new temporary directory, opened by URL (created, as an application does).
async fn sqlite_store() -> AnyStore {
    let dir = tempfile::tempdir().expect("a temporary directory").keep();
    AnyStore::open(&format!("sqlite:{}", dir.join("events.db").display())).await.expect("open sqlite: by URL")
}

fn sqlite_path(store: &AnyStore) -> PathBuf {
    match store {
        AnyStore::Sqlite(s) => s.path().expect("a file store").to_owned(),
        other => panic!("sqlite: opened {other:?}"),
    }
}

/// The store's file and directory removed, once it passed.
async fn remove_sqlite(store: AnyStore) {
    let path = sqlite_path(&store);
    store.close().await;
    if let Some(dir) = path.parent() {
        std::fs::remove_dir_all(dir).expect("remove the temporary directory");
    }
}

/// A store in a fresh schema of the local (or `ES_POSTGRES_URL`) server, opened by URL.
async fn pg_store() -> AnyStore {
    let url = es_postgres::url_from_env();
    let schema = format!("any_{}", es_core::Uuid::new_v4().simple());
    match AnyOptions::new().schema(&schema).access(Access::Create).open(&url).await {
        Ok(store) => store,
        Err(e) => panic!("this test needs PostgreSQL ({e})\n{}", es_postgres::how_to_start(&url)),
    }
}

fn pg_schema(store: &AnyStore) -> String {
    match store {
        AnyStore::Postgres(s) => s.schema_name().to_owned(),
        other => panic!("postgres:// opened {other:?}"),
    }
}

async fn drop_pg(store: AnyStore) {
    match store {
        AnyStore::Postgres(s) => s.drop_schema().await.expect("drop the test schema"),
        other => panic!("postgres:// opened {other:?}"),
    }
}

mod memory {
    es_testing::store_conformance!(es_cli::AnyStore::open("memory:").await.expect("open memory:"));

    /// Tags and conditional appends through `AnyStore`, and through a `CountingStore` wrapping
    /// it (its forwarding is one line of `forward_store_traits!`).
    mod boundaries {
        es_testing::boundary_conformance!(es_cli::AnyStore::open("memory:").await.expect("open memory:"));
    }

    mod counted_boundaries {
        es_testing::boundary_conformance!(es_testing::CountingStore::new(es_core::MemoryStore::new()));
    }
}

mod sqlite {
    use es_cli::AnyStore;

    /// The same file opened again by URL, as a restarted process would.
    async fn reopen(store: AnyStore) -> AnyStore {
        let url = format!("sqlite:{}", super::sqlite_path(&store).display());
        AnyStore::open(&url).await.expect("reopen")
    }

    es_testing::store_conformance!(
        super::sqlite_store().await,
        reopen = reopen,
        teardown = super::remove_sqlite
    );
}

mod postgres {
    use es_cli::{Access, AnyOptions, AnyStore};

    /// The same schema opened again by URL, for writing (checked, not migrated).
    async fn reopen(store: AnyStore) -> AnyStore {
        let options = AnyOptions::new().schema(super::pg_schema(&store)).access(Access::Write);
        options.open(&es_postgres::url_from_env()).await.expect("reopen")
    }

    es_testing::store_conformance!(super::pg_store().await, reopen = reopen, teardown = super::drop_pg);

    mod boundaries {
        es_testing::boundary_conformance!(super::super::pg_store().await, teardown = super::super::drop_pg);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inspect_lists_on_memory() {
    let store = AnyStore::open("memory:").await.expect("open");
    assert_eq!(store.backend(), "memory");
    inspect_checks::lists_what_is_stored(store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inspect_lists_on_sqlite() {
    let store = sqlite_store().await;
    assert_eq!(store.backend(), "sqlite");
    inspect_checks::lists_what_is_stored(store.clone()).await;
    remove_sqlite(store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inspect_lists_on_postgres() {
    let store = pg_store().await;
    assert_eq!(store.backend(), "postgres");
    inspect_checks::lists_what_is_stored(store.clone()).await;
    drop_pg(store).await;
}

/// Turns go to the store held: a command's turn appends inside it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn turns_through_any_store() {
    for store in [AnyStore::open("memory:").await.expect("open"), sqlite_store().await, pg_store().await] {
        let _local = store.local_queue("Turned-1").wait().await;
        let mut turn = store.take_turn("Turned-1").await.expect("take a turn");
        let e = NewEvent::new("Turned", 1, serde_json::json!({}));
        turn.append(ExpectedVersion::NoStream, vec![e]).await.expect("append in the turn");
        turn.finish().await.expect("finish");
        let streams = store.streams("Turned-").await.expect("streams");
        assert_eq!(streams.len(), 1, "{}: the turn's append is stored", store.backend());
        match store.backend() {
            "sqlite" => remove_sqlite(store).await,
            "postgres" => drop_pg(store).await,
            _ => {}
        }
    }
}

/// Each access opens what it says: reading never creates or writes, writing needs an existing
/// store, migrating reports the versions.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn urls_and_access_modes() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("bank.db");
    let url = format!("sqlite:{}", path.display());
    for access in [Access::Read, Access::Write, Access::Migrate] {
        let refused = AnyOptions::new().access(access).open(&url).await;
        assert!(matches!(refused, Err(OpenError::NoFile { .. })), "{access:?} creates nothing: {refused:?}");
        assert!(!path.exists(), "{access:?} created the file");
    }
    let created = AnyStore::open(&url).await.expect("create");
    let e = NewEvent::new("Opened", 1, serde_json::json!({}));
    created.append("Account-1", ExpectedVersion::NoStream, vec![e]).await.expect("append");
    created.close().await;

    let read = AnyOptions::new().open(&url).await.expect("open read-only");
    let e = NewEvent::new("Opened", 1, serde_json::json!({}));
    assert!(read.append("Account-2", ExpectedVersion::NoStream, vec![e]).await.is_err(), "read-only");
    assert_eq!(read.streams("").await.expect("streams").len(), 1);
    read.close().await;

    let migrated = AnyOptions::new().migrate(&url).await.expect("migrate");
    let version = Some(es_sqlite::SCHEMA_VERSION);
    assert_eq!((migrated.from, migrated.to), (version, version), "up to date already");
    migrated.store.close().await;

    let memory = AnyOptions::new().migrate("memory:").await.expect("migrate memory:");
    assert_eq!((memory.from, memory.to), (None, None), "memory has no schema");

    let schema = format!("any_{}", es_core::Uuid::new_v4().simple());
    let pg_url = es_postgres::url_from_env();
    let fresh = AnyOptions::new().schema(&schema).migrate(&pg_url).await.expect("migrate a new schema");
    assert_eq!(fresh.from, None, "the schema did not exist");
    assert!(fresh.to.is_some_and(|v| v > 0), "{:?}", fresh.to);
    drop_pg(fresh.store).await;

    for (url, expected) in [
        ("mysql://somewhere/db", "unknown store URL `mysql://somewhere/db`"),
        ("sqlite:", "sqlite: needs a path"),
        ("memory:x", "unknown store URL `memory:x`"),
    ] {
        let e = AnyStore::open(url).await.expect_err(url);
        assert!(e.to_string().starts_with(expected), "{e}");
    }
}
