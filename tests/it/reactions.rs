//! Reactors: a large withdrawal opens a review. A failing reaction is retried with backoff,
//! then parked in the dead letters and retried from there once fixed; a redelivery records
//! nothing twice; a runner set to stop stops before the failing event. On every store.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;

use es_core::personal::Privacy;
use es_core::{
    Aggregate, Apply, CheckpointStore, Cursor, DeadLetters, Event, Handle, OnFailure, React, ReactContext,
    ReactError, Reactor, ReactorError, ReactorRunner, Repository, RetryPolicy, Turns,
};
use serde::{Deserialize, Serialize};

use crate::bank::{Account, Deposit, MoneyWithdrawn, Open, Withdraw};

#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct ReviewOpened {
    pub amount: u64,
}

#[derive(Aggregate, Default)]
#[aggregate(events(ReviewOpened), error = std::convert::Infallible)]
pub struct Review {
    pub opened: u32,
}

impl Apply<ReviewOpened> for Review {
    fn apply(&mut self, _: &ReviewOpened) {
        self.opened += 1;
    }
}

pub struct OpenReview {
    pub amount: u64,
}

/// Records a review every time: only the command id keeps a redelivery from recording twice.
impl Handle<OpenReview> for Review {
    fn handle(&self, cmd: &OpenReview) -> Result<Vec<ReviewEvent>, Self::Error> {
        Ok(vec![ReviewOpened { amount: cmd.amount }.into()])
    }
}

#[derive(Reactor)]
#[reactor(events(MoneyWithdrawn))]
pub struct LargeWithdrawals<S: Turns> {
    reviews: Repository<Review, S>,
    /// Reactions that fail before the next succeeds.
    failures_left: AtomicU32,
    /// While set, every reaction fails.
    broken: AtomicBool,
    /// How long each reaction takes before its effect (to give a crash test room).
    pub pause: Duration,
}

impl<S: Turns> LargeWithdrawals<S> {
    /// A reactor that works, opening reviews through `reviews`, each after `pause`.
    pub fn working(reviews: Repository<Review, S>, pause: Duration) -> Self {
        LargeWithdrawals { reviews, failures_left: AtomicU32::new(0), broken: AtomicBool::new(false), pause }
    }
}

impl<S: Turns> React<MoneyWithdrawn> for LargeWithdrawals<S> {
    async fn react(&self, e: &MoneyWithdrawn, at: &ReactContext<'_>) -> Result<(), ReactError> {
        if self.broken.load(Ordering::SeqCst) {
            return Err(ReactError::new("the review service is down"));
        }
        if self.failures_left.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok() {
            return Err(ReactError::new("a transient failure"));
        }
        tokio::time::sleep(self.pause).await;
        if e.amount >= 100 {
            let review = format!("{}-{}", at.stream, at.stream_version);
            self.reviews.execute_with(&review, OpenReview { amount: e.amount }, at.caused()).await?;
        }
        Ok(())
    }
}

/// Three accounts with two large withdrawals and one small; returns the review ids expected.
async fn history<S: Privacy + Turns>(store: &S) -> Vec<String> {
    let accounts = Repository::<Account, _>::new(store.clone());
    for (id, withdrawal) in [("r1", 150), ("r2", 20), ("r3", 300)] {
        accounts.execute(id, Open { owner: id.into() }).await.expect("open");
        accounts.execute(id, Deposit { amount: 1_000 }).await.expect("deposit");
        accounts.execute(id, Withdraw { amount: withdrawal }).await.expect("withdraw");
    }
    vec!["Account-r1-3".to_owned(), "Account-r3-3".to_owned()]
}

fn quick(attempts: u32) -> RetryPolicy {
    RetryPolicy::default().max_attempts(attempts).backoff(Duration::from_millis(1), Duration::from_millis(4))
}

async fn reviews_opened<S: Turns>(reviews: &Repository<Review, S>, ids: &[String]) -> Vec<u32> {
    let mut opened = Vec::new();
    for id in ids {
        opened.push(reviews.load(id).await.expect("load").state.opened);
    }
    opened
}

