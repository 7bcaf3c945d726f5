//! Event sourcing with derive macros.
//!
//! Declare events as plain structs with `#[derive(Event)]`, the aggregate with
//! `#[derive(Aggregate)]`, state changes as [`Apply`] and decisions as [`Handle`]; then run
//! commands through a [`Repository`] on any [`EventStore`].
//!
//! - Writing: [`Repository::execute`] (queues per aggregate, tries optimistically, then takes a
//!   [`Turns`] turn on the stream across processes), [`Repository::with_snapshots`],
//!   [`Repository::load_at`] / [`Repository::load_as_of`].
//! - Schema evolution: `#[event(version, upcast_from, renamed_from)]`, [`json_upcaster!`] and the
//!   [`registry`] check.
//! - Reacting: `#[derive(Reactor)]` with [`React`], [`ReactorRunner`] (retries, [`DeadLetters`],
//!   effects exactly once in effect through [`ReactContext::caused`]); idempotent commands with
//!   [`Metadata::command_id`].
//! - Reading: `#[derive(Projection)]` with [`Project`], [`ProjectionRunner`] (checkpoints),
//!   [`ProjectionWorker`] (one process at a time, under a fenced [`Lease`]), [`subscribe`]
//!   (history, then live), all following the global order by [`Cursor`].
//! - Trust: [`integrity`] chains every event to the last of its stream with SHA-256 and
//!   verifies it; [`personal`] encrypts personal fields per subject so that `forget` erases them.
//! - Stores: [`MemoryStore`] here; `es-sqlite` and `es-postgres` beside. [`EventStore`] is six
//!   methods that lend [`EventRef`]s; [`SnapshotStore`], [`CheckpointStore`], [`Leases`] and
//!   [`Turns`] stand beside it; [`backend`] holds what store implementations share.
//!
//! ```
//! use es_core::{Aggregate, Apply, Event, Handle, MemoryStore, Repository};
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
//! pub struct AccountOpened { pub owner: String }
//!
//! #[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
//! pub struct MoneyDeposited { pub amount: u64 }
//!
//! #[derive(Debug, PartialEq, thiserror::Error)]
//! pub enum AccountError {
//!     #[error("the account is not open")]
//!     NotOpen,
//! }
//!
//! #[derive(Aggregate, Default, Debug)]
//! #[aggregate(events(AccountOpened, MoneyDeposited), error = AccountError)]
//! pub struct Account { pub opened: bool, pub balance: u64 }
//!
//! impl Apply<AccountOpened> for Account {
//!     fn apply(&mut self, _: &AccountOpened) { self.opened = true; }
//! }
//! impl Apply<MoneyDeposited> for Account {
//!     fn apply(&mut self, e: &MoneyDeposited) { self.balance += e.amount; }
//! }
//!
//! pub struct Open { pub owner: String }
//! pub struct Deposit { pub amount: u64 }
//!
//! impl Handle<Open> for Account {
//!     fn handle(&self, cmd: &Open) -> Result<Vec<AccountEvent>, AccountError> {
//!         Ok(vec![AccountOpened { owner: cmd.owner.clone() }.into()])
//!     }
//! }
//! impl Handle<Deposit> for Account {
//!     fn handle(&self, cmd: &Deposit) -> Result<Vec<AccountEvent>, AccountError> {
//!         if !self.opened { return Err(AccountError::NotOpen); }
//!         Ok(vec![MoneyDeposited { amount: cmd.amount }.into()])
//!     }
//! }
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let accounts = Repository::<Account, _>::new(MemoryStore::new());
//! accounts.execute("ann", Open { owner: "ann".into() }).await?;
//! accounts.execute("ann", Deposit { amount: 10 }).await?;
//! assert!(matches!(
//!     accounts.execute("bob", Deposit { amount: 5 }).await,
//!     Err(es_core::CommandError::Rejected(AccountError::NotOpen))
//! ));
//! let ann = accounts.load("ann").await?;
//! assert_eq!((ann.state.balance, ann.version), (10, 2));
//! # Ok::<_, Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```

// Lets the derives' `::es_core::..` paths resolve inside this crate's own tests.
extern crate self as es_core;

mod aggregate;
pub mod backend;
pub mod checkpoint;
pub mod codec;
pub mod command;
pub mod consume;
pub mod cursor;
pub mod dead_letter;
mod derive_support;
mod error;
mod event;
mod expected;
mod forward;
pub mod idempotency;
pub mod inspect;
pub mod integration;
pub mod integrity;
pub mod lease;
mod memory;
mod metadata;
pub mod personal;
pub mod projection;
pub mod reactor;
mod reactor_runner;
mod record;
mod recorded;
pub mod registry;
mod repository;
mod retry;
mod runner;
mod signal;
pub mod snapshot;
mod store;
mod subscription;
mod time;
mod turn;
pub mod upcast;
pub mod worker;

pub use aggregate::{Aggregate, Apply, Handle};
pub use checkpoint::{Checkpoint, CheckpointStore};
pub use consume::{Consume, ConsumeError, Feed, FeedError};
pub use cursor::Cursor;
pub use dead_letter::{DeadLetters, Parked};
pub use error::{DecodeError, DecodeFailure, EncodeError, EncodeFailure, StoreError};
pub use event::{Event, EventEnum};
pub use expected::ExpectedVersion;
pub use lease::{Lease, Leases};
pub use memory::{MemoryStore, MemoryTurn};
pub use metadata::Metadata;
pub use projection::{Project, Projection};
pub use reactor::{React, ReactContext, ReactError, Reactor};
pub use reactor_runner::{OnFailure, ReactorError, ReactorRunner};
pub use record::{Appended, AppendedEvent, EncodedEvent, EventContext, EventRef, NewEvent, StoredEvent};
pub use recorded::Recorded;
pub use repository::{CommandError, Loaded, Repository};
pub use retry::RetryPolicy;
pub use runner::ProjectionRunner;
pub use signal::{AppendSignal, AppendWatch, WeakAppendSignal};
pub use snapshot::{Snapshot, SnapshotStore};
pub use store::{EventStore, Lend};
pub use subscription::{subscribe, Subscription};
pub use turn::{LocalQueue, LocalQueues, LocalTurn, Turn, Turns};
pub use worker::ProjectionWorker;

/// The derives, beside the traits of the same name (as `serde::Serialize` is both).
pub use es_macros::{Aggregate, Contract, Event, IntegrationEvent, Projection, Reactor};

pub use uuid::Uuid;

/// What the derives' generated code names. Not a public API: it may change in any release.
#[doc(hidden)]
pub mod __private {
    pub use crate::aggregate::{Aggregate, Apply};
    pub use crate::codec::{decode_version, RenamedField};
    pub use crate::derive_support::{decode_one, earlier_same_name, upcast_names_match, ConstMessage};
    pub use crate::error::{DecodeError, DecodeFailure, EncodeError};
    pub use crate::event::{decode_current, Event, EventEnum};
    pub use crate::integration::{Contract, IntegrationEvent, MapError, Outgoing, Translate};
    pub use crate::personal::{PersonalField, PersonalFields};
    pub use crate::projection::{Project, Projection};
    pub use crate::reactor::{React, ReactContext, ReactError, Reactor};
    pub use crate::record::{EncodedEvent, EventContext, EventRef};
    pub use crate::registry::{EventRegistration, PersonalRegistration};
    pub use inventory;
    pub use serde_json;
    // Not in `::core`: named from here so the output never spells `::std`.
    pub use std::string::{String, ToString};
}

/// The README's tour, compiled and run as a doctest.
#[doc = include_str!("../../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
