//! `MemoryStore`: an `EventStore` in process memory, for tests and prototypes. The tables beside
//! the events (snapshots, checkpoints, leases) and the turns are in `side.rs`.

mod boundary;
mod inspect;
mod links;
mod rewrite;
mod side;

pub use side::MemoryTurn;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError, RwLock, RwLockReadGuard};
use std::time::SystemTime;

use serde_json::value::RawValue;
use uuid::Uuid;

use crate::integrity::{link_hash, ChainHash};
use crate::personal::{Keyring, Privacy};
use crate::store::backend::metadata_to_json;
use crate::store::checkpoint::Checkpoint;
use crate::store::cursor::Cursor;
use crate::store::dead_letter::Parked;
use crate::store::idempotency::{self, StoredId};
use crate::store::lease::Lease;
use crate::store::snapshot::Snapshot;
use crate::store::time::{now_micros, to_micros};
use crate::store::LocalQueues;
use crate::store::Metadata;
use crate::store::StoreError;
use crate::store::{AppendCondition, ExpectedVersion};
use crate::store::{AppendSignal, AppendWatch};
use crate::store::{Appended, AppendedEvent, EventRef, NewEvent};
use crate::store::{EventStore, Lend};

/// An in-memory event store: thread-safe, cheap to clone (clones share the events), gap-free
/// global positions, atomic appends.
///
/// It keeps events in their serialized form, exactly as a durable store does, so an event that
/// does not survive encoding fails in memory too. Stream and event names are kept once each, and
/// [`visit_stream`](EventStore::visit_stream) lends events without copying them.
///
/// ```
/// use es_core::{EventStore, ExpectedVersion, MemoryStore, NewEvent};
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let store = MemoryStore::new();
/// let e = NewEvent::new("Pinged", 1, serde_json::json!({}));
/// let appended = store.append("Pinger-1", ExpectedVersion::NoStream, vec![e]).await?;
/// assert_eq!(appended.stream_version, 1);
/// assert_eq!(store.read_all(es_core::Cursor::START, 10).await?[0].position, 1);
/// # Ok::<_, es_core::StoreError>(())
/// # }).unwrap();
/// ```
#[derive(Clone, Default)]
pub struct MemoryStore {
    log: Arc<RwLock<Log>>,
    /// Ticks after every append, for subscriptions.
    appended: AppendSignal,
    snapshots: Arc<Mutex<HashMap<String, Snapshot>>>,
    checkpoints: Arc<Mutex<HashMap<String, Checkpoint>>>,
    /// This process's command queues, and the turns (one process: a second queue).
    queues: Arc<LocalQueues>,
    turns: Arc<LocalQueues>,
    leases: Arc<Mutex<HashMap<String, Lease>>>,
    /// Parked events by (reactor, position).
    dead_letters: Arc<Mutex<BTreeMap<(String, u64), Parked>>>,
    /// Subjects' keys, for personal data.
    keys: Keyring,
}

/// Metadata of events that carry none, lent by reference.
static NO_METADATA: Metadata =
    Metadata { correlation_id: None, causation_id: None, command_id: None, extra: BTreeMap::new() };

/// One stored event, with its stream and name as indices into the log's tables.
struct Slot {
    id: Uuid,
    stream: u32,
    name: u32,
    schema_version: u32,
    stream_version: u64,
    payload: Box<RawValue>,
    metadata: Option<Box<Metadata>>,
    recorded_at: SystemTime,
    /// Its link in the stream's hash chain.
    hash: ChainHash,
    /// Its tags (`key:value`); empty for most events.
    tags: Box<[String]>,
}

