//! `SqliteStore`: the `EventStore` implementation.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use es_core::backend::{self, from_micros, to_i64, to_micros, to_u64};
use es_core::idempotency::{self, StoredId};
use es_core::{
    Appended, AppendedEvent, EventContext, EventRef, EventStore, ExpectedVersion, NewEvent, StoreError,
    StoredEvent, Uuid,
};
use serde_json::value::RawValue;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};
use sqlx::{Connection, Row, SqliteConnection, SqlitePool};

use crate::schema;

pub(crate) const BACKEND: &str = "sqlite";

/// An event store in one SQLite file: embedded, durable, zero set-up.
///
/// Writes go through one connection in `BEGIN IMMEDIATE` transactions, so appends are serialized
/// and positions are assigned in commit order without gaps: a reader following `read_all` can
/// never skip an event. Reads use a separate pool and run beside writes (WAL mode).
///
/// Durability: `synchronous = FULL` by default, so a committed append survives a power loss.
/// [`SqliteStore::open_with`] takes [`Durability::Normal`], which in WAL mode may lose the last
/// commits on power loss (never on a process crash) but never corrupts the file.
#[derive(Clone, Debug)]
pub struct SqliteStore {
    pub(crate) writer: SqlitePool,
    pub(crate) reader: SqlitePool,
    path: Option<Arc<PathBuf>>,
    /// Ticks after every append by this process, for subscriptions.
    appended: Arc<tokio::sync::watch::Sender<u64>>,
}

/// How hard SQLite works to keep a committed append through a power loss.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// `synchronous = FULL`: every commit is on disk before the append returns.
    #[default]
    Full,
    /// `synchronous = NORMAL`: faster; the last commits may be lost on power loss (not on a crash).
    Normal,
}

impl SqliteStore {
    /// Opens (creating if needed) the store in the file at `path`, creating or upgrading the
    /// schema, with [`Durability::Full`].
    pub async fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        Self::open_with(path, Durability::Full).await
    }

    /// Opens the store at `path` with the given durability.
    pub async fn open_with(path: impl AsRef<Path>, durability: Durability) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::new()
            .filename(path.as_ref())
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(match durability {
                Durability::Full => SqliteSynchronous::Full,
                Durability::Normal => SqliteSynchronous::Normal,
            })
            .busy_timeout(Duration::from_secs(30));
        let open_error = |e: sqlx::Error| {
            StoreError::backend(BACKEND, format!("cannot open {}: {e}", path.as_ref().display()))
        };
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options.clone())
            .await
            .map_err(open_error)?;
        let reader = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options.read_only(true))
            .await
            .map_err(open_error)?;
        let store = SqliteStore {
            writer,
            reader,
            path: Some(Arc::new(path.as_ref().to_owned())),
            appended: Arc::new(tokio::sync::watch::Sender::new(0)),
        };
        store.migrate().await?;
        Ok(store)
    }

    /// A store in memory, gone when the last clone is dropped. For tests.
    pub async fn in_memory() -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str("sqlite::memory:").map_err(backend_error)?;
        // One connection that never closes: the in-memory database lives as long as it does.
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(options)
            .await
            .map_err(backend_error)?;
        let store = SqliteStore {
            writer: pool.clone(),
            reader: pool,
            path: None,
            appended: Arc::new(tokio::sync::watch::Sender::new(0)),
        };
        store.migrate().await?;
        Ok(store)
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        let mut conn = self.writer.acquire().await.map_err(backend_error)?;
        let mut tx = conn.begin_with("BEGIN IMMEDIATE").await.map_err(backend_error)?;
        schema::migrate(&mut tx).await.map_err(|e| StoreError::backend(BACKEND, e))?;
        tx.commit().await.map_err(backend_error)
    }

    /// The file the store keeps its events in (`None` in memory).
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref().map(PathBuf::as_path)
    }

    /// Closes both pools, waiting for running statements.
    pub async fn close(&self) {
        self.writer.close().await;
        self.reader.close().await;
    }
}

