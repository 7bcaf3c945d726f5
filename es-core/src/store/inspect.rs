//! [`Inspect`]: what operators read from a store that the traits the application runs on do not
//! give: its streams, how many events of each name it holds, which consumers keep a checkpoint or
//! parked events, and its schema version.
//!
//! Each store crate implements it beside its own schema, so that tools (`es`) never query a
//! store's tables themselves.
//!
//! ```
//! use es_core::inspect::Inspect;
//! use es_core::{EventStore, ExpectedVersion, MemoryStore, NewEvent};
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let store = MemoryStore::new();
//! let e = NewEvent::new("Pinged", 1, serde_json::json!({}));
//! store.append("Pinger-1", ExpectedVersion::NoStream, vec![e]).await?;
//! let streams = store.streams("Pinger-").await?;
//! assert_eq!((streams[0].stream.as_str(), streams[0].version), ("Pinger-1", 1));
//! assert_eq!(store.event_names().await?[0].events, 1);
//! # Ok::<_, es_core::StoreError>(())
//! # }).unwrap();
//! ```

use std::future::Future;
use std::time::SystemTime;

use super::EventStore;
use super::StoreError;

/// A stream as [`Inspect::streams`] lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamInfo {
    /// The stream's name.
    pub stream: String,
    /// Its version: the version of its last event, which is also how many events it holds.
    pub version: u64,
    /// When its last event was recorded.
    pub last_recorded: SystemTime,
}

/// How many stored events carry one name ([`Inspect::event_names`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameCount {
    /// The stored event name.
    pub name: String,
    /// How many events carry it, over every stream and schema version.
    pub events: u64,
}

/// What operators read from a store beside its events: a side trait of [`EventStore`].
///
/// Every list is sorted by name in byte order (the order of Rust's `str`), whatever the
/// database's collation, so that tools show every store the same way.
pub trait Inspect: EventStore {
    /// The store's name in what tools print: [`EventStore::BACKEND`], except for a store that
    /// chooses its backend when it is opened (`es_cli::AnyStore`), which names the one it opened.
    fn backend(&self) -> &'static str {
        Self::BACKEND
    }

    /// The streams whose name starts with `prefix` (compared literally, case and all: no
    /// wildcards), by name. `""` lists every stream.
    fn streams(&self, prefix: &str) -> impl Future<Output = Result<Vec<StreamInfo>, StoreError>> + Send;

    /// Every stored event name with its count, by name.
    fn event_names(&self) -> impl Future<Output = Result<Vec<NameCount>, StoreError>> + Send;

    /// The names of the projections, reactors and relays that keep a checkpoint, by name.
    fn checkpoint_names(&self) -> impl Future<Output = Result<Vec<String>, StoreError>> + Send;

    /// The names of the reactors and relays with parked events, by name, each once.
    fn parked_consumers(&self) -> impl Future<Output = Result<Vec<String>, StoreError>> + Send;

    /// The version of the store's schema (its migrations applied); `None` for a store without
    /// one (in memory).
    fn schema_version(&self) -> impl Future<Output = Result<Option<i64>, StoreError>> + Send;
}
