//! `Repository`: load an aggregate, decide on a command, append the result, retry on conflict.

mod decisions;
mod execute;
mod fold;
mod history;
mod retry;
mod services;
mod site;
mod snapshots;
mod verified;

pub use decisions::{Decisions, ServicedDecisions};
pub use retry::RetryPolicy;
pub use services::Serviced;

use std::marker::PhantomData;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::model::Aggregate;
use crate::personal::{Keyring, Privacy};
use crate::store::EventStore;
use crate::store::SnapshotStore;
use crate::store::StoreError;
use serde::de::DeserializeOwned;
use serde::Serialize;
use snapshots::{EveryN, SnapshotPolicy};
use tracing::Instrument;

/// Runs commands against aggregates of type `A` kept in the store `S`.
///
/// ```
/// # use es_core::{Aggregate, Apply, Event, Handle, MemoryStore, Repository};
/// # use serde::{Deserialize, Serialize};
/// # #[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
/// # pub struct Incremented { by: u32 }
/// # #[derive(Aggregate, Default)]
/// # #[aggregate(events(Incremented), error = std::convert::Infallible)]
/// # pub struct Counter { value: u32 }
/// # impl Apply<Incremented> for Counter { fn apply(&mut self, e: &Incremented) { self.value += e.by } }
/// # pub struct Increment;
/// # impl Handle<Increment> for Counter {
/// #     fn handle(&self, _: &Increment) -> Result<Vec<CounterEvent>, Self::Error> { Ok(vec![Incremented { by: 1 }.into()]) }
/// # }
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let counters = Repository::<Counter, _>::new(MemoryStore::new());
/// counters.execute("c1", Increment).await?;
/// let recorded = counters.execute("c1", Increment).await?;
/// assert_eq!(recorded[0].stream, "Counter-c1");
/// assert_eq!(recorded[0].stream_version, 2);
/// assert_eq!(counters.load("c1").await?.state.value, 2);
/// # Ok::<_, Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
pub struct Repository<A, S> {
    store: S,
    retry: RetryPolicy,
    /// Conflicts retried, shared by clones.
    retries: Arc<AtomicU64>,
    /// Commands that waited for a turn across processes, shared by clones.
    turns: Arc<AtomicU64>,
    /// Whether commands wait in the store's per-stream queue of this process first.
    queued: bool,
    /// When and where to take snapshots; `None` without snapshots.
    snapshots: Option<Arc<dyn SnapshotPolicy<A>>>,
    /// Subjects' keys for personal data: the store's, unless given.
    keys: Option<Keyring>,
    aggregate: PhantomData<fn() -> A>,
}

impl<A, S: Clone> Clone for Repository<A, S> {
    fn clone(&self) -> Self {
        Repository {
            store: self.store.clone(),
            retry: self.retry,
            retries: Arc::clone(&self.retries),
            turns: Arc::clone(&self.turns),
            queued: self.queued,
            snapshots: self.snapshots.clone(),
            keys: self.keys.clone(),
            aggregate: PhantomData,
        }
    }
}

impl<A, S: std::fmt::Debug> std::fmt::Debug for Repository<A, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Repository")
            .field("aggregate", &std::any::type_name::<A>())
            .field("store", &self.store)
            .field("retry", &self.retry)
            .finish()
    }
}

/// An aggregate's state and the version of its stream it was built from (0: no events yet).
#[derive(Debug, Clone, PartialEq)]
pub struct Loaded<A> {
    /// The state after applying every event.
    pub state: A,
    /// The version of the last event applied.
    pub version: u64,
}

/// Why a command did not record its events.
#[derive(Debug, thiserror::Error)]
pub enum CommandError<E> {
    /// The aggregate refused the command.
    #[error("command rejected: {0:?}")]
    Rejected(E),
    /// Other writers kept changing the stream; every attempt met a newer version.
    #[error("stream `{stream}` kept changing: {attempts} attempts all met a version conflict")]
    Conflict {
        /// The aggregate's stream.
        stream: String,
        /// How many times load-decide-append ran.
        attempts: u32,
    },
    /// The store or the codec failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl<A: Aggregate, S: EventStore + Privacy> Repository<A, S> {
    /// A repository over `store`, sealing and opening personal data with the store's keyring.
    pub fn new(store: S) -> Self {
        Repository {
            retry: RetryPolicy::default(),
            retries: Arc::default(),
            turns: Arc::default(),
            queued: true,
            snapshots: None,
            keys: store.keys(),
            store,
            aggregate: PhantomData,
        }
    }
}

