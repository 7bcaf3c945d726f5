//! Table read models under database faults, for every N a clean run reaches: the Nth checkpoint
//! write fails, the Nth batch fails at its commit, the runner's connection is killed in the Nth
//! batch or at its Nth commit, the Nth read of events fails. The faults are injected by the
//! database itself (test-only triggers, a counting view over the events; sequences count the
//! calls, as they do not roll back), since the runner is tied to `PostgresStore` and no wrapper
//! store can stand in for it. Each run, with the feed retrying, with the caller calling again on
//! the same runner and with a restarted runner, ends with the tables of a clean run and its
//! checkpoint at the head; each error it surfaces leaves the tables exactly at the checkpoint.
//! `ES_TABLE_STORE_FAULT_DEPOSITS` sets the deposits per stream (default 8).

use std::time::Duration;

use es_core::worker::Step;
use es_core::{
    CheckpointStore, Cursor, EventStore, ExpectedVersion, NewEvent, RetryPolicy, StoreError, StoredEvent,
};
use es_postgres::{PostgresStore, TableProjection, TableProjectionRunner};
use sqlx::PgConnection;

use crate::{drop_store, fresh_store};

mod injected;

use injected::{arm, calls, install, kill, next_call, Kind};

const STREAMS: u64 = 3;
/// Unrelated events in a row after the first stream: one batch has none the projection handles.
const NOISE: u64 = 7;
const BATCH: usize = 5;

/// A row of the read model: stream, balance, applications.
type Row = (String, i64, i64);

/// How a run is driven.
#[derive(Debug, Clone, Copy)]
enum Driver {
    /// The feed retries (3 attempts): the fault never reaches the caller.
    FeedRetries,
    /// One attempt: the error reaches the caller, who calls the same runner again.
    CallerRetries,
    /// One attempt: the caller drops the runner and starts a new one (a restarted process).
    Restarted,
    /// One attempt per leased step (`step_leased`, each batch fenced by the lease): the caller
    /// steps the same runner again.
    Leased,
}

const DRIVERS: [Driver; 4] = [Driver::FeedRetries, Driver::CallerRetries, Driver::Restarted, Driver::Leased];

/// Where the projection's SQL runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Writes {
    /// In the batch's transaction, as it must.
    InBatch,
    /// On a connection of its own, committed at once: the mutant the sweep must catch.
    Outside,
}

/// Sums deposits per stream into its table, counting applications; kills its own connection
/// from another one at the `kill_at`th batch, when set.
struct Balances {
    name: String,
    table: String,
    store: PostgresStore,
    writes: Writes,
    kill_at: Option<u64>,
    /// The transaction of the last event applied: another one starts a batch.
    last_tx: Option<i64>,
}

impl TableProjection for Balances {
    fn name(&self) -> &str {
        &self.name
    }

    fn handles(&self, event_name: &str) -> bool {
        event_name == "Deposited"
    }

    async fn apply(&mut self, tx: &mut PgConnection, event: &StoredEvent) -> Result<(), StoreError> {
        let fail = |e: sqlx::Error| StoreError::backend("test", e);
        let (pid, txid): (i32, i64) = sqlx::query_as("SELECT pg_backend_pid(), txid_current()")
            .fetch_one(&mut *tx)
            .await
            .map_err(fail)?;
        let first = self.last_tx != Some(txid);
        self.last_tx = Some(txid);
        let amount = serde_json::from_str::<serde_json::Value>(event.payload.get())
            .map_err(|e| StoreError::backend("test", e))?["amount"]
            .as_i64()
            .unwrap_or_default();
        let insert = format!(
            "INSERT INTO {t} (stream, balance, applied) VALUES ($1, $2, 1)
             ON CONFLICT (stream) DO UPDATE SET balance = {t}.balance + $2, applied = {t}.applied + 1",
            t = self.table
        );
        let query = sqlx::query(&insert).bind(&event.stream).bind(amount);
        match self.writes {
            Writes::InBatch => query.execute(&mut *tx).await,
            Writes::Outside => query.execute(self.store.pool()).await,
        }
        .map_err(fail)?;
        if let (true, Some(at)) = (first, self.kill_at) {
            if next_call(&self.store, &self.name).await == at {
                kill(&self.store, pid).await;
            }
        }
        Ok(())
    }
}

/// The events of a run, as appended, and what the read model holds at any checkpoint.
struct Events {
    all: Vec<StoredEvent>,
}

