//! A table projection rebuilt as a new version beside the live one, by child processes (this
//! test binary run again) SIGKILLed three times at random points, while events keep coming and
//! the live version keeps taking them: each successor resumes from the checkpoint, readers
//! querying the stable schema see the live version until one switch shows them the new one,
//! never a model that goes back, and the new version's tables equal a clean build.
//!
//! `ES_BESIDE_EVENTS` sets the number of events filled before the rebuild (default 100,000,
//! the run; lower it for a quick run).

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{channel, Receiver};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use es_core::consume::versions::{self, Phase, Switched};
use es_core::{CheckpointStore, EventStore, ExpectedVersion, NewEvent, StoreError, StoredEvent};
use es_postgres::{PostgresOptions, PostgresStore, TableProjection, TableProjectionRunner};
use sqlx::PgConnection;
use sqlx::Row;

use crate::{drop_store, fresh_store, url};

const NAME: &str = "ledger";
const STREAMS: u64 = 100;
const SCHEMA: &str = "ES_BESIDE_SCHEMA";
const OWNER: &str = "ES_BESIDE_OWNER";
const TTL: Duration = Duration::from_millis(1500);
const KILLS: usize = 3;

fn events() -> u64 {
    std::env::var("ES_BESIDE_EVENTS").ok().and_then(|n| n.parse().ok()).unwrap_or(100_000).max(STREAMS * 10)
}

/// Balances per stream. Version 1 keeps amounts; version 2 and later (the code changed) keep
/// cents and count deposits, in a table of another shape.
struct Ledger {
    version: u64,
    /// The table: `balances` (in the version's schema), or qualified for an unversioned runner.
    table: String,
}

fn amount(event: &StoredEvent) -> Result<i64, StoreError> {
    let value: serde_json::Value =
        serde_json::from_str(event.payload.get()).map_err(|e| StoreError::backend("test", e))?;
    value["amount"].as_i64().ok_or_else(|| StoreError::backend("test", "no amount"))
}

impl TableProjection for Ledger {
    fn name(&self) -> &str {
        NAME
    }

    fn handles(&self, event_name: &str) -> bool {
        event_name == "Deposited"
    }

    async fn setup(&mut self, tx: &mut PgConnection) -> Result<(), StoreError> {
        let table = &self.table;
        let ddl = if self.version == 1 {
            format!("CREATE TABLE IF NOT EXISTS {table} (stream text PRIMARY KEY, balance bigint NOT NULL)")
        } else {
            format!("CREATE TABLE IF NOT EXISTS {table} (stream text PRIMARY KEY, balance bigint NOT NULL, deposits bigint NOT NULL)")
        };
        sqlx::query(&ddl).execute(&mut *tx).await.map_err(|e| StoreError::backend("test", e))?;
        Ok(())
    }

    async fn apply(&mut self, tx: &mut PgConnection, event: &StoredEvent) -> Result<(), StoreError> {
        let amount = amount(event)?;
        let table = &self.table;
        let sql = if self.version == 1 {
            format!(
                "INSERT INTO {table} AS b (stream, balance) VALUES ($1, $2)
                 ON CONFLICT (stream) DO UPDATE SET balance = b.balance + $2"
            )
        } else {
            format!(
                "INSERT INTO {table} AS b (stream, balance, deposits) VALUES ($1, $2 * 100, 1)
                 ON CONFLICT (stream) DO UPDATE SET balance = b.balance + $2 * 100, deposits = b.deposits + 1"
            )
        };
        sqlx::query(&sql)
            .bind(&event.stream)
            .bind(amount)
            .execute(&mut *tx)
            .await
            .map_err(|e| StoreError::backend("test", e))?;
        Ok(())
    }
}

fn runner(store: &PostgresStore, version: u64) -> TableProjectionRunner<Ledger> {
    TableProjectionRunner::new(store.clone(), Ledger { version, table: "balances".into() })
        .with_batch(500)
        .version(version)
        .expect("a short enough schema name")
}

/// Appends `events` deposits over `STREAMS` streams, 500 per append; returns their sum.
async fn fill(store: &PostgresStore, events: u64) -> i64 {
    let per_stream = events / STREAMS;
    let mut sum = 0;
    for s in 0..STREAMS {
        let mut n = 0;
        while n < per_stream {
            let chunk: Vec<NewEvent> = (n..(n + 500).min(per_stream))
                .map(|i| {
                    let amount = (i % 7 + 1) as i64;
                    sum += amount;
                    NewEvent::new("Deposited", 1, serde_json::json!({ "amount": amount }))
                })
                .collect();
            n += chunk.len() as u64;
            store.append(&format!("Account-{s}"), ExpectedVersion::Any, chunk).await.expect("append");
        }
    }
    sum
}

