//! The relay over a store that fails its Nth read, checkpoint save, fenced save or lease acquire
//! (`es_testing::FaultyStore`), for every N a clean run makes, each run on a JetStream stream of
//! its own: every event's message arrives, the stream holds each message id once and in order
//! per stream, the checkpoint ends at the head, and what was published twice (seen by a plain
//! subscription beside the stream) is at most the one batch the failure interrupted.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use es_core::{CheckpointStore, EventStore, ExpectedVersion, MemoryStore, NewEvent};
use es_nats::async_nats::Client;
use es_nats::{headers, Relay, RelayOptions};
use es_testing::{Fault, FaultyStore};
use futures_util::StreamExt;

use crate::{assert_once_in_order, client, delete_stream, options, read_back, Payments};

/// Events per run, over [`STREAMS`] streams, and the relay's batch: 13 batches a run.
const EVENTS: u64 = 200;
const STREAMS: u64 = 10;
const BATCH: usize = 16;

/// How many messages a run failing the `nth` call of `fault` publishes twice: none when the
/// failure comes before the batch is read; the whole batch when its checkpoint save fails, since
/// the relay goes back to its last checkpoint rather than trusting a cursor it did not save (a
/// relay that saved before publishing, or kept an unsaved cursor, would repeat nothing).
fn republished(fault: Fault, nth: Option<u64>) -> u64 {
    match (fault, nth) {
        (Fault::SaveCheckpoint | Fault::SaveCheckpointFenced, Some(n)) => {
            (EVENTS - (n - 1) * BATCH as u64).min(BATCH as u64)
        }
        _ => 0,
    }
}

async fn store() -> MemoryStore {
    let store = MemoryStore::new();
    // Interleaved appends, so a batch mixes streams and order per stream is worth checking.
    for round in 0..EVENTS / STREAMS / 4 {
        for s in 0..STREAMS {
            let events = (0..4)
                .map(|i| NewEvent::new("Deposited", 1, serde_json::json!({ "n": round * 4 + i })))
                .collect();
            store.append(&format!("Account-{s}"), ExpectedVersion::Any, events).await.expect("append");
        }
    }
    store
}

/// Every publish on the relay's subjects, repeats included (JetStream drops those, a plain
/// subscription does not): message id -> times seen.
async fn watch(client: &Client, prefix: &str) -> Arc<Mutex<HashMap<String, u64>>> {
    let mut sub = client.subscribe(format!("{prefix}.>")).await.expect("subscribe");
    let seen = Arc::new(Mutex::new(HashMap::new()));
    let into = Arc::clone(&seen);
    tokio::spawn(async move {
        while let Some(m) = sub.next().await {
            let id = m.headers.and_then(|h| h.get(headers::MSG_ID).map(|v| v.as_str().to_owned()));
            *into.lock().expect("seen").entry(id.unwrap_or_default()).or_insert(0) += 1;
        }
    });
    client.flush().await.expect("flush");
    seen
}

/// One relay run over a fresh store failing the `nth` call of `fault` (none when `None`), driven
/// by `catch_up` (or `run` under a lease for the lease faults) and started again after each
/// error. Asserts the outcome; returns the calls of `fault` the run made.
async fn one_run(client: &Client, fault: Fault, nth: Option<u64>) -> u64 {
    let inner = store().await;
    let faulty = FaultyStore::new(inner.clone());
    let faulty = match nth {
        Some(n) => faulty.fail(fault, n),
        None => faulty,
    };
    let (options, stream) = options();
    let prefix = stream.to_lowercase();
    let seen = watch(client, &prefix).await;
    let options: RelayOptions = options.batch(BATCH).lease_ttl(Duration::from_secs(5));
    let mut relay =
        Relay::start("payments", Payments, faulty.clone(), client.clone(), options).await.expect("start");
    let leased = matches!(fault, Fault::Acquire | Fault::SaveCheckpointFenced);
    let head = inner.head().await.expect("head");
    let mut errors = 0;
    loop {
        let done = if leased {
            let at_head = async {
                while inner.load_checkpoint("payments").await.expect("load").map(|c| c.cursor) != Some(head) {
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
            };
            relay.run("faults", Duration::from_millis(5), at_head).await
        } else {
            relay.catch_up().await.map(drop)
        };
        match done {
            Ok(()) => break,
            Err(e) => {
                errors += 1;
                assert!(errors <= 1, "{fault:?} #{nth:?}: more errors than the one injected: {e}");
                assert!(e.to_string().contains("injected failure"), "{fault:?} #{nth:?}: {e}");
            }
        }
    }
    assert_eq!(faulty.injected(), u64::from(nth.is_some()), "{fault:?} #{nth:?}: the fault was hit");

    let checkpoint = inner.load_checkpoint("payments").await.expect("load").map(|c| c.cursor);
    assert_eq!(checkpoint, Some(head), "{fault:?} #{nth:?}: the checkpoint ends at the head");
    let received = read_back(client, &stream).await;
    assert_eq!(received.len() as u64, EVENTS, "{fault:?} #{nth:?}: every event's message, once");
    assert_once_in_order(&received);

    // The publishes reach the subscription on their own time: wait for those expected (up to a
    // second), then a round trip and a moment more for any beyond them.
    let expected = republished(fault, nth);
    let published = || seen.lock().expect("seen").values().sum::<u64>();
    for _ in 0..200 {
        if published() >= EVENTS + expected {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    client.flush().await.expect("flush");
    tokio::time::sleep(Duration::from_millis(5)).await;
    let repeated = published().saturating_sub(EVENTS);
    assert_eq!(repeated, expected, "{fault:?} #{nth:?}: messages published again (dropped by the broker)");
    delete_stream(client, &stream).await;
    faulty.calls(fault)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_failing_at_any_call_loses_and_repeats_nothing() {
    let client = client().await;
    for fault in Fault::ALL {
        let calls = one_run(&client, fault, None).await;
        assert!(calls > 0, "a clean run makes no {fault:?} call");
        for nth in 1..=calls {
            one_run(&client, fault, Some(nth)).await;
        }
        eprintln!("{fault:?}: failed each of {calls} calls in turn");
    }
}
