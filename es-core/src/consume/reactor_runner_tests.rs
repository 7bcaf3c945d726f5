//! A key that fails to load is the store's failure, not the reaction's: retried, then returned
//! from `catch_up`, never parked.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::personal::{KeyFuture, KeyStore, Keyring, MemoryKeys};
use crate::{
    Aggregate, Apply, CheckpointStore, DeadLetters, Event, Handle, MemoryStore, React, ReactContext,
    ReactError, Reactor, ReactorError, ReactorRunner, Repository, RetryPolicy, StoreError,
};

#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Registered {
    #[event(subject)]
    pub customer: String,
    #[event(personal)]
    pub name: String,
}

#[derive(Aggregate, Default)]
#[aggregate(events(Registered), error = std::convert::Infallible)]
pub struct Customer;

impl Apply<Registered> for Customer {
    fn apply(&mut self, _: &Registered) {}
}

impl Handle<String> for Customer {
    fn handle(&self, name: &String) -> Result<Vec<CustomerEvent>, Self::Error> {
        Ok(vec![Registered { customer: "c-1".into(), name: name.clone() }.into()])
    }
}

/// Greets every customer registered: records the names it saw (decrypted).
#[derive(Reactor, Default)]
#[reactor(events(Registered))]
pub struct Greeter {
    greeted: Mutex<Vec<String>>,
}

impl React<Registered> for Greeter {
    async fn react(&self, e: &Registered, _: &ReactContext<'_>) -> Result<(), ReactError> {
        self.greeted.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(e.name.clone());
        Ok(())
    }
}

impl Greeter {
    fn greeted(&self) -> Vec<String> {
        self.greeted.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }
}

/// Keys in memory whose loads fail while `failures` is above zero (counting down), as a key
/// table behind a dropped connection would. Only `key` fails: that is what a reactor calls.
// If `KeyStore`'s methods change shape, only the types in these three signatures follow.
struct FlakyKeys {
    inner: MemoryKeys,
    failures: Arc<AtomicU32>,
}

impl KeyStore for FlakyKeys {
    fn key<'a>(&'a self, subject: &'a str) -> KeyFuture<'a, Option<Vec<u8>>> {
        if self.failures.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok() {
            return Box::pin(async { Err(StoreError::backend("flaky", "connection dropped")) });
        }
        self.inner.key(subject)
    }

    fn create_key<'a>(&'a self, subject: &'a str, fresh: Vec<u8>) -> KeyFuture<'a, Vec<u8>> {
        self.inner.create_key(subject, fresh)
    }

    fn forget<'a>(&'a self, subject: &'a str) -> KeyFuture<'a, bool> {
        self.inner.forget(subject)
    }
}

/// A store holding one registration, sealed with a key in `keys`.
async fn registered(keys: &MemoryKeys) -> MemoryStore {
    let store = MemoryStore::new();
    let customers = Repository::<Customer, _>::new(store.clone()).with_keys(Keyring::new(keys.clone()));
    customers.execute("c-1", "Ann".to_owned()).await.expect("register");
    store
}

/// 3 attempts, no waiting between them.
fn quick() -> RetryPolicy {
    RetryPolicy::default().max_attempts(3).backoff(Duration::ZERO, Duration::ZERO)
}

#[tokio::test]
async fn a_key_that_loads_on_a_retry_is_reacted_with() -> Result<(), ReactorError> {
    let keys = MemoryKeys::new();
    let store = registered(&keys).await;
    let failures = Arc::new(AtomicU32::new(2));
    let flaky = Keyring::new(FlakyKeys { inner: keys, failures: Arc::clone(&failures) });
    let mut runner = ReactorRunner::start("greeter", Greeter::default(), store.clone())
        .await?
        .with_retry(quick())
        .with_keys(flaky);
    assert_eq!(runner.catch_up().await?, 1);
    assert_eq!(failures.load(Ordering::SeqCst), 0, "both failures were met");
    assert_eq!(runner.reactor().greeted(), ["Ann"], "reacted once, with the name opened");
    assert!(store.parked("greeter").await?.is_empty(), "nothing parked");
    Ok(())
}

#[tokio::test]
async fn a_key_that_keeps_failing_ends_the_run_and_parks_nothing() -> Result<(), ReactorError> {
    let keys = MemoryKeys::new();
    let store = registered(&keys).await;
    let failures = Arc::new(AtomicU32::new(u32::MAX));
    let flaky = Keyring::new(FlakyKeys { inner: keys, failures: Arc::clone(&failures) });
    let mut runner = ReactorRunner::start("greeter", Greeter::default(), store.clone())
        .await?
        .with_retry(quick())
        .with_keys(flaky.clone());
    let ended = runner.catch_up().await;
    assert!(matches!(ended, Err(ReactorError::Store(StoreError::Backend { .. }))), "{ended:?}");
    assert_eq!(u32::MAX - failures.load(Ordering::SeqCst), 3, "tried as often as the policy says");
    assert!(store.parked("greeter").await?.is_empty(), "a store failure parks nothing");
    assert!(runner.reactor().greeted().is_empty());
    let saved = store.load_checkpoint("greeter").await?.map(|c| c.cursor.position()).unwrap_or_default();
    assert_eq!(saved, 0, "the checkpoint stays before the event");

    // The store is back: the next run (a restart, here) reacts to the event.
    failures.store(0, Ordering::SeqCst);
    let mut next = ReactorRunner::start("greeter", Greeter::default(), store.clone())
        .await?
        .with_retry(quick())
        .with_keys(flaky);
    assert_eq!(next.catch_up().await?, 1);
    assert_eq!(next.reactor().greeted(), ["Ann"]);
    assert!(store.parked("greeter").await?.is_empty());
    Ok(())
}
