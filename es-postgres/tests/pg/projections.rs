//! Read models on PostgreSQL: restarted in the middle of catching up they end equal to a
//! single run, and a crash between the handler and the checkpoint applies each event once.

use std::time::Duration;

use es_core::{
    EventContext, EventStore, ExpectedVersion, NewEvent, Project, Projection, ProjectionRunner, StoreError,
    StoredEvent,
};
use es_postgres::{PostgresStore, TableProjection, TableProjectionRunner};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;

use crate::{drop_store, fresh_store};

const STREAMS: u64 = 6;
const PER_STREAM: u64 = 100;

async fn deposits(store: &PostgresStore) {
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
    // Readers of the global order see them once other tests' older transactions have ended.
    es_testing::conformance::read_all_settled(store, (STREAMS * PER_STREAM) as usize + 1).await;
}

/// Sums deposits per stream into `<schema>.<table>`; can fail after its SQL at one position.
struct Balances {
    name: String,
    table: String,
    fail_after_applying: Option<u64>,
    slow: bool,
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
        if self.slow {
            sqlx::query("SELECT pg_sleep(0.002)")
                .execute(&mut *tx)
                .await
                .map_err(|e| StoreError::backend("test", e))?;
        }
        if self.fail_after_applying == Some(event.position) {
            return Err(StoreError::backend(
                "test",
                format!("crash injected after applying position {}", event.position),
            ));
        }
        Ok(())
    }
}

async fn table(store: &PostgresStore, name: &str) -> String {
    let table = format!("{}.{name}", store.schema());
    sqlx::query(&format!(
        "CREATE TABLE {table} (stream text PRIMARY KEY, balance bigint NOT NULL, applied bigint NOT NULL)"
    ))
    .execute(store.pool())
    .await
    .expect("create the read model table");
    table
}

async fn rows(store: &PostgresStore, table: &str) -> Vec<(String, i64, i64)> {
    sqlx::query_as(&format!("SELECT stream, balance, applied FROM {table} ORDER BY stream"))
        .fetch_all(store.pool())
        .await
        .expect("read the read model")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_table_read_model_applies_each_event_once_across_crashes_and_restarts() {
    let store = fresh_store().await;
    deposits(&store).await;

    // The reference: one uninterrupted run.
    let reference = table(&store, "reference").await;
    let once = Balances {
        name: "reference".into(),
        table: reference.clone(),
        fail_after_applying: None,
        slow: false,
    };
    TableProjectionRunner::new(store.clone(), once).with_batch(50).catch_up().await.expect("single run");

    // A crash between the handler and the checkpoint: position 120's SQL ran, then it failed.
    let tested = table(&store, "tested").await;
    let crashing = Balances {
        name: "tested".into(),
        table: tested.clone(),
        fail_after_applying: Some(120),
        slow: false,
    };
    let mut runner = TableProjectionRunner::new(store.clone(), crashing).with_batch(50);
    let crashed = runner.catch_up().await;
    assert!(crashed.is_err(), "the injected crash surfaces");
    assert_eq!(runner.cursor().await.expect("cursor").position(), 100, "the crashed batch moved nothing");

    // Killed in the middle of a batch (its transaction never commits), then restarted.
    let slow =
        Balances { name: "tested".into(), table: tested.clone(), fail_after_applying: None, slow: true };
    let mut killed = TableProjectionRunner::new(store.clone(), slow).with_batch(50);
    let interrupted = tokio::time::timeout(Duration::from_millis(150), killed.catch_up()).await;
    assert!(interrupted.is_err(), "the run was cut off mid-way");
    drop(killed);

    let healthy =
        Balances { name: "tested".into(), table: tested.clone(), fail_after_applying: None, slow: false };
    let mut restarted = TableProjectionRunner::new(store.clone(), healthy).with_batch(50);
    restarted.catch_up().await.expect("restarted run");
    assert_eq!(restarted.lag().await.expect("lag"), 0);

    let expected: Vec<(String, i64, i64)> = (0..STREAMS)
        .map(|s| (format!("Account-{s}"), (1..=PER_STREAM as i64).sum(), PER_STREAM as i64))
        .collect();
    assert_eq!(rows(&store, &reference).await, expected);
    assert_eq!(rows(&store, &tested).await, expected, "each event applied exactly once");
    drop_store(store).await;
}

#[derive(es_core::Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Deposited {
    amount: u64,
}

