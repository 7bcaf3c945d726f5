//! Integration events: the public contract a service publishes to others, versioned on its own
//! and mapped from its domain events, so that consumers never depend on its private history.
//!
//! Declare each public event with `#[derive(IntegrationEvent)]` (its own stable name and
//! version), and the mapping with `#[derive(Contract)]`: list the domain events it reads and
//! write one `impl Translate<E>` for each; a domain event may map to none, one or several
//! integration events. A relay (`es-nats`) publishes what the contract yields, after commit.
//!
//! ```
//! use es_core::integration::{Contract, MapError, Outgoing, Translate};
//! use es_core::{Contract, Event, EventContext, IntegrationEvent};
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
//! pub struct MoneyDeposited { pub amount: u64, pub memo: String }
//!
//! /// What other services see: no memo, and a name and version of its own.
//! #[derive(IntegrationEvent, Serialize, Deserialize, Debug, Clone, PartialEq)]
//! #[integration(name = "bank.PaymentReceived", version = 1)]
//! pub struct PaymentReceived { pub account: String, pub amount: u64 }
//!
//! #[derive(Contract, Default)]
//! #[contract(events(MoneyDeposited))]
//! pub struct BankContract;
//!
//! impl Translate<MoneyDeposited> for BankContract {
//!     fn translate(&self, e: &MoneyDeposited, at: &EventContext<'_>) -> Result<Outgoing, MapError> {
//!         if e.amount == 0 {
//!             return Ok(Outgoing::none());
//!         }
//!         Outgoing::one(PaymentReceived { account: at.stream.into(), amount: e.amount })
//!     }
//! }
//!
//! let stored = es_core::StoredEvent {
//!     id: es_core::Uuid::new_v4(),
//!     stream: "Account-ann".into(),
//!     stream_version: 2,
//!     position: 7,
//!     cursor: es_core::Cursor::at(7),
//!     name: "MoneyDeposited".into(),
//!     schema_version: 1,
//!     payload: serde_json::value::to_raw_value(&serde_json::json!({ "amount": 5, "memo": "rent" })).unwrap(),
//!     metadata: Default::default(),
//!     recorded_at: std::time::SystemTime::now(),
//! };
//! let out = BankContract.translate_event(&stored.as_ref())?;
//! assert_eq!(out.messages()[0].name, "bank.PaymentReceived");
//! assert_eq!(out.messages()[0].payload.get(), r#"{"account":"Account-ann","amount":5}"#);
//! # Ok::<_, MapError>(())
//! ```

use serde::Serialize;
use serde_json::value::RawValue;

use crate::store::DecodeError;
use crate::store::{EventContext, EventRef};

/// A public event: a stable name and a version of its own, independent of the domain events it
/// is mapped from. Derive it with `#[derive(IntegrationEvent)]`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an integration event",
    label = "not part of the public contract",
    note = "domain events are not published as they are: declare the public shape with #[derive(IntegrationEvent, Serialize)] and map to it in `impl Translate<..>`"
)]
pub trait IntegrationEvent: Serialize {
    /// The public name (consumers subscribe to it).
    const NAME: &'static str;
    /// The version of this shape of it, from 1.
    const VERSION: u32;
}

/// One integration event, serialized, ready to publish.
#[derive(Debug, Clone)]
pub struct Message {
    /// Its public name.
    pub name: &'static str,
    /// Its version.
    pub version: u32,
    /// The JSON payload.
    pub payload: Box<RawValue>,
}

/// What one domain event maps to: none, one or several integration events.
#[derive(Debug, Clone, Default)]
pub struct Outgoing(Vec<Message>);

impl Outgoing {
    /// Nothing to publish.
    pub fn none() -> Self {
        Outgoing(Vec::new())
    }

    /// One integration event.
    pub fn one<T: IntegrationEvent>(event: T) -> Result<Self, MapError> {
        Self::none().and(event)
    }

    /// Adds `event` (it serializes now: a failure is a [`MapError`]).
    pub fn and<T: IntegrationEvent>(mut self, event: T) -> Result<Self, MapError> {
        self.0.push(message(&event)?);
        Ok(self)
    }

    /// The messages, in order.
    pub fn messages(&self) -> &[Message] {
        &self.0
    }

    /// The messages, owned.
    pub fn into_messages(self) -> Vec<Message> {
        self.0
    }
}

fn message<T: IntegrationEvent>(event: &T) -> Result<Message, MapError> {
    let payload = serde_json::value::to_raw_value(event)
        .map_err(|e| MapError::new(format!("integration event `{}` does not serialize: {e}", T::NAME)))?;
    Ok(Message { name: T::NAME, version: T::VERSION, payload })
}

/// Why a domain event could not be mapped: it is parked, not skipped.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct MapError(String);

impl MapError {
    /// An error that says `why`.
    pub fn new(why: impl Into<String>) -> Self {
        MapError(why.into())
    }
}

impl From<DecodeError> for MapError {
    fn from(e: DecodeError) -> Self {
        MapError(e.to_string())
    }
}

/// The mapping from domain events to integration events. Derive it with `#[derive(Contract)]`.
pub trait Contract: Send + Sync + 'static {
    /// Whether the contract reads events stored under `name` (the others are skipped unread).
    fn handles(name: &str) -> bool;

    /// Decodes `event` and maps it with the matching `Translate<E>`; nothing for an event the
    /// contract does not read. Generated.
    fn translate_event(&self, event: &EventRef<'_>) -> Result<Outgoing, MapError>;
}

/// How the contract maps the domain event `E`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` does not translate the event `{E}`",
    label = "`{E}` is listed in #[contract(events(..))] but has no `impl Translate<{E}> for {Self}`",
    note = "add `impl es_core::integration::Translate<{E}> for {Self} {{ fn translate(&self, event: &{E}, at: &EventContext<'_>) -> Result<Outgoing, MapError> {{ .. }} }}`"
)]
pub trait Translate<E> {
    /// The integration events `event` maps to, recorded as `at` says.
    fn translate(&self, event: &E, at: &EventContext<'_>) -> Result<Outgoing, MapError>;
}