impl<A: Aggregate, S: EventStore> Repository<A, S> {
    /// Seals and opens personal data with `keys` (a key management service, say) instead of
    /// the store's keyring ([`crate::personal`]).
    pub fn with_keys(mut self, keys: Keyring) -> Self {
        self.keys = Some(keys);
        self
    }

    /// How many times a command met a version conflict and ran again, counted over this
    /// repository and its clones.
    pub fn retries(&self) -> u64 {
        self.retries.load(Ordering::Relaxed)
    }

    /// How many commands met conflicts in all their optimistic attempts and waited for a turn
    /// on their stream across processes, counted over this repository and its clones.
    pub fn turns_taken(&self) -> u64 {
        self.turns.load(Ordering::Relaxed)
    }

    /// Sets how many times `execute` runs load-decide-append inside a turn before giving up on
    /// conflicts with writers that take no turns (at least 1), keeping the backoff.
    pub fn with_max_attempts(mut self, attempts: u32) -> Self {
        self.retry = self.retry.max_attempts(attempts);
        self
    }

    /// Whether commands on the same aggregate first wait in this process's queue for it (the
    /// default), shared by every repository on the store and its clones.
    ///
    /// Queued, concurrent commands of one process on one aggregate run one after another, and
    /// only meet writers of other processes. Unqueued, they race like separate processes would:
    /// after [`RetryPolicy::optimistic`] conflicts each waits for a turn across processes.
    pub fn with_local_queue(mut self, queued: bool) -> Self {
        self.queued = queued;
        self
    }

    /// Takes a snapshot of the state every `every` events (into the store, which must keep
    /// snapshots), and loads from the newest snapshot plus the events after it.
    ///
    /// ```
    /// # use es_core::{Aggregate, Apply, Event, Handle, MemoryStore, Repository, SnapshotStore};
    /// # use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
    /// # pub struct Added { n: u32 }
    /// #[derive(Aggregate, Default, Serialize, Deserialize)]
    /// #[aggregate(events(Added), error = std::convert::Infallible, snapshot_version = 1)]
    /// pub struct Sum { total: u32 }
    /// # impl Apply<Added> for Sum { fn apply(&mut self, e: &Added) { self.total += e.n } }
    /// # impl Handle<u32> for Sum {
    /// #     fn handle(&self, n: &u32) -> Result<Vec<SumEvent>, Self::Error> { Ok(vec![Added { n: *n }.into()]) }
    /// # }
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let store = MemoryStore::new();
    /// let sums = Repository::<Sum, _>::new(store.clone()).with_snapshots(2);
    /// for n in 1..=5 { sums.execute("s", n).await?; }
    /// let kept = store.load_snapshot("Sum-s").await?.expect("taken at version 4");
    /// assert_eq!(kept.stream_version, 4);
    /// assert_eq!(sums.load("s").await?.state.total, 15); // the snapshot plus event 5
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub fn with_snapshots(mut self, every: u64) -> Self
    where
        S: SnapshotStore,
        A: Serialize + DeserializeOwned,
    {
        self.snapshots = Some(Arc::new(EveryN { store: self.store.clone(), every: every.max(1) }));
        self
    }

    /// Replaces the retry policy (attempts and backoff).
    pub fn with_retry_policy(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// The underlying store.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// Rebuilds the aggregate with this id from its events (from its newest usable snapshot
    /// and the events after it, with snapshots on).
    pub async fn load(&self, id: &str) -> Result<Loaded<A>, StoreError> {
        self.load_from(id, true).await
    }

    /// Rebuilds the aggregate from its events, from a snapshot when `snapshots` allows.
    pub(crate) async fn load_from(&self, id: &str, snapshots: bool) -> Result<Loaded<A>, StoreError> {
        let stream = A::stream_name(id);
        let span = tracing::debug_span!("es.load", stream = %stream, version = tracing::field::Empty);
        let mut loaded = Loaded { state: A::default(), version: 0 };
        async {
            if let Some(policy) = self.snapshots.as_ref().filter(|_| snapshots) {
                if let Some((state, version, _)) = policy.load(&stream, self.keys.as_ref()).await? {
                    loaded = Loaded { state, version };
                }
            }
            // One query for the rest of the stream.
            execute::fold(
                &mut execute::Direct(&self.store),
                self.keys.as_ref(),
                &stream,
                &mut loaded,
                usize::MAX,
            )
            .await
        }
        .instrument(span.clone())
        .await?;
        span.record("version", loaded.version);
        Ok(loaded)
    }
}
