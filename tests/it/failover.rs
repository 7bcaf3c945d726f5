//! Projection workers across OS processes (this test binary run again as children): one holds
//! the lease and runs the projection; when it is SIGKILLed another takes over within the lease's
//! time, and when it is SIGSTOPped past its lease and then resumed, its write is refused by the
//! fence. Either way the read model equals one clean run: every event applied exactly once.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::{Duration, Instant};

use es_core::personal::Privacy;
use es_core::worker::{ProjectionWorker, Step};
use es_core::{
    CheckpointStore, EventContext, EventStore, ExpectedVersion, Leases, NewEvent, Project, Projection,
};
use serde::{Deserialize, Serialize};

use crate::bank::MoneyDeposited;

const SPEC: &str = "ES_FO_STORE";
const OWNER: &str = "ES_FO_OWNER";
const NAME: &str = "totals";
const STREAMS: u64 = 4;
const PER_STREAM: u64 = 100;
const TTL: Duration = Duration::from_millis(600);

/// Counts deposits and sums them, slowly (2 ms an event), so that batches take a while.
#[derive(Projection, Default, Debug, PartialEq, Serialize, Deserialize)]
#[projection(events(MoneyDeposited))]
struct Totals {
    events: u64,
    amount: u64,
}

impl Project<MoneyDeposited> for Totals {
    fn project(&mut self, e: &MoneyDeposited, _: &EventContext<'_>) {
        std::thread::sleep(Duration::from_millis(2));
        self.events += 1;
        self.amount += e.amount;
    }
}

/// What one clean run gives.
fn expected() -> Totals {
    Totals { events: STREAMS * PER_STREAM, amount: STREAMS * (1..=PER_STREAM).sum::<u64>() }
}

async fn fill<S: EventStore>(store: &S) {
    for s in 0..STREAMS {
        let events = (1..=PER_STREAM)
            .map(|n| {
                NewEvent::new(
                    "MoneyDeposited",
                    3,
                    serde_json::json!({ "amount": n, "currency": "EUR", "memo": "" }),
                )
            })
            .collect();
        store.append(&format!("Account-fo{s}"), ExpectedVersion::NoStream, events).await.expect("fill");
    }
}

/// Runs a worker until killed, reporting on lines of its own: `took N` when it takes the lease
/// at epoch N, `saved E` after each batch it saved (E events so far), `fenced N` when a batch it
/// handled under epoch N was refused because another worker had taken the lease.
async fn work<S: Privacy + EventStore + Leases>(store: S, owner: &str) {
    let mut worker = ProjectionWorker::<Totals, _>::new(NAME, store).owner(owner).ttl(TTL).batch(20);
    let mut held = None;
    loop {
        match worker.step().await.expect("a step") {
            Step::Worked { read, lease } => {
                if held != Some(lease.epoch) {
                    println!("\nfo: took {}", lease.epoch);
                    held = Some(lease.epoch);
                }
                if read > 0 {
                    println!("\nfo: saved {}", worker.projection().map_or(0, |p| p.events));
                    continue;
                }
            }
            Step::Standby { .. } => held = None,
            Step::Fenced { epoch } => {
                println!("\nfo: fenced {epoch}");
                held = None;
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[test]
#[ignore = "a child process of the failover tests; they run it"]
fn failover_child() {
    let (Ok(spec), Ok(owner)) = (std::env::var(SPEC), std::env::var(OWNER)) else { return };
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        match spec.split_once(':') {
            Some(("sqlite", path)) => {
                work(es_sqlite::SqliteStore::open(path).await.expect("open"), &owner).await
            }
            Some(("postgres", schema)) => {
                let options = es_postgres::PostgresOptions::new().schema(schema).max_connections(2);
                work(options.connect(&es_postgres::url_from_env()).await.expect("connect"), &owner).await
            }
            _ => panic!("bad {SPEC}: {spec}"),
        }
    });
}

/// The children, and their report lines as (child, line).
struct Workers {
    children: Vec<Child>,
    lines: Receiver<(usize, String)>,
    spec: String,
}

impl Workers {
    fn new(spec: &str) -> Self {
        let (_, lines) = channel();
        Workers { children: Vec::new(), lines, spec: spec.to_owned() }
    }

    /// Starts child `k` (its owner name is `w<k>`).
    fn start(&mut self) -> usize {
        let k = self.children.len();
        let exe = std::env::current_exe().expect("the test binary");
        let mut child = Command::new(exe)
            .args(["--ignored", "--exact", "failover::failover_child", "--nocapture", "--test-threads=1"])
            .env(SPEC, &self.spec)
            .env(OWNER, format!("w{k}"))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn a worker");
        let stdout = child.stdout.take().expect("stdout");
        let (send, lines) = channel();
        // Forward the earlier children's lines into the new channel too.
        let previous = std::mem::replace(&mut self.lines, lines);
        let forward = send.clone();
        std::thread::spawn(move || {
            while let Ok(item) = previous.recv() {
                if forward.send(item).is_err() {
                    return;
                }
            }
        });
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(report) = line.strip_prefix("fo: ") {
                    if send.send((k, report.to_owned())).is_err() {
                        return;
                    }
                }
            }
        });
        self.children.push(child);
        k
    }

    /// Waits for a report matching `want` (from any child but those in `not_from`).
    fn wait_for(&self, what: &str, not_from: &[usize], want: impl Fn(&str) -> bool) -> usize {
        self.wait_at_most(Duration::from_secs(30), not_from, want)
            .unwrap_or_else(|| panic!("no worker reported {what} within 30 s"))
    }

    /// Waits up to `limit` for a report matching `want` (from any child but those in `not_from`).
    fn wait_at_most(
        &self,
        limit: Duration,
        not_from: &[usize],
        want: impl Fn(&str) -> bool,
    ) -> Option<usize> {
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok((k, line)) if !not_from.contains(&k) && want(&line) => return Some(k),
                Ok(_) => {}
                Err(_) => return None,
            }
        }
    }

    fn signal(&self, k: usize, signal: &str) {
        let pid = self.children[k].id().to_string();
        let status = Command::new("kill").args([signal, &pid]).status().expect("run kill");
        assert!(status.success(), "kill {signal} {pid}");
    }
}