pub(crate) fn backend_error(e: sqlx::Error) -> StoreError {
    StoreError::backend(BACKEND, e)
}

macro_rules! select_events {
    ($rest:literal) => {
        concat!(
            "SELECT position, stream, stream_version, event_id, name, schema_version, payload, metadata, recorded_at FROM events ",
            $rest
        )
    };
}
const READ_STREAM: &str =
    select_events!("WHERE stream = ?1 AND stream_version >= ?2 ORDER BY stream_version LIMIT ?3");
const READ_ALL: &str = select_events!("WHERE position >= ?1 ORDER BY position LIMIT ?2");
const VISIT_STREAM: &str = "SELECT position, stream_version, name, schema_version, payload FROM events
     WHERE stream = ?1 AND stream_version >= ?2 ORDER BY stream_version LIMIT ?3";

pub(crate) fn get<'r, T: sqlx::Decode<'r, sqlx::Sqlite> + sqlx::Type<sqlx::Sqlite>>(
    row: &'r SqliteRow,
    column: usize,
) -> Result<T, StoreError> {
    row.try_get(column).map_err(backend_error)
}

/// A full row of `READ_STREAM`/`READ_ALL`, columns by position.
fn decode_row(row: &SqliteRow) -> Result<StoredEvent, StoreError> {
    let position = to_u64(BACKEND, "position", get(row, 0)?)?;
    let bad = |what: &str, e: &dyn std::fmt::Display| {
        StoreError::backend(
            BACKEND,
            format!("the {what} of the event at position {position} does not decode: {e}"),
        )
    };
    Ok(StoredEvent {
        id: Uuid::parse_str(get(row, 3)?).map_err(|e| bad("id", &e))?,
        stream: get(row, 1)?,
        stream_version: to_u64(BACKEND, "stream_version", get(row, 2)?)?,
        position,
        name: get(row, 4)?,
        schema_version: u32::try_from(get::<i64>(row, 5)?).map_err(|e| bad("schema version", &e))?,
        payload: RawValue::from_string(get(row, 6)?).map_err(|e| bad("payload", &e))?,
        metadata: backend::metadata_from_json(BACKEND, position, get(row, 7)?)?,
        recorded_at: from_micros(get(row, 8)?),
    })
}

/// Lends a full row of `READ_ALL` (columns as `decode_row` reads them) with its context.
fn visit_full_row<F>(row: &SqliteRow, visit: &mut F) -> Result<(), StoreError>
where
    F: FnMut(EventRef<'_>, &EventContext<'_>) -> Result<(), StoreError>,
{
    let position = to_u64(BACKEND, "position", get(row, 0)?)?;
    let bad = |what: &str, e: &dyn std::fmt::Display| {
        StoreError::backend(
            BACKEND,
            format!("the {what} of the event at position {position} does not decode: {e}"),
        )
    };
    let metadata = backend::metadata_from_json(BACKEND, position, get(row, 7)?)?;
    let stream: &str = get(row, 1)?;
    let stream_version = to_u64(BACKEND, "stream_version", get(row, 2)?)?;
    let schema_version = u32::try_from(get::<i64>(row, 5)?).map_err(|e| bad("schema version", &e))?;
    let event = EventRef {
        stream,
        stream_version,
        position,
        name: get(row, 4)?,
        schema_version,
        payload: get(row, 6)?,
    };
    let context = EventContext {
        id: Uuid::parse_str(get(row, 3)?).map_err(|e| bad("id", &e))?,
        stream,
        stream_version,
        position,
        recorded_at: from_micros(get(row, 8)?),
        metadata: &metadata,
    };
    visit(event, &context)
}

