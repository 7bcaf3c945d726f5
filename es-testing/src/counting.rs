//! `CountingStore`: a real store that counts the events it returns, to assert how much a load
//! reads (for example that snapshots bound it).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use es_core::{
    AppendWatch, Appended, Cursor, EventRef, EventStore, ExpectedVersion, Lend, LocalQueue, NewEvent,
    StoreError, Turn, Turns,
};

/// Wraps a store and counts the events its stream reads return (`read_stream` and
/// `visit_stream`), forwarding everything else.
///
/// ```
/// use es_core::EventStore;
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let store = es_testing::CountingStore::new(es_core::MemoryStore::new());
/// store.read_stream("nothing", 1, 10).await?;
/// assert_eq!(store.events_read(), 0);
/// # Ok::<_, es_core::StoreError>(())
/// # }).unwrap();
/// ```
#[derive(Clone, Debug)]
pub struct CountingStore<S> {
    inner: S,
    read: Arc<AtomicUsize>,
}

impl<S> CountingStore<S> {
    /// Counts what `inner` returns, from zero.
    pub fn new(inner: S) -> Self {
        CountingStore { inner, read: Arc::default() }
    }

    /// The events returned by stream reads since creation or the last [`reset`](Self::reset).
    pub fn events_read(&self) -> usize {
        self.read.load(Ordering::Relaxed)
    }

    /// Starts counting from zero again.
    pub fn reset(&self) {
        self.read.store(0, Ordering::Relaxed);
    }

    /// The wrapped store.
    pub fn inner(&self) -> &S {
        &self.inner
    }
}

// Every method of the three traits is forwarded: the traits have no provided methods that a
// store overrides, so the compiler holds a wrapper to forwarding all of them.
impl<S: EventStore> EventStore for CountingStore<S> {
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
        let n = self.inner.visit_stream(stream, from, limit, lend, visit).await?;
        self.read.fetch_add(n, Ordering::Relaxed);
        Ok(n)
    }

    async fn visit_all<F>(&self, after: Cursor, limit: usize, visit: F) -> Result<usize, StoreError>
    where
        F: FnMut(&EventRef<'_>) -> Result<(), StoreError> + Send,
    {
        self.inner.visit_all(after, limit, visit).await
    }

    async fn head(&self) -> Result<Cursor, StoreError> {
        self.inner.head().await
    }

    fn watch(&self) -> Option<AppendWatch> {
        self.inner.watch()
    }
}

impl<S: Turns> Turns for CountingStore<S> {
    type Turn<'a> = CountingTurn<S::Turn<'a>>;

    fn local_queue(&self, stream: &str) -> LocalQueue {
        self.inner.local_queue(stream)
    }

    async fn take_turn<'a>(&'a self, stream: &'a str) -> Result<Self::Turn<'a>, StoreError> {
        Ok(CountingTurn { inner: self.inner.take_turn(stream).await?, read: Arc::clone(&self.read) })
    }
}

/// A turn of a [`CountingStore`]: counts the events its stream reads return, like the store.
#[derive(Debug)]
pub struct CountingTurn<T> {
    inner: T,
    read: Arc<AtomicUsize>,
}

impl<T: Turn> Turn for CountingTurn<T> {
    async fn visit_stream<F>(
        &mut self,
        from: u64,
        limit: usize,
        lend: Lend,
        visit: F,
    ) -> Result<usize, StoreError>
    where
        F: FnMut(&EventRef<'_>) -> Result<(), StoreError> + Send,
    {
        let n = self.inner.visit_stream(from, limit, lend, visit).await?;
        self.read.fetch_add(n, Ordering::Relaxed);
        Ok(n)
    }

    async fn append(
        &mut self,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<Appended, StoreError> {
        self.inner.append(expected, events).await
    }

    async fn finish(self) -> Result<(), StoreError> {
        self.inner.finish().await
    }
}

es_core::forward_store_traits!(CountingStore<S>.inner: SnapshotStore, DeadLetters, Leases, CheckpointStore, Links, Rewrite, Privacy, Inspect, Boundaries);
