//! The conformance suite can fail: stores that break a rule are caught by the check for it.

use es_core::{
    AppendWatch, Appended, Cursor, EventRef, EventStore, ExpectedVersion, Lend, MemoryStore, NewEvent,
    StoreError,
};

/// Ignores the expected version: a lost-update bug.
#[derive(Clone, Default)]
struct NoVersionCheck(MemoryStore);

/// Lends `visit_all` (and so `read_all`) newest first.
#[derive(Clone, Default)]
struct Reversed(MemoryStore);

/// Drops the last event of every multi-event batch: not atomic.
#[derive(Clone, Default)]
struct DropsLast(MemoryStore);

/// Forwards the methods a broken store does not break.
macro_rules! delegate {
    (visit_stream) => {
        async fn visit_stream<F>(
            &self,
            s: &str,
            from: u64,
            limit: usize,
            lend: Lend,
            visit: F,
        ) -> Result<usize, StoreError>
        where
            F: FnMut(&EventRef<'_>) -> Result<(), StoreError> + Send,
        {
            self.0.visit_stream(s, from, limit, lend, visit).await
        }
    };
    (visit_all) => {
        async fn visit_all<F>(&self, after: Cursor, limit: usize, visit: F) -> Result<usize, StoreError>
        where
            F: FnMut(&EventRef<'_>) -> Result<(), StoreError> + Send,
        {
            self.0.visit_all(after, limit, visit).await
        }
    };
    (append) => {
        async fn append(
            &self,
            s: &str,
            e: ExpectedVersion,
            events: Vec<NewEvent>,
        ) -> Result<Appended, StoreError> {
            self.0.append(s, e, events).await
        }
    };
    (rest) => {
        const BACKEND: &'static str = "broken";
        async fn head(&self) -> Result<Cursor, StoreError> {
            self.0.head().await
        }
        fn watch(&self) -> Option<AppendWatch> {
            self.0.watch()
        }
    };
}

impl EventStore for NoVersionCheck {
    async fn append(
        &self,
        s: &str,
        _: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<Appended, StoreError> {
        self.0.append(s, ExpectedVersion::Any, events).await
    }
    delegate!(visit_stream);
    delegate!(visit_all);
    delegate!(rest);
}

impl EventStore for Reversed {
    async fn visit_all<F>(&self, after: Cursor, limit: usize, mut visit: F) -> Result<usize, StoreError>
    where
        F: FnMut(&EventRef<'_>) -> Result<(), StoreError> + Send,
    {
        let all = self.0.read_all(after, limit).await?;
        for e in all.iter().rev() {
            visit(&e.as_ref())?;
        }
        Ok(all.len())
    }
    delegate!(append);
    delegate!(visit_stream);
    delegate!(rest);
}

impl EventStore for DropsLast {
    async fn append(
        &self,
        s: &str,
        e: ExpectedVersion,
        mut events: Vec<NewEvent>,
    ) -> Result<Appended, StoreError> {
        if events.len() > 1 {
            events.pop();
        }
        self.0.append(s, e, events).await
    }
    delegate!(visit_stream);
    delegate!(visit_all);
    delegate!(rest);
}

#[tokio::test]
#[should_panic(expected = "expected a Conflict")]
async fn a_store_without_version_checks_fails() {
    es_testing::conformance::expected_versions(NoVersionCheck::default()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[should_panic(expected = "racing Exact(1) appends")]
async fn a_store_that_loses_updates_fails_the_race() {
    es_testing::conformance::concurrent_exact_appends(NoVersionCheck::default()).await;
}

#[tokio::test]
#[should_panic(expected = "positions of a single writer are 1..=18")]
async fn a_store_reading_out_of_order_fails() {
    es_testing::conformance::read_all_in_global_order(Reversed::default()).await;
}

#[tokio::test]
#[should_panic(expected = "assertion `left == right` failed")]
async fn a_store_with_partial_batches_fails() {
    es_testing::conformance::read_stream_from_and_limit(DropsLast::default()).await;
}
