//! A process killed with SIGKILL while appending large batches leaves each batch whole or
//! absent, on SQLite and on PostgreSQL; and every batch it saw acknowledged is there.
//!
//! The test binary runs itself as the child (`crash_child`, ignored unless asked for), reads
//! its progress from stdout, and kills it at a random moment while it appends back to back.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use es_core::{EventStore, ExpectedVersion, NewEvent, StoreError};

const BATCH: usize = 10_000;
const KILLS: usize = 3;
const SPEC: &str = "ES_CRASH_STORE";
const ROUND: &str = "ES_CRASH_ROUND";

fn batch(n: usize) -> Vec<NewEvent> {
    (0..BATCH)
        .map(|i| {
            NewEvent::new("Filler", 1, serde_json::json!({ "batch": n, "i": i, "pad": "x".repeat(160) }))
        })
        .collect()
}

fn pg_url() -> String {
    es_postgres::url_from_env()
}

/// The store a spec names: `sqlite:<path>` or `postgres:<schema>`.
#[derive(Clone)]
enum Store {
    Sqlite(es_sqlite::SqliteStore),
    Postgres(es_postgres::PostgresStore),
}

impl Store {
    async fn open(spec: &str) -> Result<Self, StoreError> {
        Ok(match spec.split_once(':') {
            Some(("sqlite", path)) => Store::Sqlite(es_sqlite::SqliteStore::open(path).await?),
            Some(("postgres", schema)) => {
                Store::Postgres(es_postgres::PostgresOptions::new().schema(schema).connect(&pg_url()).await?)
            }
            _ => panic!("bad {SPEC}: {spec}"),
        })
    }

    async fn append(&self, stream: &str, events: Vec<NewEvent>) -> Result<(), StoreError> {
        match self {
            Store::Sqlite(s) => s.append(stream, ExpectedVersion::NoStream, events).await.map(drop),
            Store::Postgres(s) => s.append(stream, ExpectedVersion::NoStream, events).await.map(drop),
        }
    }

    async fn count(&self, stream: &str) -> Result<usize, StoreError> {
        let limit = BATCH + 1;
        Ok(match self {
            Store::Sqlite(s) => s.read_stream(stream, 1, limit).await?.len(),
            Store::Postgres(s) => s.read_stream(stream, 1, limit).await?.len(),
        })
    }
}

#[test]
#[ignore = "the child process of the crash tests; they run it"]
fn crash_child() {
    let (Ok(spec), Ok(round)) = (std::env::var(SPEC), std::env::var(ROUND)) else { return };
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let store = Store::open(&spec).await.expect("open");
        for n in 0.. {
            let events = batch(n);
            println!("appending {n}");
            store.append(&format!("crash-{round}-{n}"), events).await.expect("append");
            println!("appended {n}");
        }
    });
}

/// Runs the child on `spec`, kills it at a random moment while it appends batch `at` (a random
/// fraction of the time the previous batch took), and returns the batches it reported appended.
fn kill_while_appending(spec: &str, round: usize, at: usize) -> Vec<usize> {
    let exe = std::env::current_exe().expect("the test binary");
    let mut child = Command::new(exe)
        .args(["--ignored", "--exact", "crash::crash_child", "--nocapture", "--test-threads=1"])
        .env(SPEC, spec)
        .env(ROUND, round.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn the child");
    let stdout = child.stdout.take().expect("stdout");
    let (mut appended, mut started, mut took) = (Vec::new(), Instant::now(), Duration::ZERO);
    let mut reached = false;
    for line in BufReader::new(stdout).lines() {
        let line = line.expect("a line");
        if line.starts_with("appending ") {
            started = Instant::now();
        }
        if let Some(n) = line.strip_prefix("appended ") {
            appended.push(n.parse().expect("a batch number"));
            took = started.elapsed();
        }
        if line == format!("appending {at}") {
            reached = true;
            break;
        }
    }
    assert!(reached, "the child stopped before appending batch {at}: run `{SPEC}={spec} {ROUND}={round} <test binary> --ignored --exact crash::crash_child --nocapture` to see why");
    assert_eq!(appended.len(), at, "the child acknowledged every batch before {at}");
    let fraction = (es_core::Uuid::new_v4().as_u64_pair().0 % 1000) as u32;
    std::thread::sleep(took * fraction / 1000);
    child.kill().expect("SIGKILL the child");
    child.wait().expect("reap the child");
    appended
}

async fn check_batches_whole(spec: &str) {
    for round in 0..KILLS {
        let at = round + 1;
        let acknowledged = tokio::task::block_in_place(|| kill_while_appending(spec, round, at));
        let store = Store::open(spec).await.expect("reopen after the kill");
        for n in 0..=at + 1 {
            let count = store.count(&format!("crash-{round}-{n}")).await.expect("read");
            assert!(
                count == 0 || count == BATCH,
                "batch {n} is partial after SIGKILL: {count} of {BATCH} events"
            );
            if acknowledged.contains(&n) {
                assert_eq!(count, BATCH, "batch {n} was acknowledged, so it must survive the kill");
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_batches_survive_sigkill_whole_or_not_at_all() {
    let dir = tempfile::tempdir().expect("temp dir");
    check_batches_whole(&format!("sqlite:{}", dir.path().join("crash.db").display())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_batches_survive_sigkill_whole_or_not_at_all() {
    let schema = format!("es_crash_{}", es_core::Uuid::new_v4().simple());
    let spec = format!("postgres:{schema}");
    check_batches_whole(&spec).await;
    if let Ok(Store::Postgres(store)) = Store::open(&spec).await {
        store.drop_schema().await.expect("drop the test schema");
    }
}
