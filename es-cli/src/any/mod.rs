//! [`AnyStore`]: any of this workspace's stores, opened by URL, as sqlx's `AnyPool` opens any
//! database. `es` runs every command on it, and tests run one suite over every store with it.
//!
//! | URL | store |
//! | --- | --- |
//! | `memory:` | a fresh, empty [`MemoryStore`] in this process |
//! | `sqlite:PATH` (or `sqlite://PATH`) | [`SqliteStore`] in the file at `PATH` |
//! | `postgres://USER@HOST:PORT/DATABASE` (or `postgresql://`) | [`PostgresStore`], in the schema [`AnyOptions::schema`] names (`public` by default) |
//! | `nats://HOST:PORT[,nats://...][?stream=NAME&replicas=N]` | `es_nats::JetStreamStore` on the JetStream stream `NAME` (`ES` by default), with feature `nats` (see [`NotOnJetStream`]) |
//!
//! How it is opened ([`Access`]) decides whether it may be created, written or migrated:
//! [`AnyStore::open`] opens it as an application does (created if missing, migrated);
//! [`AnyOptions`] opens it as a tool does (read-only by default, never created).
//!
//! It implements [`EventStore`](es_core::EventStore) and every side trait the three stores
//! share ([`SnapshotStore`](es_core::SnapshotStore), [`CheckpointStore`](es_core::CheckpointStore),
//! [`Leases`](es_core::Leases), [`DeadLetters`](es_core::DeadLetters),
//! [`Links`](es_core::integrity::Links), [`Rewrite`](es_core::integrity::Rewrite),
//! [`Turns`](es_core::Turns), [`Inspect`](es_core::inspect::Inspect)) by handing each call to
//! the store it holds. A trait the store it holds lacks answers with a typed error: the
//! JetStream store's [`Rewrite`](es_core::integrity::Rewrite) and
//! [`Boundaries`](es_core::Boundaries) return [`NotOnJetStream`].
//!
//! ```
//! use es_cli::AnyStore;
//! use es_core::inspect::Inspect;
//! use es_core::{EventStore, ExpectedVersion, NewEvent};
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let store = AnyStore::open("memory:").await?;
//! let e = NewEvent::new("Pinged", 1, serde_json::json!({}));
//! store.append("Pinger-1", ExpectedVersion::NoStream, vec![e]).await?;
//! assert_eq!(store.backend(), "memory");
//! assert_eq!(store.streams("").await?[0].version, 1);
//! # Ok::<_, Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```

mod error;
#[cfg(feature = "nats")]
mod nats;
mod traits;

use std::path::Path;
use std::time::Duration;

use es_core::inspect::Inspect;
use es_core::shredding::Forgotten;
use es_core::{MemoryStore, StoreError};
use es_postgres::{PostgresOptions, PostgresStore};
use es_sqlite::SqliteStore;

pub use error::OpenError;
#[cfg(feature = "nats")]
pub use nats::NotOnJetStream;
pub use traits::AnyTurn;

/// One of the stores, chosen by the URL it was opened from.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum AnyStore {
    /// `memory:`
    Memory(MemoryStore),
    /// `sqlite:PATH`
    Sqlite(SqliteStore),
    /// `postgres://...`
    Postgres(PostgresStore),
    /// `nats://...`: a store on a JetStream stream (one server or a replicated cluster); it
    /// has no [`Rewrite`](es_core::integrity::Rewrite) nor [`Boundaries`](es_core::Boundaries)
    /// ([`NotOnJetStream`]).
    #[cfg(feature = "nats")]
    Nats(es_nats::JetStreamStore),
}

/// How a store is opened: what it may create, change and migrate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Access {
    /// Looks only: opened read-only, never created, written or migrated; a schema older or
    /// newer than this program's is an error (`es streams`, `show`, `verify`, ...).
    #[default]
    Read,
    /// Changes data in a store that exists and is up to date: read-write, never created or
    /// migrated (`es forget`, `rebuild`).
    Write,
    /// Brings an existing store's schema up to date, then read-write (`es migrate`): a SQLite
    /// file must exist; a PostgreSQL schema is created if missing.
    Migrate,
    /// As an application opens its own store: created if missing, migrated, read-write.
    Create,
}

