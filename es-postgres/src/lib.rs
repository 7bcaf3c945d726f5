//! An [`EventStore`](es_core::EventStore) on PostgreSQL: the store many processes and machines
//! share.
//!
//! ```no_run
//! use es_core::{EventStore, ExpectedVersion, NewEvent};
//! use es_postgres::PostgresStore;
//!
//! # async fn f() -> Result<(), es_core::StoreError> {
//! let store = PostgresStore::connect("postgres://postgres@127.0.0.1:5432/test").await?;
//! let opened = NewEvent::new("AccountOpened", 1, serde_json::json!({ "owner": "ann" }));
//! store.append("Account-ann", ExpectedVersion::NoStream, vec![opened]).await?;
//! # Ok(()) }
//! ```
//!
//! # Schema
//!
//! [`PostgresStore::connect`] and [`PostgresStore::from_pool`] create the tables in schema
//! `public`; [`PostgresOptions::schema`] picks another (one tenant per schema). Migrations are
//! versioned in `<schema>.es_migrations` and applied under an advisory lock, so processes that
//! start together migrate once. Events live in `<schema>.es_events`, unique on
//! `(stream, stream_version)` and on `event_id`; payloads and metadata are `json` (kept as
//! written), times `timestamptz`.
//!
//! # One round trip per append
//!
//! An append is a single `SELECT * FROM <schema>.es_append(..)` call carrying the whole batch in
//! arrays: the idempotency lookup, the version check and the insert run inside the server.
//! Reads are one prepared statement each.
//!
//! # The global order, and why readers never skip
//!
//! If positions came from a sequence at insert time, a transaction could take position 10,
//! another take 11 and commit first, and a reader following `read_all` would see 11, move on, and
//! never see 10 when it commits. (Marten, Axon, Eventuous and Emmett each shipped this bug.)
//!
//! Here an append first locks the single row of `<schema>.es_head`, which holds the last position
//! handed out, and keeps the lock until it commits. The next append waits on that lock, and
//! PostgreSQL releases it only after the first transaction is committed and visible. So
//! positions are handed out in commit order: when a reader sees position N, every position below
//! N is already visible. A rolled-back append releases the lock without moving the head, so
//! positions have no holes either. The price is that appends to the whole store are serialized
//! for the length of one `es_append` call, which runs inside the server in one round trip; reads
//! never wait.

//! # Read models in tables
//!
//! A [`TableProjection`] keeps its read model in tables of the same database, and its
//! [`TableProjectionRunner`] applies each batch of events and moves the checkpoint in one
//! transaction: a crash anywhere leaves either both or neither, so each event takes effect once.

mod append;
mod error;
mod local;
mod rows;
mod schema;
mod side_tables;
mod signal;
mod store;
mod table_projection;

pub use local::{how_to_start, url_from_env, LOCAL_URL};
pub use store::{redact, PostgresOptions, PostgresStore};
pub use table_projection::{TableProjection, TableProjectionRunner};
