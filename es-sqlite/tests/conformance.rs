//! The SQLite store passes the conformance suite: on a file in a temp dir, and in memory.

mod file {
    use es_sqlite::SqliteStore;

    /// A fresh store in a new temporary directory, which the teardown removes.
    async fn fresh() -> SqliteStore {
        let dir = tempfile::tempdir().expect("a temporary directory").keep();
        SqliteStore::open(dir.join("events.db")).await.expect("open")
    }

    async fn remove(store: SqliteStore) {
        store.close().await;
        if let Some(dir) = store.path().and_then(|p| p.parent()) {
            std::fs::remove_dir_all(dir).expect("remove the temporary directory");
        }
    }

    /// The same file opened again, as a restarted process would.
    async fn reopen(store: SqliteStore) -> SqliteStore {
        let path = store.path().expect("a file store").to_owned();
        SqliteStore::open(path).await.expect("reopen")
    }

    es_testing::store_conformance!(fresh().await, reopen = reopen, teardown = remove);
}

/// The suite through a wrapper: `CountingStore` forwards every capability of SQLite's store.
mod counting {
    use es_testing::CountingStore;

    es_testing::store_conformance!(CountingStore::new(
        es_sqlite::SqliteStore::in_memory().await.expect("in-memory SQLite")
    ));
}

mod memory {
    es_testing::store_conformance!(es_sqlite::SqliteStore::in_memory().await.expect("in-memory SQLite"));
}
