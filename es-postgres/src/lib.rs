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
//! `public`; [`PostgresOptions::schema`] picks another (one tenant per schema; a
//! [`SchemaName`] is 1 to 63 ASCII letters, digits and underscores, so a name that comes from a
//! user never reaches SQL unchecked). Migrations are versioned in `<schema>.es_migrations` and
//! applied under an advisory lock, so processes that start together migrate once;
//! [`PostgresOptions::read_only`] opens without creating or migrating anything. Events live in `<schema>.es_events`, unique on
//! `(stream, stream_version)` and on `event_id`; payloads and metadata are `json` (kept as
//! written), times `timestamptz`.
//!
//! # One round trip per append
//!
//! An append is a single `SELECT * FROM <schema>.es_append(..)` call carrying the whole batch in
//! arrays: the idempotency lookup, the version check and the insert run inside the server.
//! Reads are one prepared statement each.
//!
//! # Appends commit in parallel; readers never skip
//!
//! Appends to different streams run and commit concurrently: positions come from an identity
//! column, and no lock is held to commit except a per-stream advisory lock, so appends to the
//! *same* stream take turns (their versions must be consecutive) while others go on. Positions
//! are unique but are handed out at insert, not at commit: a transaction can take position 10,
//! another take 11 and commit first. A reader that followed positions would see 11, move on, and
//! never see 10 when it commits. (Marten, Axon, Eventuous and Emmett each shipped this bug, or
//! fixed it with a timeout that can still lose events.)
//!
//! So every event is also stamped with its transaction's id (`commit_no`,
//! `pg_current_xact_id()`), and the global order readers follow is `(commit_no, position)`:
//! [`Cursor`](es_core::Cursor)s hold both. A reader takes only events whose transaction is
//! older than the oldest transaction still running, `pg_snapshot_xmin(pg_current_snapshot())`,
//! read in the same statement:
//!
//! ```sql
//! WHERE (commit_no, position) > ($commit, $position)
//!   AND commit_no < pg_snapshot_xmin(pg_current_snapshot())
//! ORDER BY commit_no, position
//! ```
//!
//! Why nothing is skipped. Let `x` be the horizon a read used. Every transaction with an id
//! below `x` had ended when the read's snapshot was taken, so the events with `commit_no < x`
//! that the read could see are all that will ever exist below `x`: committed ones are visible,
//! rolled-back ones never will be. Any event that commits later belongs to a transaction with
//! an id `>= x`, so it sorts after everything the read returned, and a reader that goes on from
//! its last cursor finds it. Ids are never reused, so nothing appears twice; a rolled-back
//! append leaves an unused position that no reader waits on. Events stored before this scheme
//! (migration 6) keep their positions with `commit_no = 0` and stay first, in the same order.
//!
//! The caveat: the horizon is the server's, not the schema's. One long *writing* transaction,
//! in any database of the server, holds every follower back until it ends (read-only
//! transactions do not). [`PostgresStore::reader_blockers`] names the open writing transactions
//! (pid, age, state, query), oldest first, and a reader that waits on one longer than
//! [`PostgresOptions::reader_wait_warning`] (10 s by default) logs a `tracing` warning once.
//! Keep transactions that write to the server short.
//!
//! # Sessions
//!
//! Turns and appends rely on READ COMMITTED: a turn waits for its stream's lock, then must see
//! what the turn before it appended. Every transaction the store begins says so
//! (`BEGIN ISOLATION LEVEL READ COMMITTED`), and the pool [`PostgresOptions::connect`] makes
//! runs its sessions at that level, whatever the server's or the role's default. The same pool
//! sets `lock_timeout` (10 s), `idle_in_transaction_session_timeout` (60 s) and the server's
//! TCP keepalives (30 s) by default, so a client that hangs or is cut off mid-transaction
//! loses its locks within a minute or two instead of holding a stream's turns and every
//! reader of the global order for hours; see [`PostgresOptions`]. sqlx 0.8 has no client-side
//! keepalive: a client whose server vanished notices when the operating system gives up on
//! the connection.

//! # Read models in tables
//!
//! A [`TableProjection`] keeps its read model in tables of the same database, and its
//! [`TableProjectionRunner`] applies each batch of events and moves the checkpoint in one
//! transaction: a crash anywhere leaves either both or neither, so each event takes effect once.

mod append;
mod boundary;
mod dead_letters;
mod error;
mod horizon;
pub mod inspect;
mod keys;
mod leases;
mod links;
mod local;
mod notify;
mod options;
mod redact;
mod rewrite;
mod rows;
mod schema;
mod session;
mod side_tables;
mod signal;
mod store;
mod table_projection;
mod turn;

pub use horizon::ReaderBlocker;
pub use local::{how_to_start, url_from_env, LOCAL_URL};
pub use options::PostgresOptions;
pub use redact::redact;
pub use schema::{NameProblem, SchemaError, SchemaName, SchemaNameError};
pub use store::PostgresStore;
pub use table_projection::{TableProjection, TableProjectionRunner};
pub use turn::PgTurn;