/// Builds version 2 until it switched (or found itself active), under its lease; reports
/// `resumed P` (the checkpoint it starts from), `at P` after each batch, `switched`.
#[test]
#[ignore = "a child process of the side-by-side rebuild test; it runs it"]
fn beside_child() {
    let (Ok(schema), Ok(owner)) = (std::env::var(SCHEMA), std::env::var(OWNER)) else { return };
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let store =
            PostgresOptions::new().schema(schema).max_connections(3).connect(&url()).await.expect("connect");
        let resumed = store.load_checkpoint(&versions::versioned_name(NAME, 2)).await.expect("checkpoint");
        println!("\nbs: resumed {}", resumed.map_or(0, |c| c.cursor.position()));
        let mut runner = runner(&store, 2);
        loop {
            match runner.step_leased(&owner, TTL).await.expect("a step") {
                es_core::worker::Step::Worked { read, .. } => {
                    if read > 0 {
                        println!("\nbs: at {}", runner.cursor().await.expect("cursor").position());
                    }
                    if runner.phase() == Phase::Active {
                        let now = matches!(runner.switched(), Some(Switched::Now { .. }));
                        println!("\nbs: {}", if now { "switched" } else { "active" });
                        return;
                    }
                }
                _ => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    });
}

/// A child building version 2, its report lines sent to the returned receiver.
fn start(schema: &str, k: usize) -> (Child, Receiver<String>) {
    let exe = std::env::current_exe().expect("the test binary");
    let mut child = Command::new(exe)
        .args(["--ignored", "--exact", "beside::beside_child", "--nocapture", "--test-threads=1"])
        .env(SCHEMA, schema)
        .env(OWNER, format!("b{k}"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn a builder");
    let stdout = child.stdout.take().expect("stdout");
    let (send, lines) = channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(report) = line.strip_prefix("bs: ") {
                if send.send(report.to_owned()).is_err() {
                    return;
                }
            }
        }
    });
    (child, lines)
}

/// The next report of a child, within two minutes.
fn next(lines: &Receiver<String>, what: &str) -> String {
    lines.recv_timeout(Duration::from_secs(120)).unwrap_or_else(|_| panic!("no builder reported {what}"))
}

fn number(line: &str, prefix: &str) -> Option<u64> {
    line.strip_prefix(prefix).and_then(|n| n.parse().ok())
}

/// What readers of the stable schema see, in one query: (version by the table's shape, rows,
/// total in amounts (version 2 keeps cents)).
async fn read(store: &PostgresStore, schema: &str) -> Result<(u64, i64, i64), sqlx::Error> {
    // The simple query protocol: the shape of `SELECT *` changes at the switch, and even an
    // unnamed prepared statement parsed just before it fails with "cached plan must not change
    // result type" when executed just after.
    let rows = sqlx::raw_sql(&format!("SELECT * FROM {schema}.balances")).fetch_all(store.pool()).await?;
    let version = rows.first().map_or(0, |r| if r.len() == 2 { 1 } else { 2 });
    let mut total = 0;
    for row in &rows {
        total += row.try_get::<i64, _>("balance")?;
    }
    Ok((version, rows.len() as i64, if version == 2 { total / 100 } else { total }))
}

/// Rows of `a` not in `b`.
async fn missing(store: &PostgresStore, a: &str, b: &str) -> i64 {
    let sql =
        format!("SELECT count(*) FROM (SELECT * FROM {a}.balances EXCEPT SELECT * FROM {b}.balances) x");
    sqlx::query_scalar(&sql).fetch_one(store.pool()).await.expect("compare")
}

