//! The `EventStore` trait: the one seam every backend implements.

use std::future::Future;

use crate::store::cursor::Cursor;
use crate::store::AppendWatch;
use crate::store::ExpectedVersion;
use crate::store::StoreError;
use crate::store::{Appended, EventRef, NewEvent, StoredEvent};

/// Storage of event streams with optimistic concurrency and one global order.
///
/// A store implements six methods; every one is required, so a wrapper (a counting or tracing
/// store) cannot silently drop a capability by forgetting to forward it. The two `read_*`
/// methods are shortcuts over the `visit_*` ones: stores do not override them.
///
/// Implementations are cheap to clone (a handle to shared state) and must pass the conformance
/// suite in `es-testing`.
pub trait EventStore: Clone + Send + Sync + 'static {
    /// The store's name in errors: `"memory"`, `"sqlite"`, `"postgres"`, ...
    const BACKEND: &'static str;

    /// Atomically appends `events` to `stream` if its version matches `expected`.
    ///
    /// Re-appending events whose ids are already stored, as the exact retry of an earlier
    /// successful append, acknowledges that append and stores nothing twice.
    fn append(
        &self,
        stream: &str,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> impl Future<Output = Result<Appended, StoreError>> + Send;

    /// Lends each event of `stream` with version >= `from`, at most `limit`, in version order, to
    /// `visit`, and returns how many it lent. An error from `visit` stops the visit and is
    /// returned. With [`Lend::ForDecoding`] a store may leave out what decoding does not need:
    /// `Repository::load` folds a stream that way, without copying events.
    fn visit_stream<F>(
        &self,
        stream: &str,
        from: u64,
        limit: usize,
        lend: Lend,
        visit: F,
    ) -> impl Future<Output = Result<usize, StoreError>> + Send
    where
        F: FnMut(&EventRef<'_>) -> Result<(), StoreError> + Send;

    /// Lends each event of all streams after `after`, at most `limit`, in the global order, to
    /// `visit`, and returns how many it lent. It never lends an event while one before it in the
    /// order can still commit, so a reader that goes on from the last cursor it saw never skips
    /// an event. Projection runners and subscriptions read with it.
    fn visit_all<F>(
        &self,
        after: Cursor,
        limit: usize,
        visit: F,
    ) -> impl Future<Output = Result<usize, StoreError>> + Send
    where
        F: FnMut(&EventRef<'_>) -> Result<(), StoreError> + Send;

    /// The cursor of the last event a reader can read now ([`Cursor::START`]: none).
    fn head(&self) -> impl Future<Output = Result<Cursor, StoreError>> + Send;

    /// A watch that ticks when events may have been appended, so that subscribers wake instead
    /// of polling; `None` when the store cannot tell (subscribers then poll).
    fn watch(&self) -> Option<AppendWatch>;

    /// Events of one stream with version >= `from`, at most `limit`, in version order: owned
    /// copies of what [`visit_stream`](Self::visit_stream) lends.
    fn read_stream(
        &self,
        stream: &str,
        from: u64,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<StoredEvent>, StoreError>> + Send {
        async move {
            let mut events = Vec::with_capacity(limit.min(1024));
            self.visit_stream(stream, from, limit, Lend::All, |e| collect::<Self>(&mut events, e)).await?;
            Ok(events)
        }
    }

    /// Events of all streams after `after`, at most `limit`, in the global order: owned copies
    /// of what [`visit_all`](Self::visit_all) lends.
    fn read_all(
        &self,
        after: Cursor,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<StoredEvent>, StoreError>> + Send {
        async move {
            let mut events = Vec::with_capacity(limit.min(1024));
            self.visit_all(after, limit, |e| collect::<Self>(&mut events, e)).await?;
            Ok(events)
        }
    }
}

/// What a stream visit lends of each event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lend {
    /// Every field, as [`EventStore::read_stream`] copies them.
    All,
    /// What decoding needs: stream, versions, position, cursor, name and payload. `id` is nil,
    /// `metadata` empty and `recorded_at` the Unix epoch, so that a store can skip reading them
    /// (in SQLite they cost a third of a stream load).
    ForDecoding,
}

/// Pushes an owned copy of `e`; a payload that is not JSON is a corrupt row of store `S`.
fn collect<S: EventStore>(events: &mut Vec<StoredEvent>, e: &EventRef<'_>) -> Result<(), StoreError> {
    events.push(crate::store::backend::owned(S::BACKEND, e)?);
    Ok(())
}
