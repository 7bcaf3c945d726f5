//! A table projection rebuilt as a new version beside the live one, by child processes (this
//! test binary run again) SIGKILLed three times at random points: each successor resumes from
//! the checkpoint, readers querying the stable schema see the complete live version until one
//! switch shows them the complete new version, and the new version's tables equal a clean build.
//!
//! `ES_BESIDE_EVENTS` sets the number of events (default 20,000; the run is 100,000).

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

use crate::{drop_store, fresh_store, url};

const NAME: &str = "ledger";
const STREAMS: u64 = 100;
const SCHEMA: &str = "ES_BESIDE_SCHEMA";
const OWNER: &str = "ES_BESIDE_OWNER";
const TTL: Duration = Duration::from_millis(1500);
const KILLS: usize = 3;

fn events() -> u64 {
    std::env::var("ES_BESIDE_EVENTS").ok().and_then(|n| n.parse().ok()).unwrap_or(20_000).max(STREAMS * 10)
}

/// Balances per stream. Version 1 keeps amounts; version 2 and later (the code changed) keep
/// cents and count deposits, in a table of another shape.
struct Ledger {
    version: u64,
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
        let ddl = if self.version == 1 {
            "CREATE TABLE IF NOT EXISTS balances (stream text PRIMARY KEY, balance bigint NOT NULL)"
        } else {
            "CREATE TABLE IF NOT EXISTS balances (stream text PRIMARY KEY, balance bigint NOT NULL, deposits bigint NOT NULL)"
        };
        sqlx::query(ddl).execute(&mut *tx).await.map_err(|e| StoreError::backend("test", e))?;
        Ok(())
    }

    async fn apply(&mut self, tx: &mut PgConnection, event: &StoredEvent) -> Result<(), StoreError> {
        let amount = amount(event)?;
        let sql = if self.version == 1 {
            "INSERT INTO balances (stream, balance) VALUES ($1, $2)
             ON CONFLICT (stream) DO UPDATE SET balance = balances.balance + $2"
        } else {
            "INSERT INTO balances (stream, balance, deposits) VALUES ($1, $2 * 100, 1)
             ON CONFLICT (stream) DO UPDATE SET balance = balances.balance + $2 * 100, deposits = balances.deposits + 1"
        };
        sqlx::query(sql)
            .bind(&event.stream)
            .bind(amount)
            .execute(&mut *tx)
            .await
            .map_err(|e| StoreError::backend("test", e))?;
        Ok(())
    }
}

fn runner(store: &PostgresStore, version: u64) -> TableProjectionRunner<Ledger> {
    TableProjectionRunner::new(store.clone(), Ledger { version })
        .with_batch(500)
        .version(version)
        .expect("a short enough schema name")
}

/// Appends `events()` deposits over `STREAMS` streams, 500 per append; returns their sum.
async fn fill(store: &PostgresStore) -> i64 {
    let per_stream = events() / STREAMS;
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

/// What readers of the stable schema see: (rows, total balance).
async fn read(store: &PostgresStore, schema: &str) -> Result<(i64, i64), sqlx::Error> {
    sqlx::query_as(&format!("SELECT count(*), coalesce(sum(balance), 0)::bigint FROM {schema}.balances"))
        .fetch_one(store.pool())
        .await
}

/// Rows of `a` not in `b`.
async fn missing(store: &PostgresStore, a: &str, b: &str) -> i64 {
    let sql =
        format!("SELECT count(*) FROM (SELECT * FROM {a}.balances EXCEPT SELECT * FROM {b}.balances) x");
    sqlx::query_scalar(&sql).fetch_one(store.pool()).await.expect("compare")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_table_projection_rebuilt_beside_survives_kills_and_switches_once() {
    let store = fresh_store().await;
    let started = Instant::now();
    let sum = fill(&store).await;
    let filled = started.elapsed();

    // The live version: built, then switched to (no version was active yet).
    let mut live = runner(&store, 1);
    live.catch_up().await.expect("build version 1");
    assert_eq!((live.phase(), live.switched()), (Phase::Active, Some(Switched::Now { from: None })));
    let stable = live.read_schema().expect("versioned");
    let (v1, v2) = ((STREAMS as i64, sum), (STREAMS as i64, sum * 100));
    assert_eq!(read(&store, &stable).await.expect("read"), v1);

    // Readers query the stable schema throughout.
    let done = Arc::new(AtomicBool::new(false));
    let seen = Arc::new(Mutex::new(Vec::<(i64, i64)>::new()));
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

    // Three builders killed at random points, each successor resuming; the fourth finishes.
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
    done.store(true, Ordering::Relaxed);
    reader.await.expect("the reader");

    // Readers saw the complete version 1, then the complete version 2, nothing else.
    let seen = seen.lock().expect("lock").clone();
    assert_eq!(seen, vec![v1, v2], "readers saw only complete versions, switched once");
    assert_eq!(switched, 1, "one builder switched");
    let record = versions::active(&store, NAME).await.expect("record").expect("a record");
    assert_eq!((record.version, record.switches_to(2)), (2, 1), "{record:?}");

    // The live version sees the switch and retires.
    live.step().await.expect("a step of version 1");
    assert_eq!(live.phase(), Phase::Retired { active: 2 });

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
    assert_eq!(read(&store, &stable).await.expect("read"), v2);

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
        "{} events: filled in {filled:.1?}, rebuilt beside with {KILLS} kills in {rebuilt:.1?}, readers saw {seen:?}",
        events()
    );
    for schema in left {
        sqlx::query(&format!("DROP SCHEMA \"{schema}\" CASCADE")).execute(store.pool()).await.expect("drop");
    }
    drop_store(store).await;
}
