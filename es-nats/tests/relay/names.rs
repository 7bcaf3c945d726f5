//! Stream names a header cannot hold as they are (CR, LF, ESC, `%`, edge spaces): the relay
//! escapes them, publishes, and goes on; a message NATS cannot take is parked with its reason,
//! and the events after it are still published.

use es_core::{DeadLetters, EventStore, ExpectedVersion, MemoryStore, NewEvent};
use es_nats::async_nats::jetstream;
use es_nats::{headers, Relay};

use crate::{client, delete_stream, options, read_back, Payments};

async fn deposit(store: &MemoryStore, stream: &str, n: u64) {
    let event = NewEvent::new("Deposited", 1, serde_json::json!({ "n": n }));
    store.append(stream, ExpectedVersion::Any, vec![event]).await.expect("append");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn odd_stream_names_are_published_escaped_and_the_relay_goes_on() {
    let store = MemoryStore::new();
    let odd = ["Account-a\r\nb", "Account-\u{1b}[31mred", "Account-50%", " Account-edge "];
    deposit(&store, odd[0], 1).await;
    deposit(&store, odd[1], 2).await;
    let client = client().await;
    let (options, stream) = options();
    let mut relay =
        Relay::start("payments", Payments, store.clone(), client.clone(), options).await.expect("start");
    assert_eq!(relay.catch_up().await.expect("the relay publishes, it does not panic"), 2);
    // Alive: later events, odd or not, are published too.
    deposit(&store, odd[2], 3).await;
    deposit(&store, odd[3], 4).await;
    deposit(&store, "Account-plain", 5).await;
    assert_eq!(relay.catch_up().await.expect("catch up"), 3);
    let status = relay.status().await.expect("status");
    assert_eq!((status.published, status.parked), (5, 0));

    let js = jetstream::new(client.clone());
    let s = js.get_stream(&stream).await.expect("stream");
    let raw = s.get_raw_message(1).await.expect("first message");
    let header = raw.headers.get(headers::STREAM).expect("Es-Stream").as_str().to_owned();
    assert_eq!(header, "Account-a%0D%0Ab", "escaped on the wire");
    let received = read_back(&client, &stream).await;
    let streams: Vec<&str> = received.iter().map(|r| r.stream.as_str()).collect();
    assert_eq!(streams, [odd[0], odd[1], odd[2], odd[3], "Account-plain"], "unescaped by consumers");
    assert_eq!(received[0].payload["account"], odd[0], "the payload keeps the name as it is");
    delete_stream(&client, &stream).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_too_large_for_the_server_is_parked_and_the_relay_goes_on() {
    let store = MemoryStore::new();
    deposit(&store, "Account-1", 1).await;
    let limit = {
        let client = client().await;
        client.server_info().max_payload
    };
    let bulky = NewEvent::new("Bulky", 1, serde_json::json!({ "size": limit + 10 }));
    store.append("Account-1", ExpectedVersion::Any, vec![bulky]).await.expect("append");
    deposit(&store, "Account-1", 3).await;
    let client = client().await;
    let (options, stream) = options();
    let mut relay =
        Relay::start("payments", Payments, store.clone(), client.clone(), options).await.expect("start");
    assert_eq!(relay.catch_up().await.expect("catch up"), 3);
    let parked = store.parked("payments").await.expect("parked");
    assert_eq!(parked.len(), 1, "{parked:?}");
    assert_eq!((parked[0].event.name.as_str(), parked[0].event.stream_version), ("Bulky", 2));
    assert!(parked[0].error.contains("more than the"), "{}", parked[0].error);
    let received = read_back(&client, &stream).await;
    let versions: Vec<u64> = received.iter().map(|r| r.stream_version).collect();
    assert_eq!(versions, [1, 3], "the events around the parked one are published");
    delete_stream(&client, &stream).await;
}
