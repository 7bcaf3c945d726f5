//! `PostgresOptions`: how a store is opened: its schema, its pool, the session settings its
//! connections run with, and whether it may change anything.

use std::str::FromStr;
use std::time::Duration;

use es_core::StoreError;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};

use crate::error::{backend_error, BACKEND};
use crate::schema::{self, SchemaName};
use crate::session::{self, Settings};
use crate::{redact, PostgresStore};

/// Options for opening a [`PostgresStore`]: the schema (a tenant per schema), the pool, the
/// session settings of its connections, and read-only opening.
///
/// ```no_run
/// # use std::time::Duration;
/// # async fn f() -> Result<(), es_core::StoreError> {
/// let store = es_postgres::PostgresOptions::new()
///     .schema("tenant_a")
///     .max_connections(16)
///     .lock_timeout(Duration::from_secs(5))
///     .connect("postgres://postgres@127.0.0.1:5432/test")
///     .await?;
/// # Ok(()) }
/// ```
///
/// The pool [`connect`](Self::connect) makes runs every connection at READ COMMITTED (the
/// store relies on it, whatever the server's or role's default), with the timeouts below. A pool
/// given to [`from_pool`](Self::from_pool) keeps its own settings: the store still begins each
/// of its transactions at READ COMMITTED, but the timeouts are the pool's to set.
#[derive(Debug, Clone)]
pub struct PostgresOptions {
    schema: String,
    max_connections: u32,
    connect_timeout: Duration,
    reader_wait_warning: Duration,
    settings: Settings,
}

impl Default for PostgresOptions {
    fn default() -> Self {
        PostgresOptions {
            schema: "public".to_owned(),
            max_connections: 10,
            connect_timeout: Duration::from_secs(10),
            reader_wait_warning: Duration::from_secs(10),
            settings: Settings {
                lock_timeout: Some(Duration::from_secs(10)),
                idle_in_transaction: Some(Duration::from_secs(60)),
                tcp_keepalive: Some(Duration::from_secs(30)),
                read_only: false,
            },
        }
    }
}

impl PostgresOptions {
    /// Schema `public`, 10 connections, the default timeouts.
    pub fn new() -> Self {
        Self::default()
    }

    /// The schema holding the store's tables, created if missing (unless
    /// [`read_only`](Self::read_only)). A name is 1 to 63 ASCII letters, digits and
    /// underscores, not starting with a digit or `pg_` ([`SchemaName`]); opening with another
    /// fails with [`SchemaError::Name`](crate::SchemaError::Name) before anything is sent.
    pub fn schema(mut self, schema: impl Into<String>) -> Self {
        self.schema = schema.into();
        self
    }

    /// The pool's size, when the store makes its own pool.
    pub fn max_connections(mut self, n: u32) -> Self {
        self.max_connections = n.max(1);
        self
    }

    /// How long to keep trying to reach the server before `Unavailable` (default 10 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// How long readers of the global order may wait on an open transaction before the store
    /// logs a warning naming the oldest one (default 10 s; see
    /// [`PostgresStore::reader_blockers`]). Logged once per wait, through `tracing`.
    pub fn reader_wait_warning(mut self, after: Duration) -> Self {
        self.reader_wait_warning = after;
        self
    }

    /// The longest a statement waits for a lock (`lock_timeout`, default 10 s) before it fails
    /// with a store error. Turns wait for their stream's lock, but each process queues its own
    /// commands on a stream first, so a turn waits behind at most one turn per process: a wait
    /// of seconds means the holder is stuck or gone, and failing lets the caller answer (and
    /// retry) rather than hang. `None` keeps the server's setting; `Duration::ZERO` waits
    /// forever. Migrations never time out on locks.
    pub fn lock_timeout(mut self, timeout: impl Into<Option<Duration>>) -> Self {
        self.settings.lock_timeout = timeout.into();
        self
    }

