//! One leased reactor in three OS processes (this test binary run again as children): one holds
//! the lease and reacts while the others stand by; when the holder is SIGKILLed mid-run, one of
//! them takes over within the lease's time and finishes while the third keeps standing by;
//! every review is opened exactly once.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::AtomicU64;
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::Arc;
use std::time::{Duration, Instant};

use es_core::consume::Stepped;
use es_core::personal::Privacy;
use es_core::{CheckpointStore, DeadLetters, Leases, ReactorRunner, Repository, Turns};

use crate::bank::{Account, Deposit, Open, Withdraw};
use crate::feed::Auditor;
use crate::reactions::Review;

const SPEC: &str = "ES_FL_STORE";
const OWNER: &str = "ES_FL_OWNER";
const NAME: &str = "auditor";
const ACCOUNTS: u64 = 8;
const WITHDRAWALS: u64 = 10;
const TTL: Duration = Duration::from_millis(600);
/// Processes running the same leased reactor.
const PROCESSES: usize = 3;

async fn fill<S: Privacy + Turns>(store: &S) {
    let accounts = Repository::<Account, _>::new(store.clone());
    for a in 0..ACCOUNTS {
        let id = format!("l{a}");
        accounts.execute(&id, Open { owner: id.clone() }).await.expect("open");
        accounts.execute(&id, Deposit { amount: 100_000 }).await.expect("deposit");
        for _ in 0..WITHDRAWALS {
            accounts.execute(&id, Withdraw { amount: 500 }).await.expect("withdraw");
        }
    }
}

/// Runs the leased reactor until killed, reporting `took N` when it takes the lease at epoch N,
/// `standby` when it first finds another holding it, `reacted R` after each batch it saved.
async fn work<S: Privacy + Turns + CheckpointStore + DeadLetters + Leases>(store: S, owner: &str) {
    let auditor = Auditor::slow(Repository::new(store.clone()), Arc::new(AtomicU64::new(0)));
    let runner = ReactorRunner::start(NAME, auditor, store).await.expect("start");
    let mut runner = runner.leased(TTL).owner(owner).with_batch(5);
    let (mut held, mut standing_by) = (None, false);
    loop {
        match runner.step().await.expect("a step") {
            Stepped::Worked { read, more, lease } => {
                let epoch = lease.map(|l| l.epoch);
                if held != epoch {
                    println!("\nfl: took {}", epoch.unwrap_or_default());
                    held = epoch;
                }
                standing_by = false;
                if read > 0 {
                    println!("\nfl: reacted {read}");
                }
                if more {
                    continue;
                }
            }
            Stepped::Standby { .. } | Stepped::Fenced { .. } => {
                held = None;
                if !standing_by {
                    println!("\nfl: standby");
                    standing_by = true;
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
}

#[test]
#[ignore = "a child process of the leased reactor test; it runs it"]
fn feed_lease_child() {
    let (Ok(spec), Ok(owner)) = (std::env::var(SPEC), std::env::var(OWNER)) else { return };
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        match spec.split_once(':') {
            Some(("sqlite", path)) => {
                work(es_sqlite::SqliteStore::open(path).await.expect("open"), &owner).await
            }
            Some(("postgres", schema)) => {
                let options = es_postgres::PostgresOptions::new().schema(schema).max_connections(3);
                work(options.connect(&es_postgres::url_from_env()).await.expect("connect"), &owner).await
            }
            _ => panic!("bad {SPEC}: {spec}"),
        }
    });
}

/// Starts child `k` (owner `w<k>`), forwarding its report lines as (k, line).
fn start(spec: &str, k: usize, send: Sender<(usize, String)>) -> Child {
    let env = [(SPEC, spec.to_owned()), (OWNER, format!("w{k}"))];
    spawn_child("feed_lease::feed_lease_child", "fl: ", &env, k, send)
}

/// Runs the ignored test `test` of this binary as child `k` with `env`, forwarding the lines it
/// prints after `prefix` as (k, line). Children print `"\n<prefix>..."`: the test harness
/// writes its own words before the first line.
pub(crate) fn spawn_child(
    test: &str,
    prefix: &'static str,
    env: &[(&str, String)],
    k: usize,
    send: Sender<(usize, String)>,
) -> Child {
    let exe = std::env::current_exe().expect("the test binary");
    let mut child = Command::new(exe)
        .args(["--ignored", "--exact", test, "--nocapture", "--test-threads=1"])
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn a child process");
    let stdout = child.stdout.take().expect("stdout");
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(report) = line.strip_prefix(prefix) {
                if send.send((k, report.to_owned())).is_err() {
                    return;
                }
            }
        }
    });
    child
}

