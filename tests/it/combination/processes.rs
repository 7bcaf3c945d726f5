//! Personal fields across processes, with real OS processes (the test binary re-running
//! itself): a fresh process whose first command goes straight to a turn and needs keys
//! (`RetryPolicy::optimistic(0)`) does not deadlock on SQLite's single writer; and a process
//! that cached a member's key before another process forgot the member neither seals new data
//! with the deleted key nor reads the member's new data as erased.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::Instant;

use es_core::personal::Privacy;
use es_core::{Repository, RetryPolicy, StoreError, Turns};

use super::{Earn, Join, Member, Rename};

const SPEC: &str = "ES_COMBO_STORE";
/// Subjects in the one stream `Member-crowd`: more than a command may step out of its turn.
const CROWD: u32 = 40;

/// The store a spec names: `sqlite:<path>` or `postgres:<schema>`.
enum Store {
    Sqlite(es_sqlite::SqliteStore),
    Postgres(es_postgres::PostgresStore),
}

impl Store {
    async fn open(spec: &str) -> Result<Self, StoreError> {
        match spec.split_once(':') {
            Some(("sqlite", path)) => Ok(Store::Sqlite(es_sqlite::SqliteStore::open(path).await?)),
            Some(("postgres", schema)) => {
                let url = es_postgres::url_from_env();
                Ok(Store::Postgres(es_postgres::PostgresOptions::new().schema(schema).connect(&url).await?))
            }
            _ => Err(StoreError::backend("test", format!("bad {SPEC}: {spec}"))),
        }
    }
}

/// Runs `body` on the store the environment names, in a child process.
fn child<F>(body: impl FnOnce(Store) -> F)
where
    F: std::future::Future<Output = ()>,
{
    let Ok(spec) = std::env::var(SPEC) else { return };
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let store = Store::open(&spec).await.expect("open the store");
        body(store).await;
    });
}

fn spawn(test: &str, spec: &str) -> (Child, BufReader<ChildStdout>) {
    let exe = std::env::current_exe().expect("the test binary");
    let mut child = Command::new(exe)
        .args(["--ignored", "--exact", test, "--nocapture", "--test-threads=1"])
        .env(SPEC, spec)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn the child");
    let stdout = BufReader::new(child.stdout.take().expect("stdout"));
    (child, stdout)
}

/// What follows the marker `@prefix` in the child's output (the test harness prints text of
/// its own, even on the same line).
fn expect_line(out: &mut BufReader<ChildStdout>, prefix: &str) -> String {
    let marker = format!("@{prefix}");
    for line in out.lines() {
        let line = line.expect("a line");
        if let Some((_, rest)) = line.split_once(&marker) {
            return rest.trim().to_owned();
        }
    }
    panic!("the child ended before printing `{prefix}`")
}

async fn first_command_in_a_turn<S: Privacy + Turns>(store: S) {
    // Optimistic attempts: none. The very first cycle runs in a turn, and needs one key loaded
    // (m-1's, to fold its stream) and one created (m-2's, to seal its new event).
    let members = Repository::<Member, _>::new(store).with_retry_policy(RetryPolicy::default().optimistic(0));
    let started = Instant::now();
    members.execute("m-1", Rename("m-1".into(), "Ann Turned".into())).await.expect("rename in a turn");
    members
        .execute("m-2", Join("m-2".into(), "Bo Turned".into(), "bo@example.com".into()))
        .await
        .expect("join");
    members.execute("m-1", Earn(1)).await.expect("earn");
    // One stream holding the data of many subjects: every key is fetched in one step out.
    members.execute("crowd", Rename("s-new".into(), "Crowd Turned".into())).await.expect("rename the crowd");
    assert_eq!(members.load("crowd").await.expect("load").state.renames, CROWD + 1);
    let name = members.load("m-1").await.expect("load").state.name;
    println!("@turns {}", members.turns_taken());
    println!("@done {} {name}", started.elapsed().as_millis());
}

#[test]
#[ignore = "a child process of the combination tests; they run it"]
fn combo_turn_child() {
    child(|store| async move {
        match store {
            Store::Sqlite(s) => first_command_in_a_turn(s).await,
            Store::Postgres(s) => first_command_in_a_turn(s).await,
        }
    });
}

