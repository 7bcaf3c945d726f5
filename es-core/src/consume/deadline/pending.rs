//! The pending set: every deadline scheduled and neither cancelled nor fired yet, folded from
//! the deadline events in the global order. A router keeps it as its consumer state (saved with
//! its checkpoint); [`pending_deadlines`] folds it from a whole store for `es deadlines`.

use std::collections::{BTreeMap, BTreeSet};
use std::time::SystemTime;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::clock::{from_ms, to_ms, to_ms_ceil};
use super::event::{DeadlineCancelled, DeadlineFired, DeadlineScheduled, NAMES};
use crate::model::derive_support::decode_one;
use crate::model::Event;
use crate::store::cursor::Cursor;
use crate::store::EventRef;
use crate::store::EventStore;
use crate::store::{DecodeError, StoreError};

/// A deadline waiting to fire.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PendingDeadline {
    /// Its id: the id of its `DeadlineScheduled` event, and the command id it runs with.
    pub id: Uuid,
    /// When it is due, in milliseconds since 1970.
    pub due_ms: u64,
    /// The aggregate the command goes to.
    pub target: String,
    /// The command's name.
    pub command: String,
    /// Its key (empty: none).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub key: String,
    /// The command, as JSON.
    pub payload: serde_json::Value,
    /// The stream whose event scheduled it.
    pub scheduled_by: String,
    /// The correlation the command runs in: the scheduling event's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correlation: Option<Uuid>,
}

impl PendingDeadline {
    /// When it is due.
    pub fn due(&self) -> SystemTime {
        from_ms(self.due_ms)
    }

    /// Whether it is due at `now`.
    pub fn is_due(&self, now: SystemTime) -> bool {
        to_ms(now) >= self.due_ms
    }
}

/// Pending deadlines by id, with an index by due time (rebuilt, not stored).
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct PendingSet {
    by_id: BTreeMap<Uuid, PendingDeadline>,
    by_due: BTreeSet<(u64, Uuid)>,
}

impl PendingSet {
    /// Folds one deadline event (by its stored name; other events are ignored).
    pub(crate) fn fold(&mut self, event: &EventRef<'_>) -> Result<(), DecodeError> {
        if event.name == DeadlineScheduled::NAME {
            let scheduled: DeadlineScheduled = decode_one(event)?;
            let due_ms = scheduled
                .at_ms
                .unwrap_or_else(|| to_ms_ceil(event.recorded_at).saturating_add(scheduled.after_ms));
            self.insert(PendingDeadline {
                id: event.id,
                due_ms,
                target: scheduled.target,
                command: scheduled.command,
                key: scheduled.key,
                payload: scheduled.payload,
                scheduled_by: event.stream.to_owned(),
                correlation: Some(event.metadata.correlation_id.unwrap_or(event.id)),
            });
        } else if event.name == DeadlineCancelled::NAME {
            let cancelled: DeadlineCancelled = decode_one(event)?;
            let gone: Vec<Uuid> = self
                .by_id
                .values()
                .filter(|p| {
                    p.target == cancelled.target && p.command == cancelled.command && p.key == cancelled.key
                })
                .map(|p| p.id)
                .collect();
            for id in gone {
                self.remove(id);
            }
        } else if event.name == DeadlineFired::NAME {
            let fired: DeadlineFired = decode_one(event)?;
            self.remove(fired.id);
        }
        Ok(())
    }

    fn insert(&mut self, pending: PendingDeadline) {
        self.remove(pending.id);
        self.by_due.insert((pending.due_ms, pending.id));
        self.by_id.insert(pending.id, pending);
    }

    fn remove(&mut self, id: Uuid) {
        if let Some(gone) = self.by_id.remove(&id) {
            self.by_due.remove(&(gone.due_ms, id));
        }
    }

    /// Whether `id` is pending.
    pub(crate) fn contains(&self, id: Uuid) -> bool {
        self.by_id.contains_key(&id)
    }

    /// The pending deadlines, soonest first.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &PendingDeadline> {
        self.by_due.iter().filter_map(|(_, id)| self.by_id.get(id))
    }

    /// How many are pending.
    pub(crate) fn len(&self) -> usize {
        self.by_id.len()
    }

    /// Forgets every deadline.
    pub(crate) fn clear(&mut self) {
        *self = PendingSet::default();
    }
}

// Stored as a plain list, soonest first; the index is rebuilt when it is read back.
impl Serialize for PendingSet {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.iter())
    }
}

impl<'de> Deserialize<'de> for PendingSet {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let list = Vec::<PendingDeadline>::deserialize(d)?;
        let mut set = PendingSet::default();
        for pending in list {
            set.insert(pending);
        }
        Ok(set)
    }
}

/// Every deadline of the store that is scheduled and neither cancelled nor fired, soonest first,
/// folded from the whole store (what `es deadlines` lists).
///
/// ```
/// use es_core::consume::{pending_deadlines, Deadline, ScheduledCommand};
/// use es_core::{EventStore, ExpectedVersion, MemoryStore, NewEvent};
/// # use serde::{Deserialize, Serialize};
/// # #[derive(Serialize, Deserialize)] struct Remind;
/// # impl ScheduledCommand for Remind { const NAME: &'static str = "Remind"; }
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let store = MemoryStore::new();
/// let scheduled = Deadline::after(std::time::Duration::from_secs(60), "ann", &Remind)?;
/// let event = NewEvent::new("DeadlineScheduled", 1, serde_json::to_value(&scheduled)?);
/// store.append("Todo-ann", ExpectedVersion::Any, vec![event]).await?;
/// let pending = pending_deadlines(&store).await?;
/// assert_eq!((pending.len(), pending[0].command.as_str()), (1, "Remind"));
/// # Ok::<_, Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
pub async fn pending_deadlines<S: EventStore>(store: &S) -> Result<Vec<PendingDeadline>, StoreError> {
    let mut set = PendingSet::default();
    let mut cursor = Cursor::START;
    loop {
        let mut last = None;
        let read = store
            .visit_all(cursor, 1024, |event| {
                last = Some(event.cursor);
                if NAMES.contains(&event.name) {
                    set.fold(event)?;
                }
                Ok(())
            })
            .await?;
        match last {
            Some(at) if read > 0 => cursor = at,
            _ => return Ok(set.iter().cloned().collect()),
        }
    }
}
