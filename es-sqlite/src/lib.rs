//! An [`EventStore`](es_core::EventStore) on SQLite: embedded, durable, zero set-up.
//!
//! [`SqliteStore::open`] creates the file and its schema (or upgrades an older one) and is
//! ready at once. Appends are serialized through one writer connection, so positions are
//! gap-free and in commit order; see [`SqliteStore`] for durability settings.
//! [`SqliteStore::open_read_only`] opens a file for looking inside, never writing or migrating.
//!
//! ```
//! use es_core::{EventStore, ExpectedVersion, NewEvent};
//! use es_sqlite::SqliteStore;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = tempfile::tempdir()?;
//! let store = SqliteStore::open(dir.path().join("bank.db")).await?;
//! let opened = NewEvent::new("AccountOpened", 1, serde_json::json!({ "owner": "ann" }));
//! store.append("Account-ann", ExpectedVersion::NoStream, vec![opened]).await?;
//! drop(store);
//!
//! // The events are in the file: open it again and read them.
//! let store = SqliteStore::open(dir.path().join("bank.db")).await?;
//! let events = store.read_stream("Account-ann", 1, 100).await?;
//! assert_eq!(events[0].name, "AccountOpened");
//! # Ok(())
//! # }
//! ```

mod append;
mod boundary;
mod dead_letters;
mod error;
pub mod inspect;
mod keys;
mod leases;
mod links;
mod rewrite;
mod rows;
mod schema;
mod side_tables;
mod store;
mod turn;

pub use schema::{MigrateError, CURRENT as SCHEMA_VERSION};
pub use store::{Durability, SqliteStore};
pub use turn::SqliteTurn;
