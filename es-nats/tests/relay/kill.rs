//! The relay SIGKILLed at random points (a real process: this test binary running itself as
//! `relay_child`), restarted, `ES_RELAY_KILLS` times (5 by default), while new events keep
//! coming: the stream holds every message once and in order per stream; what a killed relay
//! published but had not checkpointed is published again and dropped by the broker.

use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime};

use es_core::{EventStore, ExpectedVersion, NewEvent};
use es_nats::{Relay, RelayOptions};

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

async fn append(store: &es_sqlite::SqliteStore, round: u64, streams: u64) {
    for s in 0..streams {
        let batch = (1..=50u64)
            .map(|n| NewEvent::new("Deposited", 1, serde_json::json!({ "n": round * 1000 + n })))
            .collect();
        store.append(&format!("Account-{s}"), ExpectedVersion::Any, batch).await.expect("append");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_relay_loses_nothing_and_repeats_nothing() {
    let kills: u64 = std::env::var("ES_RELAY_KILLS").ok().and_then(|k| k.parse().ok()).unwrap_or(5);
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("relay.db");
    let store = es_sqlite::SqliteStore::open(&db).await.expect("open");
    let prefix = format!("k{}", es_core::Uuid::new_v4().simple());
    let client = client().await;
    append(&store, 0, 40).await;
    for round in 1..=kills {
        let mut child = Command::new(std::env::current_exe().expect("the test binary"))
            .args(["--ignored", "--exact", "kill::relay_child", "--nocapture"])
            .env(DB, &db)
            .env(PREFIX, &prefix)
            .stdout(Stdio::null())
            .spawn()
            .expect("start the relay process");
        append(&store, round, 20).await;
        tokio::time::sleep(Duration::from_millis(150 + random_below(900))).await;
        child.kill().expect("SIGKILL");
        child.wait().expect("reap");
    }
    // The last relay runs to the end (after the killed one's lease lapses).
    tokio::time::sleep(Duration::from_millis(700)).await;
    let mut relay = Relay::start("payments", Payments, store.clone(), client.clone(), relay_options(&prefix))
        .await
        .expect("start");
    relay.catch_up().await.expect("catch up");
    let total = 40 * 50 + kills * 20 * 50;
    let received = read_back(&client, &prefix.to_uppercase()).await;
    assert_eq!(received.len() as u64, total, "every event published once after {kills} kills");
    assert_once_in_order(&received);
    delete_stream(&client, &prefix.to_uppercase()).await;
}