/// The children and every report line they sent, as (child, line), in arrival order.
pub(crate) struct Children {
    pub(crate) children: Vec<Child>,
    pub(crate) lines: Receiver<(usize, String)>,
    pub(crate) seen: Vec<(usize, String)>,
}

impl Children {
    /// Waits until some line (seen already, or coming) matches `want`; returns its child and
    /// its index among the lines seen.
    pub(crate) fn wait_for(&mut self, what: &str, want: impl Fn(usize, &str) -> bool) -> (usize, usize) {
        if let Some(i) = self.seen.iter().position(|(k, l)| want(*k, l)) {
            return (self.seen[i].0, i);
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            match self.lines.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                Ok(item) => {
                    self.seen.push(item);
                    let (k, line) = &self.seen[self.seen.len() - 1];
                    if want(*k, line) {
                        return (*k, self.seen.len() - 1);
                    }
                }
                Err(_) => panic!("no child reported {what} within 30 s; saw {:?}", self.seen),
            }
        }
    }
}

impl Drop for Children {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

async fn one_holder_then_takeover<S: Privacy + Turns + Leases>(store: S, spec: &str) {
    fill(&store).await;
    let (send, lines) = channel();
    let children = (0..PROCESSES).map(|k| start(spec, k, send.clone())).collect();
    let mut children = Children { children, lines, seen: Vec::new() };
    let (holder, _) = children.wait_for("taking the lease", |_, l| l == "took 1");
    let others: Vec<usize> = (0..PROCESSES).filter(|k| *k != holder).collect();
    for &other in &others {
        children.wait_for("the others standing by", |k, l| k == other && l == "standby");
    }
    children.wait_for("a saved batch", |k, l| k == holder && l.starts_with("reacted "));
    let lease = store.lease(NAME).await.expect("lease").expect("taken");
    assert_eq!((lease.owner.as_str(), lease.epoch), (format!("w{holder}").as_str(), 1), "one holder");
    children.children[holder].kill().expect("SIGKILL the holder");
    let killed = Instant::now();
    let (successor, at) = children.wait_for("a takeover", |k, l| k != holder && l == "took 2");
    let took = killed.elapsed();
    assert!(took < TTL + Duration::from_secs(1), "the takeover took {took:?}, the lease lasts {TTL:?}");
    let reacted_before =
        children.seen[..at].iter().any(|(k, l)| others.contains(k) && l.starts_with("reacted"));
    assert!(!reacted_before, "a stand-by reacted before the takeover: {:?}", children.seen);

    // The successor finishes: every review opened exactly once.
    let reviews = Repository::<Review, _>::new(store.clone());
    let deadline = Instant::now() + Duration::from_secs(60);
    for a in 0..ACCOUNTS {
        for n in 0..WITHDRAWALS {
            let id = format!("{NAME}-Account-l{a}-{}", n + 3);
            let opened = loop {
                let opened = reviews.load(&id).await.expect("load").state.opened;
                if opened > 0 || Instant::now() > deadline {
                    break opened;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            };
            assert_eq!(opened, 1, "review {id} opened exactly once");
        }
    }
    // Only the successor ever held the lease after the holder: the third stood by throughout.
    let bystander = children
        .seen
        .iter()
        .any(|(k, l)| *k != holder && *k != successor && (l.starts_with("took") || l.starts_with("reacted")));
    assert!(!bystander, "a third process took the lease or reacted: {:?}", children.seen);
    drop(children);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_a_leased_reactor_runs_once_and_fails_over() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("lease.db");
    let store = es_sqlite::SqliteStore::open(&path).await.expect("open");
    one_holder_then_takeover(store, &format!("sqlite:{}", path.display())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_leased_reactor_runs_once_and_fails_over() {
    let store = crate::stores::pg_store("es_flease").await;
    one_holder_then_takeover(store.clone(), &format!("postgres:{}", store.schema_name())).await;
    store.drop_schema().await.expect("drop the test schema");
}
