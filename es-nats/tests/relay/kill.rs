//! The relay SIGKILLed at random points (a real process: this test binary running itself as
//! `relay_child`), restarted, `ES_RELAY_KILLS` times (5 by default), while new events keep
//! coming: the stream holds every message once and in order per stream; what a killed relay
//! published but had not checkpointed is published again and dropped by the broker. A plain
//! subscription beside the stream sees every publish, repeats included: it shows that killed
//! relays had published, and that some of it was published twice (more rounds run, up to 20,
//! until a kill lands between a publish and its checkpoint).

use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use es_core::{CheckpointStore, EventStore, ExpectedVersion, NewEvent};
use es_nats::async_nats::Client;
use es_nats::{headers, Relay, RelayOptions};
use futures_util::StreamExt;

use crate::{assert_once_in_order, client, delete_stream, read_back, Payments};

const DB: &str = "ES_RELAY_DB";
const PREFIX: &str = "ES_RELAY_PREFIX";

fn relay_options(prefix: &str) -> RelayOptions {
    RelayOptions::new(prefix).stream(prefix.to_uppercase()).batch(100).lease_ttl(Duration::from_millis(600))
}

#[test]
#[ignore = "the child process of the kill test; it runs it"]
fn relay_child() {
    let (Ok(db), Ok(prefix)) = (std::env::var(DB), std::env::var(PREFIX)) else { return };
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let store = es_sqlite::SqliteStore::open(&db).await.expect("open");
        let client = es_nats::connect(&es_nats::url_from_env()).await.expect("connect");
        let mut relay =
            Relay::start("payments", Payments, store, client, relay_options(&prefix)).await.expect("start");
        let owner = format!("child-{}", std::process::id());
        relay.run(&owner, Duration::from_millis(20), std::future::pending()).await.expect("run");
    });
}

/// A pseudo-random number below `n`, from the clock.
fn random_below(n: u64) -> u64 {
    let nanos = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(7, |d| d.subsec_nanos());
    u64::from(nanos.wrapping_mul(2_654_435_761)) % n
}

async fn append(store: &es_sqlite::SqliteStore, round: u64, streams: u64) -> u64 {
    for s in 0..streams {
        let batch = (1..=50u64)
            .map(|n| NewEvent::new("Deposited", 1, serde_json::json!({ "n": round * 1000 + n })))
            .collect();
        store.append(&format!("Account-{s}"), ExpectedVersion::Any, batch).await.expect("append");
    }
    streams * 50
}

