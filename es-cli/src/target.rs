//! The store a `--store` URL names, opened with errors a person can act on: read-only for the
//! commands that look, read-write for those that change it, migrated only by `es migrate`.

use std::path::Path;
use std::time::Duration;

use es_core::StoreError;
use es_postgres::{PostgresOptions, PostgresStore};
use es_sqlite::SqliteStore;
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::ConnectOptions;

use crate::error::CliError;

/// An opened store.
pub enum Target {
    /// `sqlite:PATH`
    Sqlite(SqliteStore),
    /// `postgres://...`
    Postgres(PostgresStore),
}

/// How a command opens the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Looks only: opened read-only, never created or migrated.
    Read,
    /// Changes data (`forget`, `rebuild`): read-write, but a store that needs migrating is
    /// refused as for reading.
    Write,
}

/// Where a store URL points.
enum Url<'a> {
    Sqlite(&'a str),
    Postgres,
}

fn parse(url: &str) -> Result<Url<'_>, CliError> {
    if let Some(path) = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")) {
        if path.is_empty() {
            return Err(CliError::new("sqlite: needs a path, as in sqlite:bank.db"));
        }
        if !Path::new(path).is_file() {
            return Err(CliError::new(format!(
                "no event store at {path}: the file does not exist (check the path; `cargo run --example bank` creates bank.db)"
            )));
        }
        return Ok(Url::Sqlite(path));
    }
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return Ok(Url::Postgres);
    }
    Err(CliError::new(format!(
        "unknown store URL `{url}`: use sqlite:PATH (a SQLite file) or postgres://USER@HOST:PORT/DATABASE"
    )))
}

/// Opens the store `url` names (`sqlite:PATH`, `postgres://USER@HOST:PORT/DB`, with `schema`
/// for PostgreSQL). A SQLite file is never created, a schema never created or migrated.
pub async fn open(url: &str, schema: &str, access: Access) -> Result<Target, CliError> {
    match parse(url)? {
        Url::Sqlite(path) => {
            let store = SqliteStore::open_read_only(path).await.map_err(|e| sqlite_error(path, e))?;
            if access == Access::Read {
                return Ok(Target::Sqlite(store));
            }
            store.close().await;
            SqliteStore::open(path).await.map(Target::Sqlite).map_err(|e| sqlite_error(path, e))
        }
        Url::Postgres => {
            let store =
                pg_options(schema).read_only().connect(url).await.map_err(|e| pg_error(url, schema, e))?;
            if access == Access::Read {
                return Ok(Target::Postgres(store));
            }
            store.pool().close().await;
            pg_options(schema).connect(url).await.map(Target::Postgres).map_err(|e| pg_error(url, schema, e))
        }
    }
}

/// `es migrate`: opens the store read-write, bringing its schema up to date; the versions
/// before and after (`None` before: a PostgreSQL schema not created yet).
pub async fn migrate(url: &str, schema: &str) -> Result<(Option<i64>, i64), CliError> {
    match parse(url)? {
        Url::Sqlite(path) => {
            let mut conn = SqliteConnectOptions::new()
                .filename(path)
                .read_only(true)
                .connect()
                .await
                .map_err(|e| CliError::new(format!("cannot open the SQLite store at {path}: {e}")))?;
            let from: i64 = sqlx::query_scalar("PRAGMA user_version").fetch_one(&mut conn).await?;
            drop(conn);
            let store = SqliteStore::open(path).await.map_err(|e| sqlite_error(path, e))?;
            let to = store.schema_version().await?;
            store.close().await;
            Ok((Some(from), to))
        }
        Url::Postgres => {
            let pool =
                sqlx::PgPool::connect(url).await.map_err(|e| pg_error(url, schema, unreachable(url, e)))?;
            let from = pg_version(&pool, schema).await?;
            pool.close().await;
            let store = pg_options(schema).connect(url).await.map_err(|e| pg_error(url, schema, e))?;
            let to = pg_version(store.pool(), schema).await?.unwrap_or(0);
            store.pool().close().await;
            Ok((from, to))
        }
    }
}

fn unreachable(url: &str, e: sqlx::Error) -> StoreError {
    StoreError::Unavailable { backend: "postgres", target: es_postgres::redact(url), source: e.into() }
}

/// The newest migration applied to `schema`, `None` when it has none (or does not exist).
async fn pg_version(pool: &sqlx::PgPool, schema: &str) -> Result<Option<i64>, CliError> {
    let exists: bool =
        sqlx::query_scalar("SELECT to_regclass(format('%I.es_migrations', $1::text)) IS NOT NULL")
            .bind(schema)
            .fetch_one(pool)
            .await?;
    if !exists {
        return Ok(None);
    }
    // A quoted identifier: the name checked to exist just above, its quotes doubled.
    let sql = format!("SELECT max(version)::bigint FROM \"{}\".es_migrations", schema.replace('"', "\"\""));
    Ok(sqlx::query_scalar(&sql).fetch_one(pool).await?)
}

fn pg_options(schema: &str) -> PostgresOptions {
    PostgresOptions::new().schema(schema).connect_timeout(Duration::from_secs(3))
}

fn pg_error(url: &str, schema: &str, e: StoreError) -> CliError {
    let url = es_postgres::redact(url);
    match e {
        StoreError::Unavailable { source, .. } => CliError::new(format!(
            "cannot reach PostgreSQL at {url}: {source}. Is the server running, and the URL right (postgres://USER@HOST:PORT/DATABASE)?"
        )),
        StoreError::Backend { source, .. } => CliError::new(format!("schema {schema} at {url}: {source}")),
        other => CliError::new(format!("schema {schema} at {url}: {other}")),
    }
}

fn sqlite_error(path: &str, e: StoreError) -> CliError {
    match e {
        StoreError::Backend { source, .. } if source.is::<es_sqlite::MigrateError>() => {
            CliError::new(format!("{path}: {source} (es-cli {})", env!("CARGO_PKG_VERSION")))
        }
        StoreError::Unavailable { source, .. } | StoreError::Backend { source, .. } => {
            CliError::new(format!("cannot open the SQLite store at {path}: {source}"))
        }
        other => CliError::new(format!("cannot open the SQLite store at {path}: {other}")),
    }
}