#[derive(Default)]
struct Log {
    /// Every event, at index `position - 1`.
    slots: Vec<Slot>,
    /// Stream names, by index; and per stream, its index and its events' slots in version order.
    stream_names: Vec<Arc<str>>,
    streams: HashMap<Arc<str>, (u32, Vec<u32>)>,
    /// Event names, by index, and the index of each.
    event_names: Vec<Arc<str>>,
    event_index: HashMap<Arc<str>, u32>,
    /// Per event id, its slot.
    ids: HashMap<Uuid, u32>,
    /// The slots of the events carrying each tag, in order.
    tagged: HashMap<String, Vec<u32>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Forgets `subject`: deletes its key, so the personal data of its events reads as erased
    /// from now on, and reports what stays readable ([`crate::shredding::forget`]).
    pub async fn forget(&self, subject: &str) -> Result<crate::shredding::Forgotten, StoreError> {
        crate::shredding::forget(self, &self.keys, subject).await
    }

    /// The number of events stored.
    pub fn len(&self) -> usize {
        self.read().slots.len()
    }

    /// True when no event is stored.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn read(&self) -> RwLockReadGuard<'_, Log> {
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
    /// Lends the event at `index` (its position minus one).
    #[inline]
    fn lend(&self, index: u32) -> EventRef<'_> {
        let slot = &self.slots[index as usize];
        let position = u64::from(index) + 1;
        EventRef {
            id: slot.id,
            stream: &self.stream_names[slot.stream as usize],
            stream_version: slot.stream_version,
            position,
            cursor: Cursor::at(position),
            name: &self.event_names[slot.name as usize],
            schema_version: slot.schema_version,
            payload: slot.payload.get(),
            metadata: slot.metadata.as_deref().unwrap_or(&NO_METADATA),
            recorded_at: slot.recorded_at,
        }
    }

    fn stored_id(&self, index: u32) -> StoredId {
        let slot = &self.slots[index as usize];
        StoredId {
            stream: self.stream_names[slot.stream as usize].to_string(),
            appended: AppendedEvent {
                id: slot.id,
                stream_version: slot.stream_version,
                position: u64::from(index) + 1,
                recorded_at: slot.recorded_at,
            },
        }
    }

    fn event_name(&mut self, name: String) -> u32 {
        if let Some(&i) = self.event_index.get(name.as_str()) {
            return i;
        }
        let name: Arc<str> = name.into();
        let i = self.event_names.len() as u32;
        self.event_names.push(Arc::clone(&name));
        self.event_index.insert(name, i);
        i
    }

    /// Appends `events` to `stream` if it is at `expected` and, with a `condition`, no event
    /// matching its query came after what its read saw. An exact retry is acknowledged first.
    fn append(
        &mut self,
        stream: &str,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
        condition: Option<&AppendCondition>,
    ) -> Result<Appended, StoreError> {
        idempotency::check_batch(stream, &events)?;
        let ids: Vec<Uuid> = events.iter().map(|e| e.id).collect();
        let found: Vec<Option<StoredId>> =
            ids.iter().map(|id| self.ids.get(id).map(|&i| self.stored_id(i))).collect();
        if let Some(acked) = idempotency::resolve(stream, expected, &ids, &found)? {
            return Ok(acked);
        }
        if let Some(condition) = condition {
            if self.matched_after(&condition.query, condition.seen.head.position()) {
                return Err(StoreError::BoundaryConflict {
                    stream: stream.to_owned(),
                    query: condition.query.to_string(),
                });
            }
        }
        let actual = self.streams.get(stream).map_or(0, |(_, slots)| slots.len() as u64);
        if !expected.matches(actual) {
            return Err(StoreError::Conflict { stream: stream.to_owned(), expected, actual });
        }
        if self.slots.len() + events.len() > u32::MAX as usize {
            return Err(StoreError::backend(
                MemoryStore::BACKEND,
                "the in-memory store holds at most 2^32 - 1 events",
            ));
        }
        let stream_index = match self.streams.get(stream) {
            Some((i, _)) => *i,
            None => {
                let name: Arc<str> = stream.into();
                let i = self.stream_names.len() as u32;
                self.stream_names.push(Arc::clone(&name));
                self.streams.insert(name, (i, Vec::new()));
                i
            }
        };
        let recorded_at = now_micros();
        let recorded_us = to_micros(recorded_at);
        let last = self.streams.get(stream).and_then(|(_, slots)| slots.last());
        let mut prev = last.map_or(ChainHash::GENESIS, |&i| self.slots[i as usize].hash);
        let mut appended = Vec::with_capacity(events.len());
        for (offset, e) in events.into_iter().enumerate() {
            let index = self.slots.len() as u32;
            let stream_version = actual + 1 + offset as u64;
            let metadata = metadata_to_json(&e.metadata);
            prev = link_hash(
                &prev,
                stream,
                stream_version,
                e.id,
                &e.name,
                e.schema_version,
                e.payload.get(),
                &metadata,
                recorded_us,
            );
            let name = self.event_name(e.name);
            for tag in &e.tags {
                self.tagged.entry(tag.clone()).or_default().push(index);
            }
            self.slots.push(Slot {
                id: e.id,
                stream: stream_index,
                name,
                schema_version: e.schema_version,
                stream_version,
                payload: e.payload,
                metadata: (!e.metadata.is_empty()).then(|| Box::new(e.metadata)),
                recorded_at,
                hash: prev,
                tags: e.tags.into_boxed_slice(),
            });
            self.ids.insert(e.id, index);
            if let Some((_, slots)) = self.streams.get_mut(stream) {
                slots.push(index);
            }
            appended.push(AppendedEvent {
                id: e.id,
                stream_version,
                position: u64::from(index) + 1,
                recorded_at,
            });
        }
        Ok(Appended { stream_version: actual + appended.len() as u64, events: appended })
    }

    /// The slots of `stream` from version `from`, at most `limit`.
    fn stream_slots(&self, stream: &str, from: u64, limit: usize) -> &[u32] {
        let Some((_, slots)) = self.streams.get(stream) else {
            return &[];
        };
        let start = usize::try_from(from.saturating_sub(1)).unwrap_or(usize::MAX).min(slots.len());
        &slots[start..start.saturating_add(limit).min(slots.len())]
    }
}

