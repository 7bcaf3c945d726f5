//! The consumer lifecycle under faults: a store that fails the Nth read, checkpoint save,
//! fenced save or lease acquire, for every N a clean run reaches. A projection's read model
//! equals one clean run's (no batch applied twice, none skipped); a reactor's reviews are each
//! opened exactly once (its re-issued commands absorbed by their `caused()` ids). Both with the
//! feed retrying and with the caller retrying after the error surfaced. Memory and SQLite for
//! every N; PostgreSQL for the projection's reads.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use es_core::consume::{Feed, Projected};
use es_core::personal::Privacy;
use es_core::{
    CheckpointStore, DeadLetters, EventStore, ExpectedVersion, Leases, MemoryStore, NewEvent,
    ProjectionRunner, React, ReactContext, ReactError, Reactor, ReactorRunner, Repository, RetryPolicy,
    Turns,
};
use es_testing::{Fault, FaultyStore};
use serde_json::{json, Value};

use crate::bank::MoneyWithdrawn;
use crate::reactions::{OpenReview, Review};
use crate::read_model::BalancePerOwner;

const ACCOUNTS: u64 = 4;
const WITHDRAWALS: u64 = 6;
const BATCH: usize = 7;

/// Each account: opened, a deposit, then withdrawals of 100 (each one reviewed).
pub(crate) async fn fill<S: EventStore>(store: &S) {
    for a in 0..ACCOUNTS {
        let mut events = vec![
            NewEvent::new("AccountOpened", 1, json!({ "owner": format!("o{}", a % 3) })),
            NewEvent::new("MoneyDeposited", 1, json!({ "amount": 10_000 + a })),
        ];
        events.extend(
            (0..WITHDRAWALS).map(|n| NewEvent::new("MoneyWithdrawn", 1, json!({ "amount": 100 + n }))),
        );
        store.append(&format!("Account-f{a}"), ExpectedVersion::NoStream, events).await.expect("fill");
    }
    es_testing::conformance::read_all_settled(store, (ACCOUNTS * (WITHDRAWALS + 2)) as usize).await;
}

/// Three attempts, no waiting.
fn quick(attempts: u32) -> RetryPolicy {
    RetryPolicy::default().max_attempts(attempts).backoff(Duration::ZERO, Duration::ZERO)
}

/// How a run is driven.
#[derive(Debug, Clone, Copy)]
enum Driver {
    /// The feed retries (3 attempts): the fault never reaches the caller.
    FeedRetries,
    /// One attempt: the error reaches the caller, who calls again (a service's restart loop).
    CallerRetries,
}

/// Awaits `$op` until it succeeds (at most 5 times): the caller's retry loop.
macro_rules! until_ok {
    ($op:expr) => {{
        let mut tries = 0;
        loop {
            match $op.await {
                Ok(t) => break t,
                Err(e) if tries < 5 => {
                    tries += 1;
                    let _ = e;
                }
                Err(e) => panic!("still failing after 5 retries: {e}"),
            }
        }
    }};
}

/// An unleased projection runner: the read model as JSON.
async fn projection_run<S: Privacy + EventStore + CheckpointStore>(
    store: FaultyStore<S>,
    name: &str,
    driver: Driver,
) -> Value {
    let attempts = match driver {
        Driver::FeedRetries => 3,
        Driver::CallerRetries => 1,
    };
    let mut runner = until_ok!(ProjectionRunner::<BalancePerOwner, _>::start(name, store.clone()));
    runner = runner.with_batch(BATCH).with_retry(quick(attempts));
    loop {
        match runner.catch_up().await {
            Ok(_) => break,
            Err(e) => {
                // The error left the read model exactly at the saved checkpoint, state and cursor.
                let saved = store.inner().load_checkpoint(name).await.expect("load");
                let (cursor, state) = match saved {
                    Some(saved) => {
                        let state = serde_json::from_str(saved.state.expect("state").get()).expect("json");
                        (saved.cursor, state)
                    }
                    None => (
                        es_core::Cursor::START,
                        serde_json::to_value(BalancePerOwner::default()).expect("json"),
                    ),
                };
                assert_eq!(runner.cursor(), cursor, "{e}");
                assert_eq!(serde_json::to_value(runner.projection()).expect("json"), state, "{e}");
            }
        }
    }
    serde_json::to_value(runner.projection()).expect("json")
}

/// A projection on a leased feed.
async fn leased_projection_run<S: Privacy + EventStore + Leases>(
    store: FaultyStore<S>,
    name: &str,
    driver: Driver,
) -> Value {
    let attempts = match driver {
        Driver::FeedRetries => 3,
        Driver::CallerRetries => 1,
    };
    let mut feed = Feed::new(name, Projected::new(BalancePerOwner::default()), store)
        .leased(Duration::from_secs(30))
        .batch(BATCH)
        .retry(quick(attempts));
    until_ok!(feed.catch_up());
    serde_json::to_value(feed.consumer().projection()).expect("json")
}

