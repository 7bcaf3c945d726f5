//! The deadline router under faults: a store that fails its Nth read, checkpoint save, fenced
//! save or lease acquire, for every N a clean run reaches, with the feed retrying and with the
//! caller retrying after the error surfaced. Every unconfirmed cart is cancelled exactly once
//! (the cancel handler has no guard: only the deadline's command id absorbs a refire), no
//! confirmed cart is, and nothing stays pending. Memory and SQLite.

use std::time::Duration;

use es_core::consume::{pending_deadlines, Deadlines, Tick};
use es_core::personal::Privacy;
use es_core::{CheckpointStore, Leases, MemoryStore, Repository, RetryPolicy, Turns};
use es_testing::{Fault, FaultyStore, VirtualClock};

use crate::deadlines::{CancelCart, ConfirmCart, OpenCart, ShoppingCart};

const CARTS: usize = 6;

/// Opens the carts (each schedules its cancellation in a day) and confirms every other one.
async fn fill<S: Privacy + Turns>(store: &S) {
    let carts = Repository::<ShoppingCart, _>::new(store.clone());
    for c in 0..CARTS {
        let id = format!("c{c}");
        carts.execute(&id, OpenCart { id: id.clone() }).await.expect("open");
        if c % 2 == 1 {
            carts.execute(&id, ConfirmCart { id: id.clone() }).await.expect("confirm");
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Driver {
    /// The feed retries (3 attempts): the fault never reaches the caller.
    FeedRetries,
    /// One attempt: the error reaches the caller, who ticks again.
    CallerRetries,
}

/// Runs a leased router over `store` failing `fault` at call `nth` (0: never) until nothing is
/// pending; the cancellations per cart, and the calls of `fault` made.
async fn run<S>(store: S, fault: Fault, nth: u64, driver: Driver) -> (Vec<u32>, u64, u64)
where
    S: Privacy + Turns + CheckpointStore + Leases,
{
    fill(&store).await;
    let faulty = FaultyStore::new(store.clone());
    let faulty = if nth > 0 { faulty.fail(fault, nth) } else { faulty };
    let attempts = match driver {
        Driver::FeedRetries => 3,
        Driver::CallerRetries => 1,
    };
    let clock = VirtualClock::new();
    clock.advance(Duration::from_secs(2 * 86_400));
    let mut router = Deadlines::new("deadlines", faulty.clone())
        .clock(clock.clone())
        .route::<CancelCart>(Repository::<ShoppingCart, _>::new(faulty.clone()))
        .leased(Duration::from_secs(30))
        .retry(RetryPolicy::default().max_attempts(attempts).backoff(Duration::ZERO, Duration::ZERO));
    let mut errors = 0;
    for _ in 0..20 {
        match router.tick().await {
            Ok(Tick::Fired(fired)) if fired.is_empty() && router.pending_count() == 0 => break,
            Ok(Tick::Fired(_)) => {}
            Ok(Tick::Standby) => panic!("{fault:?} at {nth}: the only router stands by"),
            Err(e) => {
                errors += 1;
                if let Driver::FeedRetries = driver {
                    panic!("{fault:?} at {nth}: the feed retries, yet {e} reached the caller");
                }
            }
        }
    }
    assert!(errors <= 3, "{fault:?} at {nth}: {errors} errors from one injected fault");
    assert!(pending_deadlines(&store).await.expect("list").is_empty(), "{fault:?} at {nth}: still pending");
    let carts = Repository::<ShoppingCart, _>::new(store);
    let mut cancelled = Vec::new();
    for c in 0..CARTS {
        cancelled.push(carts.load(&format!("c{c}")).await.expect("load").state.cancelled);
    }
    (cancelled, faulty.calls(fault), faulty.injected())
}

/// Every fault at every call a clean run makes, on stores from `new`.
async fn every_fault<S, F, Fut>(new: F)
where
    S: Privacy + Turns + CheckpointStore + Leases,
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = S>,
{
    let expected: Vec<u32> = (0..CARTS).map(|c| u32::from(c % 2 == 0)).collect();
    for driver in [Driver::FeedRetries, Driver::CallerRetries] {
        for fault in Fault::ALL {
            let (clean, calls, _) = run(new().await, fault, 0, driver).await;
            assert_eq!(clean, expected, "a clean run cancels the unconfirmed carts once");
            if fault != Fault::SaveCheckpoint {
                assert!(calls > 0, "a leased router makes {fault:?} calls");
            }
            for nth in 1..=calls {
                let (cancelled, _, injected) = run(new().await, fault, nth, driver).await;
                assert_eq!(injected, 1, "{fault:?} at {nth} was injected");
                assert_eq!(cancelled, expected, "{driver:?}, {fault:?} failing at call {nth} of {calls}");
            }
        }
    }
}

#[tokio::test]
async fn memory_deadlines_fire_once_under_every_fault() {
    every_fault(|| async { MemoryStore::new() }).await;
}

#[tokio::test]
async fn sqlite_deadlines_fire_once_under_every_fault() {
    let dir = tempfile::tempdir().expect("temp dir");
    let n = std::sync::atomic::AtomicU64::new(0);
    every_fault(|| {
        let path = dir.path().join(format!("d{}.db", n.fetch_add(1, std::sync::atomic::Ordering::Relaxed)));
        async move { es_sqlite::SqliteStore::open(path).await.expect("open") }
    })
    .await;
}
