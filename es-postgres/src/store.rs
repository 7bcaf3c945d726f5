//! `PostgresStore`: the `EventStore` implementation.

use std::future::poll_fn;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use es_core::backend::{append_span, to_i64, to_u64, visit_span};
use es_core::personal::Privacy;
use es_core::{
    AppendWatch, Appended, Cursor, EventRef, EventStore, ExpectedVersion, Lend, NewEvent, StoreError,
};
use sqlx::postgres::PgPool;
use tracing::Instrument;

use crate::append::{is_unique_violation, AppendArgs, AppendOutcome};
use crate::error::{backend_error, BACKEND};
use crate::horizon::WaitWatch;
use crate::notify::Notifier;
use crate::rows::{lend_row, CONTEXT_COLUMNS, DECODE_COLUMNS};
use crate::schema::SchemaName;
use crate::session;
use crate::signal::Signal;
use crate::PostgresOptions;

/// An event store in PostgreSQL, shared by many processes and machines.
///
/// See the [crate docs](crate) for how the global order is kept.
#[derive(Clone, Debug)]
pub struct PostgresStore {
    pub(crate) pool: PgPool,
    pub(crate) queries: Arc<Queries>,
    signal: Arc<Signal>,
    notifier: Arc<Notifier>,
    pub(crate) wait: Arc<WaitWatch>,
    /// This process's command queues, shared by clones.
    pub(crate) queues: Arc<es_core::LocalQueues>,
    /// Subjects' keys (`es_personal_keys`), cached.
    pub(crate) keys: es_core::personal::Keyring,
    /// Set once `es_append` refused a connection of the pool for its isolation level (a pool
    /// given by the caller, whose sessions default to another level): appends then run in
    /// transactions begun at READ COMMITTED.
    explicit_isolation: Arc<AtomicBool>,
}

/// The oldest transaction id still running, in the whole cluster: every transaction below it has
/// ended, so no event below it can still appear. A subquery, so that it is computed once per
/// statement (an init plan) rather than per row.
const HORIZON: &str = "(SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint)";

/// The statements, with the schema name written in once. sqlx prepares each once per connection.
#[derive(Debug)]
pub(crate) struct Queries {
    pub(crate) schema: String,
    pub(crate) unquoted_schema: String,
    pub(crate) append: String,
    /// Of one stream: for decoding, and whole.
    pub(crate) visit_stream: [String; 2],
    pub(crate) visit_all: String,
    /// The events matching a query, with their tags (`boundary`).
    pub(crate) visit_query: String,
    pub(crate) held_back: String,
    pub(crate) save_snapshot: String,
    pub(crate) load_snapshot: String,
    pub(crate) head: String,
    pub(crate) save_checkpoint: String,
    pub(crate) load_checkpoint: String,
    pub(crate) delete_checkpoint: String,
}

