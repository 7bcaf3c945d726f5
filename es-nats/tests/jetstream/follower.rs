//! A follower SIGTERMed on a 3-node cluster (R3) during appends from 4 writers: nothing visible
//! changes. No append fails, every acknowledged event is stored once, a reader of the global
//! order skips nothing; the follower, started again, catches up.
//!
//! The follower is a node that leads neither of the store's streams. The store's client is
//! connected to the two other nodes: what is tested is the cluster losing a replica, not a
//! client losing its server (that is a reconnect, covered by the leader test).

use std::collections::HashSet;
use std::time::{Duration, Instant};

use es_core::{Cursor, EventStore, ExpectedVersion, NewEvent, Uuid};
use es_nats::{async_nats, JetStreamOptions, JetStreamStore};
use tokio::task::JoinSet;

use crate::server::Servers;

/// The node leading the JetStream stream `name`.
async fn leader_of(client: &async_nats::Client, name: &str) -> String {
    let js = async_nats::jetstream::new(client.clone());
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(mut stream) = js.get_stream(name).await {
            if let Ok(info) = stream.info().await {
                if let Some(leader) = info.cluster.as_ref().and_then(|c| c.leader.clone()) {
                    return leader;
                }
            }
        }
        assert!(Instant::now() < deadline, "{name} has no leader after 30 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// How many replicas of `name` are current (the leader's included).
async fn current_replicas(client: &async_nats::Client, name: &str) -> usize {
    let js = async_nats::jetstream::new(client.clone());
    let Ok(mut stream) = js.get_stream(name).await else { return 0 };
    let Ok(info) = stream.info().await else { return 0 };
    let cluster = info.cluster.as_ref();
    1 + cluster.map_or(0, |c| c.replicas.iter().filter(|r| r.current).count())
}

fn appends() -> u64 {
    std::env::var("ES_JS_APPENDS").ok().and_then(|n| n.parse().ok()).unwrap_or(1000)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn terminating_a_follower_changes_nothing_visible() {
    let mut servers = Servers::cluster().await;
    let name = crate::fresh_name();
    let setup = JetStreamStore::connect(&servers.url(), JetStreamOptions::new(&name).replicas(3))
        .await
        .expect("create the streams");
    let leaders =
        [leader_of(setup.client(), &name).await, leader_of(setup.client(), &format!("{name}_SIDE")).await];
    let follower =
        servers.nodes.iter().map(|n| n.name.clone()).find(|n| !leaders.contains(n)).expect("a follower");
    let others: Vec<String> =
        servers.nodes.iter().filter(|n| n.name != follower).map(|n| n.url.clone()).collect();
    let store = JetStreamStore::connect(&others.join(","), JetStreamOptions::new(&name).replicas(3))
        .await
        .expect("connect to the two other nodes");

    let per_writer = appends() / 4;
    let mut writers = JoinSet::new();
    for w in 0..4u64 {
        let store = store.clone();
        writers.spawn(async move {
            let mut acked = Vec::new();
            for i in 0..per_writer {
                let e = NewEvent::new("Written", 1, serde_json::json!({ "w": w, "i": i }));
                let id = e.id;
                // No retry: any error is a visible change.
                store
                    .append(&format!("w-{w}"), ExpectedVersion::Exact(i), vec![e])
                    .await
                    .unwrap_or_else(|err| panic!("writer {w}, append {i}: {err}"));
                acked.push(id);
            }
            acked
        });
    }
    let reader = {
        let (store, total) = (store.clone(), per_writer * 4);
        tokio::spawn(async move {
            let (mut after, mut seen) = (Cursor::START, Vec::new());
            while (seen.len() as u64) < total {
                for e in store.read_all(after, 256).await.expect("a read fails") {
                    assert_eq!(e.position, after.position() + 1, "the reader skipped a position");
                    after = e.cursor;
                    seen.push(e.id);
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            seen
        })
    };
    while store.head().await.map(|c| c.position()).unwrap_or(0) < per_writer * 4 / 3 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let stopped = Instant::now();
    tokio::task::block_in_place(|| servers.node(&follower).terminate());
    let terminated_in = stopped.elapsed();
    let mut acked = HashSet::new();
    while let Some(w) = writers.join_next().await {
        acked.extend(w.expect("a writer failed"));
    }
    let seen =
        tokio::time::timeout(Duration::from_secs(60), reader).await.expect("reader stalled").expect("reader");
    let unique: HashSet<Uuid> = seen.iter().copied().collect();
    assert_eq!(unique.len(), seen.len(), "the reader saw an event twice");
    assert_eq!(unique, acked, "every acknowledged event is stored once, nothing else");

    // Back, it catches up: three current replicas again.
    servers.node(&follower).restart().await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while current_replicas(store.client(), &name).await < 3 {
        assert!(Instant::now() < deadline, "the restarted follower did not catch up in 30 s");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    eprintln!(
        "follower {follower} terminated in {terminated_in:?} during {} appends; caught up after restart",
        acked.len()
    );
    store.destroy().await.ok();
}
