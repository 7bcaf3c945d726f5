//! The router's consumer: follows the deadline events and keeps the pending set, which the feed
//! saves with each checkpoint and puts back after any error.

use serde_json::value::RawValue;

use super::event::NAMES;
use super::pending::PendingSet;
use crate::consume::{Consume, ConsumeError, Resume};
use crate::store::EventRef;
use crate::store::StoreError;

/// Keeps the pending deadlines; the router fires from it.
#[derive(Debug, Default)]
pub(crate) struct Tracker {
    pub(crate) pending: PendingSet,
}

impl Consume for Tracker {
    fn handles(&self, name: &str) -> bool {
        NAMES.contains(&name)
    }

    async fn handle(&mut self, batch: &[EventRef<'_>]) -> Result<(), ConsumeError> {
        for event in batch {
            // Folding stops at the first bad event: the set holds exactly the events before it.
            self.pending.fold(event).map_err(|e| ConsumeError::from(e).at(event).handled_before())?;
        }
        Ok(())
    }

    fn state(&self) -> Result<Option<Box<RawValue>>, ConsumeError> {
        let state = serde_json::value::to_raw_value(&self.pending)
            .map_err(|source| StoreError::State { owner: "Deadlines".to_owned(), source })?;
        Ok(Some(state))
    }

    fn restore(&mut self, state: Option<&RawValue>) -> Result<Resume, ConsumeError> {
        let Some(state) = state else {
            self.pending.clear();
            return Ok(Resume::Checkpoint);
        };
        match serde_json::from_str(state.get()) {
            Ok(pending) => {
                self.pending = pending;
                Ok(Resume::Checkpoint)
            }
            Err(e) => {
                tracing::info!(error = %e, "saved deadlines no longer fit: folding them again from the first event");
                self.pending.clear();
                Ok(Resume::Start)
            }
        }
    }
}
