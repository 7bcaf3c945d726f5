//! Metadata carried by every stored event beside its payload.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// What the writer records about an event besides the event itself.
///
/// The time an event was recorded is set by the store and read from
/// [`StoredEvent::recorded_at`](crate::StoredEvent::recorded_at) and
/// [`Recorded::recorded_at`](crate::Recorded::recorded_at).
///
/// ```
/// use es_core::Metadata;
/// let correlation = uuid::Uuid::new_v4();
/// let meta = Metadata::default().correlation_id(correlation).with("user", "ann");
/// assert_eq!(meta.correlation_id, Some(correlation));
/// assert_eq!(meta.extra["user"], "ann");
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Metadata {
    /// Ties together every event caused, directly or not, by one original request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<Uuid>,
    /// The message (command or event) that directly caused this event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub causation_id: Option<Uuid>,
    /// The caller's id for the command that recorded this event: executing a command with the
    /// same id on the same aggregate again records nothing new (see
    /// [`Repository::execute_with`](crate::Repository::execute_with)).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command_id: Option<Uuid>,
    /// Free key/values (user, tenant, client version, ...).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub extra: BTreeMap<String, String>,
}

impl Metadata {
    /// Sets the correlation id.
    pub fn correlation_id(mut self, id: Uuid) -> Self {
        self.correlation_id = Some(id);
        self
    }

    /// Sets the causation id.
    pub fn causation_id(mut self, id: Uuid) -> Self {
        self.causation_id = Some(id);
        self
    }

    /// Names the command, e.g. with a client's `Idempotency-Key`: a retry with the same id
    /// records nothing new and returns what the first execution recorded.
    pub fn command_id(mut self, id: Uuid) -> Self {
        self.command_id = Some(id);
        self
    }

    /// Adds a free key/value.
    pub fn with(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.extra.insert(key.into(), value.into());
        self
    }

    /// True when nothing is set, so stores may write an empty object.
    pub fn is_empty(&self) -> bool {
        self.correlation_id.is_none()
            && self.causation_id.is_none()
            && self.command_id.is_none()
            && self.extra.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_json_and_omits_empty_fields() -> Result<(), serde_json::Error> {
        assert_eq!(serde_json::to_string(&Metadata::default())?, "{}");
        let meta = Metadata::default().causation_id(Uuid::nil()).with("k", "v");
        let back: Metadata = serde_json::from_str(&serde_json::to_string(&meta)?)?;
        assert_eq!(back, meta);
        assert!(!meta.is_empty());
        Ok(())
    }
}
