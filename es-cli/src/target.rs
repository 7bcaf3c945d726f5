//! The store a `--store` URL names, opened with errors a person can act on.

use std::path::Path;
use std::time::Duration;

use es_postgres::{PostgresOptions, PostgresStore};
use es_sqlite::SqliteStore;

use crate::error::CliError;

/// An opened store.
pub enum Target {
    /// `sqlite:PATH`
    Sqlite(SqliteStore),
    /// `postgres://...`
    Postgres(PostgresStore),
}

/// Opens the store `url` names (`sqlite:PATH`, `postgres://USER@HOST:PORT/DB`, with `schema`
/// for PostgreSQL). A SQLite file is never created: a missing one is an error.
pub async fn open(url: &str, schema: &str) -> Result<Target, CliError> {
    if let Some(path) = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")) {
        return open_sqlite(path).await.map(Target::Sqlite);
    }
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let options = PostgresOptions::new().schema(schema).connect_timeout(Duration::from_secs(3));
        return options.connect(url).await.map(Target::Postgres).map_err(|e| {
            let why = match e {
                es_core::StoreError::Unavailable { source, .. } => source.to_string(),
                other => other.to_string(),
            };
            if why.contains("newer than this program") {
                return CliError::new(format!("schema {schema} at {}: {why}", es_postgres::redact(url)));
            }
            CliError::new(format!(
                "cannot reach PostgreSQL at {}: {why}. Is the server running, and the URL right (postgres://USER@HOST:PORT/DATABASE)?",
                es_postgres::redact(url)
            ))
        });
    }
    Err(CliError::new(format!(
        "unknown store URL `{url}`: use sqlite:PATH (a SQLite file) or postgres://USER@HOST:PORT/DATABASE"
    )))
}

async fn open_sqlite(path: &str) -> Result<SqliteStore, CliError> {
    if path.is_empty() {
        return Err(CliError::new("sqlite: needs a path, as in sqlite:bank.db"));
    }
    if !Path::new(path).is_file() {
        return Err(CliError::new(format!(
            "no event store at {path}: the file does not exist (check the path; `cargo run --example bank` creates bank.db)"
        )));
    }
    SqliteStore::open(path).await.map_err(|e| {
        let why = e.to_string();
        if why.contains("newer than this program") {
            CliError::new(format!("{path}: {why} (es-cli {})", env!("CARGO_PKG_VERSION")))
        } else {
            CliError::new(format!("cannot open the SQLite store at {path}: {why}"))
        }
    })
}