/// Opens a review of every withdrawal, named for the reactor, and counts the commands issued.
#[derive(Reactor)]
#[reactor(events(MoneyWithdrawn))]
pub struct Auditor<S: Turns> {
    reviews: Repository<Review, S>,
    issued: Arc<AtomicU64>,
    /// How long each reaction takes before its command (to give a kill test room).
    pause: Duration,
}

impl<S: Turns> Auditor<S> {
    /// An auditor taking 5 ms per reaction.
    pub fn slow(reviews: Repository<Review, S>, issued: Arc<AtomicU64>) -> Self {
        Auditor { reviews, issued, pause: Duration::from_millis(5) }
    }
}

impl<S: Turns> React<MoneyWithdrawn> for Auditor<S> {
    async fn react(&self, e: &MoneyWithdrawn, at: &ReactContext<'_>) -> Result<(), ReactError> {
        self.issued.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(self.pause).await;
        let review = format!("{}-{}-{}", at.reactor(), at.stream, at.stream_version);
        self.reviews.execute_with(&review, OpenReview { amount: e.amount }, at.caused()).await?;
        Ok(())
    }
}

/// A reactor run; returns the commands it issued. Its reviews go to `reviews`, a store of their
/// own, so that the store under test keeps the same events from run to run.
async fn reactor_run<S: Privacy + Turns + CheckpointStore + DeadLetters + Leases>(
    store: FaultyStore<S>,
    reviews: &MemoryStore,
    name: &str,
    driver: Driver,
    leased: bool,
) -> u64 {
    let attempts = match driver {
        Driver::FeedRetries => 3,
        Driver::CallerRetries => 1,
    };
    let issued = Arc::new(AtomicU64::new(0));
    let auditor = Auditor {
        reviews: Repository::new(reviews.clone()),
        issued: Arc::clone(&issued),
        pause: Duration::ZERO,
    };
    let mut runner = ReactorRunner::start(name, auditor, store.clone()).await.expect("start");
    runner = runner.with_batch(BATCH).with_retry(quick(attempts));
    if leased {
        runner = runner.leased(Duration::from_secs(30));
    }
    until_ok!(runner.catch_up());
    assert!(store.inner().parked(name).await.expect("parked").is_empty(), "a store fault parks nothing");
    issued.load(Ordering::SeqCst)
}

/// Every review of `name` opened exactly once.
async fn reviews_once<S: Privacy + Turns>(store: &S, name: &str) {
    let reviews = Repository::<Review, _>::new(store.clone());
    for a in 0..ACCOUNTS {
        for n in 0..WITHDRAWALS {
            let id = format!("{name}-Account-f{a}-{}", n + 3);
            assert_eq!(reviews.load(&id).await.expect("load").state.opened, 1, "review {id} opened once");
        }
    }
}

/// For each fault kind in `faults`, for every N up to a clean run's count of that call: a run
/// with the Nth call failing ends as the clean run did.
async fn sweep_projection<S: Privacy + EventStore + CheckpointStore + Leases>(
    store: &S,
    leased: bool,
    faults: &[Fault],
) {
    for driver in [Driver::FeedRetries, Driver::CallerRetries] {
        let clean_store = FaultyStore::new(store.clone());
        let clean_name = format!("clean-{leased}-{driver:?}");
        let clean = match leased {
            false => projection_run(clean_store.clone(), &clean_name, driver).await,
            true => leased_projection_run(clean_store.clone(), &clean_name, driver).await,
        };
        assert_eq!(clean["balances"].as_object().map(|b| b.len()), Some(3), "{clean}");
        for &fault in faults {
            for n in 1..=clean_store.calls(fault) {
                let faulty = FaultyStore::new(store.clone()).fail(fault, n);
                let name = format!("p-{leased}-{driver:?}-{fault:?}-{n}");
                let got = match leased {
                    false => projection_run(faulty.clone(), &name, driver).await,
                    true => leased_projection_run(faulty.clone(), &name, driver).await,
                };
                assert_eq!(faulty.injected(), 1, "{name}: the fault fired");
                assert_eq!(got, clean, "{name}: the read model equals one clean run");
            }
        }
    }
}