impl Drop for Workers {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = Command::new("kill").args(["-CONT", &child.id().to_string()]).status();
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Waits until the saved read model has every event, and returns it.
async fn finished<S: CheckpointStore>(store: &S) -> Totals {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(checkpoint) = store.load_checkpoint(NAME).await.expect("load") {
            let state: Totals =
                serde_json::from_str(checkpoint.state.expect("a state").get()).expect("the state");
            if state.events >= expected().events || Instant::now() > deadline {
                return state;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Three workers; the one that takes the lease is SIGKILLed mid-batch; another takes over
/// within the lease's time plus a poll; the read model equals one clean run.
async fn a_killed_owner_is_replaced<S: EventStore + CheckpointStore>(store: S, spec: &str) {
    fill(&store).await;
    let mut workers = Workers::new(spec);
    for _ in 0..3 {
        workers.start();
    }
    let owner = workers.wait_for("taking the lease", &[], |l| l == "took 1");
    workers.wait_for("a saved batch", &[], |l| l.starts_with("saved "));
    std::thread::sleep(Duration::from_millis(15)); // into the next batch
    let killed = Instant::now();
    workers.children[owner].kill().expect("SIGKILL the owner");
    let successor = workers.wait_for("a takeover", &[owner], |l| l == "took 2");
    let took = killed.elapsed();
    assert!(successor != owner);
    assert!(took < TTL + Duration::from_secs(1), "the takeover took {took:?}, the lease lasts {TTL:?}");
    assert_eq!(finished(&store).await, expected(), "every event applied once, as in one clean run");
}

/// The owner is SIGSTOPped mid-batch past its lease; another takes over and saves; the owner,
/// resumed, finds its save fenced; the read model equals one clean run.
async fn a_paused_owner_cannot_write_after_its_successor<S: EventStore + CheckpointStore>(
    store: S,
    spec: &str,
) {
    fill(&store).await;
    let mut workers = Workers::new(spec);
    let first = workers.start();
    workers.wait_for("taking the lease", &[], |l| l == "took 1");
    let mut second = None;
    // A SQLite writer stopped inside its write transaction holds the file's write lock, and no
    // other process can write (nor take the lease) until it resumes: that is SQLite. So when the
    // stop lands there, the owner is resumed and stopped again at another moment.
    for attempt in 0..5 {
        workers.wait_for("a saved batch", &[], |l| l.starts_with("saved "));
        std::thread::sleep(Duration::from_millis(15));
        workers.signal(first, "-STOP");
        let successor = *second.get_or_insert_with(|| workers.start());
        if workers.wait_at_most(TTL * 4 + Duration::from_secs(2), &[first], |l| l == "took 2").is_some() {
            break;
        }
        assert!(attempt < 4, "no takeover in 5 tries (the worker {successor} stood by each time)");
        workers.signal(first, "-CONT");
    }
    let second = second.expect("a successor was started");
    workers.wait_for("the successor's save", &[first], |l| l.starts_with("saved "));
    workers.signal(first, "-CONT");
    let fenced = workers.wait_for("the paused owner fenced", &[second], |l| l == "fenced 1");
    assert_eq!(fenced, first);
    assert_eq!(finished(&store).await, expected(), "the fenced write changed nothing");
}

fn sqlite_spec(dir: &tempfile::TempDir) -> String {
    format!("sqlite:{}", dir.path().join("failover.db").display())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_a_killed_projection_owner_is_replaced() {
    let dir = tempfile::tempdir().expect("temp dir");
    let spec = sqlite_spec(&dir);
    let store = es_sqlite::SqliteStore::open(dir.path().join("failover.db")).await.expect("open");
    a_killed_owner_is_replaced(store, &spec).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_a_paused_projection_owner_is_fenced() {
    let dir = tempfile::tempdir().expect("temp dir");
    let spec = sqlite_spec(&dir);
    let store = es_sqlite::SqliteStore::open(dir.path().join("failover.db")).await.expect("open");
    a_paused_owner_cannot_write_after_its_successor(store, &spec).await;
}

async fn pg_store() -> (es_postgres::PostgresStore, String) {
    let store = crate::stores::pg_store("es_fo").await;
    let spec = format!("postgres:{}", store.schema_name());
    (store, spec)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_killed_projection_owner_is_replaced() {
    let (store, spec) = pg_store().await;
    a_killed_owner_is_replaced(store.clone(), &spec).await;
    store.drop_schema().await.expect("drop the test schema");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_paused_projection_owner_is_fenced() {
    let (store, spec) = pg_store().await;
    a_paused_owner_cannot_write_after_its_successor(store.clone(), &spec).await;
    store.drop_schema().await.expect("drop the test schema");
}
