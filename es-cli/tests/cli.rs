//! The `es` binary run as a process against a SQLite file and a PostgreSQL schema prepared here:
//! each command's text and JSON, and the one-line errors a person reads. `rebuild` runs
//! embedded (a projection of this test registered), its progress captured as plain lines.

use std::process::{Command, Output};

use es_core::{
    Checkpoint, CheckpointStore, Cursor, DeadLetters, Event, EventContext, EventStore, ExpectedVersion,
    Leases, Metadata, NewEvent, Parked, Project, Projection,
};
use serde::{Deserialize, Serialize};

#[path = "cli/safety.rs"]
mod safety;

fn es(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_es")).args(args).output().expect("run es")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn json(o: &Output) -> serde_json::Value {
    assert!(o.status.success(), "es failed: {}", stderr(o));
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", stdout(o)))
}

/// Two accounts, a checkpoint, a parked event.
async fn prepare<S: EventStore + CheckpointStore + DeadLetters>(store: &S) {
    let meta = Metadata::default().with("who", "test");
    let ann = vec![
        NewEvent::new("AccountOpened", 1, serde_json::json!({ "owner": "Ann" })).with_metadata(meta),
        NewEvent::new(
            "MoneyDeposited",
            3,
            serde_json::json!({ "amount": 100, "currency": "EUR", "memo": "" }),
        ),
    ];
    store.append("Account-ann", ExpectedVersion::NoStream, ann).await.expect("append");
    let bob = vec![NewEvent::new("AccountOpened", 1, serde_json::json!({ "owner": "Bob" }))];
    store.append("Account-bob", ExpectedVersion::NoStream, bob).await.expect("append");
    store
        .append("Other-1", ExpectedVersion::NoStream, vec![NewEvent::new("Pinged", 1, serde_json::json!({}))])
        .await
        .expect("append");
    let checkpoint =
        Checkpoint { cursor: Cursor::at(2), state: None, saved_at: std::time::SystemTime::now() };
    store.save_checkpoint("balances", checkpoint).await.expect("checkpoint");
    // A rebuild beside switched readers of `balances` to version 2.
    let record = es_core::consume::versions::ActiveVersion::switched(None, 2, Cursor::at(3));
    let active = Checkpoint {
        cursor: Cursor::at(3),
        state: Some(record.to_state().expect("record")),
        saved_at: std::time::SystemTime::now(),
    };
    store.save_checkpoint(&es_core::consume::versions::active_key("balances"), active).await.expect("active");
    let event = store.read_stream("Account-bob", 1, 1).await.expect("read").remove(0);
    let parked = Parked {
        reactor: "mailer".into(),
        event,
        error: "smtp down".into(),
        attempts: 3,
        parked_at: std::time::SystemTime::now(),
    };
    store.park(parked).await.expect("park");
}

