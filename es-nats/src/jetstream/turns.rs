//! Turns: this process's queue per stream, then a lock per stream in the side tables (taken by
//! a write conditional on its revision, with an expiry so that a dead holder's turn lapses), so
//! that commands on a hot aggregate take turns across processes instead of exhausting retries.

use std::time::Duration;

use es_core::{
    Appended, EventRef, EventStore, ExpectedVersion, Lend, LocalQueue, LocalTurn, NewEvent, StoreError, Turn,
    Turns,
};
use serde_json::json;

use super::tables::now;
use super::JetStreamStore;
use es_core::backend::to_micros;

const TURNS: &str = "t";

/// How long a turn lasts if its holder dies without finishing it.
const TURN_TTL: Duration = Duration::from_secs(10);

impl Turns for JetStreamStore {
    type Turn<'a> = JetStreamTurn<'a>;

    fn local_queue(&self, stream: &str) -> LocalQueue {
        self.inner.queues.get(stream)
    }

    async fn take_turn<'a>(&'a self, stream: &'a str) -> Result<JetStreamTurn<'a>, StoreError> {
        let held = self.inner.turns.get(stream).wait().await;
        let owner = es_core::Uuid::new_v4().simple().to_string();
        let mut pause = Duration::from_millis(2);
        loop {
            let entry = self.inner.side.get(TURNS, stream).await?;
            let free =
                entry.as_ref().is_none_or(|e| e.value["expires_us"].as_i64().unwrap_or(0) < to_micros(now()));
            if free {
                let value = json!({ "owner": owner, "expires_us": to_micros(now() + TURN_TTL) });
                let revision = entry.map_or(0, |e| e.revision);
                if let Ok(revision) = self.inner.side.put(TURNS, stream, &value, Some(revision)).await? {
                    return Ok(JetStreamTurn { store: self, stream, revision: Some(revision), _held: held });
                }
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_millis(100));
        }
    }
}

/// A turn on one stream of a [`JetStreamStore`]: appends inside it are visible at once.
#[derive(Debug)]
pub struct JetStreamTurn<'a> {
    store: &'a JetStreamStore,
    stream: &'a str,
    /// The lock's revision while held.
    revision: Option<u64>,
    _held: LocalTurn,
}

/// Lets the next one in: the lock expires now, if it is still this turn's.
async fn release(store: JetStreamStore, stream: String, revision: u64) -> Result<(), StoreError> {
    let value = json!({ "owner": "", "expires_us": 0 });
    store.inner.side.put(TURNS, &stream, &value, Some(revision)).await?.ok();
    Ok(())
}

impl Turn for JetStreamTurn<'_> {
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
        self.store.visit_stream(self.stream, from, limit, lend, visit).await
    }

    async fn append(
        &mut self,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<Appended, StoreError> {
        self.store.append(self.stream, expected, events).await
    }

    async fn finish(mut self) -> Result<(), StoreError> {
        match self.revision.take() {
            Some(revision) => release(self.store.clone(), self.stream.to_owned(), revision).await,
            None => Ok(()),
        }
    }
}

impl Drop for JetStreamTurn<'_> {
    fn drop(&mut self) {
        // Dropped without finishing (an error, a cancelled command): release in the background;
        // the expiry covers a runtime that is gone.
        if let (Some(revision), Ok(rt)) = (self.revision.take(), tokio::runtime::Handle::try_current()) {
            let (store, stream) = (self.store.clone(), self.stream.to_owned());
            rt.spawn(async move {
                let _ = release(store, stream, revision).await;
            });
        }
    }
}