/// Appends 5 events every 5 ms for `how_long`, so a relay is likely busy when it is killed.
async fn trickle(store: &es_sqlite::SqliteStore, how_long: Duration) -> u64 {
    let until = tokio::time::Instant::now() + how_long;
    let mut appended = 0;
    while tokio::time::Instant::now() < until {
        let batch = (0..5).map(|n| NewEvent::new("Deposited", 1, serde_json::json!({ "n": n }))).collect();
        store
            .append(&format!("Account-{}", appended % 20), ExpectedVersion::Any, batch)
            .await
            .expect("append");
        appended += 5;
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    appended
}

/// Every message published on the relay's subjects, as core NATS subscribers see them: each
/// publish, duplicates included (JetStream drops those; a plain subscription does not).
#[derive(Default)]
struct Seen {
    /// (message id, position) of each message, in arrival order.
    messages: Vec<(String, u64)>,
}

impl Seen {
    fn max_position(&self) -> u64 {
        self.messages.iter().map(|(_, p)| *p).max().unwrap_or(0)
    }

    /// Message ids seen more than once: published again after a kill, dropped by the broker.
    fn repeated(&self) -> usize {
        let mut counts = std::collections::HashMap::new();
        for (id, _) in &self.messages {
            *counts.entry(id.as_str()).or_insert(0) += 1;
        }
        counts.values().filter(|n| **n > 1).count()
    }
}

async fn watch(client: &Client, prefix: &str) -> Arc<Mutex<Seen>> {
    let mut sub = client.subscribe(format!("{prefix}.>")).await.expect("subscribe");
    let seen = Arc::new(Mutex::new(Seen::default()));
    let into = Arc::clone(&seen);
    tokio::spawn(async move {
        while let Some(m) = sub.next().await {
            let headers = m.headers.unwrap_or_default();
            let header = |k: &str| headers.get(k).map(|v| v.as_str().to_owned()).unwrap_or_default();
            let position = header(headers::POSITION).parse().expect("a position");
            into.lock().expect("seen").messages.push((header(headers::MSG_ID), position));
        }
    });
    client.flush().await.expect("flush");
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_relay_loses_nothing_and_repeats_nothing() {
    let kills: u64 = std::env::var("ES_RELAY_KILLS").ok().and_then(|k| k.parse().ok()).unwrap_or(5);
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("relay.db");
    let store = es_sqlite::SqliteStore::open(&db).await.expect("open");
    let prefix = format!("k{}", es_core::Uuid::new_v4().simple());
    let client = client().await;
    let seen = watch(&client, &prefix).await;
    let mut total = append(&store, 0, 40).await;
    // (killed relays that had published, kills between a publish and its checkpoint)
    let (mut published_then_killed, mut killed_before_checkpoint) = (0, 0);
    let mut round = 0;
    // Until `kills` rounds are done and a kill has landed between a publish and its checkpoint
    // (what the broker's deduplication is for), at most 20 more rounds.
    while round < kills || (killed_before_checkpoint == 0 && round < kills + 20) {
        round += 1;
        let before = seen.lock().expect("seen").messages.len();
        let mut child = Command::new(std::env::current_exe().expect("the test binary"))
            .args(["--ignored", "--exact", "kill::relay_child", "--nocapture"])
            .env(DB, &db)
            .env(PREFIX, &prefix)
            .stdout(Stdio::null())
            .spawn()
            .expect("start the relay process");
        total += append(&store, round, 20).await;
        total += trickle(&store, Duration::from_millis(150 + random_below(900))).await;
        child.kill().expect("SIGKILL");
        child.wait().expect("reap");
        // What the killed relay sent is on its way to the subscription: let it arrive.
        tokio::time::sleep(Duration::from_millis(100)).await;
        let checkpoint =
            store.load_checkpoint("payments").await.expect("load").map_or(0, |c| c.cursor.position());
        let seen = seen.lock().expect("seen");
        published_then_killed += u64::from(seen.messages.len() > before);
        killed_before_checkpoint += u64::from(seen.max_position() > checkpoint);
    }
    // The last relay runs to the end (after the killed one's lease lapses).
    tokio::time::sleep(Duration::from_millis(700)).await;
    let mut relay = Relay::start("payments", Payments, store.clone(), client.clone(), relay_options(&prefix))
        .await
        .expect("start");
    relay.catch_up().await.expect("catch up");
    let received = read_back(&client, &prefix.to_uppercase()).await;
    assert_eq!(received.len() as u64, total, "every event published once after {round} kills");
    assert_once_in_order(&received);
    assert!(published_then_killed > 0, "no killed relay had published anything");
    client.flush().await.expect("flush");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let repeated = seen.lock().expect("seen").repeated();
    eprintln!("{round} rounds: {published_then_killed} killed relays had published, {killed_before_checkpoint} were killed before a checkpoint, {repeated} messages published twice");
    assert!(
        killed_before_checkpoint > 0 && repeated > 0,
        "no relay was killed between publishing and checkpointing in {round} rounds \
         ({killed_before_checkpoint} kills, {repeated} messages published twice)"
    );
    // Published twice, stored once: the broker dropped the repeats.
    assert!(received.len() < seen.lock().expect("seen").messages.len());
    delete_stream(&client, &prefix.to_uppercase()).await;
}
