//! Run loops and outages: a store that fails after the feed's retries does not end a consumer's
//! `run` (it backs off and goes on from its checkpoint), and one deadline whose command keeps
//! failing holds back no other deadline.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use es_core::consume::deadline::{Executes, Outcome};
use es_core::consume::{DeadlineError, Deadlines, Feed, Projected, Tick};
use es_core::{MemoryStore, Metadata, Repository, RetryPolicy, StoreError};
use es_testing::{Fault, FaultyStore, VirtualClock};

use crate::deadlines::{CancelCart, OpenCart, ShoppingCart};
use crate::read_model::BalancePerOwner;

/// A feed with one attempt per batch meets a failed read: `run` backs off and catches up
/// anyway (before, the error ended the loop for good).
#[tokio::test]
async fn a_run_loop_outlives_a_store_failure() {
    let store = MemoryStore::new();
    crate::feed::fill(&store).await;
    let faulty = FaultyStore::new(store.clone()).fail(Fault::VisitAll, 1);
    let mut feed = Feed::new("balances", Projected::<BalancePerOwner>::default(), faulty.clone())
        .retry(RetryPolicy::default().max_attempts(1).backoff(Duration::ZERO, Duration::ZERO))
        .poll(Duration::from_millis(20));
    let head = es_core::EventStore::head(&store).await.expect("head");
    let checker = store.clone();
    let caught_up = async move {
        loop {
            let saved = es_core::CheckpointStore::load_checkpoint(&checker, "balances").await.expect("load");
            if saved.is_some_and(|c| c.cursor >= head) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(10), feed.run(caught_up))
        .await
        .expect("caught up within 10 s")
        .expect("the failure did not end the run");
    assert_eq!(faulty.injected(), 1, "the read failed once");
}

/// Executes `CancelCart`, except on the target `bad`, whose store "is down".
struct Flaky {
    carts: Repository<ShoppingCart, MemoryStore>,
    bad_tried: Arc<AtomicBool>,
}

impl Executes<CancelCart> for Flaky {
    fn execute_scheduled<'a>(
        &'a self,
        target: &'a str,
        command: CancelCart,
        metadata: Metadata,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<Outcome, DeadlineError>> + Send + 'a>>
    {
        Box::pin(async move {
            if target == "bad" {
                self.bad_tried.store(true, Ordering::Relaxed);
                return Err(StoreError::backend("test", "the target's store is down").into());
            }
            self.carts.execute_scheduled(target, command, metadata).await
        })
    }
}

/// The soonest deadline fails every time; the later ones fire all the same, and it stays
/// pending.
#[tokio::test]
async fn a_failing_deadline_holds_back_no_other() {
    let store = MemoryStore::new();
    let carts = Repository::<ShoppingCart, _>::new(store.clone());
    for id in ["bad", "good-1", "good-2"] {
        carts.execute(id, OpenCart { id: id.into() }).await.expect("open");
    }
    let clock = VirtualClock::new();
    clock.advance(Duration::from_secs(2 * 86_400));
    let bad_tried = Arc::new(AtomicBool::new(false));
    let mut router = Deadlines::new("deadlines", store.clone())
        .clock(clock.clone())
        .route::<CancelCart>(Flaky { carts: carts.clone(), bad_tried: Arc::clone(&bad_tried) })
        .retry(RetryPolicy::default().max_attempts(2).backoff(Duration::ZERO, Duration::ZERO));
    let tick = router.tick().await;
    assert!(tick.is_err(), "the failure is reported: {tick:?}");
    assert!(bad_tried.load(Ordering::Relaxed));
    for id in ["good-1", "good-2"] {
        assert_eq!(carts.load(id).await.expect("load").state.cancelled, 1, "{id} was cancelled");
    }
    assert_eq!(carts.load("bad").await.expect("load").state.cancelled, 0);
    // Read back what was recorded as fired: only the failing one is left.
    let after = router.tick().await;
    assert!(after.is_err());
    let pending: Vec<&str> = router.pending().map(|p| p.target.as_str()).collect();
    assert_eq!(pending, ["bad"]);
    assert!(!matches!(after, Ok(Tick::Standby)));
}