impl Queries {
    fn new(schema: &str, unquoted: &str) -> Self {
        let columns = format!("{DECODE_COLUMNS}, {CONTEXT_COLUMNS}, stream");
        let of_stream = format!(
            "FROM {schema}.es_events WHERE stream = $1 AND stream_version >= $2 ORDER BY stream_version LIMIT $3"
        );
        Queries {
            schema: schema.to_owned(),
            unquoted_schema: unquoted.to_owned(),
            append: format!(
                "SELECT * FROM {schema}.es_append($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)"
            ),
            visit_stream: [
                format!("SELECT {DECODE_COLUMNS} {of_stream}"),
                format!("SELECT {DECODE_COLUMNS}, {CONTEXT_COLUMNS} {of_stream}"),
            ],
            // Only transactions older than every running one: none of them can still commit
            // below what this returns (see the crate docs for the proof). The horizon filters the
            // page rather than the scan: the page is the next rows in (commit_no, position) order,
            // so what passes is still a prefix of the visible order, and the scan stays an
            // ordered index scan that stops at the limit even before the table has statistics
            // (with both conditions in one WHERE, an unanalysed table got a bitmap scan and a
            // sort of every row after the cursor, per page).
            visit_all: format!(
                "SELECT * FROM (
                     SELECT {columns} FROM {schema}.es_events WHERE (commit_no, position) > ($1, $2)
                     ORDER BY commit_no, position LIMIT $3) AS page
                 WHERE commit_no < {HORIZON}"
            ),
            visit_query: crate::boundary::visit_query_sql(schema),
            held_back: format!(
                "SELECT coalesce((SELECT commit_no FROM {schema}.es_events ORDER BY commit_no DESC LIMIT 1), 0)
                     >= {HORIZON}"
            ),
            save_snapshot: format!(
                "INSERT INTO {schema}.es_snapshots AS s (stream, stream_version, schema_version, state, taken_us)
                 VALUES ($1, $2, $3, $4::json, $5)
                 ON CONFLICT (stream) DO UPDATE SET stream_version = excluded.stream_version,
                     schema_version = excluded.schema_version, state = excluded.state, taken_us = excluded.taken_us
                 WHERE excluded.stream_version > s.stream_version"
            ),
            head: format!(
                "SELECT commit_no, position FROM {schema}.es_events WHERE commit_no < {HORIZON}
                 ORDER BY commit_no DESC, position DESC LIMIT 1"
            ),
            save_checkpoint: format!(
                "INSERT INTO {schema}.es_checkpoints (projection, commit_no, position, state, saved_us)
                 VALUES ($1, $2, $3, $4::json, $5)
                 ON CONFLICT (projection) DO UPDATE SET commit_no = excluded.commit_no,
                     position = excluded.position, state = excluded.state, saved_us = excluded.saved_us"
            ),
            load_checkpoint: format!(
                "SELECT commit_no, position, state::text AS state, saved_us
                 FROM {schema}.es_checkpoints WHERE projection = $1"
            ),
            delete_checkpoint: format!("DELETE FROM {schema}.es_checkpoints WHERE projection = $1"),
            load_snapshot: format!(
                "SELECT stream_version, schema_version, state::text AS state, taken_us
                 FROM {schema}.es_snapshots WHERE stream = $1"
            ),
        }
    }
}

impl PostgresStore {
    /// The store over `pool` with its schema in place.
    pub(crate) fn assemble(
        pool: PgPool,
        schema: SchemaName,
        reader_wait_warning: Duration,
    ) -> Result<Self, StoreError> {
        let quoted = schema.ident();
        Ok(PostgresStore {
            keys: crate::keys::PgKeys::keyring(pool.clone(), &quoted)?,
            pool,
            queries: Arc::new(Queries::new(&quoted, schema.as_str())),
            signal: Arc::default(),
            notifier: Arc::default(),
            wait: Arc::new(WaitWatch::new(reader_wait_warning)),
            queues: Arc::default(),
            explicit_isolation: Arc::default(),
        })
    }

    /// Connects to `url` (schema `public`), creating or upgrading the schema.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        PostgresOptions::new().connect(url).await
    }

    /// Uses an existing pool (schema `public`), creating or upgrading the schema.
    pub async fn from_pool(pool: PgPool) -> Result<Self, StoreError> {
        PostgresOptions::new().from_pool(pool).await
    }

    /// The pool, for queries of your own (read models in the same database).
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// The quoted schema name the store's tables live in, ready for SQL.
    pub fn schema(&self) -> &str {
        &self.queries.schema
    }

    /// The schema's name as given to [`PostgresOptions::schema`].
    pub fn schema_name(&self) -> &str {
        &self.queries.unquoted_schema
    }

    /// Drops the store's schema and everything in it. For tests and tenant removal.
    pub async fn drop_schema(&self) -> Result<(), StoreError> {
        sqlx::query(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.queries.schema))
            .execute(&self.pool)
            .await
            .map_err(backend_error)?;
        Ok(())
    }
}

