//! The three events that carry deadlines through the store: scheduled (with the events of the
//! decision or reaction that set it), cancelled, and fired (by the router, after the command
//! ran). An aggregate lists the first two in its `events(..)` when its decisions schedule or
//! cancel; it applies them without writing anything (the impls below).

use serde::{Deserialize, Serialize};

use crate::model::{Aggregate, Apply};
use crate::Event;

/// A command scheduled for later: `command` (a [`ScheduledCommand`](super::ScheduledCommand)'s
/// name, with its JSON `payload`) on the aggregate `target`, due `after_ms` after this event was
/// recorded (or at `at_ms`, when set). Its stored event id is the deadline's id, and the command
/// id the command runs with. Make one with [`Deadline`](super::Deadline).
///
/// The delay is stored rather than a due time so that a decision stays a pure function of its
/// state and command: the due time comes from the time the store recorded the event.
#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct DeadlineScheduled {
    /// The id of the aggregate the command goes to.
    pub target: String,
    /// The command's stable name.
    pub command: String,
    /// The command, as JSON.
    pub payload: serde_json::Value,
    /// How long after the event's recording the command is due, in milliseconds.
    pub after_ms: u64,
    /// The due time in milliseconds since 1970, when scheduled for a fixed time instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at_ms: Option<u64>,
    /// Tells apart several deadlines of one command on one target (for cancelling one of them).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub key: String,
}

/// Cancels every pending deadline of `command` on `target` with `key` scheduled before it in
/// the store's global order: none of them fires. Make one with [`Deadline::cancel`](super::Deadline::cancel).
#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct DeadlineCancelled {
    /// The id of the aggregate the command would have gone to.
    pub target: String,
    /// The command's stable name.
    pub command: String,
    /// The key it was scheduled with (empty: none).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub key: String,
}

/// The router ran the deadline `id` (appended after the command, with an id derived from the
/// deadline's, so that a second firing after a crash stores it once).
#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct DeadlineFired {
    /// The deadline's id (its `DeadlineScheduled` event's id).
    pub id: uuid::Uuid,
    /// What came of it.
    pub outcome: Outcome,
}

/// What came of a fired deadline.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The command ran and recorded `events` events (0: it decided on none).
    Executed {
        /// Events recorded.
        events: usize,
    },
    /// The aggregate refused the command (its error, as `Debug` shows it).
    Rejected {
        /// The refusal.
        reason: String,
    },
    /// The stored payload no longer decodes as the command (the command's shape changed).
    Undecodable {
        /// The decoding error.
        reason: String,
    },
}

/// The stored names of the deadline events, which the router follows.
pub(crate) const NAMES: [&str; 3] =
    [<DeadlineScheduled as Event>::NAME, <DeadlineCancelled as Event>::NAME, <DeadlineFired as Event>::NAME];

// Scheduling changes nothing in the aggregate's state: the router keeps the pending set. So
// every aggregate applies the deadline events, and listing them in `events(..)` is enough.
impl<A: Aggregate> Apply<DeadlineScheduled> for A {
    fn apply(&mut self, _: &DeadlineScheduled) {}
}

impl<A: Aggregate> Apply<DeadlineCancelled> for A {
    fn apply(&mut self, _: &DeadlineCancelled) {}
}

/// `event` as a new event to append, with `id` and `metadata`.
pub(crate) fn to_new<E: Event>(
    event: &E,
    id: uuid::Uuid,
    metadata: crate::store::Metadata,
) -> Result<crate::store::NewEvent, crate::store::StoreError> {
    let encoded = event.encode_payload()?;
    Ok(crate::store::NewEvent {
        id,
        name: encoded.name.to_owned(),
        schema_version: encoded.schema_version,
        payload: encoded.payload,
        metadata,
        tags: encoded.tags,
    })
}