fn check_commands(store: &[&str]) {
    let with = |args: &[&str]| es(&[store, args].concat());
    let streams = with(&["streams"]);
    assert!(streams.status.success(), "{}", stderr(&streams));
    assert!(stdout(&streams).contains("       2  Account-ann"), "{}", stdout(&streams));
    let list = json(&with(&["streams", "--prefix", "Account-", "--json"]));
    assert_eq!(
        list,
        serde_json::json!([{ "stream": "Account-ann", "events": 2 }, { "stream": "Account-bob", "events": 1 }])
    );

    let show = stdout(&with(&["show", "Account-ann"]));
    assert!(
        show.contains("AccountOpened v1") && show.contains(r#"{"owner":"Ann"}"#) && show.contains("metadata"),
        "{show}"
    );
    let events = json(&with(&["show", "Account-ann", "--json"]));
    assert_eq!(events[1]["payload"]["amount"], 100);
    assert_eq!((events[0]["version"].as_u64(), events[0]["name"].as_str()), (Some(1), Some("AccountOpened")));
    assert_eq!(events[0]["metadata"]["extra"]["who"], "test", "{events}");
    let missing = with(&["show", "Nope-1"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(stderr(&missing).contains("no stream `Nope-1`"));

    let stats = json(&with(&["stats", "--json"]));
    assert_eq!(
        (stats["events"].as_u64(), stats["streams"].as_u64(), stats["parked"].as_u64()),
        (Some(4), Some(3), Some(1))
    );
    assert_eq!(stats["by_name"]["AccountOpened"], 2);
    let projections = json(&with(&["projections", "--json"]));
    assert_eq!(projections[0]["name"], "balances");
    assert_eq!(projections[0]["lag"], 2);
    assert_eq!(
        (projections[1]["name"].as_str(), projections[1]["active_version"].as_u64()),
        (Some("balances"), Some(2))
    );
    let parked = json(&with(&["parked", "--json"]));
    assert_eq!(
        (parked[0]["reactor"].as_str(), parked[0]["error"].as_str()),
        (Some("mailer"), Some("smtp down"))
    );
    let tail = stdout(&with(&["tail", "--all", "--count", "3"]));
    assert_eq!(tail.lines().count(), 3, "{tail}");
    let verify = with(&["verify"]);
    assert!(verify.status.success(), "{}", stdout(&verify));
    assert!(
        stdout(&verify).contains("verified 4 events in 3 streams: every chain holds"),
        "{}",
        stdout(&verify)
    );
    assert!(stdout(&with(&["forget", "c-1"])).contains("has no key"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_on_sqlite() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("bank.db");
    let store = es_sqlite::SqliteStore::open(&path).await.expect("open");
    prepare(&store).await;
    let url = format!("sqlite:{}", path.display());
    check_commands(&["--store", &url]);

    // Tampered: verify says where, and exits 1.
    let raw = sqlx::SqlitePool::connect(&url).await.expect("connect");
    sqlx::query("UPDATE events SET payload = replace(payload, '100', '900')")
        .execute(&raw)
        .await
        .expect("tamper");
    let verify = es(&["--store", &url, "verify"]);
    assert_eq!(verify.status.code(), Some(1));
    assert!(
        stdout(&verify).contains("`Account-ann` version 2 (position 2) was edited"),
        "{}",
        stdout(&verify)
    );

    // A store written by a newer program.
    sqlx::query("PRAGMA user_version = 99").execute(&raw).await.expect("newer");
    raw.close().await;
    let newer = es(&["--store", &url, "streams"]);
    assert_eq!(newer.status.code(), Some(2));
    let line = stderr(&newer);
    assert_eq!(line.lines().count(), 1, "one line: {line}");
    assert!(line.contains("schema version 99, newer than this program's"), "{line}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_on_postgres() {
    let schema = format!("es_cli_{}", es_core::Uuid::new_v4().simple());
    let url = es_postgres::url_from_env();
    let store = match es_postgres::PostgresOptions::new().schema(&schema).connect(&url).await {
        Ok(store) => store,
        Err(e) => panic!("this test needs PostgreSQL ({e})\n{}", es_postgres::how_to_start(&url)),
    };
    prepare(&store).await;
    es_testing_settle(&store).await;
    check_commands(&["--store", &url, "--schema", &schema]);

    // A schema migrated by a newer program.
    sqlx::query(&format!("INSERT INTO {}.es_migrations (version) VALUES (99)", store.schema()))
        .execute(store.pool())
        .await
        .expect("newer");
    let newer = es(&["--store", &url, "--schema", &schema, "streams"]);
    assert_eq!(newer.status.code(), Some(2));
    let line = stderr(&newer);
    assert_eq!(line.lines().count(), 1, "one line: {line}");
    assert!(line.contains("the schema has version 99, newer than this program's"), "{line}");
    store.drop_schema().await.expect("drop the test schema");
}

/// Waits until the 4 events are visible in the global order (PostgreSQL shows a commit once
/// every older transaction ended).
async fn es_testing_settle(store: &es_postgres::PostgresStore) {
    for _ in 0..600 {
        if store.read_all(Cursor::START, 10).await.expect("read").len() == 4 {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("the events did not become visible");
}

#[test]
fn errors_are_one_line_that_says_what_to_do() {
    let cases: [(&[&str], &str); 3] = [
        (
            &["--store", "mysql://somewhere/db", "streams"],
            "unknown store URL `mysql://somewhere/db`: use sqlite:PATH",
        ),
        (
            &["--store", "sqlite:/no/such/dir/bank.db", "streams"],
            "no event store at /no/such/dir/bank.db: the file does not exist",
        ),
        (
            &["--store", "postgres://postgres@127.0.0.1:1/test", "streams"],
            "cannot reach PostgreSQL at postgres://postgres@127.0.0.1:1/test",
        ),
    ];
    for (args, expected) in cases {
        let o = es(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        let err = stderr(&o);
        assert_eq!(err.lines().count(), 1, "one line: {err}");
        assert!(err.starts_with(&format!("error: {expected}")), "{err}");
        assert!(!err.contains("Backend {") && !err.contains("Error {"), "no debug dumps: {err}");
    }
}

/// An event of this test.
#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Numbered {
    /// Its number.
    pub n: u64,
}

/// A projection of this test, for `rebuild`.
#[derive(Projection, Default, Serialize, Deserialize)]
#[projection(events(Numbered))]
pub struct Total {
    /// The sum of the numbers.
    pub sum: u64,
}

impl Project<Numbered> for Total {
    fn project(&mut self, e: &Numbered, _: &EventContext<'_>) {
        self.sum += e.n;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rebuild_100_000_events_with_plain_progress_and_catalogue() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("big.db");
    let store = es_sqlite::SqliteStore::open(&path).await.expect("open");
    for b in 0..100u64 {
        let batch = (0..1_000u64)
            .map(|i| NewEvent::new("Numbered", 1, serde_json::json!({ "n": b * 1_000 + i })))
            .collect();
        store.append(&format!("N-{b}"), ExpectedVersion::NoStream, batch).await.expect("append");
    }
    let url = format!("sqlite:{}", path.display());
    let app = es_cli::App::new().projection::<Total>("total");
    let handle = std::thread::spawn(move || {
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let code = app.run(["es", "--store", &url, "rebuild", "total"], &mut out, &mut err);
        let catalogue = {
            let mut c = Vec::new();
            app.run(["es", "--store", &url, "catalogue"], &mut c, &mut err);
            c
        };
        (
            code,
            String::from_utf8(out).expect("utf-8"),
            String::from_utf8(err).expect("utf-8"),
            String::from_utf8(catalogue).expect("utf-8"),
        )
    });
    let (code, out, err, catalogue) = handle.join().expect("the embedded app");
    assert_eq!(code, std::process::ExitCode::SUCCESS, "{err}");
    let progress: Vec<&str> = out.lines().filter(|l| l.starts_with("rebuild: ")).collect();
    assert!(progress.len() >= 5, "plain progress lines: {out}");
    assert!(
        progress.iter().all(|l| !l.contains('\r') && !l.contains('\u{1b}')),
        "no terminal control in {out}"
    );
    assert!(out.contains("rebuilt total from 100000 events"), "{out}");
    let saved = store.load_checkpoint("total").await.expect("load").expect("a checkpoint");
    let state: Total = serde_json::from_str(saved.state.expect("state").get()).expect("state");
    assert_eq!(state.sum, (0..100_000u64).sum::<u64>());
    assert!(catalogue.contains("| Numbered | 1 | `cli::Numbered` |"), "{catalogue}");
}

/// `rebuild` runs under the projection's lease: while a live worker holds it, the rebuild is
/// refused and touches nothing; once free, it rebuilds and gives the lease back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rebuild_takes_the_projections_lease() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("leased.db");
    let store = es_sqlite::SqliteStore::open(&path).await.expect("open");
    let batch = (1..=10u64).map(|n| NewEvent::new("Numbered", 1, serde_json::json!({ "n": n }))).collect();
    store.append("N-1", ExpectedVersion::NoStream, batch).await.expect("append");
    let live =
        store.acquire("total", "live-worker", std::time::Duration::from_secs(60)).await.expect("acquire");
    let live = live.expect("the lease is free");
    let run = |url: String| {
        std::thread::spawn(move || {
            let app = es_cli::App::new().projection::<Total>("total");
            let (mut out, mut err) = (Vec::new(), Vec::new());
            let code = app.run(["es", "--store", &url, "rebuild", "total"], &mut out, &mut err);
            (code, String::from_utf8(err).expect("utf-8"))
        })
        .join()
        .expect("the embedded app")
    };
    let url = format!("sqlite:{}", path.display());
    let (code, err) = run(url.clone());
    assert_ne!(code, std::process::ExitCode::SUCCESS, "refused while held");
    assert!(err.contains("held by live-worker"), "{err}");
    assert!(store.load_checkpoint("total").await.expect("load").is_none(), "nothing saved");

    store.release(&live).await.expect("release");
    let (code, err) = run(url);
    assert_eq!(code, std::process::ExitCode::SUCCESS, "{err}");
    let saved = store.load_checkpoint("total").await.expect("load").expect("a checkpoint");
    let state: Total = serde_json::from_str(saved.state.expect("state").get()).expect("state");
    assert_eq!(state.sum, 55);
    let lease = store.lease("total").await.expect("lease").expect("taken once");
    assert!(lease.owner.starts_with("es-rebuild/"), "{lease:?}");
    let again =
        store.acquire("total", "next-worker", std::time::Duration::from_secs(5)).await.expect("acquire");
    assert!(again.is_some(), "the rebuild gave the lease back");
}

#[tokio::test]
async fn deadlines_lists_what_is_pending() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("carts.db");
    let store = es_sqlite::SqliteStore::open(&path).await.expect("open");
    let scheduled = |target: &str| {
        let payload = serde_json::json!({ "target": target, "command": "CancelCart", "payload": null, "after_ms": 86_400_000 });
        NewEvent::new("DeadlineScheduled", 1, payload)
    };
    store.append("Cart-a", ExpectedVersion::NoStream, vec![scheduled("a")]).await.expect("append");
    store.append("Cart-b", ExpectedVersion::NoStream, vec![scheduled("b")]).await.expect("append");
    let cancelled = serde_json::json!({ "target": "b", "command": "CancelCart" });
    store
        .append("Cart-b", ExpectedVersion::Exact(1), vec![NewEvent::new("DeadlineCancelled", 1, cancelled)])
        .await
        .expect("append");
    store.close().await;
    let url = format!("sqlite:{}", path.display());
    let listed = json(&es(&["--store", &url, "deadlines", "--json"]));
    let pending: Vec<_> = listed
        .as_array()
        .expect("a list")
        .iter()
        .map(|d| (d["target"].clone(), d["command"].clone()))
        .collect();
    assert_eq!(pending, [(serde_json::json!("a"), serde_json::json!("CancelCart"))], "{listed}");
    let text = stdout(&es(&["--store", &url, "deadlines"]));
    assert!(text.contains("CancelCart") && text.contains("1 pending") && text.contains("23h 59m"), "{text}");
}
