//! `SqliteStore`: the `EventStore` implementation.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use es_core::backend::{append_span, to_i64, to_u64, visit_span};
use es_core::idempotency;
use es_core::personal::Keyring;
use es_core::personal::Privacy;
use es_core::{
    AppendCondition, AppendSignal, AppendWatch, Appended, Cursor, EventRef, EventStore, ExpectedVersion,
    Lend, LocalQueues, NewEvent, StoreError,
};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Connection, SqlitePool};
use tracing::Instrument;

use crate::append::append_if_in;
use crate::error::{backend_error, BACKEND};
use crate::rows::{lend_row, CONTEXT_COLUMNS, DECODE_COLUMNS};
use crate::schema;

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
    pub(crate) appended: AppendSignal,
    /// This process's command queues, shared by clones.
    pub(crate) queues: Arc<LocalQueues>,
    /// Subjects' keys (the `personal_keys` table), cached.
    pub(crate) keys: Keyring,
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
            .busy_timeout(Duration::from_secs(30))
            // Deleted and overwritten content is zeroed, not left in free space: a forgotten
            // key, and a payload sealed in place, leave no copy in the file.
            .pragma("secure_delete", "on");
        let open_error = |e: sqlx::Error| StoreError::Unavailable {
            backend: BACKEND,
            target: path.as_ref().display().to_string(),
            source: e.into(),
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
            keys: crate::keys::keyring(writer.clone())?,
            writer,
            reader,
            path: Some(Arc::new(path.as_ref().to_owned())),
            appended: AppendSignal::default(),
            queues: Arc::default(),
        };
        store.migrate().await?;
        Ok(store)
    }

    /// Opens the store at `path` read-only, for tools that look inside: the file is never created,
    /// written or migrated. A schema older than this program's is an error that says to migrate
    /// (`es migrate`, or opening it read-write); a newer one says to upgrade the program. Every
    /// write (append, forget, checkpoints) fails with SQLite's "readonly database" error.
    pub async fn open_read_only(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::new()
            .filename(path.as_ref())
            .read_only(true)
            .busy_timeout(Duration::from_secs(30));
        let reader =
            SqlitePoolOptions::new().max_connections(4).connect_with(options).await.map_err(|e| {
                StoreError::Unavailable {
                    backend: BACKEND,
                    target: path.as_ref().display().to_string(),
                    source: e.into(),
                }
            })?;
        let mut conn = reader.acquire().await.map_err(backend_error)?;
        schema::check(&mut conn).await.map_err(|e| StoreError::backend(BACKEND, e))?;
        drop(conn);
        Ok(SqliteStore {
            // Reads only: the "writer" is the read-only pool too, so a write fails instead of
            // changing the file.
            keys: crate::keys::keyring(reader.clone())?,
            writer: reader.clone(),
            reader,
            path: Some(Arc::new(path.as_ref().to_owned())),
            appended: AppendSignal::default(),
            queues: Arc::default(),
        })
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
            keys: crate::keys::keyring(pool.clone())?,
            writer: pool.clone(),
            reader: pool,
            path: None,
            appended: AppendSignal::default(),
            queues: Arc::default(),
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

    /// The schema version of the file (`PRAGMA user_version`): [`SCHEMA_VERSION`](crate::SCHEMA_VERSION)
    /// once opened read-write.
    pub async fn schema_version(&self) -> Result<i64, StoreError> {
        sqlx::query_scalar("PRAGMA user_version").fetch_one(&self.reader).await.map_err(backend_error)
    }

    /// Forgets `subject`: deletes its key (securely: its bytes leave the file and the
    /// write-ahead log), so the personal data of its events reads as erased from now on, and
    /// reports what stays readable (`es_core::shredding::forget`).
    pub async fn forget(&self, subject: &str) -> Result<es_core::shredding::Forgotten, StoreError> {
        es_core::shredding::forget(self, &self.keys, subject).await
    }

    /// The reading pool, for queries of your own (tools that list what the tables hold).
    pub fn reader(&self) -> &SqlitePool {
        &self.reader
    }

    /// The file the store keeps its events in (`None` in memory).
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref().map(PathBuf::as_path)
    }

    /// Appends `events` to `stream` in a write transaction of the single writer, if it is at
    /// `expected` and, with a `condition`, nothing matching its query came after its read.
    pub(crate) async fn append_if_in(
        &self,
        stream: &str,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
        condition: Option<&AppendCondition>,
    ) -> Result<Appended, StoreError> {
        let span = append_span(BACKEND, stream, events.len());
        async move {
            idempotency::check_batch(stream, &events)?;
            let mut conn = self.writer.acquire().await.map_err(backend_error)?;
            // IMMEDIATE takes the write lock up front, so no other process can slip in between
            // our checks and our insert; dropping `tx` on an error rolls everything back.
            let mut tx = conn.begin_with("BEGIN IMMEDIATE").await.map_err(backend_error)?;
            let appended = append_if_in(&mut tx, stream, expected, events, condition).await?;
            tx.commit().await.map_err(backend_error)?;
            self.appended.appended(&appended);
            Ok(appended)
        }
        .instrument(span)
        .await
    }

    /// Closes both pools, waiting for running statements.
    pub async fn close(&self) {
        self.writer.close().await;
        self.reader.close().await;
    }
}

/// The queries, with the event columns written in once.
struct Queries {
    /// Of one stream: for decoding, and whole.
    visit_stream: [String; 2],
    visit_all: String,
}

