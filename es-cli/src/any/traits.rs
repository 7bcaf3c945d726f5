//! The store traits on [`AnyStore`]: every call handed to the store it holds, by one macro
//! ([`each!`]) so that a trait method is one line here, and a new variant one arm there.

use std::time::Duration;

use es_core::inspect::{Inspect, NameCount, StreamInfo};
use es_core::integrity::{Link, LinkKey, Links, PayloadEdit, Rewrite, Rewritten};
use es_core::personal::{Keyring, Privacy};
use es_core::{
    AppendCondition, AppendWatch, Appended, Boundaries, Checkpoint, CheckpointStore, Cursor, DeadLetters,
    EventRef, EventStore, ExpectedVersion, Lease, Leases, Lend, LocalQueue, MemoryTurn, NewEvent, Parked,
    Query, Seen, Snapshot, SnapshotStore, StoreError, StoredEvent, Turn, Turns, Uuid,
};
use es_postgres::PgTurn;
use es_sqlite::SqliteTurn;

use super::AnyStore;

/// `$body` with `$s` bound to the store `$store` holds, whichever it is.
macro_rules! each {
    ($store:expr, $s:ident => $body:expr) => {
        match $store {
            AnyStore::Memory($s) => $body,
            AnyStore::Sqlite($s) => $body,
            AnyStore::Postgres($s) => $body,
            #[cfg(feature = "nats")]
            AnyStore::Nats($s) => $body,
        }
    };
}

/// `$body` with `$s` bound to the store `$store` holds, or `$missing` for a store without the
/// trait (JetStream: [`NotOnJetStream`](super::NotOnJetStream)).
macro_rules! each_but_nats {
    ($store:expr, $s:ident => $body:expr, $missing:expr) => {
        match $store {
            AnyStore::Memory($s) => $body,
            AnyStore::Sqlite($s) => $body,
            AnyStore::Postgres($s) => $body,
            #[cfg(feature = "nats")]
            AnyStore::Nats(_) => Err($missing.into_store()),
        }
    };
}

impl EventStore for AnyStore {
    /// The store is chosen at run time: [`Inspect::backend`] names the one opened. Errors name
    /// it too: they come from that store.
    const BACKEND: &'static str = "any";

    async fn append(
        &self,
        stream: &str,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<Appended, StoreError> {
        each!(self, s => s.append(stream, expected, events).await)
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
        each!(self, s => s.visit_stream(stream, from, limit, lend, visit).await)
    }

    async fn visit_all<F>(&self, after: Cursor, limit: usize, visit: F) -> Result<usize, StoreError>
    where
        F: FnMut(&EventRef<'_>) -> Result<(), StoreError> + Send,
    {
        each!(self, s => s.visit_all(after, limit, visit).await)
    }

    async fn head(&self) -> Result<Cursor, StoreError> {
        each!(self, s => s.head().await)
    }

    fn watch(&self) -> Option<AppendWatch> {
        each!(self, s => s.watch())
    }

    // Handed on rather than provided, so that a corrupt row is reported by the store's name.
    async fn read_stream(
        &self,
        stream: &str,
        from: u64,
        limit: usize,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        each!(self, s => s.read_stream(stream, from, limit).await)
    }

    async fn read_all(&self, after: Cursor, limit: usize) -> Result<Vec<StoredEvent>, StoreError> {
        each!(self, s => s.read_all(after, limit).await)
    }
}

impl Inspect for AnyStore {
    fn backend(&self) -> &'static str {
        each!(self, s => s.backend())
    }

    async fn streams(&self, prefix: &str) -> Result<Vec<StreamInfo>, StoreError> {
        each!(self, s => s.streams(prefix).await)
    }

    async fn event_names(&self) -> Result<Vec<NameCount>, StoreError> {
        each!(self, s => s.event_names().await)
    }

    async fn checkpoint_names(&self) -> Result<Vec<String>, StoreError> {
        each!(self, s => s.checkpoint_names().await)
    }

    async fn parked_consumers(&self) -> Result<Vec<String>, StoreError> {
        each!(self, s => s.parked_consumers().await)
    }

    async fn schema_version(&self) -> Result<Option<i64>, StoreError> {
        each!(self, s => Inspect::schema_version(s).await)
    }
}

impl SnapshotStore for AnyStore {
    async fn save_snapshot(&self, stream: &str, snapshot: Snapshot) -> Result<(), StoreError> {
        each!(self, s => s.save_snapshot(stream, snapshot).await)
    }

    async fn load_snapshot(&self, stream: &str) -> Result<Option<Snapshot>, StoreError> {
        each!(self, s => s.load_snapshot(stream).await)
    }

    async fn delete_snapshot(&self, stream: &str) -> Result<bool, StoreError> {
        each!(self, s => s.delete_snapshot(stream).await)
    }
}

impl CheckpointStore for AnyStore {
    async fn save_checkpoint(&self, projection: &str, checkpoint: Checkpoint) -> Result<(), StoreError> {
        each!(self, s => s.save_checkpoint(projection, checkpoint).await)
    }

    async fn load_checkpoint(&self, projection: &str) -> Result<Option<Checkpoint>, StoreError> {
        each!(self, s => s.load_checkpoint(projection).await)
    }

