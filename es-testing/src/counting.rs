//! `CountingStore`: a real store that counts the events it returns, to assert how much a load
//! reads (for example that snapshots bound it).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use es_core::{
    Appended, EventRef, EventStore, ExpectedVersion, NewEvent, Snapshot, SnapshotStore, StoreError,
    StoredEvent,
};

/// Wraps a store and counts the events `read_stream` and `visit_stream` return.
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

impl<S: EventStore> EventStore for CountingStore<S> {
    async fn append(
        &self,
        stream: &str,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<Appended, StoreError> {
        self.inner.append(stream, expected, events).await
    }

    async fn read_stream(
        &self,
        stream: &str,
        from: u64,
        limit: usize,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let events = self.inner.read_stream(stream, from, limit).await?;
        self.read.fetch_add(events.len(), Ordering::Relaxed);
        Ok(events)
    }

    async fn read_all(&self, from: u64, limit: usize) -> Result<Vec<StoredEvent>, StoreError> {
        self.inner.read_all(from, limit).await
    }

    async fn visit_stream<F>(
        &self,
        stream: &str,
        from: u64,
        limit: usize,
        visit: F,
    ) -> Result<usize, StoreError>
    where
        F: FnMut(EventRef<'_>) -> Result<(), StoreError> + Send,
    {
        let n = self.inner.visit_stream(stream, from, limit, visit).await?;
        self.read.fetch_add(n, Ordering::Relaxed);
        Ok(n)
    }
}

impl<S: SnapshotStore> SnapshotStore for CountingStore<S> {
    async fn save_snapshot(&self, stream: &str, snapshot: Snapshot) -> Result<(), StoreError> {
        self.inner.save_snapshot(stream, snapshot).await
    }

    async fn load_snapshot(&self, stream: &str) -> Result<Option<Snapshot>, StoreError> {
        self.inner.load_snapshot(stream).await
    }
}