async fn turns_in_a_fresh_process<S: Privacy + Turns>(store: S, spec: &str) {
    let members = Repository::<Member, _>::new(store);
    members.execute("m-1", Join("m-1".into(), "Ann".into(), "ann@example.com".into())).await.expect("join");
    for i in 0..CROWD {
        members.execute("crowd", Rename(format!("s-{i}"), format!("Member {i}"))).await.expect("rename");
    }
    let (mut child, mut out) =
        tokio::task::block_in_place(|| spawn("combination::processes::combo_turn_child", spec));
    let turns: u64 =
        tokio::task::block_in_place(|| expect_line(&mut out, "turns ")).parse().expect("a count");
    let done = tokio::task::block_in_place(|| expect_line(&mut out, "done "));
    let status = child.wait().expect("reap the child");
    assert!(status.success(), "the child failed: {status}");
    assert_eq!(turns, 4, "every command of the child took a turn");
    let (ms, name) = done.split_once(' ').expect("ms and name");
    let ms: u64 = ms.parse().expect("milliseconds");
    assert_eq!(name, "Ann Turned");
    // A deadlocked turn waits out the pool's 30 s acquire timeout, then fails.
    assert!(ms < 10_000, "four commands took {ms} ms: a turn waited on its own connection");
    assert_eq!(members.load("m-1").await.expect("load").state.name, "Ann Turned");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_a_first_command_in_a_turn_loads_and_creates_keys_without_deadlock() {
    let dir = tempfile::tempdir().expect("temp dir");
    let spec = format!("sqlite:{}", dir.path().join("turns.db").display());
    let Ok(Store::Sqlite(store)) = Store::open(&spec).await else { panic!("open") };
    turns_in_a_fresh_process(store, &spec).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_first_command_in_a_turn_loads_and_creates_keys_without_deadlock() {
    let store = crate::stores::pg_store("es_combo_turn").await;
    let spec = format!("postgres:{}", store.schema_name());
    turns_in_a_fresh_process(store.clone(), &spec).await;
    store.drop_schema().await.expect("drop the test schema");
}

async fn write_after_a_forget_elsewhere<S: Privacy + Turns>(store: S) {
    let members = Repository::<Member, _>::new(store);
    // Caches m-1's key (for 30 s by default).
    let before = members.load("m-1").await.expect("load").state.name;
    println!("@ready {before}");
    let mut go = String::new();
    std::io::stdin().read_line(&mut go).expect("the parent's go");
    members.execute("m-1", Rename("m-1".into(), "Ann Later".into())).await.expect("rename");
    println!("@name {}", members.load("m-1").await.expect("load").state.name);
}

#[test]
#[ignore = "a child process of the combination tests; they run it"]
fn combo_forget_child() {
    child(|store| async move {
        match store {
            Store::Sqlite(s) => write_after_a_forget_elsewhere(s).await,
            Store::Postgres(s) => write_after_a_forget_elsewhere(s).await,
        }
    });
}

async fn forget_while_another_process_writes<S: Turns + Privacy>(
    store: S,
    spec: &str,
    forget: impl std::future::Future<Output = bool>,
) {
    let members = Repository::<Member, _>::new(store.clone());
    members.execute("m-1", Join("m-1".into(), "Ann".into(), "ann@example.com".into())).await.expect("join");
    let (mut child, mut out) =
        tokio::task::block_in_place(|| spawn("combination::processes::combo_forget_child", spec));
    let before = tokio::task::block_in_place(|| expect_line(&mut out, "ready"));
    assert_eq!(before, "Ann", "the child read (and cached) m-1's key");
    assert!(forget.await, "m-1 had a key");
    assert_eq!(members.load("m-1").await.expect("load").state.name, "", "forgotten here");
    let mut stdin = child.stdin.take().expect("stdin");
    writeln!(stdin, "go").expect("tell the child to write");
    let seen_by_writer = tokio::task::block_in_place(|| expect_line(&mut out, "name "));
    assert!(child.wait().expect("reap").success(), "the child failed");
    assert_eq!(seen_by_writer, "Ann Later", "the writer sealed with a key that still exists");
    // This process cached m-1 as forgotten: the new value's key is looked up, not assumed gone.
    let here = members.load("m-1").await.expect("load").state;
    assert_eq!((here.name.as_str(), here.email.as_str()), ("Ann Later", "erased@invalid"));
    // A process that never cached anything reads the same.
    let fresh = Store::open(spec).await.expect("reopen");
    let name = match fresh {
        Store::Sqlite(s) => Repository::<Member, _>::new(s).load("m-1").await.expect("load").state.name,
        Store::Postgres(s) => Repository::<Member, _>::new(s).load("m-1").await.expect("load").state.name,
    };
    assert_eq!(name, "Ann Later");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_a_forget_in_one_process_is_honoured_by_a_writer_in_another() {
    let dir = tempfile::tempdir().expect("temp dir");
    let spec = format!("sqlite:{}", dir.path().join("forget.db").display());
    let Ok(Store::Sqlite(store)) = Store::open(&spec).await else { panic!("open") };
    let forgetter = store.clone();
    let forget = async move { forgetter.forget("m-1").await.expect("forget").had_key };
    forget_while_another_process_writes(store, &spec, forget).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_forget_in_one_process_is_honoured_by_a_writer_in_another() {
    let store = crate::stores::pg_store("es_combo_forget").await;
    let spec = format!("postgres:{}", store.schema_name());
    let forgetter = store.clone();
    let forget = async move { forgetter.forget("m-1").await.expect("forget").had_key };
    forget_while_another_process_writes(store.clone(), &spec, forget).await;
    store.drop_schema().await.expect("drop the test schema");
}
