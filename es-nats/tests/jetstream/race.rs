//! 8 appenders expecting the same version, round after round, on a 3-node cluster (R3): exactly
//! one wins each round. `ES_JS_ROUNDS` rounds (20 by default; 200 for the long run).

use es_core::{EventStore, ExpectedVersion, NewEvent, StoreError};
use tokio::task::JoinSet;

use crate::server::Servers;

fn rounds() -> u64 {
    std::env::var("ES_JS_ROUNDS").ok().and_then(|r| r.parse().ok()).unwrap_or(20)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn eight_appenders_one_winner_per_round_on_r3() {
    let servers = Servers::cluster().await;
    let store = crate::store_at(&servers.url(), 3).await;
    for round in 0..rounds() {
        let mut tasks = JoinSet::new();
        for w in 0..8u64 {
            let store = store.clone();
            tasks.spawn(async move {
                let e = NewEvent::new("Raced", 1, serde_json::json!({ "round": round, "writer": w }));
                store.append("hot", ExpectedVersion::Exact(round), vec![e]).await
            });
        }
        let (mut won, mut lost, mut unsure) = (Vec::new(), 0, 0);
        while let Some(r) = tasks.join_next().await {
            match r.expect("task") {
                Ok(a) => {
                    assert_eq!(a.stream_version, round + 1);
                    won.push(a.events[0].id);
                }
                Err(StoreError::Conflict { actual, .. }) => {
                    assert_eq!(actual, round + 1, "a loser sees the winner's version");
                    lost += 1;
                }
                // Under load a request may time out with its outcome unknown (the append
                // could not settle it in time): what the stream holds decides, below.
                Err(e) => {
                    eprintln!("round {round}: an append's outcome stayed unknown: {e}");
                    unsure += 1;
                }
            }
        }
        let stored = store.read_stream("hot", round + 1, 10).await.expect("read");
        assert_eq!(stored.len(), 1, "round {round}: exactly one event at version {}", round + 1);
        assert!(won.len() <= 1, "round {round}: {} winners", won.len());
        if let Some(id) = won.first() {
            assert_eq!(stored[0].id, *id, "round {round}: the winner's event is the one stored");
        }
        assert_eq!(won.len() + lost + unsure, 8, "round {round}");
        assert!(won.len() == 1 || unsure > 0, "round {round}: an event stored, and nobody told it won");
    }
    let stored = store.read_stream("hot", 1, 10_000).await.expect("read");
    assert_eq!(stored.len() as u64, rounds(), "one event per round, no more");
    if let Err(e) = store.destroy().await {
        eprintln!("stream not deleted ({e}): the servers are stopped with the test");
    }
}
