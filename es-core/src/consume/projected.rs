//! `Projected`: a [`Projection`] whose read model lives in memory, as a consumer. Its state is
//! saved as JSON with each checkpoint and restored from it.

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::value::RawValue;

use super::consumer::{Consume, Resume};
use super::error::ConsumeError;
use crate::consume::projection::Projection;
use crate::store::EventRef;
use crate::store::StoreError;

/// A projection run by a [`Feed`](super::Feed): `Feed::new("balances", Projected::new(BalancePerOwner::default()), store)`.
#[derive(Debug, Default)]
pub struct Projected<P> {
    projection: P,
}

impl<P> Projected<P> {
    /// Wraps `projection` (its state is replaced by the checkpoint's when the feed resumes).
    pub fn new(projection: P) -> Self {
        Projected { projection }
    }

    /// The read model.
    pub fn projection(&self) -> &P {
        &self.projection
    }

    /// The read model, giving up the wrapper.
    pub fn into_projection(self) -> P {
        self.projection
    }
}

impl<P: Projection + Default + Serialize + DeserializeOwned> Consume for Projected<P> {
    fn handles(&self, name: &str) -> bool {
        P::handles(name)
    }

    async fn handle(&mut self, batch: &[EventRef<'_>]) -> Result<(), ConsumeError> {
        for event in batch {
            // A decode error changes nothing: the events before it are exactly what is applied.
            self.projection
                .project_event(event)
                .map_err(|e| ConsumeError::from(e).at(event).handled_before())?;
        }
        Ok(())
    }

    fn state(&self) -> Result<Option<Box<RawValue>>, ConsumeError> {
        let state = serde_json::value::to_raw_value(&self.projection)
            .map_err(|source| StoreError::State { owner: owner::<P>(), source })?;
        Ok(Some(state))
    }

    fn restore(&mut self, state: Option<&RawValue>) -> Result<Resume, ConsumeError> {
        let Some(state) = state else {
            self.projection = P::default();
            return Ok(Resume::Checkpoint);
        };
        match serde_json::from_str::<P>(state.get()) {
            Ok(projection) => {
                self.projection = projection;
                Ok(Resume::Checkpoint)
            }
            Err(e) => {
                // The projection's shape changed: its saved state means nothing now.
                tracing::info!(projection = %owner::<P>(), error = %e, "saved state no longer fits: rebuilding from the first event");
                self.projection = P::default();
                Ok(Resume::Start)
            }
        }
    }
}

/// The projection's type name, for errors about its state.
fn owner<P>() -> String {
    let full = std::any::type_name::<P>();
    full.rsplit("::").next().unwrap_or(full).to_owned()
}
