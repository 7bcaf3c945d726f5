//! The stream leader SIGKILLed on a 3-node cluster (R3): during appends from 4 writers, and
//! during a 50-event append.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use es_core::{Cursor, EventStore, ExpectedVersion, NewEvent, Uuid};
use es_nats::{async_nats, JetStreamStore};
use tokio::task::JoinSet;

use crate::server::Servers;

/// The name of the node leading `store`'s events stream.
async fn leader(store: &JetStreamStore) -> String {
    let js = async_nats::jetstream::new(store.client().clone());
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(mut stream) = js.get_stream(store.options().stream_name()).await {
            if let Ok(info) = stream.info().await {
                if let Some(leader) = info.cluster.as_ref().and_then(|c| c.leader.clone()) {
                    return leader;
                }
            }
        }
        assert!(Instant::now() < deadline, "the stream has no leader after 30 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn appends() -> u64 {
    std::env::var("ES_JS_APPENDS").ok().and_then(|n| n.parse().ok()).unwrap_or(1000)
}

/// 4 writers append `ES_JS_APPENDS` events (1,000 by default) while a reader follows the global
/// order; the leader is killed a third of the way in. Every acknowledged event is stored once,
/// the reader skips nothing and sees nothing twice, and appends succeed again within 15 s.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn killing_the_leader_loses_no_acknowledged_event() {
    let mut servers = Servers::cluster().await;
    let store = crate::store_at(&servers.url(), 3).await;
    let per_writer = appends() / 4;
    let mut writers = JoinSet::new();
    for w in 0..4u64 {
        let store = store.clone();
        writers.spawn(async move {
            let (mut acked, mut longest, mut last_ok) = (Vec::new(), Duration::ZERO, Instant::now());
            for i in 0..per_writer {
                let e = NewEvent::new("Written", 1, serde_json::json!({ "w": w, "i": i }));
                // A failed append is retried with the same id: stored once whatever happened.
                loop {
                    match store.append(&format!("w-{w}"), ExpectedVersion::Any, vec![e.clone()]).await {
                        Ok(_) => break,
                        Err(err) => {
                            assert!(last_ok.elapsed() < Duration::from_secs(60), "writer {w} stuck: {err}");
                            tokio::time::sleep(Duration::from_millis(50)).await;
                        }
                    }
                }
                longest = longest.max(last_ok.elapsed());
                last_ok = Instant::now();
                acked.push(e.id);
            }
            (acked, longest)
        });
    }
    let reader = {
        let store = store.clone();
        let total = per_writer * 4;
        tokio::spawn(async move {
            let (mut after, mut seen) = (Cursor::START, Vec::new());
            while (seen.len() as u64) < total {
                match store.read_all(after, 256).await {
                    Ok(page) => {
                        for e in page {
                            assert!(e.cursor > after, "the reader went back");
                            assert_eq!(e.position, after.position() + 1, "the reader skipped a position");
                            after = e.cursor;
                            seen.push(e.id);
                        }
                    }
                    Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            seen
        })
    };
    while store.head().await.map(|c| c.position()).unwrap_or(0) < per_writer * 4 / 3 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let name = leader(&store).await;
    servers.node(&name).kill();
    let mut acked = HashSet::new();
    let mut longest = Duration::ZERO;
    while let Some(w) = writers.join_next().await {
        let (ids, gap) = w.expect("writer");
        acked.extend(ids);
        longest = longest.max(gap);
    }
    let seen =
        tokio::time::timeout(Duration::from_secs(60), reader).await.expect("reader stalled").expect("reader");
    let unique: HashSet<Uuid> = seen.iter().copied().collect();
    assert_eq!(unique.len(), seen.len(), "the reader saw an event twice");
    assert_eq!(unique, acked, "every acknowledged event is stored once, nothing else");
    assert!(longest < Duration::from_secs(15), "appends stopped for {longest:?} after the kill");
    eprintln!("leader {name} killed: longest pause between acknowledged appends {longest:?}");
    // The servers and their files go with the test; a delete that times out while the cluster
    // settles changes nothing.
    if let Err(e) = store.destroy().await {
        eprintln!("stream not deleted ({e}): the servers are stopped with the test");
    }
}

/// A 50-event append while the leader is killed, in rounds whose kill lands at different points
/// of the append (from before it sends anything to about when a clean one is acknowledged,
/// measured first): each time all 50 stored, or none, and all 50 when acknowledged.
/// `ES_JS_KILL_ROUNDS` rounds (default 3).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_50_event_append_is_all_or_nothing_when_the_leader_dies() {
    let rounds: u32 = std::env::var("ES_JS_KILL_ROUNDS").ok().and_then(|r| r.parse().ok()).unwrap_or(3);
    let mut servers = Servers::cluster().await;
    let options =
        es_nats::JetStreamOptions::new(crate::fresh_name()).replicas(3).failover(Duration::from_secs(2));
    let store = JetStreamStore::connect(&servers.url(), options).await.expect("connect");
    let fifty =
        || (0..50).map(|i| NewEvent::new("Part", 1, serde_json::json!({ "i": i }))).collect::<Vec<_>>();
    let clean = Instant::now();
    store.append("clean", ExpectedVersion::NoStream, fifty()).await.expect("a clean 50-event append");
    let span = clean.elapsed();
    for round in 0..rounds {
        let stream = format!("big-{round}");
        let events = fifty();
        let ids: HashSet<Uuid> = events.iter().map(|e| e.id).collect();
        let name = leader(&store).await;
        let append = {
            let (store, stream) = (store.clone(), stream.clone());
            tokio::spawn(async move { store.append(&stream, ExpectedVersion::NoStream, events).await })
        };
        tokio::time::sleep(span * round / rounds.max(1)).await;
        servers.node(&name).kill();
        let outcome = append.await.expect("task");
        let deadline = Instant::now() + Duration::from_secs(30);
        let stored = loop {
            match store.read_stream(&stream, 1, 100).await {
                Ok(s) => break s,
                Err(e) => assert!(Instant::now() < deadline, "no reads 30 s after the kill: {e}"),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        let ours = stored.iter().filter(|e| ids.contains(&e.id)).count();
        assert!(ours == 0 || ours == 50, "round {round}: {ours} of the 50 events are stored");
        if outcome.is_ok() {
            assert_eq!(ours, 50, "round {round}: an acknowledged append is stored whole");
        }
        eprintln!(
            "round {round}: killed {:?} into an append that takes {span:?} clean: {:?}; stored {ours} of 50",
            span * round / rounds.max(1),
            outcome.map(|a| a.stream_version)
        );
        servers.node(&name).restart().await;
    }
    store.destroy().await.ok();
}
