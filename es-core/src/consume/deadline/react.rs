//! Scheduling from a reaction: the reaction's context collects what it schedules or cancels,
//! and the reactor runner stores it after the reaction, with ids derived from (event, reactor,
//! index), so that a redelivered event stores its schedules once.

use std::sync::{Mutex, PoisonError};

use super::event::{to_new, DeadlineCancelled, DeadlineScheduled};
use crate::model::command;
use crate::store::EventStore;
use crate::store::ExpectedVersion;
use crate::store::Metadata;
use crate::store::NewEvent;
use crate::store::StoreError;

/// What one reaction scheduled and cancelled, in order. A runner gives one to each reaction's
/// context ([`ReactContext::with_schedules`](crate::ReactContext::with_schedules)) and stores
/// it after the reaction succeeded.
#[derive(Debug, Default)]
pub struct Schedules(Mutex<Vec<Scheduling>>);

/// One scheduling a reaction did.
#[derive(Debug, Clone, PartialEq)]
pub enum Scheduling {
    /// A deadline set.
    Scheduled(DeadlineScheduled),
    /// Deadlines cancelled.
    Cancelled(DeadlineCancelled),
}

impl Schedules {
    /// Adds one.
    pub(crate) fn push(&self, scheduling: Scheduling) {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).push(scheduling);
    }

    /// Takes what was collected so far.
    pub fn take(&self) -> Vec<Scheduling> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

/// The stream a reactor's schedules are stored in.
pub(crate) fn stream_of(reactor: &str) -> String {
    format!("Schedules-{reactor}")
}

/// Stores `schedulings` of the reaction whose commands carry `caused` (with its derived
/// command id): event `i` gets the id derived from (command id, stream, i), so that storing the
/// same reaction's schedulings again (a redelivery) stores nothing twice.
pub(crate) async fn store<S: EventStore>(
    store: &S,
    reactor: &str,
    caused: &Metadata,
    schedulings: Vec<Scheduling>,
) -> Result<(), StoreError> {
    let stream = stream_of(reactor);
    let base = caused.command_id.unwrap_or_else(uuid::Uuid::new_v4);
    let events = schedulings
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let id = command::event_id(base, &stream, i);
            match s {
                Scheduling::Scheduled(e) => to_new(e, id, caused.clone()),
                Scheduling::Cancelled(e) => to_new(e, id, caused.clone()),
            }
        })
        .collect::<Result<Vec<NewEvent>, StoreError>>()?;
    match store.append(&stream, ExpectedVersion::Any, events.clone()).await {
        Ok(_) => Ok(()),
        Err(StoreError::DuplicateEventId { .. }) => {
            // Stored by an earlier delivery (all of them, or those it made): add only the rest.
            for event in events {
                match store.append(&stream, ExpectedVersion::Any, vec![event]).await {
                    Ok(_) | Err(StoreError::DuplicateEventId { .. }) => {}
                    Err(e) => return Err(e),
                }
            }
            Ok(())
        }
        Err(e) => Err(e),
    }
}