impl Events {
    fn head(&self) -> Cursor {
        self.all.last().map_or(Cursor::START, |e| e.cursor)
    }

    /// The rows of a read model that applied every deposit up to `at`, once.
    fn rows_at(&self, at: Cursor) -> Vec<Row> {
        let mut rows = std::collections::BTreeMap::<String, (i64, i64)>::new();
        for e in self.all.iter().filter(|e| e.name == "Deposited" && e.cursor <= at) {
            let payload: serde_json::Value = serde_json::from_str(e.payload.get()).expect("json");
            let row = rows.entry(e.stream.clone()).or_default();
            row.0 += payload["amount"].as_i64().expect("amount");
            row.1 += 1;
        }
        rows.into_iter().map(|(stream, (balance, applied))| (stream, balance, applied)).collect()
    }
}

/// Deposits in `STREAMS` streams, with `NOISE` unrelated events after the first one.
async fn fill(store: &PostgresStore) -> Events {
    let per_stream: u64 =
        std::env::var("ES_TABLE_STORE_FAULT_DEPOSITS").ok().and_then(|s| s.parse().ok()).unwrap_or(8).max(1);
    for s in 0..STREAMS {
        let events = (1..=per_stream)
            .map(|n| NewEvent::new("Deposited", 1, serde_json::json!({ "amount": n * 10 + s })))
            .collect();
        store.append(&format!("Account-{s}"), ExpectedVersion::NoStream, events).await.expect("append");
        if s == 0 {
            let noise = (0..NOISE).map(|_| NewEvent::new("Unrelated", 1, serde_json::json!({}))).collect();
            store.append("Noise-1", ExpectedVersion::NoStream, noise).await.expect("append");
        }
    }
    let total = (STREAMS * per_stream + NOISE) as usize;
    es_testing::conformance::read_all_settled(store, total).await;
    Events { all: store.read_all(Cursor::START, total).await.expect("read all") }
}

async fn rows(store: &PostgresStore, name: &str) -> Vec<Row> {
    sqlx::query_as(&format!("SELECT stream, balance, applied FROM {}.{name} ORDER BY stream", store.schema()))
        .fetch_all(store.pool())
        .await
        .expect("read the read model")
}

async fn checkpoint(store: &PostgresStore, name: &str) -> Cursor {
    store.load_checkpoint(name).await.expect("load the checkpoint").map_or(Cursor::START, |c| c.cursor)
}

/// Runs run `name` (armed) to the head as `driver` says. Returns the errors that reached the
/// caller; a surfaced error that left the tables anywhere but at the checkpoint goes to `wrong`.
async fn run(
    store: &PostgresStore,
    events: &Events,
    (name, kind, n, writes): (&str, Kind, u64, Writes),
    driver: Driver,
    wrong: &mut Vec<String>,
) -> u32 {
    let attempts = match driver {
        Driver::FeedRetries => 3,
        Driver::CallerRetries | Driver::Restarted | Driver::Leased => 1,
    };
    let make = || {
        let projection = Balances {
            name: name.to_owned(),
            table: format!("{}.{name}", store.schema()),
            store: store.clone(),
            writes,
            kill_at: (kind == Kind::KilledInBatch).then_some(n),
            last_tx: None,
        };
        TableProjectionRunner::new(store.clone(), projection)
            .with_batch(BATCH)
            .with_retry(RetryPolicy::default().max_attempts(attempts).backoff(Duration::ZERO, Duration::ZERO))
    };
    let mut runner = make();
    let mut errors = 0;
    while let Err(e) = to_the_head(&mut runner, driver).await {
        errors += 1;
        let at = checkpoint(store, name).await;
        if rows(store, name).await != events.rows_at(at) {
            wrong.push(format!("{name} ({driver:?}): after `{e}` the tables are not at the checkpoint {at}"));
        }
        assert!(errors <= 5, "{name} ({driver:?}): still failing after 5 calls: {e}");
        if let Driver::Restarted = driver {
            runner = make();
        }
    }
    errors
}

/// Catches up, or (leased) steps under the lease until a step reads nothing.
async fn to_the_head(runner: &mut TableProjectionRunner<Balances>, driver: Driver) -> Result<(), StoreError> {
    let Driver::Leased = driver else { return runner.catch_up().await.map(drop) };
    loop {
        match runner.step_leased("table-store-faults", Duration::from_secs(60)).await? {
            Step::Worked { read: 0, .. } => return Ok(()),
            Step::Worked { .. } => {}
            other => panic!("the only worker stood by or was fenced: {other:?}"),
        }
    }
}

