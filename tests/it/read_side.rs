//! Snapshots and time travel on the in-memory and SQLite stores (PostgreSQL: es-postgres tests).

use std::time::{Duration, SystemTime};

use es_core::personal::Privacy;
use es_core::{MemoryStore, Repository, Snapshot, SnapshotStore, Turns};
use es_testing::CountingStore;

use crate::bank::{Account, Deposit, Open};

type TestResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;

async fn snapshots_on<S: Privacy + Turns + SnapshotStore>(store: S) -> TestResult {
    let counting = CountingStore::new(store.clone());
    let accounts = Repository::<Account, _>::new(counting.clone()).with_snapshots(10);
    accounts.execute("ann", Open { owner: "Ann".into() }).await?;
    for _ in 0..24 {
        accounts.execute("ann", Deposit { amount: 2 }).await?;
    }
    let kept = store.load_snapshot("Account-ann").await?.expect("a snapshot was taken");
    assert_eq!((kept.stream_version, kept.schema_version), (20, 1), "the newest multiple of 10");

    counting.reset();
    let ann = accounts.load("ann").await?;
    assert_eq!((ann.state.balance, ann.version), (48, 25));
    assert_eq!(counting.events_read(), 5, "only the events after the snapshot are read");

    let without = Repository::<Account, _>::new(store.clone()).load("ann").await?;
    assert_eq!(without, ann, "a snapshot changes nothing but the work");

    // A snapshot of another shape of the state is ignored, and the state rebuilt from events.
    let mut other = kept.clone();
    other.stream_version = 24;
    other.schema_version = 7;
    store.save_snapshot("Account-ann", other).await?;
    counting.reset();
    assert_eq!(accounts.load("ann").await?, ann);
    assert_eq!(counting.events_read(), 25, "rebuilt from all 25 events");
    Ok(())
}

#[tokio::test]
async fn snapshots_in_memory() -> TestResult {
    snapshots_on(MemoryStore::new()).await
}

#[tokio::test]
async fn snapshots_on_sqlite() -> TestResult {
    let dir = tempfile::tempdir()?;
    snapshots_on(es_sqlite::SqliteStore::open(dir.path().join("s.db")).await?).await
}

#[tokio::test]
async fn an_older_snapshot_never_replaces_a_newer_one() -> TestResult {
    let store = MemoryStore::new();
    let snapshot = |v| Snapshot {
        stream_version: v,
        schema_version: 1,
        state: serde_json::value::to_raw_value(&v).expect("json"),
        taken_at: SystemTime::UNIX_EPOCH,
    };
    store.save_snapshot("s", snapshot(20)).await?;
    store.save_snapshot("s", snapshot(10)).await?;
    assert_eq!(store.load_snapshot("s").await?.map(|s| s.stream_version), Some(20));
    Ok(())
}

#[tokio::test]
async fn the_past_at_a_version_and_at_a_moment() -> TestResult {
    let dir = tempfile::tempdir()?;
    let accounts =
        Repository::<Account, _>::new(es_sqlite::SqliteStore::open(dir.path().join("t.db")).await?);
    accounts.execute("ann", Open { owner: "Ann".into() }).await?;
    accounts.execute("ann", Deposit { amount: 10 }).await?;
    let between = SystemTime::now();
    tokio::time::sleep(Duration::from_millis(5)).await;
    accounts.execute("ann", Deposit { amount: 5 }).await?;

    let at_two = accounts.load_at("ann", 2).await?;
    assert_eq!((at_two.state.balance, at_two.version), (10, 2));
    assert_eq!(accounts.load_at("ann", 99).await?.version, 3, "past the end: the latest");
    assert_eq!(accounts.load_at("ann", 0).await?.state, Account::default());
    let then = accounts.load_as_of("ann", between).await?;
    assert_eq!((then.state.balance, then.version), (10, 2));
    assert_eq!(accounts.load_as_of("ann", SystemTime::UNIX_EPOCH).await?.version, 0);
    assert_eq!(accounts.load_as_of("ann", SystemTime::now()).await?.state.balance, 15);
    Ok(())
}

