//! The conformance suite can fail: stores that break a rule are caught by the check for it.

use es_core::{Appended, EventStore, ExpectedVersion, MemoryStore, NewEvent, StoreError, StoredEvent};

/// Ignores the expected version: a lost-update bug.
#[derive(Clone, Default)]
struct NoVersionCheck(MemoryStore);

/// Returns `read_all` newest first.
#[derive(Clone, Default)]
struct Reversed(MemoryStore);

/// Drops the last event of every multi-event batch: not atomic.
#[derive(Clone, Default)]
struct DropsLast(MemoryStore);

macro_rules! delegate_reads {
    () => {
        async fn read_stream(
            &self,
            stream: &str,
            from: u64,
            limit: usize,
        ) -> Result<Vec<StoredEvent>, StoreError> {
            self.0.read_stream(stream, from, limit).await
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
    delegate_reads!();
    async fn read_all(&self, from: u64, limit: usize) -> Result<Vec<StoredEvent>, StoreError> {
        self.0.read_all(from, limit).await
    }
}

impl EventStore for Reversed {
    async fn append(
        &self,
        s: &str,
        e: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<Appended, StoreError> {
        self.0.append(s, e, events).await
    }
    delegate_reads!();
    async fn read_all(&self, from: u64, limit: usize) -> Result<Vec<StoredEvent>, StoreError> {
        let mut all = self.0.read_all(from, limit).await?;
        all.reverse();
        Ok(all)
    }
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
    delegate_reads!();
    async fn read_all(&self, from: u64, limit: usize) -> Result<Vec<StoredEvent>, StoreError> {
        self.0.read_all(from, limit).await
    }
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
    es_testing::conformance::read_all_in_position_order(Reversed::default()).await;
}

#[tokio::test]
#[should_panic(expected = "assertion `left == right` failed")]
async fn a_store_with_partial_batches_fails() {
    es_testing::conformance::read_stream_from_and_limit(DropsLast::default()).await;
}
