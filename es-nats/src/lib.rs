//! Publishes a service's integration events to NATS JetStream, after commit.
//!
//! Domain events are the service's private history; other services get a public contract
//! instead ([`es_core::integration`]): integration events with names and versions of their own,
//! mapped from domain events by a `#[derive(Contract)]` type. A [`Relay`] reads the store's
//! global order from its checkpoint, maps each event, publishes each integration event on
//! `<prefix>.<name>` with headers naming its source ([`headers`]), waits for the broker's acks,
//! and only then advances its checkpoint:
//!
//! - nothing uncommitted escapes (it reads only committed events), nothing committed is lost
//!   (the checkpoint never passes an unacknowledged message);
//! - at least once, deduplicated by the broker: every message has a `Nats-Msg-Id` derived from
//!   the event, so a redelivery within the stream's duplicate window (2 minutes by default) is
//!   dropped there, and consumers can drop one beyond it by the same id;
//! - the broker down at start or mid-run: the relay waits with backoff, warns once, and
//!   publishes everything in order once it is back;
//! - a domain event that does not map, or whose messages NATS cannot take (a subject it refuses,
//!   a message over the server's size limit, one the stream refuses to store), is parked in the
//!   store's dead letters with the reason, not skipped, and the relay goes on;
//! - stores take any UTF-8 stream name: header values built from it are escaped
//!   ([`escape_header_value`]; `Es-Stream` of `a\r\nb` is `a%0D%0Ab`), never a panic;
//! - one relay of a name publishes at a time across processes ([`Relay::run`] holds a lease).
//!
//! ```
//! use es_core::integration::{MapError, Outgoing, Translate};
//! use es_core::{Contract, Event, EventContext, EventStore, ExpectedVersion, IntegrationEvent, MemoryStore, NewEvent};
//! use es_nats::{Relay, RelayOptions};
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
//! pub struct MoneyDeposited { pub amount: u64 }
//!
//! #[derive(IntegrationEvent, Serialize, Deserialize, Debug)]
//! #[integration(name = "PaymentReceived", version = 1)]
//! pub struct PaymentReceived { pub account: String, pub amount: u64 }
//!
//! #[derive(Contract)]
//! #[contract(events(MoneyDeposited))]
//! pub struct Payments;
//!
//! impl Translate<MoneyDeposited> for Payments {
//!     fn translate(&self, e: &MoneyDeposited, at: &EventContext<'_>) -> Result<Outgoing, MapError> {
//!         Outgoing::one(PaymentReceived { account: at.stream.into(), amount: e.amount })
//!     }
//! }
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let store = MemoryStore::new();
//! let deposit = NewEvent::new("MoneyDeposited", 1, serde_json::json!({ "amount": 5 }));
//! store.append("Account-ann", ExpectedVersion::Any, vec![deposit]).await?;
//!
//! let client = es_nats::connect(&es_nats::url_from_env()).await?;
//! let prefix = format!("doc{}", es_core::Uuid::new_v4().simple());   // a stream of its own
//! let mut relay = Relay::start("payments", Payments, store, client.clone(), RelayOptions::new(&prefix)).await?;
//! assert_eq!(relay.catch_up().await?, 1);
//! assert_eq!(relay.status().await?.published, 1);
//! # async_nats::jetstream::new(client).delete_stream(prefix.to_uppercase()).await.unwrap();
//! # Ok::<_, Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```

mod broker;
mod error;
mod jetstream;
mod message;
mod options;
mod publisher;
mod relay;
mod status;
#[cfg(feature = "testing")]
pub mod testing;

pub use broker::{connect, how_to_start, url_from_env, LOCAL_URL};
pub use error::RelayError;
pub use jetstream::{JetStreamError, JetStreamOptions, JetStreamStore, JetStreamTurn};
pub use message::{
    build_headers, escape_header_value, headers, message_id, unescape_header_value, Unpublishable,
};
pub use options::RelayOptions;
pub use relay::Relay;
pub use status::RelayStatus;

/// The client library, for consumers and for building a client of your own.
pub use async_nats;
