//! The global order under concurrent transactions: appends to different streams commit in
//! parallel, and a reader never sees an event while one before it in the order can still
//! commit. Shown deterministically on two connections, then under random races.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use es_core::{Cursor, EventStore, ExpectedVersion, NewEvent, StoredEvent, Uuid};
use es_postgres::PostgresStore;
use sqlx::{Connection, PgConnection};

use crate::{drop_store, fresh_store, url};

/// Appends `events` to `stream` through `es_append` inside the open transaction on `conn`.
async fn append_in_transaction(conn: &mut PgConnection, schema: &str, stream: &str, events: &[NewEvent]) {
    sqlx::query(&format!("SELECT * FROM {schema}.es_append($1, NULL, $2, $3, $4, $5, $6)"))
        .bind(stream)
        .bind(events.iter().map(|e| e.id).collect::<Vec<_>>())
        .bind(events.iter().map(|e| e.name.clone()).collect::<Vec<_>>())
        .bind(events.iter().map(|e| e.schema_version as i32).collect::<Vec<_>>())
        .bind(events.iter().map(|e| e.payload.get().to_owned()).collect::<Vec<_>>())
        .bind(events.iter().map(|_| "{}".to_owned()).collect::<Vec<_>>())
        .fetch_all(&mut *conn)
        .await
        .expect("es_append in the open transaction");
}

/// Transaction A appends through `es_append` on its own connection and stays open.
async fn open_transaction_a(schema: &str) -> (PgConnection, NewEvent) {
    let mut conn = PgConnection::connect(&url()).await.expect("a second connection");
    sqlx::query("BEGIN").execute(&mut conn).await.expect("begin");
    let a = NewEvent::new("A", 1, serde_json::json!({ "from": "A" }));
    append_in_transaction(&mut conn, schema, "stream-a", std::slice::from_ref(&a)).await;
    (conn, a)
}

fn ids(events: &[StoredEvent]) -> Vec<Uuid> {
    events.iter().map(|e| e.id).collect()
}

