//! Idempotent commands: with a command id, executing the same command again records nothing
//! new and returns what the first execution recorded; run twice, from 8 tasks with store
//! handles of their own, and from 2 OS processes, on every store.

use std::process::{Command, Stdio};

use es_core::personal::Privacy;
use es_core::{Metadata, Repository, Turns, Uuid};

use crate::bank::{Account, Deposit, Open};

const SPEC: &str = "ES_IDEM_STORE";
const COMMAND: &str = "ES_IDEM_COMMAND";

/// Opens an account, then runs one deposit with `command` `n` times concurrently through
/// repositories built by `handle`; every caller gets the same events and one deposit is stored.
async fn once_however_often<S, F, Fut>(handle: F, n: usize)
where
    S: Privacy + Turns,
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = S>,
{
    let accounts = Repository::<Account, _>::new(handle().await);
    let id = format!("idem-{}", Uuid::new_v4().simple());
    accounts.execute(&id, Open { owner: "o".into() }).await.expect("open");
    let meta = Metadata::default().command_id(Uuid::new_v4());

    let first = accounts.execute_with(&id, Deposit { amount: 7 }, meta.clone()).await.expect("first");
    let again = accounts.execute_with(&id, Deposit { amount: 7 }, meta.clone()).await.expect("again");
    let ids = |r: &[es_core::Recorded<crate::bank::AccountEvent>]| {
        r.iter().map(|e| (e.id, e.position)).collect::<Vec<_>>()
    };
    assert_eq!(ids(&again), ids(&first), "a retry returns what the first execution recorded");
    assert_eq!(again[0].metadata.command_id, meta.command_id);

    let racing = Metadata::default().command_id(Uuid::new_v4());
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..n {
        let (repository, id, meta) =
            (Repository::<Account, _>::new(handle().await), id.clone(), racing.clone());
        tasks.spawn(async move {
            repository.execute_with(&id, Deposit { amount: 3 }, meta).await.expect("a racing retry")
        });
    }
    let mut answers = Vec::new();
    while let Some(answer) = tasks.join_next().await {
        answers.push(ids(&answer.expect("task")));
    }
    assert!(
        answers.windows(2).all(|w| w[0] == w[1]),
        "every caller gets the same recorded events: {answers:?}"
    );
    let loaded = accounts.load(&id).await.expect("load");
    assert_eq!((loaded.state.balance, loaded.version), (10, 3), "each command recorded once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn memory_records_a_command_once() {
    let store = es_core::MemoryStore::new();
    once_however_often(|| async { store.clone() }, 8).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_records_a_command_once() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("idem.db");
    once_however_often(|| async { es_sqlite::SqliteStore::open(&path).await.expect("open") }, 8).await;
}

async fn pg(schema: &str) -> es_postgres::PostgresStore {
    let url = es_postgres::url_from_env();
    match es_postgres::PostgresOptions::new().schema(schema).max_connections(3).connect(&url).await {
        Ok(store) => store,
        Err(e) => panic!("this test needs PostgreSQL ({e})\n{}", es_postgres::how_to_start(&url)),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_records_a_command_once() {
    let schema = format!("es_idem_{}", Uuid::new_v4().simple());
    once_however_often(|| pg(&schema), 8).await;
    pg(&schema).await.drop_schema().await.expect("drop the test schema");
}

#[test]
#[ignore = "a child process of the idempotency tests; they run it"]
fn idempotent_child() {
    let (Ok(spec), Ok(command)) = (std::env::var(SPEC), std::env::var(COMMAND)) else { return };
    let command = Uuid::parse_str(&command).expect("a command id");
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let recorded = rt.block_on(async {
        let meta = Metadata::default().command_id(command);
        let deposit = Deposit { amount: 1 };
        match spec.split_once(':') {
            Some(("sqlite", path)) => {
                let accounts =
                    Repository::<Account, _>::new(es_sqlite::SqliteStore::open(path).await.expect("open"));
                accounts.execute_with("twice", deposit, meta).await.expect("execute")
            }
            Some(("postgres", schema)) => {
                let accounts = Repository::<Account, _>::new(pg(schema).await);
                accounts.execute_with("twice", deposit, meta).await.expect("execute")
            }
            _ => panic!("bad {SPEC}: {spec}"),
        }
    });
    println!("\nidem: {}", recorded.iter().map(|r| r.id.to_string()).collect::<Vec<_>>().join(","));
}

/// Two processes run the same command at once: one records, both answer with its events.
async fn two_processes<S: Privacy + Turns>(store: S, spec: &str) {
    let accounts = Repository::<Account, _>::new(store);
    accounts.execute("twice", Open { owner: "o".into() }).await.expect("open");
    let command = Uuid::new_v4().to_string();
    let exe = std::env::current_exe().expect("the test binary");
    let children: Vec<_> = (0..2)
        .map(|_| {
            Command::new(&exe)
                .args([
                    "--ignored",
                    "--exact",
                    "idempotent::idempotent_child",
                    "--nocapture",
                    "--test-threads=1",
                ])
                .env(SPEC, spec)
                .env(COMMAND, &command)
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .expect("spawn a child")
        })
        .collect();
    let answers: Vec<String> = tokio::task::block_in_place(|| {
        children
            .into_iter()
            .map(|child| {
                let out = child.wait_with_output().expect("output");
                let text = String::from_utf8_lossy(&out.stdout).into_owned();
                text.lines()
                    .find_map(|l| l.strip_prefix("idem: "))
                    .map(str::to_owned)
                    .expect("a child's answer")
            })
            .collect()
    });
    assert_eq!(answers[0], answers[1], "both processes answer with the same recorded events");
    let loaded = accounts.load("twice").await.expect("load");
    assert_eq!((loaded.state.balance, loaded.version), (1, 2), "the command is recorded once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_a_command_from_two_processes_is_recorded_once() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("twice.db");
    let store = es_sqlite::SqliteStore::open(&path).await.expect("open");
    two_processes(store, &format!("sqlite:{}", path.display())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_command_from_two_processes_is_recorded_once() {
    let schema = format!("es_idem_{}", Uuid::new_v4().simple());
    let store = pg(&schema).await;
    two_processes(store.clone(), &format!("postgres:{schema}")).await;
    store.drop_schema().await.expect("drop the test schema");
}
