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
//!   methods that lend [`EventRef`]s; [`SnapshotStore`], [`CheckpointStore`], [`Leases`],
//!   [`Turns`], [`personal::Privacy`] and [`integrity::Links`] stand beside it; [`backend`] holds
//!   what store implementations share, [`forward_store_traits!`] lets a wrapper forward them.
//!
//! The crate is in wings, each naming only the wings before it (no import cycles; checked by
//! `scripts/import-cycles`): [`store`] (the seam, its records and errors) < [`personal`] (keys,
//! sealed values) < [`model`] (events, aggregates, codec, upcasting, registry) < [`integrity`]
//! (the hash chain) < [`repository`] (commands) < [`consume`] (the one consumer lifecycle) <
//! [`shredding`] (forgetting, sealing old plain text) < the memory store.
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

// The wings, lowest first: each names only the wings before it (scripts/import-cycles checks).
pub mod consume;
mod forward;
pub mod integrity;
mod memory;
pub mod model;
pub mod personal;
pub mod repository;
pub mod shredding;
pub mod store;

// The public paths of release 0.x, kept: each is one wing's module.
pub use consume::{projection, reactor, worker};
pub use model::{codec, command, integration, registry, upcast};
pub use store::{backend, checkpoint, cursor, dead_letter, idempotency, inspect, lease, snapshot};

pub use consume::{subscribe, Consume, ConsumeError, Feed, FeedError, Project, Projection, Subscription};
pub use consume::{
    OnFailure, ProjectionRunner, ProjectionWorker, React, ReactContext, ReactError, Reactor, ReactorError,
    ReactorRunner,
};
pub use memory::{MemoryStore, MemoryTurn};
pub use model::{
    Aggregate, Apply, Decide, Event, EventEnum, EventSet, Handle, HandlePrepared, Prepare, PrepareDecision,
    Recorded, State, States,
};
pub use repository::{CommandError, Decisions, Loaded, Repository, RetryPolicy, Serviced, ServicedDecisions};
pub use store::{
    AppendCondition, AppendSignal, AppendWatch, Appended, AppendedEvent, Boundaries, Checkpoint,
    CheckpointStore, Cursor, DeadLetters, DecodeError, DecodeFailure, EncodeError, EncodeFailure,
    EncodedEvent, EventContext, EventRef, EventStore, ExpectedVersion, Lease, Leases, Lend, LocalQueue,
    LocalQueues, LocalTurn, Metadata, NewEvent, Parked, Query, QueryItem, Seen, Snapshot, SnapshotStore,
    StoreError, StoredEvent, Turn, Turns, WeakAppendSignal,
};

/// The derives, beside the traits of the same name (as `serde::Serialize` is both).
pub use es_macros::{Aggregate, Contract, Event, EventSet, IntegrationEvent, Projection, Reactor, State};

pub use uuid::Uuid;

/// What the derives' generated code names. Not a public API: it may change in any release.
#[doc(hidden)]
pub mod __private {
    pub use crate::consume::reactor::{React, ReactContext, ReactError, Reactor};
    pub use crate::consume::{Project, Projection};
    pub use crate::model::codec::decode_version;
    pub use crate::model::derive_support::{
        decode_one, earlier_same_name, has_tag, upcast_names_match, ConstMessage,
    };
    pub use crate::model::integration::{Contract, IntegrationEvent, MapError, Outgoing, Translate};
    pub use crate::model::registry::{EventRegistration, PersonalRegistration};
    pub use crate::model::{decode_current, Aggregate, Apply, Event, EventEnum, EventSet, State};
    pub use crate::personal::{PersonalField, PersonalFields, RenamedField};
    pub use crate::store::{
        tag, DecodeError, DecodeFailure, EncodeError, EncodeFailure, EncodedEvent, EventContext, EventRef,
    };
    pub use inventory;
    pub use serde_json;
    // Not in `::core`: named from here so the output never spells `::std`.
    pub use std::string::{String, ToString};
    pub use std::vec::Vec;
}

/// The README's tour, compiled and run as a doctest.
#[doc = include_str!("../../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