    async fn delete_checkpoint(&self, projection: &str) -> Result<(), StoreError> {
        each!(self, s => s.delete_checkpoint(projection).await)
    }
}

impl Leases for AnyStore {
    async fn acquire(&self, name: &str, owner: &str, ttl: Duration) -> Result<Option<Lease>, StoreError> {
        each!(self, s => s.acquire(name, owner, ttl).await)
    }

    async fn release(&self, lease: &Lease) -> Result<(), StoreError> {
        each!(self, s => s.release(lease).await)
    }

    async fn lease(&self, name: &str) -> Result<Option<Lease>, StoreError> {
        each!(self, s => s.lease(name).await)
    }

    async fn save_checkpoint_fenced(&self, checkpoint: Checkpoint, lease: &Lease) -> Result<(), StoreError> {
        each!(self, s => s.save_checkpoint_fenced(checkpoint, lease).await)
    }
}

impl DeadLetters for AnyStore {
    async fn park(&self, parked: Parked) -> Result<(), StoreError> {
        each!(self, s => s.park(parked).await)
    }

    async fn parked(&self, reactor: &str) -> Result<Vec<Parked>, StoreError> {
        each!(self, s => s.parked(reactor).await)
    }

    async fn unpark(&self, reactor: &str, event: Uuid) -> Result<(), StoreError> {
        each!(self, s => s.unpark(reactor, event).await)
    }
}

impl Links for AnyStore {
    async fn visit_links<F>(
        &self,
        after: LinkKey<'_>,
        one_stream: bool,
        limit: usize,
        visit: F,
    ) -> Result<usize, StoreError>
    where
        F: FnMut(&Link<'_>) + Send,
    {
        each!(self, s => s.visit_links(after, one_stream, limit, visit).await)
    }
}

impl Rewrite for AnyStore {
    async fn rewrite_payloads(
        &self,
        stream: &str,
        edits: Vec<PayloadEdit>,
        reason: &str,
    ) -> Result<Rewritten, StoreError> {
        each_but_nats!(self, s => s.rewrite_payloads(stream, edits, reason).await, super::NotOnJetStream::Rewrite)
    }
}

/// A turn on one stream of an [`AnyStore`]: the turn of the store it holds.
#[derive(Debug)]
#[non_exhaustive]
pub enum AnyTurn<'a> {
    /// A turn of [`es_core::MemoryStore`].
    Memory(MemoryTurn<'a>),
    /// A turn of [`es_sqlite::SqliteStore`].
    Sqlite(SqliteTurn<'a>),
    /// A turn of [`es_postgres::PostgresStore`].
    Postgres(PgTurn<'a>),
    /// A turn of `es_nats::JetStreamStore`.
    #[cfg(feature = "nats")]
    Nats(es_nats::JetStreamTurn<'a>),
}

impl Turns for AnyStore {
    type Turn<'a> = AnyTurn<'a>;

    fn local_queue(&self, stream: &str) -> LocalQueue {
        each!(self, s => s.local_queue(stream))
    }

    async fn take_turn<'a>(&'a self, stream: &'a str) -> Result<AnyTurn<'a>, StoreError> {
        Ok(match self {
            AnyStore::Memory(s) => AnyTurn::Memory(s.take_turn(stream).await?),
            AnyStore::Sqlite(s) => AnyTurn::Sqlite(s.take_turn(stream).await?),
            AnyStore::Postgres(s) => AnyTurn::Postgres(s.take_turn(stream).await?),
            #[cfg(feature = "nats")]
            AnyStore::Nats(s) => AnyTurn::Nats(s.take_turn(stream).await?),
        })
    }
}

/// `$body` with `$t` bound to the turn `$turn` holds, whichever it is.
macro_rules! each_turn {
    ($turn:expr, $t:ident => $body:expr) => {
        match $turn {
            AnyTurn::Memory($t) => $body,
            AnyTurn::Sqlite($t) => $body,
            AnyTurn::Postgres($t) => $body,
            #[cfg(feature = "nats")]
            AnyTurn::Nats($t) => $body,
        }
    };
}

impl Turn for AnyTurn<'_> {
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
        each_turn!(self, t => t.visit_stream(from, limit, lend, visit).await)
    }

    async fn append(
        &mut self,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<Appended, StoreError> {
        each_turn!(self, t => t.append(expected, events).await)
    }

    async fn finish(self) -> Result<(), StoreError> {
        each_turn!(self, t => t.finish().await)
    }
}

impl Privacy for AnyStore {
    fn keys(&self) -> Option<Keyring> {
        each!(self, s => s.keys())
    }
}

impl Boundaries for AnyStore {
    async fn visit_query<F>(&self, query: &Query, visit: F) -> Result<Seen, StoreError>
    where
        F: FnMut(&EventRef<'_>, &[&str]) -> Result<(), StoreError> + Send,
    {
        each_but_nats!(self, s => s.visit_query(query, visit).await, super::NotOnJetStream::Boundaries)
    }

    async fn append_if(
        &self,
        stream: &str,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
        condition: &AppendCondition,
    ) -> Result<Appended, StoreError> {
        each_but_nats!(
            self,
            s => s.append_if(stream, expected, events, condition).await,
            super::NotOnJetStream::Boundaries
        )
    }
}
