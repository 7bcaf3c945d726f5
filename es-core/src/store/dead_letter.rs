//! Dead letters: events a reactor failed on after its retries, parked (stored, with the error)
//! so that the reactor goes on, to be inspected and retried.

use std::future::Future;
use std::time::SystemTime;

use uuid::Uuid;

use crate::store::StoreError;
use crate::store::StoredEvent;

/// An event a reactor gave up on.
#[derive(Debug, Clone, PartialEq)]
pub struct Parked {
    /// The reactor's name.
    pub reactor: String,
    /// The event, as stored.
    pub event: StoredEvent,
    /// The last error, as displayed.
    pub error: String,
    /// How many times the reaction was tried.
    pub attempts: u32,
    /// When it was parked (last).
    pub parked_at: SystemTime,
}

/// Storage of parked events beside the events, per reactor.
pub trait DeadLetters: Clone + Send + Sync + 'static {
    /// Parks `parked` (replacing an earlier parking of the same event by the same reactor).
    fn park(&self, parked: Parked) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The events `reactor` parked, in the global order.
    fn parked(&self, reactor: &str) -> impl Future<Output = Result<Vec<Parked>, StoreError>> + Send;

    /// Forgets the parking of `event` by `reactor` (after a retry succeeded).
    fn unpark(&self, reactor: &str, event: Uuid) -> impl Future<Output = Result<(), StoreError>> + Send;
}
