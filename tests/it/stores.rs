//! The real stores the cross-crate tests run on: a SQLite file in a temporary directory, and a
//! PostgreSQL schema of the test's own (dropped by the test once it passed).

use es_postgres::{PostgresOptions, PostgresStore};
use es_sqlite::SqliteStore;

/// A store in a fresh schema `<prefix>_<uuid>` of the local (or `ES_POSTGRES_URL`) server; the
/// panic says how to start PostgreSQL when it is not running.
pub async fn pg_store(prefix: &str) -> PostgresStore {
    let schema = format!("{prefix}_{}", es_core::Uuid::new_v4().simple());
    let url = es_postgres::url_from_env();
    match PostgresOptions::new().schema(&schema).connect(&url).await {
        Ok(store) => store,
        Err(e) => panic!("this test needs PostgreSQL ({e})\n{}", es_postgres::how_to_start(&url)),
    }
}

/// A store in `name` in a fresh temporary directory (kept as long as the directory is).
pub async fn sqlite_store(name: &str) -> (SqliteStore, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = SqliteStore::open(dir.path().join(name)).await.expect("open the SQLite store");
    (store, dir)
}