fn queries() -> &'static Queries {
    static QUERIES: std::sync::OnceLock<Queries> = std::sync::OnceLock::new();
    QUERIES.get_or_init(|| {
        let of_stream =
            "FROM events WHERE stream = ?1 AND stream_version >= ?2 ORDER BY stream_version LIMIT ?3";
        Queries {
            visit_stream: [
                format!("SELECT {DECODE_COLUMNS} {of_stream}"),
                format!("SELECT {DECODE_COLUMNS}, {CONTEXT_COLUMNS} {of_stream}"),
            ],
            visit_all: format!(
                "SELECT {DECODE_COLUMNS}, {CONTEXT_COLUMNS}, stream FROM events
                 WHERE position > ?1 ORDER BY position LIMIT ?2"
            ),
        }
    })
}

/// Lends the events of `stream` from `from`, at most `limit`, read through `executor` (the
/// reader pool, or a turn's transaction). The rows are lent: no owned copy of any event is made.
/// (They are fetched together: sqlx's SQLite worker hands rows over one wake-up at a time when
/// streamed.)
pub(crate) async fn visit_stream_on<'e, E, F>(
    executor: E,
    stream: &str,
    from: u64,
    limit: usize,
    lend: Lend,
    mut visit: F,
) -> Result<usize, StoreError>
where
    E: sqlx::SqliteExecutor<'e>,
    F: FnMut(&EventRef<'_>) -> Result<(), StoreError> + Send,
{
    let span = visit_span(BACKEND, Some(stream));
    let rows = sqlx::query(&queries().visit_stream[usize::from(lend == Lend::All)])
        .bind(stream)
        .bind(to_i64(from))
        .bind(to_i64(limit as u64))
        .fetch_all(executor)
        .instrument(span.clone())
        .await
        .map_err(backend_error)?;
    for row in &rows {
        lend_row(row, Some(stream), lend, &mut visit)?;
    }
    span.record("rows", rows.len());
    Ok(rows.len())
}

impl EventStore for SqliteStore {
    const BACKEND: &'static str = BACKEND;

    async fn append(
        &self,
        stream: &str,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<Appended, StoreError> {
        self.append_if_in(stream, expected, events, None).await
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
        visit_stream_on(&self.reader, stream, from, limit, lend, visit).await
    }

    async fn visit_all<F>(&self, after: Cursor, limit: usize, mut visit: F) -> Result<usize, StoreError>
    where
        F: FnMut(&EventRef<'_>) -> Result<(), StoreError> + Send,
    {
        // One writer at a time hands out positions in commit order: the position is the cursor.
        let span = visit_span(BACKEND, None);
        let rows = sqlx::query(&queries().visit_all)
            .bind(to_i64(after.position()))
            .bind(to_i64(limit as u64))
            .fetch_all(&self.reader)
            .instrument(span.clone())
            .await
            .map_err(backend_error)?;
        for row in &rows {
            lend_row(row, None, Lend::All, &mut visit)?;
        }
        span.record("rows", rows.len());
        Ok(rows.len())
    }

    async fn head(&self) -> Result<Cursor, StoreError> {
        let head: i64 = sqlx::query_scalar("SELECT coalesce(max(position), 0) FROM events")
            .fetch_one(&self.reader)
            .await
            .map_err(backend_error)?;
        Ok(Cursor::at(to_u64(BACKEND, 0, "position", head)?))
    }

    /// Ticks on appends by this process; appends by other processes are found by polling.
    fn watch(&self) -> Option<AppendWatch> {
        Some(self.appended.watch())
    }
}

impl Privacy for SqliteStore {
    fn keys(&self) -> Option<Keyring> {
        Some(self.keys.clone())
    }
}

#[cfg(test)]
mod tests {
    use es_core::{EventStore, ExpectedVersion, NewEvent, StoreError};

    use super::SqliteStore;
    use crate::MigrateError;

    fn migrate_error(e: &StoreError) -> Option<&MigrateError> {
        match e {
            StoreError::Backend { source, .. } => source.downcast_ref(),
            _ => None,
        }
    }

    #[tokio::test]
    async fn read_only_reads_refuses_writes_and_never_migrates() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("ro.db");
        assert!(SqliteStore::open_read_only(&path).await.is_err(), "a missing file is not created");
        assert!(!path.exists());
        let store = SqliteStore::open(&path).await.expect("open");
        let e = NewEvent::new("Pinged", 1, serde_json::json!({}));
        store.append("P-1", ExpectedVersion::NoStream, vec![e]).await.expect("append");
        store.close().await;

        let ro = SqliteStore::open_read_only(&path).await.expect("open read-only");
        assert_eq!(ro.read_stream("P-1", 1, 10).await.expect("read").len(), 1);
        let e = NewEvent::new("Pinged", 1, serde_json::json!({}));
        assert!(ro.append("P-1", ExpectedVersion::Any, vec![e]).await.is_err(), "a write fails");
        ro.close().await;

        let raw = sqlx::SqlitePool::connect(&format!("sqlite:{}", path.display())).await.expect("connect");
        sqlx::query("PRAGMA user_version = 3").execute(&raw).await.expect("older");
        raw.close().await;
        let older = SqliteStore::open_read_only(&path).await.expect_err("needs migrating");
        assert!(matches!(migrate_error(&older), Some(MigrateError::NeedsMigrating { found: 3 })), "{older}");
        assert!(older.to_string().contains("run `es migrate`"), "{older}");
    }
}