/// How to open an [`AnyStore`]: the PostgreSQL schema and the [`Access`].
///
/// ```no_run
/// # async fn f() -> Result<(), es_cli::OpenError> {
/// use es_cli::{Access, AnyOptions};
/// let store = AnyOptions::new()
///     .schema("es_bank")
///     .access(Access::Read)
///     .open("postgres://postgres@127.0.0.1:5432/test")
///     .await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct AnyOptions {
    schema: String,
    access: Access,
}

impl Default for AnyOptions {
    fn default() -> Self {
        AnyOptions { schema: "public".to_owned(), access: Access::Read }
    }
}

/// What [`AnyOptions::migrate`] did: the store, opened read-write, and its schema versions
/// before and after (`None`: no schema yet, or a store without one).
#[derive(Debug)]
pub struct Migrated {
    /// The store, migrated and opened read-write.
    pub store: AnyStore,
    /// The schema version before (`None`: a PostgreSQL schema not created yet, or memory).
    pub from: Option<i64>,
    /// The schema version now (`None`: memory).
    pub to: Option<i64>,
}

/// Where a store URL points.
#[derive(Clone, Copy)]
enum Url<'a> {
    Memory,
    Sqlite(&'a str),
    Postgres,
    #[cfg(feature = "nats")]
    Nats,
}

impl<'a> Url<'a> {
    fn parse(url: &'a str) -> Result<Self, OpenError> {
        if url == "memory:" {
            return Ok(Url::Memory);
        }
        if let Some(path) = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")) {
            if path.is_empty() {
                return Err(OpenError::NoPath);
            }
            return Ok(Url::Sqlite(path));
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(Url::Postgres);
        }
        #[cfg(feature = "nats")]
        if url.starts_with("nats://") {
            return Ok(Url::Nats);
        }
        Err(OpenError::UnknownUrl { url: url.to_owned() })
    }

    /// `e`, from the store at `url` (and `schema`), as an [`OpenError`].
    fn error(self, url: &str, schema: &str, e: StoreError) -> OpenError {
        match self {
            Url::Memory => OpenError::Memory { source: Box::new(e) },
            Url::Sqlite(path) => OpenError::sqlite(path, e),
            Url::Postgres => OpenError::postgres(url, schema, e),
            #[cfg(feature = "nats")]
            Url::Nats => OpenError::nats(url, "", e),
        }
    }
}

/// `path` when the access needs the file to exist and it does; [`OpenError::NoFile`] otherwise.
fn existing(path: &str, access: Access) -> Result<&str, OpenError> {
    if access != Access::Create && !Path::new(path).is_file() {
        return Err(OpenError::NoFile { path: path.to_owned() });
    }
    Ok(path)
}

impl AnyOptions {
    /// Schema `public`, [`Access::Read`].
    pub fn new() -> Self {
        Self::default()
    }

    /// The PostgreSQL schema the store lives in (other stores ignore it).
    pub fn schema(mut self, schema: impl Into<String>) -> Self {
        self.schema = schema.into();
        self
    }

    /// How the store is opened.
    pub fn access(mut self, access: Access) -> Self {
        self.access = access;
        self
    }

    /// Opens the store `url` names, as [`Access`] allows.
    pub async fn open(&self, url: &str) -> Result<AnyStore, OpenError> {
        match Url::parse(url)? {
            Url::Memory => Ok(AnyStore::Memory(MemoryStore::new())),
            Url::Sqlite(path) => self.open_sqlite(existing(path, self.access)?).await,
            Url::Postgres => self.open_postgres(url).await,
            #[cfg(feature = "nats")]
            Url::Nats => nats::NatsUrl::parse(url)?.open(url, self.access).await,
        }
    }

    async fn open_sqlite(&self, path: &str) -> Result<AnyStore, OpenError> {
        let error = |e| Url::Sqlite(path).error(path, &self.schema, e);
        if matches!(self.access, Access::Read | Access::Write) {
            // Read-only first: it checks the schema without changing the file.
            let store = SqliteStore::open_read_only(path).await.map_err(error)?;
            if self.access == Access::Read {
                return Ok(AnyStore::Sqlite(store));
            }
            store.close().await;
        }
        SqliteStore::open(path).await.map(AnyStore::Sqlite).map_err(error)
    }

