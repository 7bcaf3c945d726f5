//! Parking: an event the consumer failed on after every retry is stored with its error in the
//! dead letters, and the feed goes on after it. Retries are counted per failing event.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use uuid::Uuid;

use crate::store::dead_letter::{DeadLetters, Parked};
use crate::store::StoreError;

type Boxed<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// The dead letters of a store, object-safe (see `fence` for why).
pub(crate) trait ParkOps: Send + Sync {
    fn park(&self, parked: Parked) -> Boxed<'_, ()>;
    fn count<'a>(&'a self, consumer: &'a str) -> Boxed<'a, usize>;
}

impl<S: DeadLetters> ParkOps for S {
    fn park(&self, parked: Parked) -> Boxed<'_, ()> {
        Box::pin(DeadLetters::park(self, parked))
    }

    fn count<'a>(&'a self, consumer: &'a str) -> Boxed<'a, usize> {
        Box::pin(async move { Ok(DeadLetters::parked(self, consumer).await?.len()) })
    }
}

/// The dead letters a feed parks in.
pub(crate) type Parking = Arc<dyn ParkOps>;

/// Consecutive failures at one point: the same event, or (for failures that name none) the
/// same batch.
#[derive(Debug, Default)]
pub(crate) struct Failures {
    at: Option<Option<Uuid>>,
    attempts: u32,
}

impl Failures {
    /// Counts a failure at `event`; returns the attempts made at this point so far.
    pub(crate) fn count(&mut self, event: Option<Uuid>) -> u32 {
        if self.at != Some(event) {
            self.at = Some(event);
            self.attempts = 0;
        }
        self.attempts += 1;
        self.attempts
    }

    /// Progress was made: the next failure is a first one.
    pub(crate) fn clear(&mut self) {
        *self = Failures::default();
    }
}
