//! Snapshots on PostgreSQL: a stream of 100,000 events with a snapshot every 1,000 loads by
//! reading at most 1,000 events, counted at the store.

use std::time::Instant;

use es_core::{
    Aggregate, Apply, Event, EventStore, ExpectedVersion, Handle, NewEvent, Repository, SnapshotStore,
};
use es_testing::CountingStore;
use serde::{Deserialize, Serialize};

use crate::{drop_store, fresh_store};

#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Added {
    n: u64,
}

#[derive(Aggregate, Default, Debug, PartialEq, Serialize, Deserialize)]
#[aggregate(events(Added), error = std::convert::Infallible, snapshot_version = 2)]
pub struct Tally {
    pub total: u64,
    count: u64,
}

impl Apply<Added> for Tally {
    fn apply(&mut self, e: &Added) {
        self.total += e.n;
        self.count += 1;
    }
}

impl Handle<u64> for Tally {
    fn handle(&self, n: &u64) -> Result<Vec<TallyEvent>, Self::Error> {
        Ok(vec![Added { n: *n }.into()])
    }
}

async fn append_raw<S: EventStore>(store: &S, stream: &str, from: u64, count: u64) {
    for start in (from..from + count).step_by(10_000) {
        let end = (start + 10_000).min(from + count);
        let batch = (start..end).map(|n| NewEvent::new("Added", 1, serde_json::json!({ "n": n }))).collect();
        store.append(stream, ExpectedVersion::Any, batch).await.expect("append");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_snapshot_every_1000_bounds_a_load_of_100_000_events() {
    let store = fresh_store().await;
    let counting = CountingStore::new(store.clone());
    let tallies = Repository::<Tally, _>::new(counting.clone()).with_snapshots(1000);

    append_raw(&store, "Tally-t", 1, 99_999).await;
    tallies.execute("t", 100_000).await.expect("the command that crosses 100,000 takes a snapshot");
    let kept = store.load_snapshot("Tally-t").await.expect("load").expect("a snapshot");
    assert_eq!((kept.stream_version, kept.schema_version), (100_000, 2));
    append_raw(&store, "Tally-t", 100_001, 500).await;

    counting.reset();
    let started = Instant::now();
    let fast = tallies.load("t").await.expect("load");
    let with_snapshot = started.elapsed();
    assert!(counting.events_read() <= 1000, "read {} events", counting.events_read());
    assert_eq!(counting.events_read(), 500);

    let started = Instant::now();
    let full = Repository::<Tally, _>::new(store.clone()).load("t").await.expect("load");
    let without = started.elapsed();
    assert_eq!(fast, full);
    assert_eq!((full.version, full.state.count), (100_500, 100_500));
    println!(
        "load of 100,500 events: {with_snapshot:?} with the snapshot (500 events read), {without:?} without"
    );
    drop_store(store).await;
}