/// The sum of every deposit stored.
async fn deposited(store: &PostgresStore) -> i64 {
    let sql = format!(
        "SELECT coalesce(sum((payload->>'amount')::bigint), 0)::bigint FROM {}.es_events WHERE name = 'Deposited'",
        store.schema()
    );
    sqlx::query_scalar(&sql).fetch_one(store.pool()).await.expect("sum the deposits")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_table_projection_rebuilt_beside_survives_kills_and_switches_once() {
    let store = fresh_store().await;
    let started = Instant::now();
    let sum = fill(&store, events()).await;
    let filled = started.elapsed();

    // The live version: built, then switched to (no version was active yet).
    let mut live = runner(&store, 1);
    live.catch_up().await.expect("build version 1");
    assert_eq!((live.phase(), live.switched()), (Phase::Active, Some(Switched::Now { from: None })));
    let stable = live.read_schema().expect("versioned");
    assert_eq!(read(&store, &stable).await.expect("read"), (1, STREAMS as i64, sum));

    // Events keep coming during the rebuild, and the live version keeps taking them.
    let (done, writing) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicBool::new(true)));
    let writer = tokio::spawn({
        let (store, writing) = (store.clone(), writing.clone());
        async move {
            let mut appended = 0u64;
            while writing.load(Ordering::Relaxed) {
                let chunk = (0..20)
                    .map(|i| NewEvent::new("Deposited", 1, serde_json::json!({ "amount": i % 5 + 1 })));
                let stream = format!("Account-{}", appended % STREAMS);
                store.append(&stream, ExpectedVersion::Any, chunk.collect()).await.expect("append meanwhile");
                appended += 20;
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
            appended
        }
    });
    let live = tokio::spawn(async move {
        while live.phase() == Phase::Active {
            live.catch_up().await.expect("the live version takes new events");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        live.phase()
    });

    // Readers query the stable schema throughout.
    let seen = Arc::new(Mutex::new(Vec::<(u64, i64, i64)>::new()));
    let reader = tokio::spawn({
        let (store, stable, done, seen) = (store.clone(), stable.clone(), done.clone(), seen.clone());
        async move {
            while !done.load(Ordering::Relaxed) {
                let got = read(&store, &stable).await.expect("the live version answers");
                {
                    let mut seen = seen.lock().expect("lock");
                    if seen.last() != Some(&got) {
                        seen.push(got);
                    }
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
    });

    // Three builders killed at random points, each successor resuming; the fourth switches.
    let head = store.head().await.expect("head").position();
    let rebuild = Instant::now();
    let (mut switched, mut last_at) = (0, 0);
    for k in 0..=KILLS {
        let (mut child, lines) = start(store.schema_name(), k);
        let resumed = number(&next(&lines, "resuming"), "resumed ").expect("a resumed line");
        assert!(
            resumed >= last_at,
            "builder {k} resumed at {resumed}, before {last_at} that its predecessor saved"
        );
        if k < KILLS {
            let jitter = es_core::Uuid::new_v4().as_u128() % 1000;
            let target = head * (k as u64 * 25 + 15) / 100 + head * jitter as u64 / 10_000;
            loop {
                let line = next(&lines, "progress");
                if let Some(at) = number(&line, "at ") {
                    last_at = at;
                    if at >= target {
                        break;
                    }
                }
                assert_ne!(line, "switched", "builder {k} finished before it was killed at {target}");
            }
            child.kill().expect("SIGKILL the builder");
            child.wait().expect("reap");
            println!("killed builder {k} at {last_at} of {head} (resumed at {resumed})");
        } else {
            loop {
                match next(&lines, "the switch").as_str() {
                    "switched" => switched += 1,
                    "active" => {}
                    _ => continue,
                }
                break;
            }
            let status = child.wait().expect("the last builder ends");
            assert!(status.success(), "the last builder failed: {status}");
        }
    }
    let rebuilt = rebuild.elapsed();
    writing.store(false, Ordering::Relaxed);
    let appended = writer.await.expect("the writer");
    assert_eq!(live.await.expect("the live runner"), Phase::Retired { active: 2 }, "version 1 retired");
    // Version 2's workers keep it current after the switch (the last builder ended).
    let mut current = runner(&store, 2);
    current.catch_up().await.expect("version 2 takes the events since the switch");
    assert_eq!(current.phase(), Phase::Active);
    tokio::time::sleep(Duration::from_millis(50)).await;
    done.store(true, Ordering::Relaxed);
    reader.await.expect("the reader");

    // Readers saw version 1, then version 2, never a model that went back, and in the end all.
    let seen = seen.lock().expect("lock").clone();
    let total = deposited(&store).await;
    assert_eq!(seen.first(), Some(&(1, STREAMS as i64, sum)), "{seen:?}");
    assert_eq!(seen.last(), Some(&(2, STREAMS as i64, total)), "{seen:?}");
    for pair in seen.windows(2) {
        let ((v0, _, t0), (v1, _, t1)) = (pair[0], pair[1]);
        assert!(v1 >= v0 && t1 >= t0, "readers saw the model go back: {pair:?} in {seen:?}");
    }
    assert!(appended > 0 && total > sum, "events came during the rebuild");
    assert_eq!(switched, 1, "one builder switched");
    let record = versions::active(&store, NAME).await.expect("record").expect("a record");
    assert_eq!((record.version, record.switches_to(2)), (2, 1), "{record:?}");

    // A clean build of the same code (version 3) has the same tables.
    let mut clean = runner(&store, 3);
    clean.catch_up().await.expect("a clean build");
    assert_eq!(clean.phase(), Phase::Active, "version 3 caught up and switched");
    let (rebuilt_tables, clean_tables) =
        (runner(&store, 2).tables_schema().expect("v2"), clean.tables_schema().expect("v3"));
    assert_eq!(
        missing(&store, &rebuilt_tables, &clean_tables).await,
        0,
        "rows of the rebuild not in the clean build"
    );
    assert_eq!(
        missing(&store, &clean_tables, &rebuilt_tables).await,
        0,
        "rows of the clean build not in the rebuild"
    );
    assert_eq!(read(&store, &stable).await.expect("read"), (2, STREAMS as i64, total));

    // Retiring: the active version is refused; the others' schemas go.
    assert!(clean.retire(3).await.is_err(), "the active version cannot be retired");
    for version in [1, 2] {
        clean.retire(version).await.expect("retire");
    }
    let left: Vec<String> =
        sqlx::query_scalar("SELECT nspname::text FROM pg_namespace WHERE nspname LIKE $1 ORDER BY 1")
            .bind(format!("{}_ledger%", store.schema_name()))
            .fetch_all(store.pool())
            .await
            .expect("schemas");
    assert_eq!(left, vec![stable.trim_matches('"').to_owned(), clean_tables.trim_matches('"').to_owned()]);
    println!(
        "{} events, {appended} more during the rebuild: filled in {filled:.1?}, rebuilt beside with {KILLS} kills in {rebuilt:.1?}, readers saw {} states",
        events(),
        seen.len()
    );
    for schema in left {
        sqlx::query(&format!("DROP SCHEMA \"{schema}\" CASCADE")).execute(store.pool()).await.expect("drop");
    }
    drop_store(store).await;
}

/// An unversioned runner ran to the head with its tables in the session's schemas; restarted as
/// version 1, it must build its own tables from the first event, not resume from the
/// unversioned checkpoint over empty tables.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn version_1_of_a_table_projection_does_not_take_the_unversioned_checkpoint() {
    let store = fresh_store().await;
    let sum = fill(&store, 2_000).await;
    let table = format!("{}.balances", store.schema());
    let mut unversioned =
        TableProjectionRunner::new(store.clone(), Ledger { version: 1, table: table.clone() });
    unversioned.catch_up().await.expect("the unversioned runner");
    let head = store.head().await.expect("head");

    let mut v1 = runner(&store, 1);
    assert_eq!(v1.catch_up().await.expect("version 1"), head.position() as usize, "from the first event");
    assert_eq!((v1.phase(), v1.switched()), (Phase::Active, Some(Switched::Now { from: None })));
    let stable = v1.read_schema().expect("versioned");
    assert_eq!(read(&store, &stable).await.expect("read"), (1, STREAMS as i64, sum), "complete");

    // The unversioned runner goes on as before, under its own checkpoint.
    fill(&store, 1_000).await;
    let at = unversioned.cursor().await.expect("cursor").position();
    assert_eq!(at, head.position(), "untouched by version 1");
    // Readers stop below the oldest transaction running anywhere on the server (other tests'),
    // so the new events may show in more than one catch-up.
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut caught = 0;
    while caught < 1_000 && Instant::now() < deadline {
        caught += unversioned.catch_up().await.expect("the unversioned runner");
    }
    assert_eq!(caught, 1_000);
    let sql = format!("SELECT coalesce(sum(balance), 0)::bigint FROM {table}");
    let unversioned_sum: i64 = sqlx::query_scalar(&sql).fetch_one(store.pool()).await.expect("sum");
    assert_eq!(unversioned_sum, deposited(&store).await);
    sqlx::query(&format!("DROP SCHEMA {stable}, {} CASCADE", v1.tables_schema().expect("v1")))
        .execute(store.pool())
        .await
        .expect("drop the version's schemas");
    drop_store(store).await;
}
