//! Turns and appends under a role whose sessions default to SERIALIZABLE, on a pool the caller
//! made (so none of the store's session settings apply): the store's own transactions must ask
//! for READ COMMITTED, or a turn that waited for its lock decides on the stream as it was before.

use std::sync::Arc;

use es_core::{EventStore, ExpectedVersion, Lend, NewEvent, Repository, Turn, Turns};
use sqlx::postgres::PgPoolOptions;

use crate::roles::Role;
use crate::snapshots::Tally;

const TASKS: u64 = 8;
const EACH: u64 = 10;

fn event(n: u64) -> NewEvent {
    NewEvent::new("Added", 1, serde_json::json!({ "n": n }))
}

/// One turn: read the stream's version inside the turn, append exactly after it.
async fn one_turn(
    store: &es_postgres::PostgresStore,
    stream: &str,
    n: u64,
) -> Result<(), es_core::StoreError> {
    let mut turn = store.take_turn(stream).await?;
    let mut version = 0;
    turn.visit_stream(1, usize::MAX, Lend::ForDecoding, |e| {
        version = e.stream_version;
        Ok(())
    })
    .await?;
    turn.append(ExpectedVersion::Exact(version), vec![event(n)]).await?;
    turn.finish().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn turns_and_appends_hold_under_a_serializable_default() {
    let role = Role::create(&[("default_transaction_isolation", "serializable")]).await;
    let pool =
        PgPoolOptions::new().max_connections(12).connect(&role.url()).await.expect("connect as the role");
    let default: String =
        sqlx::query_scalar("SHOW default_transaction_isolation").fetch_one(&pool).await.expect("show");
    assert_eq!(default, "serializable", "the pool's sessions default to SERIALIZABLE");
    let schema = format!("es_test_iso_{}", es_core::Uuid::new_v4().simple());
    let store = Arc::new(
        es_postgres::PostgresOptions::new().schema(&schema).from_pool(pool).await.expect("open on the pool"),
    );

    // Turns taken at once by many tasks, each appending exactly after what it read in its turn.
    let turns: Vec<_> = (0..TASKS)
        .map(|task| {
            let store = store.clone();
            tokio::spawn(async move {
                for i in 0..EACH {
                    one_turn(&store, "Tally-turns", task * EACH + i).await?;
                }
                Ok::<_, es_core::StoreError>(())
            })
        })
        .collect();
    // Plain appends at once, to another stream, each at whatever version the stream is at.
    let appends: Vec<_> = (0..TASKS)
        .map(|task| {
            let store = store.clone();
            tokio::spawn(async move {
                for i in 0..EACH {
                    store.append("Tally-appends", ExpectedVersion::Any, vec![event(task * EACH + i)]).await?;
                }
                Ok::<_, es_core::StoreError>(())
            })
        })
        .collect();
    for task in turns.into_iter().chain(appends) {
        task.await.expect("the task ran").expect("every turn and append lands");
    }
    for stream in ["Tally-turns", "Tally-appends"] {
        let events = store.read_stream(stream, 1, usize::MAX).await.expect("read");
        let versions: Vec<u64> = events.iter().map(|e| e.stream_version).collect();
        assert_eq!(versions, (1..=TASKS * EACH).collect::<Vec<_>>(), "{stream}: every event, no gap");
    }

    // Commands through repositories that race like processes: optimistic, then turns.
    let tallies = Repository::<Tally, _>::new((*store).clone()).with_local_queue(false);
    let commands: Vec<_> = (0..TASKS)
        .map(|_| {
            let tallies = tallies.clone();
            tokio::spawn(async move {
                for _ in 0..EACH {
                    tallies.execute("hot", 1).await.map_err(|e| e.to_string())?;
                }
                Ok::<_, String>(())
            })
        })
        .collect();
    for task in commands {
        task.await.expect("the task ran").expect("every command lands");
    }
    let hot = tallies.load("hot").await.expect("load");
    assert_eq!((hot.state.total, hot.version), (TASKS * EACH, TASKS * EACH), "every command counted once");

    store.drop_schema().await.expect("drop the test schema");
    store.pool().close().await;
    role.drop().await;
}
