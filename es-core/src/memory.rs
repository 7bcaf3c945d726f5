//! `MemoryStore`: an `EventStore` in process memory, for tests and prototypes.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use uuid::Uuid;

use crate::idempotency::{self, StoredId};
use crate::store::{Appended, AppendedEvent, EventStore, ExpectedVersion, NewEvent, StoreError, StoredEvent};

/// An in-memory event store: thread-safe, cheap to clone (clones share the events), gap-free
/// global positions, atomic appends.
///
/// It keeps events in their serialized form, exactly as a durable store does, so an event that
/// does not survive encoding fails in memory too.
///
/// ```
/// use es_core::{EventStore, ExpectedVersion, MemoryStore, NewEvent};
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let store = MemoryStore::new();
/// let e = NewEvent::new("Pinged", 1, serde_json::json!({}));
/// let appended = store.append("Pinger-1", ExpectedVersion::NoStream, vec![e]).await?;
/// assert_eq!(appended.stream_version, 1);
/// assert_eq!(store.read_all(1, 10).await?[0].position, 1);
/// # Ok::<_, es_core::StoreError>(())
/// # }).unwrap();
/// ```
#[derive(Clone, Default)]
pub struct MemoryStore {
    log: Arc<RwLock<Log>>,
}

#[derive(Default)]
struct Log {
    /// Every event, at index `position - 1`.
    events: Vec<StoredEvent>,
    /// Per stream, the indices of its events in version order.
    streams: HashMap<String, Vec<usize>>,
    /// Per event id, its index.
    ids: HashMap<Uuid, usize>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// The number of events stored.
    pub fn len(&self) -> usize {
        self.read().events.len()
    }

    /// True when no event is stored.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Log> {
        // No code panics while holding the lock, and the log is consistent after every write.
        self.log.read().unwrap_or_else(PoisonError::into_inner)
    }
}

impl std::fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryStore").field("events", &self.len()).finish()
    }
}

impl Log {
    fn append(
        &mut self,
        stream: &str,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<Appended, StoreError> {
        idempotency::check_batch(stream, &events)?;
        let ids: Vec<Uuid> = events.iter().map(|e| e.id).collect();
        let found: Vec<Option<StoredId>> =
            ids.iter().map(|id| self.ids.get(id).map(|&i| stored_id(&self.events[i]))).collect();
        if let Some(acked) = idempotency::resolve(stream, expected, &ids, &found)? {
            return Ok(acked);
        }
        let actual = self.streams.get(stream).map_or(0, |s| s.len() as u64);
        if !expected.matches(actual) {
            return Err(StoreError::Conflict { stream: stream.to_owned(), expected, actual });
        }
        let recorded_at = now_micros();
        let mut appended = Vec::with_capacity(events.len());
        let indices = self.streams.entry(stream.to_owned()).or_default();
        for (offset, e) in events.into_iter().enumerate() {
            let index = self.events.len();
            let stored = StoredEvent {
                id: e.id,
                stream: stream.to_owned(),
                stream_version: actual + 1 + offset as u64,
                position: index as u64 + 1,
                name: e.name,
                schema_version: e.schema_version,
                payload: e.payload,
                metadata: e.metadata,
                recorded_at,
            };
            appended.push(stored_id(&stored).appended);
            indices.push(index);
            self.ids.insert(stored.id, index);
            self.events.push(stored);
        }
        Ok(Appended { stream_version: actual + appended.len() as u64, events: appended })
    }
}

fn stored_id(e: &StoredEvent) -> StoredId {
    StoredId {
        stream: e.stream.clone(),
        appended: AppendedEvent {
            id: e.id,
            stream_version: e.stream_version,
            position: e.position,
            recorded_at: e.recorded_at,
        },
    }
}

/// The current time, truncated to microseconds like the durable stores keep it.
pub(crate) fn now_micros() -> SystemTime {
    let since = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    UNIX_EPOCH + Duration::from_micros(since.as_micros() as u64)
}

impl EventStore for MemoryStore {
    async fn append(
        &self,
        stream: &str,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<Appended, StoreError> {
        let mut log = self.log.write().unwrap_or_else(PoisonError::into_inner);
        log.append(stream, expected, events)
    }

    async fn read_stream(
        &self,
        stream: &str,
        from: u64,
        limit: usize,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let log = self.read();
        let Some(indices) = log.streams.get(stream) else {
            return Ok(Vec::new());
        };
        let skip = usize::try_from(from.saturating_sub(1)).unwrap_or(usize::MAX);
        Ok(indices.iter().skip(skip).take(limit).map(|&i| log.events[i].clone()).collect())
    }

    async fn read_all(&self, from: u64, limit: usize) -> Result<Vec<StoredEvent>, StoreError> {
        let log = self.read();
        let skip = usize::try_from(from.saturating_sub(1)).unwrap_or(usize::MAX);
        Ok(log.events.iter().skip(skip).take(limit).cloned().collect())
    }
}
