//! Testing support for the es event-sourcing framework.
//!
//! - Given / when / then for every aggregate, with nothing to write per aggregate:
//!
//! ```
//! use es_core::{Aggregate, Apply, Event, Handle};
//! use es_testing::prelude::*;
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
//! pub struct Opened;
//! #[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
//! pub struct Deposited { pub amount: u64 }
//!
//! #[derive(Debug, PartialEq)]
//! pub enum AccountError { NotOpen }
//!
//! #[derive(Aggregate, Default, Debug)]
//! #[aggregate(events(Opened, Deposited), error = AccountError)]
//! pub struct Account { open: bool, balance: u64 }
//! impl Apply<Opened> for Account { fn apply(&mut self, _: &Opened) { self.open = true } }
//! impl Apply<Deposited> for Account { fn apply(&mut self, e: &Deposited) { self.balance += e.amount } }
//!
//! pub struct Deposit(u64);
//! impl Handle<Deposit> for Account {
//!     fn handle(&self, cmd: &Deposit) -> Result<Vec<AccountEvent>, AccountError> {
//!         if !self.open { return Err(AccountError::NotOpen) }
//!         Ok(vec![Deposited { amount: cmd.0 }.into()])
//!     }
//! }
//!
//! Account::given((Opened,))
//!     .when(Deposit(10))
//!     .then((Deposited { amount: 10 },))
//!     .then_state(|account| assert_eq!(account.balance, 10));
//! Account::given_nothing().when(Deposit(10)).then_error(AccountError::NotOpen);
//! ```
//!
//! A failing assertion prints the given history, the command, and expected and actual side by
//! side with the first difference marked, at the test's own line. Every given and produced
//! event also goes through the aggregate's codec, so an event that would not survive storage
//! fails its test, naming the field.
//!
//! - Decisions across streams: `University::given((course_created,)).when(Subscribe { .. })
//!   .then((subscribed,))` appends the given events with their tags to a fresh `MemoryStore` and
//!   runs the command through the real `Decisions` ([`DecisionTest`]); `.when_prepared(command,
//!   services)` for a command that calls services first.
//! - [`decision_invariants`]: rules over the states of decisions across streams (e.g. never over
//!   capacity), checked after every accepted command of random sequences run through the real
//!   `Decisions` on a `MemoryStore`.
//! - Schema evolution: [`GivenStored::given_stored`] starts a scenario from records as an older
//!   program stored them, [`assert_upcasts`] checks one upcast, [`assert_event_registry_ok`]
//!   runs the registry check in one line.
//! - Projections: `BalancePerOwner::given((opened, deposited)).then_state(|p| ..)` feeds events
//!   through the projection's real dispatch ([`ProjectionTest`]).
//! - [`invariants`]: state rules checked over random command sequences (proptest), shrunk to a
//!   minimal history printed as a ready-to-paste given / when / then test.
//! - Reactors: [`react_to`] feeds events through a reactor's real dispatch;
//!   [`CrashBeforeCheckpoint`] makes a runner die between its effects and its checkpoint.
//! - [`conformance`]: the checks every `EventStore` must pass, and [`store_conformance!`] to run
//!   them all for a store in one line.

mod advance;
pub mod conformance;
mod counting;
mod deadlines;
pub mod decision_invariants;
mod decisions;
mod events;
mod faulty;
pub mod invariants;
mod personal;
mod projection;
mod reactor;
mod report;
pub mod roundtrip;
mod scenario;
mod upcasting;

pub use advance::Advanced;
pub use counting::{CountingStore, CountingTurn};
pub use deadlines::{fired, scheduled_by, VirtualClock};
pub use decisions::{DecisionTest, GivenEvents, WhenDecided};
pub use events::IntoEvents;
pub use faulty::{Fault, FaultyStore};
pub use personal::{assert_erased, forgotten, harness_keys};
pub use projection::{IntoStored, ProjectionTest, ProjectionThen};
pub use reactor::{react_to, CrashBeforeCheckpoint};
pub use scenario::{AggregateTest, Given, Then, When};
pub use upcasting::{assert_event_registry_ok, assert_upcasts, GivenStored};

/// `use es_testing::prelude::*;` brings `given`, `given_nothing` and the scenario types.
pub mod prelude {
    pub use crate::decisions::{DecisionTest, GivenEvents, WhenDecided};
    pub use crate::events::IntoEvents;
    pub use crate::projection::{IntoStored, ProjectionTest, ProjectionThen};
    pub use crate::scenario::{AggregateTest, Given, Then, When};
    pub use crate::upcasting::{assert_event_registry_ok, assert_upcasts, GivenStored};
}

/// The proptest crate, for writing command strategies.
pub use proptest;

#[doc(hidden)]
pub mod __private {
    pub use tokio;
}
