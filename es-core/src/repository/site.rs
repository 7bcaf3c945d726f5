//! Where a command's cycle loads and appends: the store itself, or a turn held on the stream.

use crate::store::ExpectedVersion;
use crate::store::StoreError;
use crate::store::Turn;
use crate::store::{Appended, EventRef, NewEvent};
use crate::store::{EventStore, Lend};

/// Where a command's cycle loads and appends: the store itself, or a held turn.
pub(super) trait Site: Send {
    fn visit<F>(
        &mut self,
        stream: &str,
        from: u64,
        limit: usize,
        lend: Lend,
        visit: F,
    ) -> impl std::future::Future<Output = Result<usize, StoreError>> + Send
    where
        F: FnMut(&EventRef<'_>) -> Result<(), StoreError> + Send;

    fn append(
        &mut self,
        stream: &str,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> impl std::future::Future<Output = Result<Appended, StoreError>> + Send;
}

/// The store, outside any turn.
pub(super) struct Direct<'a, S>(pub(super) &'a S);

impl<S: EventStore> Site for Direct<'_, S> {
    async fn visit<F>(
        &mut self,
        stream: &str,
        from: u64,
        limit: usize,
        lend: Lend,
        visit: F,
    ) -> Result<usize, StoreError>
    where
        F: FnMut(&EventRef<'_>) -> Result<(), StoreError> + Send,
    {
        self.0.visit_stream(stream, from, limit, lend, visit).await
    }

    async fn append(
        &mut self,
        stream: &str,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<Appended, StoreError> {
        self.0.append(stream, expected, events).await
    }
}

/// A held turn (on the stream it was taken for).
pub(super) struct InTurn<T>(pub(super) T);

impl<T: Turn> Site for InTurn<T> {
    async fn visit<F>(
        &mut self,
        _: &str,
        from: u64,
        limit: usize,
        lend: Lend,
        visit: F,
    ) -> Result<usize, StoreError>
    where
        F: FnMut(&EventRef<'_>) -> Result<(), StoreError> + Send,
    {
        self.0.visit_stream(from, limit, lend, visit).await
    }

    async fn append(
        &mut self,
        _: &str,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<Appended, StoreError> {
        self.0.append(expected, events).await
    }
}
