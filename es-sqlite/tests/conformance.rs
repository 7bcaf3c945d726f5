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

    es_testing::store_conformance!(fresh().await, teardown = remove);
}

mod memory {
    es_testing::store_conformance!(es_sqlite::SqliteStore::in_memory().await.expect("in-memory SQLite"));
}
