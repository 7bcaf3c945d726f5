//! Table read models on the feed: a handler failing at any event, once or for good, and
//! runners of one projection racing without a lease, all end with the tables of one clean run:
//! each failed batch rolls back with its checkpoint, and no event is applied twice.

use es_core::{Cursor, EventStore, ExpectedVersion, NewEvent, RetryPolicy, StoreError, StoredEvent};
use es_postgres::{PostgresStore, TableProjection, TableProjectionRunner};
use sqlx::PgConnection;

use crate::{drop_store, fresh_store};

const STREAMS: u64 = 4;
const PER_STREAM: u64 = 50;
const BATCH: usize = 16;

/// Appends the deposits and one unrelated event; returns the positions of all of them.
async fn deposits(store: &PostgresStore) -> Vec<u64> {
    for s in 0..STREAMS {
        let events = (1..=PER_STREAM)
            .map(|n| NewEvent::new("Deposited", 1, serde_json::json!({ "amount": n })))
            .collect();
        store.append(&format!("Account-{s}"), ExpectedVersion::NoStream, events).await.expect("append");
    }
    store
        .append("Noise-1", ExpectedVersion::Any, vec![NewEvent::new("Unrelated", 1, serde_json::json!({}))])
        .await
        .expect("append");
    let total = (STREAMS * PER_STREAM) as usize + 1;
    es_testing::conformance::read_all_settled(store, total).await;
    let all = store.read_all(Cursor::START, total).await.expect("read all");
    all.iter().map(|e| e.position).collect()
}

/// When the projection fails.
#[derive(Clone, Copy)]
enum Fault {
    None,
    /// At the event at this position, after its SQL ran, the first time only.
    Once(u64),
    /// At the event at this position, after its SQL ran, every time.
    Always(u64),
}

/// Sums deposits per stream into a table, counting the applications.
struct Balances {
    name: String,
    table: String,
    fault: Fault,
}

impl TableProjection for Balances {
    fn name(&self) -> &str {
        &self.name
    }

    fn handles(&self, event_name: &str) -> bool {
        event_name == "Deposited"
    }

    async fn apply(&mut self, tx: &mut PgConnection, event: &StoredEvent) -> Result<(), StoreError> {
        let amount = serde_json::from_str::<serde_json::Value>(event.payload.get()).expect("json")["amount"]
            .as_i64()
            .expect("amount");
        sqlx::query(&format!(
            "INSERT INTO {t} (stream, balance, applied) VALUES ($1, $2, 1)
             ON CONFLICT (stream) DO UPDATE SET balance = {t}.balance + $2, applied = {t}.applied + 1",
            t = self.table
        ))
        .bind(&event.stream)
        .bind(amount)
        .execute(&mut *tx)
        .await
        .map_err(|e| StoreError::backend("test", e))?;
        let fail = match self.fault {
            Fault::Once(at) if at == event.position => {
                self.fault = Fault::None;
                true
            }
            Fault::Always(at) => at == event.position,
            _ => false,
        };
        if fail {
            return Err(StoreError::backend(
                "test",
                format!("fault injected at position {}", event.position),
            ));
        }
        Ok(())
    }
}

/// A fresh read model table and a projection named like it.
async fn balances(store: &PostgresStore, name: &str, fault: Fault) -> Balances {
    let table = format!("{}.{name}", store.schema());
    sqlx::query(&format!(
        "CREATE TABLE IF NOT EXISTS {table} (stream text PRIMARY KEY, balance bigint NOT NULL, applied bigint NOT NULL)"
    ))
    .execute(store.pool())
    .await
    .expect("create the read model table");
    Balances { name: name.into(), table, fault }
}

async fn rows(store: &PostgresStore, name: &str) -> Vec<(String, i64, i64)> {
    sqlx::query_as(&format!("SELECT stream, balance, applied FROM {}.{name} ORDER BY stream", store.schema()))
        .fetch_all(store.pool())
        .await
        .expect("read the read model")
}

/// Every `ES_TABLE_FAULT_STRIDE`th event (default 9), and the last, fails: once (the runner's
/// retry goes on from the checkpoint) or for good (the runner stops before it, and a restarted
/// runner goes on). Each time the tables equal a clean run's: the failed batch's SQL rolled back
/// with its checkpoint, and no event was applied twice (`applied` counts applications).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_table_read_model_failing_at_any_event_equals_a_clean_run() {
    let store = fresh_store().await;
    let positions = deposits(&store).await;
    let clean = balances(&store, "clean", Fault::None).await;
    TableProjectionRunner::new(store.clone(), clean).with_batch(BATCH).catch_up().await.expect("clean run");
    let expected = rows(&store, "clean").await;
    assert_eq!(expected.len(), STREAMS as usize);

    let stride = std::env::var("ES_TABLE_FAULT_STRIDE").ok().and_then(|s| s.parse().ok()).unwrap_or(9).max(1);
    let mut at: Vec<u64> = positions.iter().copied().step_by(stride).collect();
    at.extend(positions.last().copied());
    for n in at {
        let once = balances(&store, &format!("once_{n}"), Fault::Once(n)).await;
        TableProjectionRunner::new(store.clone(), once)
            .with_batch(BATCH)
            .catch_up()
            .await
            .expect("a fault that passes is retried away");
        assert_eq!(rows(&store, &format!("once_{n}")).await, expected, "failing once at position {n}");

        let name = format!("always_{n}");
        let always = balances(&store, &name, Fault::Always(n)).await;
        let mut runner = TableProjectionRunner::new(store.clone(), always)
            .with_batch(BATCH)
            .with_retry(RetryPolicy::default().max_attempts(2));
        let failed = runner.catch_up().await;
        // The noise event is not handled: failing "at" it is no failure.
        let handled = n != *positions.last().expect("events");
        assert_eq!(failed.is_err(), handled, "failing for good at position {n}: {failed:?}");
        if handled {
            let stopped = runner.cursor().await.expect("cursor").position();
            assert!(stopped < n, "the checkpoint stopped before position {n}, not at {stopped}");
        }
        let healthy = balances(&store, &name, Fault::None).await;
        TableProjectionRunner::new(store.clone(), healthy)
            .with_batch(BATCH)
            .catch_up()
            .await
            .expect("restarted");
        assert_eq!(rows(&store, &name).await, expected, "failing for good at position {n}, then restarted");
    }
    drop_store(store).await;
}

/// Three runners of one projection, without a lease, catching up at once: they take turns on
/// the checkpoint row, and the tables equal a clean run's (each event applied once).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unleased_runners_of_one_table_read_model_apply_each_event_once() {
    let store = fresh_store().await;
    deposits(&store).await;
    let clean = balances(&store, "clean", Fault::None).await;
    TableProjectionRunner::new(store.clone(), clean).with_batch(BATCH).catch_up().await.expect("clean run");

    let mut runs = Vec::new();
    for batch in [BATCH, 7, 23] {
        let projection = balances(&store, "raced", Fault::None).await;
        let mut runner = TableProjectionRunner::new(store.clone(), projection).with_batch(batch);
        runs.push(tokio::spawn(async move { runner.catch_up().await }));
    }
    for run in runs {
        run.await.expect("runner task").expect("catch up");
    }
    assert_eq!(rows(&store, "raced").await, rows(&store, "clean").await, "each event applied once");
    drop_store(store).await;
}
