//! 10,000 events published and read back from JetStream: each once, in order per stream, with
//! the headers that say where it came from; an event that does not map is parked.

use es_core::{DeadLetters, EventStore, ExpectedVersion, Metadata, NewEvent, Uuid};
use es_nats::Relay;

use crate::{assert_once_in_order, client, delete_stream, options, read_back, Payments};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_events_arrive_once_in_order() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = es_sqlite::SqliteStore::open(dir.path().join("relay.db")).await.expect("open");
    let correlation = Uuid::new_v4();
    for s in 0..100u64 {
        let events = (1..=100u64)
            .map(|n| {
                let name = match n {
                    50 => "Flagged",
                    77 if s == 3 => "Garbled",
                    _ => "Deposited",
                };
                NewEvent::new(name, 1, serde_json::json!({ "n": n }))
                    .with_metadata(Metadata::default().correlation_id(correlation))
            })
            .collect();
        store.append(&format!("Account-{s}"), ExpectedVersion::NoStream, events).await.expect("append");
    }
    store
        .append("Other-1", ExpectedVersion::Any, vec![NewEvent::new("Unrelated", 1, serde_json::json!({}))])
        .await
        .expect("append");

    let client = client().await;
    let (options, stream) = options();
    let options = options.batch(700);
    let mut relay = Relay::start("payments", Payments, store.clone(), client.clone(), options.clone())
        .await
        .expect("start");
    assert_eq!(
        relay.catch_up().await.expect("catch up"),
        10_001,
        "every event read, the unrelated one skipped"
    );
    let status = relay.status().await.expect("status");
    assert_eq!((status.published, status.duplicates, status.parked, status.lag), (10_099, 0, 1, 0));
    assert!(status.last_ack.is_some());

    let received = read_back(&client, &stream).await;
    assert_eq!(received.len(), 10_099, "9,999 mapped deposits, 100 of them flagged twice, one parked");
    assert_once_in_order(&received);
    let first = &received[0];
    assert_eq!(
        (first.subject.as_str(), first.stream.as_str(), first.stream_version),
        (&*options.subject("PaymentReceived"), "Account-0", 1)
    );
    assert_eq!(first.payload, serde_json::json!({ "account": "Account-0", "n": 1 }));
    assert!(received.iter().any(|r| r.subject == options.subject("risk.Flag")));
    let parked = store.parked("payments").await.expect("parked");
    assert_eq!(parked.len(), 1);
    assert!(parked[0].error.contains("garbled deposit 77"), "{parked:?}");

    // Started again from its checkpoint: nothing is published twice.
    let mut again = Relay::start("payments", Payments, store, client.clone(), options).await.expect("start");
    assert_eq!(again.catch_up().await.expect("catch up"), 0);
    assert_eq!(read_back(&client, &stream).await.len(), 10_099);
    delete_stream(&client, &stream).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_without_jetstream_is_refused() {
    let server = crate::broker::NatsServer::start(false);
    let client = es_nats::connect(&server.url()).await.expect("connect");
    server.wait_ready(&client).await;
    match Relay::start("payments", Payments, es_core::MemoryStore::new(), client, options().0).await {
        Err(es_nats::RelayError::NoJetStream(why)) => assert!(why.contains("nats-server -js"), "{why}"),
        Err(other) => panic!("expected NoJetStream, got {other}"),
        Ok(_) => panic!("a relay started on a server without JetStream"),
    }
}