/// Lends a row of `VISIT_STREAM`: position, stream_version, name, schema_version, payload.
fn lend_row<'r>(stream: &'r str, row: &'r SqliteRow) -> Result<EventRef<'r>, StoreError> {
    let position = to_u64(BACKEND, "position", get(row, 0)?)?;
    Ok(EventRef {
        stream,
        stream_version: to_u64(BACKEND, "stream_version", get(row, 1)?)?,
        position,
        name: get(row, 2)?,
        schema_version: u32::try_from(get::<i64>(row, 3)?).map_err(|e| {
            StoreError::backend(
                BACKEND,
                format!("the schema version of the event at position {position}: {e}"),
            )
        })?,
        payload: get(row, 4)?,
    })
}

/// Where the ids of a batch are already stored, for the idempotency rule.
async fn stored_ids(
    tx: &mut SqliteConnection,
    ids: &[Uuid],
    ids_json: &str,
) -> Result<Vec<Option<StoredId>>, StoreError> {
    let rows = sqlx::query(
        "SELECT event_id, stream, stream_version, position, recorded_at FROM events
         WHERE event_id IN (SELECT value FROM json_each(?1))",
    )
    .bind(ids_json)
    .fetch_all(&mut *tx)
    .await
    .map_err(backend_error)?;
    let mut found = vec![None; ids.len()];
    for row in &rows {
        let id = Uuid::parse_str(get(row, 0)?).map_err(|e| StoreError::backend(BACKEND, e))?;
        if let Some(i) = ids.iter().position(|x| *x == id) {
            found[i] = Some(StoredId {
                stream: get(row, 1)?,
                appended: AppendedEvent {
                    id,
                    stream_version: to_u64(BACKEND, "stream_version", get(row, 2)?)?,
                    position: to_u64(BACKEND, "position", get(row, 3)?)?,
                    recorded_at: from_micros(get(row, 4)?),
                },
            });
        }
    }
    Ok(found)
}