async fn sweep_reactor<S: Privacy + Turns + CheckpointStore + DeadLetters + Leases>(
    store: &S,
    leased: bool,
    faults: &[Fault],
) {
    let reviews = MemoryStore::new();
    for driver in [Driver::FeedRetries, Driver::CallerRetries] {
        let clean_store = FaultyStore::new(store.clone());
        let clean_name = format!("auditor-clean-{leased}-{driver:?}");
        let issued = reactor_run(clean_store.clone(), &reviews, &clean_name, driver, leased).await;
        assert_eq!(issued, ACCOUNTS * WITHDRAWALS, "a clean run issues one command per withdrawal");
        reviews_once(&reviews, &clean_name).await;
        for &fault in faults {
            for n in 1..=clean_store.calls(fault) {
                let faulty = FaultyStore::new(store.clone()).fail(fault, n);
                let name = format!("auditor-{leased}-{driver:?}-{fault:?}-{n}");
                let issued = reactor_run(faulty.clone(), &reviews, &name, driver, leased).await;
                assert_eq!(faulty.injected(), 1, "{name}: the fault fired");
                assert!(issued >= ACCOUNTS * WITHDRAWALS, "{name}: every withdrawal reacted to");
                reviews_once(&reviews, &name).await;
            }
        }
    }
}

const PLAIN: [Fault; 2] = [Fault::VisitAll, Fault::SaveCheckpoint];
const LEASED: [Fault; 3] = [Fault::VisitAll, Fault::SaveCheckpointFenced, Fault::Acquire];

async fn every_fault<S: Privacy + Turns + CheckpointStore + DeadLetters + Leases>(store: S) {
    fill(&store).await;
    sweep_projection(&store, false, &PLAIN).await;
    sweep_projection(&store, true, &LEASED).await;
    sweep_reactor(&store, false, &PLAIN).await;
    sweep_reactor(&store, true, &LEASED).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_consumers_survive_a_fault_at_every_call() {
    every_fault(MemoryStore::new()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_consumers_survive_a_fault_at_every_call() {
    let (store, _dir) = crate::stores::sqlite_store("feed.db").await;
    every_fault(store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_projection_survives_a_failed_read_at_every_call() {
    let store = crate::stores::pg_store("es_feed").await;
    fill(&store).await;
    sweep_projection(&store, false, &[Fault::VisitAll, Fault::SaveCheckpoint]).await;
    store.drop_schema().await.expect("drop the test schema");
}

/// The double-apply bug: before the feed, a runner whose checkpoint save failed had already
/// applied the batch to its read model, and applied it again when called again.
#[tokio::test]
async fn a_failed_save_does_not_apply_the_batch_twice() {
    let store = MemoryStore::new();
    fill(&store).await;
    let faulty = FaultyStore::new(store.clone()).fail(Fault::SaveCheckpoint, 1);
    let mut runner = ProjectionRunner::<BalancePerOwner, _>::start("twice", faulty.clone())
        .await
        .expect("start")
        .with_batch(100)
        .with_retry(quick(1));
    assert!(runner.catch_up().await.is_err(), "the save fails");
    assert!(runner.projection().balances.is_empty(), "the read model is back at its (empty) checkpoint");
    runner.catch_up().await.expect("again");
    let total: u64 = runner.projection().balances.values().sum();
    let expected: u64 =
        (0..ACCOUNTS).map(|a| 10_000 + a - (0..WITHDRAWALS).map(|n| 100 + n).sum::<u64>()).sum();
    assert_eq!(total, expected, "every event applied once");
}

/// A runner stepping under leases its caller takes: given a lease at a new epoch (another
/// holder saved in between), it reloads that holder's checkpoint instead of going on from its
/// own stale cursor and moving the checkpoint back.
#[tokio::test]
async fn step_under_a_new_epoch_goes_on_from_the_other_holders_checkpoint() {
    let store = MemoryStore::new();
    fill(&store).await;
    let head = store.head().await.expect("head");
    let ttl = Duration::from_secs(30);
    let take = |owner: &'static str| {
        let store = store.clone();
        async move { store.acquire("balances", owner, ttl).await.expect("acquire").expect("free") }
    };
    let mut a = ProjectionRunner::<BalancePerOwner, _>::start("balances", store.clone())
        .await
        .expect("start")
        .with_batch(5);
    let first = take("a").await;
    a.step_under(&first).await.expect("a steps");
    store.release(&first).await.expect("release");

    let second = take("b").await;
    let mut b =
        ProjectionRunner::<BalancePerOwner, _>::start("balances", store.clone()).await.expect("start");
    while b.step_under(&second).await.expect("b steps") > 0 {}
    store.release(&second).await.expect("release");

    let third = take("a").await;
    a.step_under(&third).await.expect("a steps again");
    let saved = store.load_checkpoint("balances").await.expect("load").expect("saved");
    assert_eq!(saved.cursor, head, "the checkpoint went back from the other holder's");
}
