//! The global order under concurrent transactions, shown deterministically on two connections:
//! a reader never sees a later position while an earlier one can still commit.

use std::time::Duration;

use es_core::{Cursor, EventStore, ExpectedVersion, NewEvent, StoredEvent};
use sqlx::{Connection, PgConnection};

use crate::{drop_store, fresh_store, url};

/// Transaction A appends through `es_append` on its own connection and stays open.
async fn open_transaction_a(schema: &str) -> (PgConnection, NewEvent) {
    let mut conn = PgConnection::connect(&url()).await.expect("a second connection");
    sqlx::query("BEGIN").execute(&mut conn).await.expect("begin");
    let a = NewEvent::new("A", 1, serde_json::json!({ "from": "A" }));
    sqlx::query(&format!("SELECT * FROM {schema}.es_append($1, -1, $2, $3, $4, $5, $6)"))
        .bind("stream-a")
        .bind(vec![a.id])
        .bind(vec![a.name.clone()])
        .bind(vec![1i32])
        .bind(vec![a.payload.get().to_owned()])
        .bind(vec!["{}".to_owned()])
        .fetch_all(&mut conn)
        .await
        .expect("A appends");
    (conn, a)
}

fn ids(events: &[StoredEvent]) -> Vec<es_core::Uuid> {
    events.iter().map(|e| e.id).collect()
}

async fn b_waits_for_a(end_a: &str) -> (Vec<StoredEvent>, NewEvent, Option<NewEvent>) {
    let store = fresh_store().await;
    let (mut conn, a) = open_transaction_a(store.schema()).await;

    // B appends through the store and would commit; it must not become visible ahead of A.
    let b = NewEvent::new("B", 1, serde_json::json!({ "from": "B" }));
    let b_append = {
        let (store, b) = (store.clone(), b.clone());
        tokio::spawn(async move { store.append("stream-b", ExpectedVersion::Any, vec![b]).await })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        store.read_all(Cursor::START, 10).await.expect("read_all").is_empty(),
        "nothing is visible while A is open"
    );
    assert!(!b_append.is_finished(), "B must not commit ahead of A, which holds a lower position");

    sqlx::query(end_a).execute(&mut conn).await.expect("end A");
    let appended_b = b_append.await.expect("task").expect("B appends once A has ended");
    let seen = store.read_all(Cursor::START, 10).await.expect("read_all");
    assert_eq!(appended_b.events[0].position, seen.last().expect("B is visible").position);
    drop_store(store).await;
    (seen, b, (end_a == "COMMIT").then_some(a))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_later_commit_never_overtakes_an_open_append() {
    let (seen, b, a) = b_waits_for_a("COMMIT").await;
    let a = a.expect("A committed");
    assert_eq!(ids(&seen), [a.id, b.id], "A then B, once each");
    assert_eq!(seen.iter().map(|e| e.position).collect::<Vec<_>>(), [1, 2]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rolled_back_append_leaves_no_hole_to_wait_on() {
    let (seen, b, _) = b_waits_for_a("ROLLBACK").await;
    assert_eq!(ids(&seen), [b.id], "only B, and the reader moves on");
    assert_eq!(seen[0].position, 1, "the rolled-back position is reused: no hole");
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