impl PostgresStore {
    /// Lends the events of `stream` from `from`, at most `limit`, read through `executor` (the
    /// pool, or a turn's transaction), as they arrive: no owned copy of any event is made.
    pub(crate) async fn visit_stream_on<'e, E, F>(
        &self,
        executor: E,
        stream: &str,
        from: u64,
        limit: usize,
        lend: Lend,
        mut visit: F,
    ) -> Result<usize, StoreError>
    where
        E: sqlx::PgExecutor<'e>,
        F: FnMut(&EventRef<'_>) -> Result<(), StoreError> + Send,
    {
        let span = visit_span(BACKEND, Some(stream));
        let mut rows = sqlx::query(&self.queries.visit_stream[usize::from(lend == Lend::All)])
            .bind(stream)
            .bind(to_i64(from))
            .bind(to_i64(limit as u64))
            .fetch(executor);
        let mut visited = 0;
        while let Some(row) = poll_fn(|cx| rows.as_mut().poll_next(cx)).instrument(span.clone()).await {
            lend_row(&row.map_err(backend_error)?, Some(stream), lend, &mut visit)?;
            visited += 1;
        }
        span.record("rows", visited);
        Ok(visited)
    }

    /// Calls `es_append` with `args`: one statement on the pool (the session runs at READ
    /// COMMITTED), or, once the pool's sessions turned out to default to another level, in a
    /// transaction begun at READ COMMITTED.
    async fn run_append(&self, args: &AppendArgs<'_>) -> Result<AppendOutcome, sqlx::Error> {
        if !self.explicit_isolation.load(Ordering::Relaxed) {
            match args.run(&self.queries.append, &self.pool).await {
                Err(e) if session::needs_read_committed(&e) => {
                    self.explicit_isolation.store(true, Ordering::Relaxed);
                }
                result => return result,
            }
        }
        let mut tx = session::begin(&self.pool).await?;
        let outcome = args.run(&self.queries.append, &mut *tx).await?;
        tx.commit().await?;
        Ok(outcome)
    }

    /// Runs the append `args`, once more if the same ids were appended to two streams at once:
    /// the loser's insert hit the unique index; run again, it finds them stored and answers as
    /// the idempotency rule says.
    pub(crate) async fn append_args(&self, args: &AppendArgs<'_>) -> Result<AppendOutcome, StoreError> {
        match self.run_append(args).await {
            Err(e) if is_unique_violation(&e) => self.run_append(args).await,
            result => result,
        }
        .map_err(backend_error)
    }

    /// Wakes subscribers, here and (through a notification) in other processes, after an append
    /// that recorded events has committed.
    pub(crate) fn appended(&self, appended: &Appended) {
        if !appended.events.is_empty() {
            self.signal.tick();
            self.notifier.appended(&self.pool, &self.queries.unquoted_schema);
        }
    }
}

impl EventStore for PostgresStore {
    const BACKEND: &'static str = BACKEND;

    async fn append(
        &self,
        stream: &str,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<Appended, StoreError> {
        let span = append_span(BACKEND, stream, events.len());
        async move {
            let args = AppendArgs::new(stream, expected, &events)?;
            let appended = self.append_args(&args).await?.into_result(stream, expected, &args.ids)?;
            self.appended(&appended);
            Ok(appended)
        }
        .instrument(span)
        .await
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
        self.visit_stream_on(&self.pool, stream, from, limit, lend, visit).await
    }

    async fn visit_all<F>(&self, after: Cursor, limit: usize, mut visit: F) -> Result<usize, StoreError>
    where
        F: FnMut(&EventRef<'_>) -> Result<(), StoreError> + Send,
    {
        // Rows are lent as they arrive: no owned copy of any event is made.
        let span = visit_span(BACKEND, None);
        let mut rows = sqlx::query(&self.queries.visit_all)
            .bind(to_i64(after.commit()))
            .bind(to_i64(after.position()))
            .bind(to_i64(limit as u64))
            .fetch(&self.pool);
        let mut visited = 0;
        while let Some(row) = poll_fn(|cx| rows.as_mut().poll_next(cx)).instrument(span.clone()).await {
            lend_row(&row.map_err(backend_error)?, None, Lend::All, &mut visit)?;
            visited += 1;
        }
        span.record("rows", visited);
        drop(rows);
        if visited < limit {
            // Caught up: is an open transaction holding back what was committed after it?
            self.note_caught_up().await?;
        }
        Ok(visited)
    }

    async fn head(&self) -> Result<Cursor, StoreError> {
        let head: Option<(i64, i64)> =
            sqlx::query_as(&self.queries.head).fetch_optional(&self.pool).await.map_err(backend_error)?;
        let Some((commit, position)) = head else { return Ok(Cursor::START) };
        let position = to_u64(BACKEND, 0, "position", position)?;
        Ok(Cursor::in_commit(to_u64(BACKEND, position, "commit_no", commit)?, position))
    }

    /// Ticks when any process appends to this store's schema (LISTEN/NOTIFY).
    fn watch(&self) -> Option<AppendWatch> {
        self.signal.watch(&self.pool, &self.queries.unquoted_schema)
    }
}

impl Privacy for PostgresStore {
    fn keys(&self) -> Option<es_core::personal::Keyring> {
        Some(self.keys.clone())
    }
}