/// For every driver, a clean run, then a run with the fault at each N up to the clean run's
/// count of calls. Returns what went wrong (nothing, for the runner as built).
async fn sweep(
    store: &PostgresStore,
    events: &Events,
    (kind, writes): (Kind, Writes),
    drivers: &[Driver],
) -> Vec<String> {
    let tag = format!("{kind:?}_{writes:?}").to_lowercase();
    let expected = events.rows_at(events.head());
    let mut wrong = Vec::new();
    for &driver in drivers {
        let clean = format!("{tag}_{driver:?}_clean").to_lowercase();
        arm(store, kind, &clean, 0).await;
        let errors = run(store, events, (&clean, kind, 0, writes), driver, &mut wrong).await;
        assert_eq!(errors, 0, "{clean}: a clean run fails nothing");
        assert_eq!(rows(store, &clean).await, expected, "{clean}: the clean run's tables");
        let count = calls(store, &clean).await;
        assert!(count >= 2, "{clean}: the clean run made {count} calls the fault counts");
        for n in 1..=count {
            let name = format!("{tag}_{driver:?}_{n}").to_lowercase();
            arm(store, kind, &name, n).await;
            let errors = run(store, events, (&name, kind, n, writes), driver, &mut wrong).await;
            assert!(calls(store, &name).await >= n, "{name}: the fault struck");
            match driver {
                Driver::FeedRetries => assert_eq!(errors, 0, "{name}: the feed's retry absorbs one fault"),
                _ => assert!(errors >= 1, "{name}: the fault reached the caller"),
            }
            if rows(store, &name).await != expected {
                wrong.push(format!(
                    "{name}: the tables differ from a clean run's: {:?}",
                    rows(store, &name).await
                ));
            }
            let at = checkpoint(store, &name).await;
            if at != events.head() {
                wrong.push(format!("{name}: the checkpoint is at {at}, not at the head {}", events.head()));
            }
        }
    }
    wrong
}

/// One kind's sweep in a schema of its own.
async fn sweep_in_own_schema(kind: Kind) {
    let store = fresh_store().await;
    let events = fill(&store).await;
    install(&store, kind).await;
    let wrong = sweep(&store, &events, (kind, Writes::InBatch), &DRIVERS).await;
    assert!(wrong.is_empty(), "{kind:?}:\n{}", wrong.join("\n"));
    drop_store(store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_table_projection_whose_nth_checkpoint_write_fails_equals_a_clean_run() {
    sweep_in_own_schema(Kind::CheckpointWrite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_table_projection_whose_nth_batch_fails_at_commit_equals_a_clean_run() {
    sweep_in_own_schema(Kind::Commit).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_table_projection_whose_connection_is_killed_in_the_nth_batch_equals_a_clean_run() {
    sweep_in_own_schema(Kind::KilledInBatch).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_table_projection_whose_connection_is_killed_at_the_nth_commit_equals_a_clean_run() {
    sweep_in_own_schema(Kind::KilledAtCommit).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_table_projection_whose_nth_read_of_events_fails_equals_a_clean_run() {
    sweep_in_own_schema(Kind::Read).await;
}

/// The sweep can fail: a projection whose SQL commits outside the batch's transaction (so a
/// batch that fails after it is applied again on retry) is caught by the failed checkpoint
/// writes with every driver, and by the killed connections.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sweep_catches_a_projection_writing_outside_the_batch_transaction() {
    let store = fresh_store().await;
    let events = fill(&store).await;
    install(&store, Kind::CheckpointWrite).await;
    let cases: [(Kind, &[Driver]); 3] = [
        (Kind::CheckpointWrite, &DRIVERS),
        (Kind::KilledInBatch, &[Driver::CallerRetries]),
        (Kind::KilledAtCommit, &[Driver::FeedRetries]),
    ];
    for (kind, drivers) in cases {
        let wrong = sweep(&store, &events, (kind, Writes::Outside), drivers).await;
        for driver in drivers {
            let tag = format!("_{driver:?}_").to_lowercase();
            let caught = wrong.iter().any(|w| w.contains(&tag) && w.contains("differ from a clean run"));
            assert!(caught, "{kind:?} with {driver:?} caught nothing: {wrong:?}");
        }
    }
    drop_store(store).await;
}
