//! A reactor SIGKILLed at random points (a real process: this test binary run again), then
//! restarted, over 100 large withdrawals: every review it opens is recorded exactly once,
//! because its checkpoint follows its effects and its commands carry ids derived from the
//! causing event. `ES_REACT_KILLS` sets the kills (default 3; the closing note quotes 10).

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use es_core::personal::Privacy;
use es_core::{CheckpointStore, DeadLetters, ReactorRunner, Repository, Turns};

use crate::bank::{Account, Deposit, Open, Withdraw};
use crate::reactions::{LargeWithdrawals, Review};

const SPEC: &str = "ES_REACT_STORE";
const WITHDRAWALS: u64 = 100;

fn kills() -> usize {
    std::env::var("ES_REACT_KILLS").ok().and_then(|k| k.parse().ok()).unwrap_or(3)
}

async fn fill<S: Privacy + Turns>(store: &S) {
    let accounts = Repository::<Account, _>::new(store.clone());
    for a in 0..WITHDRAWALS / 10 {
        let id = format!("c{a}");
        accounts.execute(&id, Open { owner: id.clone() }).await.expect("open");
        accounts.execute(&id, Deposit { amount: 100_000 }).await.expect("deposit");
        for _ in 0..10 {
            accounts.execute(&id, Withdraw { amount: 500 }).await.expect("withdraw");
        }
    }
}

/// Runs the reactor to the end, 3 ms a reaction, printing `reacting` first and `done` last.
async fn react<S: Privacy + Turns + CheckpointStore + DeadLetters>(store: S) {
    let reactor = LargeWithdrawals::working(Repository::new(store.clone()), Duration::from_millis(3));
    let mut runner = ReactorRunner::start("reviewer", reactor, store).await.expect("start").with_batch(7);
    println!("\nreact: reacting");
    runner.catch_up().await.expect("catch up");
    println!("\nreact: done");
}

#[test]
#[ignore = "a child process of the reactor crash tests; they run it"]
fn reactor_child() {
    let Ok(spec) = std::env::var(SPEC) else { return };
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        match spec.split_once(':') {
            Some(("sqlite", path)) => react(es_sqlite::SqliteStore::open(path).await.expect("open")).await,
            Some(("postgres", schema)) => {
                let options = es_postgres::PostgresOptions::new().schema(schema).max_connections(3);
                react(options.connect(&es_postgres::url_from_env()).await.expect("connect")).await
            }
            _ => panic!("bad {SPEC}: {spec}"),
        }
    });
}

/// Runs the child; kills it `after` it started reacting, unless it finishes first. Returns
/// whether it finished.
fn run_child(spec: &str, after: Option<Duration>) -> bool {
    let exe = std::env::current_exe().expect("the test binary");
    let mut child = Command::new(exe)
        .args(["--ignored", "--exact", "reactor_crash::reactor_child", "--nocapture", "--test-threads=1"])
        .env(SPEC, spec)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn the reactor");
    let stdout = child.stdout.take().expect("stdout");
    let (send, lines) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if send.send(line).is_err() {
                return;
            }
        }
    });
    let mut started = None;
    loop {
        let wait = match (after, started) {
            (Some(after), Some(at)) => after.saturating_sub(Instant::elapsed(&at)),
            _ => Duration::from_secs(60),
        };
        match lines.recv_timeout(wait) {
            Ok(line) if line == "react: reacting" => started = Some(Instant::now()),
            Ok(line) if line == "react: done" => {
                let _ = child.wait();
                return true;
            }
            Ok(_) => {}
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) if started.is_some() => {
                child.kill().expect("SIGKILL the reactor");
                let _ = child.wait();
                return false;
            }
            Err(e) => panic!("the reactor child stopped before finishing: {e}"),
        }
    }
}

async fn exactly_once<S: Privacy + Turns>(store: S, spec: &str) {
    fill(&store).await;
    es_testing::conformance::read_all_settled(&store, (WITHDRAWALS + WITHDRAWALS / 10 * 2) as usize).await;
    let spec_owned = spec.to_owned();
    let finished = tokio::task::block_in_place(move || {
        for _ in 0..kills() {
            // A run takes about 100 x 3 ms: kill it somewhere in there.
            let at = Duration::from_millis(es_core::Uuid::new_v4().as_u64_pair().0 % 300);
            if run_child(&spec_owned, Some(at)) {
                return true;
            }
        }
        run_child(&spec_owned, None)
    });
    assert!(finished, "the last run finishes");
    let reviews = Repository::<Review, _>::new(store);
    for a in 0..WITHDRAWALS / 10 {
        for n in 0..10 {
            let review = format!("Account-c{a}-{}", n + 3);
            let loaded = reviews.load(&review).await.expect("load");
            assert_eq!(loaded.state.opened, 1, "the review of withdrawal {review} is opened exactly once");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_a_killed_reactor_acts_exactly_once() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("reactor.db");
    let store = es_sqlite::SqliteStore::open(&path).await.expect("open");
    exactly_once(store, &format!("sqlite:{}", path.display())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_killed_reactor_acts_exactly_once() {
    let store = crate::stores::pg_store("es_rcrash").await;
    exactly_once(store.clone(), &format!("postgres:{}", store.schema_name())).await;
    store.drop_schema().await.expect("drop the test schema");
}
