//! Opening read-only, as `es` inspection commands do: nothing is created or migrated, a missing
//! or outdated schema is a clear error, and nothing can be written.

use es_core::{EventStore, ExpectedVersion, NewEvent};
use es_postgres::{PostgresOptions, PostgresStore};

use crate::{drop_store, fresh_store, url};

fn event() -> NewEvent {
    NewEvent::new("Opened", 1, serde_json::json!({ "owner": "ann" }))
}

async fn version(store: &PostgresStore) -> i32 {
    let sql = format!("SELECT max(version) FROM {}.es_migrations", store.schema());
    sqlx::query_scalar::<_, Option<i32>>(&sql).fetch_one(store.pool()).await.expect("version").unwrap_or(0)
}

async fn set_version(store: &PostgresStore, version: i32) {
    for sql in [
        format!("DELETE FROM {}.es_migrations WHERE version > $1", store.schema()),
        format!("INSERT INTO {}.es_migrations (version) VALUES ($1) ON CONFLICT DO NOTHING", store.schema()),
    ] {
        sqlx::query(&sql).bind(version).execute(store.pool()).await.expect("set the version");
    }
}

#[tokio::test]
async fn a_missing_schema_is_not_created() {
    let probe = fresh_store().await;
    let name = format!("es_test_missing_{}", es_core::Uuid::new_v4().simple());
    let error = PostgresOptions::new().schema(&name).read_only().connect(&url()).await.expect_err("missing");
    assert!(error.to_string().contains(&format!("schema `{name}` does not exist")), "{error}");
    let exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)")
        .bind(&name)
        .fetch_one(probe.pool())
        .await
        .expect("query");
    assert!(!exists, "a read-only opening created the schema");
    drop_store(probe).await;
}

#[tokio::test]
async fn an_older_schema_needs_migrating_and_is_left_alone() {
    let store = fresh_store().await;
    let current = version(&store).await;
    set_version(&store, current - 1).await;
    let options = PostgresOptions::new().schema(store.schema_name()).read_only();
    let error = options.connect(&url()).await.expect_err("older");
    assert!(error.to_string().contains("needs migrating: run `es migrate`"), "{error}");
    assert_eq!(version(&store).await, current - 1, "a read-only opening migrated");

    // A schema with no migrations table at all needs migrating too.
    sqlx::query(&format!("DROP TABLE {}.es_migrations", store.schema()))
        .execute(store.pool())
        .await
        .expect("drop");
    let options = PostgresOptions::new().schema(store.schema_name()).read_only();
    let error = options.connect(&url()).await.expect_err("unversioned");
    assert!(error.to_string().contains("needs migrating: run `es migrate`"), "{error}");
    drop_store(store).await;
}

#[tokio::test]
async fn a_read_write_opening_still_migrates() {
    let store = fresh_store().await;
    let current = version(&store).await;
    set_version(&store, current - 1).await;
    let again = crate::reopen(store).await;
    assert_eq!(version(&again).await, current, "opening read-write applied the missing migration");
    drop_store(again).await;
}

#[tokio::test]
async fn a_newer_schema_is_refused() {
    let store = fresh_store().await;
    set_version(&store, 99).await;
    let options = PostgresOptions::new().schema(store.schema_name()).read_only();
    let error = options.connect(&url()).await.expect_err("newer");
    assert!(error.to_string().contains("the schema has version 99, newer than this program's"), "{error}");
    let options = PostgresOptions::new().schema(store.schema_name());
    let error = options.connect(&url()).await.expect_err("newer");
    assert!(error.to_string().contains("the schema has version 99, newer than this program's"), "{error}");
    drop_store(store).await;
}

#[tokio::test]
async fn a_read_only_store_reads_and_never_writes() {
    let store = fresh_store().await;
    store.append("Account-ann", ExpectedVersion::NoStream, vec![event()]).await.expect("append");
    let reader =
        PostgresOptions::new().schema(store.schema_name()).read_only().connect(&url()).await.expect("open");
    assert_eq!(reader.read_stream("Account-ann", 1, 10).await.expect("read").len(), 1);
    let refused = reader.append("Account-bob", ExpectedVersion::NoStream, vec![event()]).await;
    let error = refused.expect_err("a read-only store appends nothing");
    assert!(error.to_string().contains("read-only transaction"), "{error}");
    assert!(store.read_stream("Account-bob", 1, 10).await.expect("read").is_empty());
    reader.pool().close().await;
    drop_store(store).await;
}