    async fn open_postgres(&self, url: &str) -> Result<AnyStore, OpenError> {
        let error = |e| Url::Postgres.error(url, &self.schema, e);
        let options = || PostgresOptions::new().schema(&self.schema).connect_timeout(Duration::from_secs(3));
        if matches!(self.access, Access::Read | Access::Write) {
            let store = options().read_only().connect(url).await.map_err(error)?;
            if self.access == Access::Read {
                return Ok(AnyStore::Postgres(store));
            }
            store.pool().close().await;
        }
        options().connect(url).await.map(AnyStore::Postgres).map_err(error)
    }

    /// Brings the schema of the store `url` names up to date, opening it with
    /// [`Access::Migrate`] (whatever [`access`](Self::access) says), and reports the versions
    /// before and after.
    pub async fn migrate(&self, url: &str) -> Result<Migrated, OpenError> {
        let target = Url::parse(url)?;
        let from = match target {
            Url::Memory => None,
            Url::Sqlite(path) => Some(
                es_sqlite::inspect::stored_schema_version(existing(path, Access::Migrate)?)
                    .await
                    .map_err(|e| target.error(url, &self.schema, e))?,
            ),
            Url::Postgres => es_postgres::inspect::stored_schema_version(url, &self.schema)
                .await
                .map_err(|e| target.error(url, &self.schema, e))?,
            // No schema: the streams are created or checked.
            #[cfg(feature = "nats")]
            Url::Nats => None,
        };
        let store = self.clone().access(Access::Migrate).open(url).await?;
        let to = store.schema_version().await.map_err(|e| target.error(url, &self.schema, e))?;
        Ok(Migrated { store, from, to })
    }
}

impl AnyStore {
    /// Opens the store `url` names as an application does ([`Access::Create`]): created if
    /// missing, its schema migrated; PostgreSQL in schema `public` (for another, use
    /// [`AnyOptions::schema`]).
    pub async fn open(url: &str) -> Result<Self, OpenError> {
        AnyOptions::new().access(Access::Create).open(url).await
    }

    /// Forgets `subject` with the store's own `forget` (its key deleted, so its sealed personal
    /// data reads as erased), leaving no copy of the key behind: SQLite deletes it securely and
    /// truncates its log; PostgreSQL also rewrites the key table (`VACUUM FULL`), so no dead row
    /// keeps it.
    pub async fn forget(&self, subject: &str) -> Result<Forgotten, StoreError> {
        match self {
            AnyStore::Memory(store) => store.forget(subject).await,
            AnyStore::Sqlite(store) => store.forget(subject).await,
            AnyStore::Postgres(store) => {
                let forgotten = store.forget(subject).await?;
                store.vacuum_keys().await?;
                Ok(forgotten)
            }
            // The key's message is replaced by a tombstone that keeps only the last per key.
            #[cfg(feature = "nats")]
            AnyStore::Nats(store) => store.forget(subject).await,
        }
    }

    /// Closes the store's connections (nothing to close in memory).
    pub async fn close(&self) {
        match self {
            AnyStore::Memory(_) => {}
            AnyStore::Sqlite(store) => store.close().await,
            AnyStore::Postgres(store) => store.pool().close().await,
            #[cfg(feature = "nats")]
            AnyStore::Nats(store) => {
                let _ = store.client().drain().await;
            }
        }
    }
}

impl From<MemoryStore> for AnyStore {
    fn from(store: MemoryStore) -> Self {
        AnyStore::Memory(store)
    }
}

impl From<SqliteStore> for AnyStore {
    fn from(store: SqliteStore) -> Self {
        AnyStore::Sqlite(store)
    }
}

impl From<PostgresStore> for AnyStore {
    fn from(store: PostgresStore) -> Self {
        AnyStore::Postgres(store)
    }
}

#[cfg(feature = "nats")]
impl From<es_nats::JetStreamStore> for AnyStore {
    fn from(store: es_nats::JetStreamStore) -> Self {
        AnyStore::Nats(store)
    }
}