    /// How long the server lets a connection sit idle inside a transaction before it ends the
    /// session, rolling back and releasing its locks (`idle_in_transaction_session_timeout`,
    /// default 60 s). This is what frees a stream's turn, and lets every reader of the global
    /// order go on, when the process holding a transaction hangs or is cut off. `None` keeps
    /// the server's setting; `Duration::ZERO` never ends such sessions.
    pub fn idle_in_transaction_timeout(mut self, timeout: impl Into<Option<Duration>>) -> Self {
        self.settings.idle_in_transaction = timeout.into();
        self
    }

    /// TCP keepalives on the server's side of each connection (default 30 s): the server probes
    /// a connection idle for this long, then every third of it, and closes it after 3 probes
    /// go unanswered; data it sent that stays unacknowledged as long (`tcp_user_timeout`)
    /// closes it too. So a client that vanished (a crash of its machine, a network partition)
    /// has its session, its transaction and its locks ended within about twice this time.
    /// `None` or `Duration::ZERO` keeps the server's settings. (The client side has no
    /// keepalive: sqlx 0.8 offers none; see the crate docs.)
    pub fn tcp_keepalive(mut self, idle: impl Into<Option<Duration>>) -> Self {
        self.settings.tcp_keepalive = idle.into();
        self
    }

    /// Opens the store for reading only, as inspection tools do: never creates the schema,
    /// never migrates, and the pool [`connect`](Self::connect) makes runs every transaction
    /// read-only (`default_transaction_read_only`), so appends fail. A schema that does not exist
    /// is [`SchemaError::Missing`](crate::SchemaError::Missing); one at an older version than
    /// this program's is [`SchemaError::NeedsMigrating`](crate::SchemaError::NeedsMigrating).
    pub fn read_only(mut self) -> Self {
        self.settings.read_only = true;
        self
    }

    /// Connects to `url` and creates or upgrades the schema (only checks it, when
    /// [`read_only`](Self::read_only)).
    pub async fn connect(self, url: &str) -> Result<PostgresStore, StoreError> {
        let schema = self.schema_name()?;
        let unavailable = |source: sqlx::Error| StoreError::Unavailable {
            backend: BACKEND,
            target: redact(url),
            source: source.into(),
        };
        let options = PgConnectOptions::from_str(url).map_err(unavailable)?.options(self.settings.pairs());
        let pool = PgPoolOptions::new()
            .max_connections(self.max_connections)
            .acquire_timeout(self.connect_timeout)
            .connect_with(options)
            .await
            .map_err(unavailable)?;
        self.open(pool, schema).await
    }

    /// Uses an existing pool and creates or upgrades the schema (only checks it, when
    /// [`read_only`](Self::read_only)). The pool's own session settings apply: set timeouts
    /// (and `default_transaction_read_only`) on its connect options yourself.
    pub async fn from_pool(self, pool: PgPool) -> Result<PostgresStore, StoreError> {
        let schema = self.schema_name()?;
        self.open(pool, schema).await
    }

    /// The schema's name, checked.
    fn schema_name(&self) -> Result<SchemaName, StoreError> {
        SchemaName::new(&self.schema).map_err(|e| StoreError::backend(BACKEND, schema::SchemaError::from(e)))
    }

    async fn open(self, pool: PgPool, schema: SchemaName) -> Result<PostgresStore, StoreError> {
        let schema_error = |e: schema::SchemaError| StoreError::backend(BACKEND, e);
        if self.settings.read_only {
            let mut conn = pool.acquire().await.map_err(backend_error)?;
            schema::check(&mut conn, &schema).await.map_err(schema_error)?;
        } else {
            let mut tx = session::begin(&pool).await.map_err(backend_error)?;
            schema::migrate(&mut tx, &schema).await.map_err(schema_error)?;
            tx.commit().await.map_err(backend_error)?;
        }
        PostgresStore::assemble(pool, schema, self.reader_wait_warning)
    }
}
