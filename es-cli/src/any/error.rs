//! [`OpenError`]: why a store URL could not be opened, in a sentence that says what to do.

use es_core::StoreError;

/// Why [`AnyOptions::open`](super::AnyOptions::open) (or `migrate`) failed. Each variant keeps
/// the store's own error as its source, for callers that match on it; the message is one line
/// that says what to check.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// The URL names no store this program opens.
    #[error(
        "unknown store URL `{url}`: use sqlite:PATH (a SQLite file), postgres://USER@HOST:PORT/DATABASE or nats://HOST:PORT[,nats://...][?stream=NAME&replicas=N] (or memory: for an empty store in this process)"
    )]
    UnknownUrl {
        /// The URL as given.
        url: String,
    },
    /// `sqlite:` without a path.
    #[error("sqlite: needs a path, as in sqlite:bank.db")]
    NoPath,
    /// The SQLite file does not exist, and the access does not create it.
    #[error(
        "no event store at {path}: the file does not exist (check the path; `cargo run --example bank` creates bank.db)"
    )]
    NoFile {
        /// The path as given.
        path: String,
    },
    /// The SQLite file's schema is not this program's (newer, older and opened without
    /// migrating, or not an event store's).
    #[error("{path}: {source} (es-cli {version})", version = env!("CARGO_PKG_VERSION"))]
    SqliteSchema {
        /// The path as given.
        path: String,
        /// What is wrong with its schema.
        source: Box<es_sqlite::MigrateError>,
    },
    /// The in-memory store failed.
    #[error("the in-memory store: {source}")]
    Memory {
        /// What it reported.
        source: Box<StoreError>,
    },
    /// The SQLite file could not be opened or read.
    #[error("cannot open the SQLite store at {path}: {}", cause(.source))]
    Sqlite {
        /// The path as given.
        path: String,
        /// What the store reported.
        source: Box<StoreError>,
    },
    /// The PostgreSQL server could not be reached.
    #[error(
        "cannot reach PostgreSQL at {url}: {}. Is the server running, and the URL right (postgres://USER@HOST:PORT/DATABASE)?",
        cause(.source)
    )]
    Unreachable {
        /// The URL, without its password.
        url: String,
        /// What the store reported.
        source: Box<StoreError>,
    },
    /// The PostgreSQL schema could not be opened: missing, at another version, a name the
    /// store does not accept, or a failed query.
    #[error("schema {schema} at {url}: {}", cause(.source))]
    Postgres {
        /// The URL, without its password.
        url: String,
        /// The schema's name as given.
        schema: String,
        /// What the store reported (a [`es_postgres::SchemaError`] inside, for schema problems).
        source: Box<StoreError>,
    },
    /// A `nats://` URL that does not parse.
    #[error("bad store URL `{url}`: {problem} (nats://HOST:PORT[,nats://...][?stream=NAME&replicas=N])")]
    NatsUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        problem: String,
    },
    /// No NATS server answered at the URL.
    #[error(
        "cannot reach NATS at {url}: {}. Is nats-server 2.12 or newer running with JetStream (`nats-server -js`)?",
        cause(.source)
    )]
    NatsUnreachable {
        /// The URL as given.
        url: String,
        /// What the store reported.
        source: Box<StoreError>,
    },
    /// The JetStream store could not be opened: its stream missing (opened without creating),
    /// unfit, or a server too old.
    #[error("the JetStream store at {url} (stream {stream}): {}", cause(.source))]
    Nats {
        /// The URL as given.
        url: String,
        /// The events stream's name.
        stream: String,
        /// What the store reported (an `es_nats::JetStreamError` inside).
        source: Box<StoreError>,
    },
}

/// What to print of a store's error: the driver's or the schema check's own words for a store
/// that could not be reached or opened (the store's name and target are in the message already).
fn cause(e: &StoreError) -> &dyn std::fmt::Display {
    match e {
        StoreError::Unavailable { source, .. } | StoreError::Backend { source, .. } => source,
        other => other,
    }
}

impl OpenError {
    /// An error opening the SQLite file at `path`: a schema problem on its own, the rest as is.
    pub(super) fn sqlite(path: &str, e: StoreError) -> Self {
        let path = path.to_owned();
        match e {
            StoreError::Backend { backend, source } => match source.downcast::<es_sqlite::MigrateError>() {
                Ok(schema) => OpenError::SqliteSchema { path, source: schema },
                Err(source) => {
                    OpenError::Sqlite { path, source: Box::new(StoreError::Backend { backend, source }) }
                }
            },
            other => OpenError::Sqlite { path, source: Box::new(other) },
        }
    }

    /// An error opening the JetStream store at `url`: unreachable, or the stream's problem.
    #[cfg(feature = "nats")]
    pub(super) fn nats(url: &str, stream: &str, e: StoreError) -> Self {
        let url = url.to_owned();
        match e {
            e @ StoreError::Unavailable { .. } => OpenError::NatsUnreachable { url, source: Box::new(e) },
            e => OpenError::Nats { url, stream: stream.to_owned(), source: Box::new(e) },
        }
    }

    /// An error opening `schema` at `url`: unreachable, or the schema's problem.
    pub(super) fn postgres(url: &str, schema: &str, e: StoreError) -> Self {
        let url = es_postgres::redact(url);
        match e {
            e @ StoreError::Unavailable { .. } => OpenError::Unreachable { url, source: Box::new(e) },
            e => OpenError::Postgres { url, schema: schema.to_owned(), source: Box::new(e) },
        }
    }
}
