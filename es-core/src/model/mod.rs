//! The event model: [`Event`]s and the [`Aggregate`]s that fold them ([`Apply`]) and decide
//! ([`Handle`]), the codec between typed events and stored records, upcasting of old schema
//! versions, the registry of every event type in the program, integration contracts and the
//! ids of idempotent commands. Built on [`crate::store`] (records) and [`crate::personal`]
//! (sealing personal fields while encoding and opening them while decoding).

mod aggregate;
pub mod codec;
pub mod command;
mod decide;
pub(crate) mod derive_support;
mod event;
pub mod integration;
pub(crate) mod keyed;
mod recorded;
pub mod registry;
mod state;
pub mod upcast;

pub use aggregate::{Aggregate, Apply, Handle};
pub use decide::{Decide, HandlePrepared, Prepare, PrepareDecision};
pub use event::{decode_current, Event, EventEnum, EventSet};
pub use recorded::Recorded;
pub use state::{State, States};