impl EventStore for MemoryStore {
    const BACKEND: &'static str = "memory";

    async fn append(
        &self,
        stream: &str,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<Appended, StoreError> {
        let _span = crate::store::backend::append_span(Self::BACKEND, stream, events.len()).entered();
        let appended = self
            .log
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .append(stream, expected, events, None)?;
        self.appended.appended(&appended);
        Ok(appended)
    }

    async fn visit_stream<F>(
        &self,
        stream: &str,
        from: u64,
        limit: usize,
        _: Lend,
        mut visit: F,
    ) -> Result<usize, StoreError>
    where
        F: FnMut(&EventRef<'_>) -> Result<(), StoreError> + Send,
    {
        // Everything is at hand: every field is lent, whatever was asked.
        let span = crate::store::backend::visit_span(Self::BACKEND, Some(stream)).entered();
        let log = self.read();
        let slots = log.stream_slots(stream, from, limit);
        for &i in slots {
            visit(&log.lend(i))?;
        }
        span.record("rows", slots.len());
        Ok(slots.len())
    }

    async fn visit_all<F>(&self, after: Cursor, limit: usize, mut visit: F) -> Result<usize, StoreError>
    where
        F: FnMut(&EventRef<'_>) -> Result<(), StoreError> + Send,
    {
        let span = crate::store::backend::visit_span(Self::BACKEND, None).entered();
        let log = self.read();
        // The cursor is the position, which is the slot's index plus one.
        let start = usize::try_from(after.position()).unwrap_or(usize::MAX).min(log.slots.len());
        let end = start.saturating_add(limit).min(log.slots.len());
        for i in start..end {
            visit(&log.lend(i as u32))?;
        }
        span.record("rows", end - start);
        Ok(end - start)
    }

    async fn head(&self) -> Result<Cursor, StoreError> {
        Ok(Cursor::at(self.read().slots.len() as u64))
    }

    fn watch(&self) -> Option<AppendWatch> {
        Some(self.appended.watch())
    }
}

impl Privacy for MemoryStore {
    fn keys(&self) -> Option<Keyring> {
        Some(self.keys.clone())
    }
}
