//! Tests against a real PostgreSQL: `ES_POSTGRES_URL`, by default the local server.

mod conformance;
mod order;
mod projections;
mod snapshots;

use es_postgres::{PostgresOptions, PostgresStore};

/// The server the tests use.
pub fn url() -> String {
    std::env::var("ES_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

/// A store in a fresh schema of its own, so runs and tests never collide.
pub async fn fresh_store() -> PostgresStore {
    let schema = format!("es_test_{}", es_core::Uuid::new_v4().simple());
    match PostgresOptions::new().schema(schema).max_connections(24).connect(&url()).await {
        Ok(store) => store,
        Err(e) => panic!(
            "PostgreSQL is needed for these tests and is not reachable: {e}\n\
             Start the local server with `pg_ctlcluster --skip-systemctl-redirect 15 main start`, \
             or point ES_POSTGRES_URL at another (currently {}).",
            es_postgres::redact(&url())
        ),
    }
}

/// Drops a test's schema after it passed.
pub async fn drop_store(store: PostgresStore) {
    store.drop_schema().await.expect("drop the test schema");
    store.pool().close().await;
}