#[derive(Projection, Default, Debug, PartialEq, Serialize, Deserialize)]
#[projection(events(Deposited))]
pub struct Totals {
    per_stream: std::collections::BTreeMap<String, u64>,
    events: u64,
}

impl Project<Deposited> for Totals {
    fn project(&mut self, e: &Deposited, at: &EventContext<'_>) {
        *self.per_stream.entry(at.stream.to_owned()).or_default() += e.amount;
        self.events += 1;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_projection_restarted_mid_catch_up_equals_a_single_run() {
    let store = fresh_store().await;
    deposits(&store).await;

    let mut single =
        ProjectionRunner::<Totals, _>::start("single", store.clone()).await.expect("start").with_batch(40);
    single.catch_up().await.expect("single run");

    let mut first =
        ProjectionRunner::<Totals, _>::start("restarted", store.clone()).await.expect("start").with_batch(40);
    for _ in 0..5 {
        first.step().await.expect("step");
    }
    // Killed while handling the next batch: the future is dropped before its checkpoint.
    let _ = tokio::time::timeout(Duration::from_micros(1), first.step()).await;
    drop(first);

    let mut second = ProjectionRunner::<Totals, _>::start("restarted", store.clone())
        .await
        .expect("restart")
        .with_batch(40);
    // The cut lands before or after that batch's checkpoint; either way it resumes from a saved one.
    assert!(
        matches!(second.cursor().position(), 200 | 240),
        "resumed at a saved checkpoint, not {}",
        second.cursor()
    );
    second.catch_up().await.expect("catch up");
    assert_eq!(second.projection(), single.projection());
    assert_eq!(second.projection().events, STREAMS * PER_STREAM);
    drop_store(store).await;
}

/// Two workers of one table read model: the lease holder applies, the other stands by; after a
/// takeover the old holder's batch under its stale epoch is refused and applies nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_table_read_model_runs_under_one_lease_holder() {
    use es_core::worker::Step;
    use es_core::Leases;

    let store = fresh_store().await;
    deposits(&store).await;
    let reference = table(&store, "reference_leased").await;
    let balances = |table: &String| Balances {
        name: "leased".into(),
        table: table.clone(),
        fail_after_applying: None,
        slow: false,
    };
    TableProjectionRunner::new(store.clone(), Balances { name: "reference".into(), ..balances(&reference) })
        .catch_up()
        .await
        .expect("reference run");

    let tested = table(&store, "leased").await;
    let ttl = Duration::from_secs(30);
    let mut a = TableProjectionRunner::new(store.clone(), balances(&tested)).with_batch(50);
    let mut b = TableProjectionRunner::new(store.clone(), balances(&tested)).with_batch(50);
    let held = match a.step_leased("a", ttl).await.expect("a steps") {
        Step::Worked { read: 50, lease } => lease,
        other => panic!("a takes the free lease and applies a batch: {other:?}"),
    };
    assert!(matches!(b.step_leased("b", ttl).await.expect("b steps"), Step::Standby { .. }), "a holds it");
    store.release(&held).await.expect("a lets go (as if it had died)");
    assert!(matches!(b.step_leased("b", ttl).await.expect("b steps"), Step::Worked { read: 50, .. }));
    match a.step_under(&held).await {
        Err(StoreError::Fenced { epoch: 1, .. }) => {}
        other => panic!("a's batch under epoch 1 must be fenced, got {other:?}"),
    }
    assert!(matches!(a.step_leased("a", ttl).await.expect("a steps"), Step::Standby { .. }), "b holds it");
    while matches!(b.step_leased("b", ttl).await.expect("b steps"), Step::Worked { read: 50, .. }) {}
    assert_eq!(rows(&store, &tested).await, rows(&store, &reference).await, "every event applied once");
    drop_store(store).await;
}
