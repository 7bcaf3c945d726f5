//! Tests against a real PostgreSQL: `ES_POSTGRES_URL`, by default the local server.

mod beside;
mod boundaries;
mod conformance;
mod isolation;
mod order;
mod projections;
mod read_only;
mod roles;
mod schema_names;
mod sessions;
mod snapshots;
mod table_faults;
mod table_store_faults;

use es_postgres::{PostgresOptions, PostgresStore};

/// The server the tests use.
pub fn url() -> String {
    es_postgres::url_from_env()
}

/// A store in a fresh schema of its own, so runs and tests never collide.
pub async fn fresh_store() -> PostgresStore {
    let schema = format!("es_test_{}", es_core::Uuid::new_v4().simple());
    match PostgresOptions::new().schema(schema).max_connections(24).connect(&url()).await {
        Ok(store) => store,
        Err(e) => panic!("these tests need PostgreSQL ({e})\n{}", es_postgres::how_to_start(&url())),
    }
}

/// The same store opened again, as a restarted process would.
pub async fn reopen(store: PostgresStore) -> PostgresStore {
    PostgresOptions::new().schema(store.schema_name()).connect(&url()).await.expect("reopen the schema")
}

/// Drops a test's schema after it passed.
pub async fn drop_store(store: PostgresStore) {
    store.drop_schema().await.expect("drop the test schema");
    store.pool().close().await;
}
