//! Projections: read models built from events of any aggregates.
//!
//! Derive `Projection`, list the events it consumes, and write one `impl Project<E>` per event;
//! events it does not list are skipped by name, without decoding:
//!
//! ```
//! use es_core::{Event, EventContext, Project, Projection};
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
//! pub struct MoneyDeposited { pub amount: u64 }
//!
//! #[derive(Projection, Default)]
//! #[projection(events(MoneyDeposited))]
//! pub struct TotalDeposits { pub total: u64, pub last_position: u64 }
//!
//! impl Project<MoneyDeposited> for TotalDeposits {
//!     fn project(&mut self, e: &MoneyDeposited, context: &EventContext<'_>) {
//!         self.total += e.amount;
//!         self.last_position = context.position;
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
//!     payload: serde_json::value::to_raw_value(&serde_json::json!({ "amount": 5 })).unwrap(),
//!     metadata: Default::default(),
//!     recorded_at: std::time::SystemTime::now(),
//! };
//! let mut totals = TotalDeposits::default();
//! assert!(totals.handle_stored(&stored)?);
//! assert_eq!((totals.total, totals.last_position), (5, 7));
//! # Ok::<_, es_core::DecodeError>(())
//! ```

use crate::store::DecodeError;
use crate::store::{EventContext, EventRef, StoredEvent};

/// A read model fed by events. Derive it with `#[derive(Projection)]`.
pub trait Projection: Send + 'static {
    /// Whether the projection consumes events stored under `name`.
    fn handles(name: &str) -> bool;

    /// Decodes `event` and hands it to the matching `Project<E>` with the record as its
    /// context; `Ok(false)` when the projection does not consume it. Generated.
    fn project_event(&mut self, event: &EventRef<'_>) -> Result<bool, DecodeError>;

    /// Handles a stored event: skipped without decoding unless the projection lists it.
    fn handle_stored(&mut self, stored: &StoredEvent) -> Result<bool, DecodeError> {
        if !Self::handles(&stored.name) {
            return Ok(false);
        }
        self.project_event(&stored.as_ref())
    }
}

/// How a projection changes when an event of type `E` happens.
#[diagnostic::on_unimplemented(
    message = "`{Self}` does not project the event `{E}`",
    label = "`{E}` is listed in #[projection(events(..))] but has no `impl Project<{E}> for {Self}`",
    note = "add `impl es_core::Project<{E}> for {Self} {{ fn project(&mut self, event: &{E}, context: &EventContext<'_>) {{ .. }} }}`"
)]
pub trait Project<E> {
    /// Updates the read model with `event`, recorded as `context` says.
    fn project(&mut self, event: &E, context: &EventContext<'_>);
}