/// A appends and stays open; B appends to another stream and commits at once, without waiting
/// for A; the reader sees nothing of B until A ends (`end_a`). Returns what the reader sees
/// then, with A's and B's events.
async fn b_commits_but_stays_unseen_until_a_ends(end_a: &str) -> (Vec<StoredEvent>, NewEvent, NewEvent) {
    let store = fresh_store().await;
    let (mut conn, a) = open_transaction_a(store.schema()).await;

    let b = NewEvent::new("B", 1, serde_json::json!({ "from": "B" }));
    // B commits while A is open: appends to different streams do not wait for each other.
    store.append("stream-b", ExpectedVersion::Any, vec![b.clone()]).await.expect("B appends and commits");
    assert!(
        store.read_all(Cursor::START, 10).await.expect("read_all").is_empty(),
        "B is committed, but a reader must not see it while A, which began first, can still commit"
    );
    assert!(store.readers_held_back().await.expect("held back"), "B is held back by A");
    let blockers = store.reader_blockers().await.expect("blockers");
    assert!(
        blockers.iter().any(|t| t.query.as_deref().is_some_and(|q| q.contains("es_append"))),
        "A is reported as what holds readers back: {blockers:?}"
    );

    sqlx::query(end_a).execute(&mut conn).await.expect("end A");
    // Other tests' transactions on the server may hold readers back a moment longer: wait until
    // what this test committed shows, then check that nothing else does.
    let committed = if end_a == "COMMIT" { 2 } else { 1 };
    es_testing::conformance::read_all_settled(&store, committed).await;
    let seen = store.read_all(Cursor::START, 10).await.expect("read_all");
    drop_store(store).await;
    (seen, a, b)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_later_commit_is_read_after_an_earlier_open_append() {
    let (seen, a, b) = b_commits_but_stays_unseen_until_a_ends("COMMIT").await;
    assert_eq!(ids(&seen), [a.id, b.id], "A then B, once each");
    assert!(seen[0].cursor < seen[1].cursor);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rolled_back_append_leaves_no_hole_to_wait_on() {
    let (seen, _, b) = b_commits_but_stays_unseen_until_a_ends("ROLLBACK").await;
    assert_eq!(ids(&seen), [b.id], "only B, and the reader moves on past A's unused position");
}

/// Random races, `ES_PG_RACE_ROUNDS` rounds (default 3; the closing note quotes a run of 100):
/// 8 writers append to 6 streams, some through the store, some in transactions held open a
/// random while and committed or rolled back, while a follower reads on from its cursor. Every
/// committed event is seen exactly once, each stream's in version order, no rolled-back one,
/// and the cursor only rises.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn eight_racing_writers_and_a_follower_agree_on_every_commit() {
    let rounds: usize = std::env::var("ES_PG_RACE_ROUNDS").ok().and_then(|r| r.parse().ok()).unwrap_or(3);
    let store = fresh_store().await;
    let mut follower = Follower::default();
    for round in 0..rounds {
        let mut writers = race(&store, round as u64);
        // The follower reads while the writers commit, then until it has every commit.
        let mut new = HashSet::new();
        while !writers.is_empty() {
            new.extend(follower.read_page(&store).await);
            if let Some(Ok(ids)) = writers.try_join_next() {
                follower.committed.extend(ids);
            }
            tokio::task::yield_now().await;
        }
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        while new.len() < follower.committed.len() {
            assert!(
                tokio::time::Instant::now() < deadline,
                "saw {} of {} commits",
                new.len(),
                follower.committed.len()
            );
            new.extend(follower.read_page(&store).await);
        }
        assert_eq!(
            new,
            std::mem::take(&mut follower.committed),
            "round {round}: exactly the commits, once each"
        );
    }
    drop_store(store).await;
}

/// One round of 8 racing writers, each giving the ids of the events it committed.
fn race(store: &PostgresStore, round: u64) -> tokio::task::JoinSet<Vec<Uuid>> {
    let mut writers = tokio::task::JoinSet::new();
    for w in 0..8u64 {
        let store = store.clone();
        writers.spawn(async move {
            let mut committed = Vec::new();
            let mut conn = PgConnection::connect(&url()).await.expect("a writer's connection");
            for a in 0..12u64 {
                let stream = format!("race-{}", (w * 5 + a * 3 + round) % 6);
                let n = 1 + (w + a) % 3;
                let events: Vec<NewEvent> = (0..n)
                    .map(|i| NewEvent::new("Raced", 1, serde_json::json!({ "w": w, "a": a, "i": i })))
                    .collect();
                if (w + a) % 3 == 0 {
                    // Held open a while, then committed, or rolled back one time in four.
                    sqlx::query("BEGIN").execute(&mut conn).await.expect("begin");
                    append_in_transaction(&mut conn, store.schema(), &stream, &events).await;
                    tokio::time::sleep(Duration::from_millis((w * 7 + a * 13 + round) % 9)).await;
                    let rollback = (w + a + round) % 4 == 0;
                    sqlx::query(if rollback { "ROLLBACK" } else { "COMMIT" })
                        .execute(&mut conn)
                        .await
                        .expect("end");
                    if !rollback {
                        committed.extend(events.iter().map(|e| e.id));
                    }
                } else {
                    committed.extend(events.iter().map(|e| e.id));
                    store.append(&stream, ExpectedVersion::Any, events).await.expect("append");
                }
            }
            committed
        });
    }
    writers
}

/// Reads on from its cursor, checking the order as it goes.
#[derive(Default)]
struct Follower {
    after: Cursor,
    seen: HashSet<Uuid>,
    versions: HashMap<String, u64>,
    /// The ids the round's writers committed, as they finish.
    committed: HashSet<Uuid>,
}

impl Follower {
    /// Reads one page on from the cursor; returns the ids read.
    async fn read_page(&mut self, store: &PostgresStore) -> Vec<Uuid> {
        let mut ids = Vec::new();
        for e in store.read_all(self.after, 50).await.expect("read_all") {
            assert!(e.cursor > self.after, "the cursor went back: {} after {}", e.cursor, self.after);
            self.after = e.cursor;
            assert!(self.seen.insert(e.id), "event {} seen twice", e.id);
            let last = self.versions.insert(e.stream.clone(), e.stream_version).unwrap_or(0);
            assert_eq!(e.stream_version, last + 1, "`{}` read out of version order", e.stream);
            ids.push(e.id);
        }
        ids
    }
}

/// A subscriber is woken by LISTEN/NOTIFY when another process appends: with polling set to
/// 10 s, an append is delivered within 500 ms, which only a notification can do. (The listener
/// connects in the background, so appends are repeated until one is heard.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notify_wakes_a_subscriber_on_another_processs_append() {
    let store = fresh_store().await;
    let other_process = es_postgres::PostgresOptions::new()
        .schema(store.schema().trim_matches('"'))
        .connect(&url())
        .await
        .expect("a second store on its own pool");
    // The subscriber reads (nothing yet), then waits on the store's signal in its own task.
    let mut subscription =
        es_core::subscribe(store.clone(), Cursor::START).poll_every(Duration::from_secs(10));
    let (delivered, mut deliveries) = tokio::sync::mpsc::unbounded_channel();
    let subscriber = tokio::spawn(async move {
        while let Ok(event) = subscription.next_event().await {
            if delivered.send((event.name, std::time::Instant::now())).is_err() {
                return;
            }
        }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = std::time::Instant::now();
    let mut heard = None;
    for attempt in 0..16 {
        let sent = std::time::Instant::now();
        other_process
            .append(
                "elsewhere",
                ExpectedVersion::Any,
                vec![NewEvent::new("Woken", 1, serde_json::json!({ "attempt": attempt }))],
            )
            .await
            .expect("append");
        if let Ok(Some((name, at))) =
            tokio::time::timeout(Duration::from_millis(500), deliveries.recv()).await
        {
            assert_eq!(name, "Woken");
            heard = Some(at - sent);
            break;
        }
    }
    subscriber.abort();
    let waited = heard.expect("no append was delivered ahead of the 10 s poll");
    assert!(
        waited < Duration::from_millis(500) && started.elapsed() < Duration::from_secs(9),
        "woken after {waited:?}"
    );
    drop_store(store).await;
}
