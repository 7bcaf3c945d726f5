//! `FaultyStore`: a real store that fails one chosen call (the Nth `visit_all`, checkpoint save,
//! fenced save or lease acquire) with a backend error, as a dropped connection would, to check
//! that a consumer recovers from an error at any point of its run.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use es_core::{
    AppendWatch, Appended, Checkpoint, CheckpointStore, Cursor, EventRef, EventStore, ExpectedVersion, Lease,
    Leases, Lend, NewEvent, StoreError,
};

/// The calls a [`FaultyStore`] counts and can fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Fault {
    /// [`EventStore::visit_all`] (and `read_all`, which goes through it).
    VisitAll,
    /// [`CheckpointStore::save_checkpoint`].
    SaveCheckpoint,
    /// [`Leases::save_checkpoint_fenced`].
    SaveCheckpointFenced,
    /// [`Leases::acquire`].
    Acquire,
}

impl Fault {
    /// Every kind of call, for tests that fail each in turn.
    pub const ALL: [Fault; 4] =
        [Fault::VisitAll, Fault::SaveCheckpoint, Fault::SaveCheckpointFenced, Fault::Acquire];

    fn index(self) -> usize {
        self as usize
    }
}

#[derive(Debug, Default)]
struct Plan {
    /// Calls made so far, per [`Fault`].
    calls: [u64; 4],
    /// The call to fail (1-based), per [`Fault`].
    fail_at: [Option<u64>; 4],
    /// Failures injected so far.
    injected: u64,
}

/// Wraps a store, counts its calls of each [`Fault`] kind, and fails the Nth one of a kind with
/// a [`StoreError::Backend`]; everything else is forwarded.
///
/// ```
/// use es_core::{CheckpointStore, EventStore};
/// use es_testing::{Fault, FaultyStore};
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let store = FaultyStore::new(es_core::MemoryStore::new()).fail(Fault::VisitAll, 2);
/// assert!(store.read_all(es_core::Cursor::START, 10).await.is_ok());
/// assert!(store.read_all(es_core::Cursor::START, 10).await.is_err(), "the second call fails");
/// assert!(store.read_all(es_core::Cursor::START, 10).await.is_ok());
/// assert_eq!((store.calls(Fault::VisitAll), store.injected()), (3, 1));
/// # });
/// ```
#[derive(Clone, Debug)]
pub struct FaultyStore<S> {
    inner: S,
    plan: Arc<Mutex<Plan>>,
}

impl<S> FaultyStore<S> {
    /// Forwards to `inner`, failing nothing until told to.
    pub fn new(inner: S) -> Self {
        FaultyStore { inner, plan: Arc::default() }
    }

    /// Fails the `nth` call (from 1, counted since creation) of the kind `fault`.
    pub fn fail(self, fault: Fault, nth: u64) -> Self {
        self.plan().fail_at[fault.index()] = Some(nth);
        self
    }

    /// How many calls of the kind `fault` were made so far (the failed one included).
    pub fn calls(&self, fault: Fault) -> u64 {
        self.plan().calls[fault.index()]
    }

    /// How many failures were injected so far.
    pub fn injected(&self) -> u64 {
        self.plan().injected
    }

    /// The wrapped store.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    fn plan(&self) -> std::sync::MutexGuard<'_, Plan> {
        self.plan.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Counts a call of `fault`; the error to return when it is the one to fail.
    fn check(&self, fault: Fault) -> Result<(), StoreError> {
        let mut plan = self.plan();
        plan.calls[fault.index()] += 1;
        if plan.fail_at[fault.index()] != Some(plan.calls[fault.index()]) {
            return Ok(());
        }
        plan.injected += 1;
        let nth = plan.calls[fault.index()];
        Err(StoreError::backend(
            "faulty",
            format!("injected failure of {fault:?} call {nth} (a dropped connection)"),
        ))
    }
}

impl<S: EventStore> EventStore for FaultyStore<S> {
    const BACKEND: &'static str = S::BACKEND;

    async fn append(
        &self,
        stream: &str,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<Appended, StoreError> {
        self.inner.append(stream, expected, events).await
    }

    async fn visit_stream<F>(
        &self,
        stream: &str,
        from: u64,
        limit: usize,
        lend: Lend,
        visit: F,
    ) -> Result<usize, StoreError>
    where
        F: FnMut(&EventRef<'_>) -> Result<(), StoreError> + Send,
    {
        self.inner.visit_stream(stream, from, limit, lend, visit).await
    }

    async fn visit_all<F>(&self, after: Cursor, limit: usize, visit: F) -> Result<usize, StoreError>
    where
        F: FnMut(&EventRef<'_>) -> Result<(), StoreError> + Send,
    {
        self.check(Fault::VisitAll)?;
        self.inner.visit_all(after, limit, visit).await
    }

    async fn head(&self) -> Result<Cursor, StoreError> {
        self.inner.head().await
    }

    fn watch(&self) -> Option<AppendWatch> {
        self.inner.watch()
    }
}

impl<S: Leases> Leases for FaultyStore<S> {
    async fn acquire(&self, name: &str, owner: &str, ttl: Duration) -> Result<Option<Lease>, StoreError> {
        self.check(Fault::Acquire)?;
        self.inner.acquire(name, owner, ttl).await
    }

    async fn release(&self, lease: &Lease) -> Result<(), StoreError> {
        self.inner.release(lease).await
    }

    async fn lease(&self, name: &str) -> Result<Option<Lease>, StoreError> {
        self.inner.lease(name).await
    }

    async fn save_checkpoint_fenced(&self, checkpoint: Checkpoint, lease: &Lease) -> Result<(), StoreError> {
        self.check(Fault::SaveCheckpointFenced)?;
        self.inner.save_checkpoint_fenced(checkpoint, lease).await
    }
}

impl<S: CheckpointStore> CheckpointStore for FaultyStore<S> {
    async fn save_checkpoint(&self, projection: &str, checkpoint: Checkpoint) -> Result<(), StoreError> {
        self.check(Fault::SaveCheckpoint)?;
        self.inner.save_checkpoint(projection, checkpoint).await
    }

    async fn load_checkpoint(&self, projection: &str) -> Result<Option<Checkpoint>, StoreError> {
        self.inner.load_checkpoint(projection).await
    }

    async fn delete_checkpoint(&self, projection: &str) -> Result<(), StoreError> {
        self.inner.delete_checkpoint(projection).await
    }
}

es_core::forward_store_traits!(FaultyStore<S>.inner: Turns, SnapshotStore, DeadLetters, Links, Rewrite, Privacy, Inspect, Boundaries);