async fn reactions_on<S: Privacy + Turns + CheckpointStore + DeadLetters>(store: S) {
    let expected = history(&store).await;
    es_testing::conformance::read_all_settled(&store, 9).await;
    let reviews = Repository::<Review, _>::new(store.clone());
    let reactor = |failures: u32, broken: bool| LargeWithdrawals {
        reviews: reviews.clone(),
        failures_left: AtomicU32::new(failures),
        broken: AtomicBool::new(broken),
        pause: Duration::ZERO,
    };

    // Fails 3 times, then succeeds: retried, nothing parked, every review opened once.
    let mut runner = ReactorRunner::start("retrying", reactor(3, false), store.clone())
        .await
        .expect("start")
        .with_retry(quick(5));
    assert_eq!(runner.catch_up().await.expect("catch up"), 9);
    assert!(store.parked("retrying").await.expect("parked").is_empty());
    assert_eq!(reviews_opened(&reviews, &expected).await, [1, 1]);

    // Replayed from the start: the same commands, by id, record nothing twice.
    runner.replay_from(Cursor::START).await.expect("replay");
    runner.catch_up().await.expect("catch up again");
    assert_eq!(reviews_opened(&reviews, &expected).await, [1, 1], "a redelivery records nothing twice");

    // Always failing: each withdrawal is parked with its error, and the runner goes on.
    es_testing::conformance::read_all_settled(&store, 11).await;
    let mut broken = ReactorRunner::start("broken", reactor(0, true), store.clone())
        .await
        .expect("start")
        .with_retry(quick(2));
    assert_eq!(broken.catch_up().await.expect("catch up"), 11, "the history and the two reviews");
    let parked = store.parked("broken").await.expect("parked");
    assert_eq!(parked.len(), 3, "the three withdrawals");
    assert!(
        parked.iter().all(|p| p.attempts == 2 && p.error.contains("review service is down")),
        "{parked:?}"
    );
    broken.reactor().broken.store(false, Ordering::SeqCst);
    assert_eq!(broken.retry_parked().await.expect("retry"), 3);
    assert!(store.parked("broken").await.expect("parked").is_empty(), "a retry that succeeds unparks");
    // Another reactor (command ids derive from its own name) opens its own review: once each.
    assert_eq!(reviews_opened(&reviews, &expected).await, [2, 2]);
    assert_eq!(broken.retry_parked().await.expect("nothing left"), 0);

    // Set to stop: it stops at the first withdrawal, its checkpoint just before it.
    let mut stopping = ReactorRunner::start("stopping", reactor(0, true), store.clone())
        .await
        .expect("start")
        .with_retry(quick(1))
        .on_failure(OnFailure::Stop);
    match stopping.catch_up().await {
        Err(ReactorError::Stopped { position, attempts: 1, .. }) => {
            assert_eq!(stopping.cursor().position(), position - 1)
        }
        other => panic!("expected a stop, got {other:?}"),
    }
}

/// Through the real dispatch with no runner: a large withdrawal opens a review, a small one
/// does not, and the same record fed again records nothing twice.
#[tokio::test]
async fn a_reactor_tested_through_its_dispatch() {
    let reviews = Repository::<Review, _>::new(es_core::MemoryStore::new());
    let reactor = LargeWithdrawals::working(reviews.clone(), Duration::ZERO);
    let given =
        es_testing::IntoStored::into_stored((MoneyWithdrawn { amount: 500 }, MoneyWithdrawn { amount: 5 }));
    assert_eq!(es_testing::react_to(&reactor, "reviewer", given.clone()).await.expect("react"), 2);
    es_testing::react_to(&reactor, "reviewer", given).await.expect("react again");
    assert_eq!(reviews.load("test-1").await.expect("load").state.opened, 1, "opened once");
    assert_eq!(reviews.load("test-2").await.expect("load").state.opened, 0, "too small to review");
}

/// A runner that dies between its effects and its checkpoint: the next one redelivers, and
/// nothing is recorded twice.
async fn crash_between_effects_and_checkpoint<S: Privacy + Turns + CheckpointStore + DeadLetters>(store: S) {
    let expected = history(&store).await;
    es_testing::conformance::read_all_settled(&store, 9).await;
    let reviews = Repository::<Review, _>::new(store.clone());
    let crashing = es_testing::CrashBeforeCheckpoint(store.clone());
    let reactor = LargeWithdrawals::working(reviews.clone(), Duration::ZERO);
    let mut dying = ReactorRunner::start("reviewer", reactor, crashing).await.expect("start");
    assert!(dying.catch_up().await.is_err(), "the checkpoint fails after the effects");
    assert_eq!(reviews_opened(&reviews, &expected).await, [1, 1], "the effects happened");
    let reactor = LargeWithdrawals::working(reviews.clone(), Duration::ZERO);
    let mut next = ReactorRunner::start("reviewer", reactor, store.clone()).await.expect("start");
    assert_eq!(next.catch_up().await.expect("redelivery"), 11, "every event again, from the old checkpoint");
    assert_eq!(reviews_opened(&reviews, &expected).await, [1, 1], "nothing recorded twice");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_before_the_checkpoint_records_nothing_twice() {
    crash_between_effects_and_checkpoint(es_core::MemoryStore::new()).await;
    let dir = tempfile::tempdir().expect("temp dir");
    crash_between_effects_and_checkpoint(
        es_sqlite::SqliteStore::open(dir.path().join("c.db")).await.expect("open"),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_reactions() {
    reactions_on(es_core::MemoryStore::new()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_reactions() {
    let dir = tempfile::tempdir().expect("temp dir");
    reactions_on(es_sqlite::SqliteStore::open(dir.path().join("reactions.db")).await.expect("open")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_reactions() {
    let store = crate::stores::pg_store("es_react").await;
    reactions_on(store.clone()).await;
    store.drop_schema().await.expect("drop the test schema");
}