async fn append_in(
    tx: &mut SqliteConnection,
    stream: &str,
    expected: ExpectedVersion,
    events: Vec<NewEvent>,
) -> Result<Appended, StoreError> {
    let ids: Vec<Uuid> = events.iter().map(|e| e.id).collect();
    let ids_json = serde_json::to_string(&ids.iter().map(Uuid::to_string).collect::<Vec<_>>())
        .map_err(|e| StoreError::backend(BACKEND, e))?;
    // One statement for the stream's version, the head position, and whether any id is stored.
    let state = sqlx::query(
        "SELECT (SELECT coalesce(max(stream_version), 0) FROM events WHERE stream = ?1),
                (SELECT coalesce(max(position), 0) FROM events),
                EXISTS (SELECT 1 FROM events WHERE event_id IN (SELECT value FROM json_each(?2)))",
    )
    .bind(stream)
    .bind(&ids_json)
    .fetch_one(&mut *tx)
    .await
    .map_err(backend_error)?;
    if get::<bool>(&state, 2)? {
        let found = stored_ids(tx, &ids, &ids_json).await?;
        if let Some(acked) = idempotency::resolve(stream, expected, &ids, &found)? {
            return Ok(acked);
        }
    }
    let actual = to_u64(BACKEND, "stream_version", get(&state, 0)?)?;
    if !expected.matches(actual) {
        return Err(StoreError::Conflict { stream: stream.to_owned(), expected, actual });
    }
    let head = to_u64(BACKEND, "position", get(&state, 1)?)?;
    let recorded_at = from_micros(to_micros(std::time::SystemTime::now()));
    let micros = to_micros(recorded_at);
    let mut appended = Vec::with_capacity(events.len());
    for (offset, e) in events.into_iter().enumerate() {
        let version = actual + 1 + offset as u64;
        let position = head + 1 + offset as u64;
        sqlx::query(
            "INSERT INTO events (position, stream, stream_version, event_id, name, schema_version, payload, metadata, recorded_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        )
        .bind(to_i64(position))
        .bind(stream)
        .bind(to_i64(version))
        .bind(e.id.to_string())
        .bind(&e.name)
        .bind(i64::from(e.schema_version))
        .bind(e.payload.get())
        .bind(backend::metadata_to_json(&e.metadata))
        .bind(micros)
        .execute(&mut *tx)
        .await
        .map_err(backend_error)?;
        appended.push(AppendedEvent { id: e.id, stream_version: version, position, recorded_at });
    }
    Ok(Appended { stream_version: actual + appended.len() as u64, events: appended })
}

impl EventStore for SqliteStore {
    async fn append(
        &self,
        stream: &str,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<Appended, StoreError> {
        idempotency::check_batch(stream, &events)?;
        let mut conn = self.writer.acquire().await.map_err(backend_error)?;
        // IMMEDIATE takes the write lock up front, so no other process can slip in between our
        // version check and our insert; dropping `tx` on an error rolls everything back.
        let mut tx = conn.begin_with("BEGIN IMMEDIATE").await.map_err(backend_error)?;
        let appended = append_in(&mut tx, stream, expected, events).await?;
        tx.commit().await.map_err(backend_error)?;
        if !appended.events.is_empty() {
            self.appended.send_modify(|n| *n += 1);
        }
        Ok(appended)
    }

    /// Ticks on appends by this process; appends by other processes are found by polling.
    fn watch(&self) -> Option<tokio::sync::watch::Receiver<u64>> {
        Some(self.appended.subscribe())
    }

    async fn read_stream(
        &self,
        stream: &str,
        from: u64,
        limit: usize,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let rows = sqlx::query(READ_STREAM)
            .bind(stream)
            .bind(to_i64(from))
            .bind(to_i64(limit as u64))
            .fetch_all(&self.reader)
            .await
            .map_err(backend_error)?;
        rows.iter().map(decode_row).collect()
    }

    async fn head_position(&self) -> Result<u64, StoreError> {
        let head: i64 = sqlx::query_scalar("SELECT coalesce(max(position), 0) FROM events")
            .fetch_one(&self.reader)
            .await
            .map_err(backend_error)?;
        to_u64(BACKEND, "position", head)
    }

    async fn visit_stream<F>(
        &self,
        stream: &str,
        from: u64,
        limit: usize,
        mut visit: F,
    ) -> Result<usize, StoreError>
    where
        F: FnMut(EventRef<'_>) -> Result<(), StoreError> + Send,
    {
        // The rows are lent to `visit`: no owned copy of any event is made. (They are fetched
        // together: sqlx's SQLite worker hands rows over one wake-up at a time when streamed.)
        let rows = sqlx::query(VISIT_STREAM)
            .bind(stream)
            .bind(to_i64(from))
            .bind(to_i64(limit as u64))
            .fetch_all(&self.reader)
            .await
            .map_err(backend_error)?;
        for row in &rows {
            visit(lend_row(stream, row)?)?;
        }
        Ok(rows.len())
    }

    async fn visit_all<F>(&self, from: u64, limit: usize, mut visit: F) -> Result<usize, StoreError>
    where
        F: FnMut(EventRef<'_>, &EventContext<'_>) -> Result<(), StoreError> + Send,
    {
        let rows = sqlx::query(READ_ALL)
            .bind(to_i64(from))
            .bind(to_i64(limit as u64))
            .fetch_all(&self.reader)
            .await
            .map_err(backend_error)?;
        for row in &rows {
            visit_full_row(row, &mut visit)?;
        }
        Ok(rows.len())
    }

    async fn read_all(&self, from: u64, limit: usize) -> Result<Vec<StoredEvent>, StoreError> {
        let rows = sqlx::query(READ_ALL)
            .bind(to_i64(from))
            .bind(to_i64(limit as u64))
            .fetch_all(&self.reader)
            .await
            .map_err(backend_error)?;
        rows.iter().map(decode_row).collect()
    }
}