mod projections {
    use es_core::{EventStore, ExpectedVersion, NewEvent, ProjectionRunner};
    use es_testing::prelude::*;
    use serde_json::json;

    use crate::bank::*;
    use crate::read_model::BalancePerOwner;

    #[test]
    fn balance_per_owner_from_events_of_several_accounts() {
        BalancePerOwner::given((
            AccountOpened { owner: "ann".into() },
            MoneyDeposited { amount: 10, currency: "EUR".into(), memo: String::new() },
            MoneyWithdrawn { amount: 4 },
        ))
        .then_handled(3)
        .then_state(|p| assert_eq!(p.balances.get("ann"), Some(&6)));
    }

    #[tokio::test]
    async fn the_runner_on_sqlite_resumes_and_rebuilds(
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        let dir = tempfile::tempdir()?;
        let store = es_sqlite::SqliteStore::open(dir.path().join("p.db")).await?;
        for (id, owner) in [("a", "ann"), ("b", "bob"), ("c", "ann")] {
            let stream = format!("Account-{id}");
            store
                .append(
                    &stream,
                    ExpectedVersion::NoStream,
                    vec![NewEvent::new("AccountOpened", 1, json!({ "owner": owner }))],
                )
                .await?;
            let deposits =
                (1..=100).map(|n| NewEvent::new("MoneyDeposited", 1, json!({ "amount": n }))).collect();
            store.append(&stream, ExpectedVersion::Exact(1), deposits).await?;
        }
        store
            .append("Other-x", ExpectedVersion::Any, vec![NewEvent::new("SomethingElse", 1, json!({}))])
            .await?;

        let mut runner =
            ProjectionRunner::<BalancePerOwner, _>::start("per-owner", store.clone()).await?.with_batch(50);
        assert_eq!(runner.lag().await?, 304);
        runner.step().await?;
        runner.step().await?;
        assert_eq!((runner.cursor().position(), runner.lag().await?), (100, 204));
        drop(runner); // a restart in the middle of catching up

        let mut resumed =
            ProjectionRunner::<BalancePerOwner, _>::start("per-owner", store.clone()).await?.with_batch(50);
        assert_eq!(resumed.cursor().position(), 100, "resumed from the checkpoint");
        assert_eq!(resumed.catch_up().await?, 204, "nothing read twice, nothing skipped");
        assert_eq!(resumed.lag().await?, 0);
        let sum: u64 = (1..=100).sum();
        assert_eq!(resumed.projection().balances.get("ann"), Some(&(2 * sum)));
        assert_eq!(resumed.projection().balances.get("bob"), Some(&sum));

        assert_eq!(resumed.rebuild().await?, 304, "a rebuild reads everything again");
        assert_eq!(resumed.projection().balances.get("ann"), Some(&(2 * sum)));
        Ok(())
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn several_projections_run_at_once_on_one_store(
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        let store = es_core::MemoryStore::new();
        for n in 0..20 {
            let stream = format!("Account-{n}");
            store
                .append(
                    &stream,
                    ExpectedVersion::NoStream,
                    vec![NewEvent::new("AccountOpened", 1, json!({ "owner": format!("o{}", n % 3) }))],
                )
                .await?;
            store
                .append(
                    &stream,
                    ExpectedVersion::Exact(1),
                    vec![NewEvent::new("MoneyDeposited", 1, json!({ "amount": 10 }))],
                )
                .await?;
        }
        let mut a = ProjectionRunner::<BalancePerOwner, _>::start("a", store.clone()).await?.with_batch(7);
        let mut b = ProjectionRunner::<BalancePerOwner, _>::start("b", store.clone()).await?.with_batch(3);
        let (ra, rb) = tokio::join!(a.catch_up(), b.catch_up());
        assert_eq!((ra?, rb?), (40, 40));
        assert_eq!(a.projection().balances, b.projection().balances);
        assert_eq!(a.projection().balances.values().sum::<u64>(), 200);
        Ok(())
    }
}
