//! The session settings of the store's own pool, and what they are for: a turn held by a
//! client that stopped is freed by the server, a lock wait gives up, and appends record the
//! time they happen, never earlier than the stream's last event.

use std::time::{Duration, Instant, SystemTime};

use es_core::{EventStore, ExpectedVersion, NewEvent, Turn, Turns};
use es_postgres::{PostgresOptions, PostgresStore};

use crate::{drop_store, fresh_store, url};

fn event() -> NewEvent {
    NewEvent::new("Ticked", 1, serde_json::json!({}))
}

async fn show(store: &PostgresStore, setting: &str) -> String {
    sqlx::query_scalar(&format!("SHOW {setting}")).fetch_one(store.pool()).await.expect("show")
}

#[tokio::test]
async fn the_pool_runs_with_the_options_settings() {
    let store = fresh_store().await;
    assert_eq!(show(&store, "default_transaction_isolation").await, "read committed");
    assert_eq!(show(&store, "lock_timeout").await, "10s");
    assert_eq!(show(&store, "idle_in_transaction_session_timeout").await, "1min");
    assert_eq!(show(&store, "tcp_keepalives_idle").await, "30");
    assert_eq!(show(&store, "tcp_keepalives_interval").await, "10");
    assert_eq!(show(&store, "tcp_keepalives_count").await, "3");
    assert_eq!(show(&store, "tcp_user_timeout").await, "60000");
    assert_eq!(show(&store, "default_transaction_read_only").await, "off");

    let custom = PostgresOptions::new()
        .schema(store.schema_name())
        .lock_timeout(Duration::from_millis(2500))
        .idle_in_transaction_timeout(Duration::ZERO)
        .tcp_keepalive(None)
        .connect(&url())
        .await
        .expect("open");
    assert_eq!(show(&custom, "lock_timeout").await, "2500ms");
    assert_eq!(show(&custom, "idle_in_transaction_session_timeout").await, "0");
    custom.pool().close().await;
    drop_store(store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_turn_held_by_a_stopped_client_is_freed_by_the_server() {
    let store = fresh_store().await;
    let options = || PostgresOptions::new().schema(store.schema_name()).max_connections(2);
    // The stopped client: its turn stays open, idle, and the server ends it after 1 s.
    let stuck =
        options().idle_in_transaction_timeout(Duration::from_secs(1)).connect(&url()).await.expect("open");
    let held = stuck.take_turn("Clock-1").await.expect("the first turn");
    let other = options().lock_timeout(Duration::ZERO).connect(&url()).await.expect("open");
    let started = Instant::now();
    let mut turn = tokio::time::timeout(Duration::from_secs(30), other.take_turn("Clock-1"))
        .await
        .expect("the turn is freed well before 30 s")
        .expect("the next turn");
    assert!(started.elapsed() >= Duration::from_millis(500), "the turn was held until the server ended it");
    turn.append(ExpectedVersion::NoStream, vec![event()]).await.expect("append in the turn");
    turn.finish().await.expect("commit");
    assert!(held.finish().await.is_err(), "the stopped client's transaction is gone");
    stuck.pool().close().await;
    other.pool().close().await;
    drop_store(store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lock_wait_gives_up_after_the_lock_timeout() {
    let store = fresh_store().await;
    let held = store.take_turn("Clock-1").await.expect("the first turn");
    let waiter = PostgresOptions::new()
        .schema(store.schema_name())
        .lock_timeout(Duration::from_millis(300))
        .connect(&url())
        .await
        .expect("open");
    let started = Instant::now();
    let error = waiter.take_turn("Clock-1").await.expect_err("the wait times out");
    assert!(error.to_string().contains("lock timeout"), "{error}");
    assert!(started.elapsed() < Duration::from_secs(5), "gave up after about 300 ms");
    held.finish().await.expect("the holder goes on");
    waiter.pool().close().await;
    drop_store(store).await;
}

#[tokio::test]
async fn an_append_records_when_it_happens_not_when_its_turn_began() {
    let store = fresh_store().await;
    let before = SystemTime::now();
    let mut turn = store.take_turn("Clock-1").await.expect("turn");
    tokio::time::sleep(Duration::from_millis(400)).await;
    turn.append(ExpectedVersion::NoStream, vec![event()]).await.expect("append");
    turn.finish().await.expect("commit");
    let stored = store.read_stream("Clock-1", 1, 1).await.expect("read");
    let waited = stored[0].recorded_at.duration_since(before).expect("recorded after the turn began");
    assert!(
        waited >= Duration::from_millis(350),
        "recorded {waited:?} after the turn began, not at its start"
    );
    drop_store(store).await;
}

#[tokio::test]
async fn a_streams_times_never_go_back() {
    let store = fresh_store().await;
    store.append("Clock-1", ExpectedVersion::NoStream, vec![event()]).await.expect("append");
    // As if the server's clock had been an hour ahead when the first event was recorded.
    let sql = format!(
        "UPDATE {}.es_events SET recorded_us = recorded_us + 3600000000,
             recorded_at = recorded_at + interval '1 hour' WHERE stream = 'Clock-1'",
        store.schema()
    );
    sqlx::query(&sql).execute(store.pool()).await.expect("move the first event ahead");
    store.append("Clock-1", ExpectedVersion::Exact(1), vec![event(), event()]).await.expect("append");
    let stored = store.read_stream("Clock-1", 1, 10).await.expect("read");
    assert_eq!(stored.len(), 3);
    assert!(stored[0].recorded_at > SystemTime::now() + Duration::from_secs(3000), "the first is ahead");
    for pair in stored.windows(2) {
        assert!(
            pair[1].recorded_at >= pair[0].recorded_at,
            "{:?} then {:?}",
            pair[0].recorded_at,
            pair[1].recorded_at
        );
    }
    // Both columns agree.
    let sql = format!(
        "SELECT count(*) FROM {}.es_events
         WHERE recorded_at <> timestamptz 'epoch' + recorded_us * interval '1 microsecond'",
        store.schema()
    );
    let disagree: i64 = sqlx::query_scalar(&sql).fetch_one(store.pool()).await.expect("compare");
    assert_eq!(disagree, 0, "recorded_at and recorded_us name the same moment");
    drop_store(store).await;
}
