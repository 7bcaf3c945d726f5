//! `ReactorRunner`: feeds a reactor the store's events in the global order from its checkpoint,
//! retries a failed reaction with backoff, then parks the event (or stops), and saves the
//! checkpoint only after the effects of the events before it are done. A thin face over a
//! [`Feed`] of the reactor; [`leased`](ReactorRunner::leased) runs it in one process at a time.
//!
//! Loading the keys an event's personal data needs is the store's work, not the reaction's: a
//! failure there (a dropped connection, say) is retried with the same backoff, then returned
//! from `catch_up` as a store error with the checkpoint before the event, never parked.

use std::future::Future;
use std::time::Duration;

use super::reactor::{ReactContext, ReactError, Reactor};
use crate::consume::deadline::{store_schedulings, Schedules};
use crate::consume::{Consume, ConsumeError, Feed, FeedError, FeedStatus, Stepped};
use crate::model::keyed;
use crate::personal::Keyring;
use crate::repository::RetryPolicy;
use crate::store::checkpoint::CheckpointStore;
use crate::store::cursor::Cursor;
use crate::store::dead_letter::{DeadLetters, Parked};
use crate::store::lease::Leases;
use crate::store::EventStore;
use crate::store::StoreError;
use crate::store::{EventRef, StoredEvent};
use tracing::Instrument;

/// What a runner does with an event whose reaction failed every attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnFailure {
    /// Park it in the dead letters and go on (the default).
    #[default]
    Park,
    /// Stop, with the checkpoint before it: the next run starts there.
    Stop,
}

/// Why a reactor run ended.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReactorError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A reaction failed every attempt, and the runner is set to stop.
    #[error(
        "reactor `{reactor}` stopped at the event at position {position} after {attempts} attempts: {error}"
    )]
    Stopped {
        /// The reactor's name.
        reactor: String,
        /// The event's position.
        position: u64,
        /// Attempts made.
        attempts: u32,
        /// The last error.
        #[source]
        error: ReactError,
    },
}

impl From<FeedError> for ReactorError {
    fn from(e: FeedError) -> Self {
        match e {
            FeedError::Store(e) => ReactorError::Store(e),
            FeedError::Consumer { consumer, position, attempts, source } => ReactorError::Stopped {
                reactor: consumer,
                position: position.unwrap_or_default(),
                attempts,
                error: ReactError::new(source),
            },
        }
    }
}

/// A reactor as a consumer: reacts to a batch in order, stopping at the first failure (the
/// events before it are done, so the feed checkpoints them and retries from the failure).
/// What a reaction schedules is stored right after it, before the next event.
struct Reacting<R, S> {
    reactor: R,
    name: String,
    store: S,
}

impl<R: Reactor, S: EventStore> Consume for Reacting<R, S> {
    fn handles(&self, name: &str) -> bool {
        R::handles(name)
    }

    async fn handle(&mut self, batch: &[EventRef<'_>]) -> Result<(), ConsumeError> {
        for event in batch {
            let schedules = Schedules::default();
            let at = ReactContext::new(event, &self.name).with_schedules(&schedules);
            if let Err(error) = self.reactor.react_event(&at).await {
                return Err(ConsumeError::new(error).at(event).handled_before());
            }
            let scheduled = schedules.take();
            if !scheduled.is_empty() {
                store_schedulings(&self.store, &self.name, &at.caused(), scheduled)
                    .await
                    .map_err(|e| ConsumeError::from(e).at(event).handled_before())?;
            }
        }
        Ok(())
    }
}

/// Runs one reactor, named for its checkpoint and for the command ids its reactions derive.
pub struct ReactorRunner<R, S> {
    feed: Feed<Reacting<R, S>, S>,
}

impl<R, S> ReactorRunner<R, S>
where
    R: Reactor,
    S: EventStore + CheckpointStore + DeadLetters + crate::personal::Privacy,
{
    /// Resumes the reactor `name` from its checkpoint, or from the first event: 3 attempts per
    /// event (backoff from 10 ms to 1 s), then park; batches of 256.
    pub async fn start(name: impl Into<String>, reactor: R, store: S) -> Result<Self, StoreError> {
        let name = name.into();
        let reacting = Reacting { reactor, name: name.clone(), store: store.clone() };
        let mut feed = Feed::new(name, reacting, store).batch(256).parking();
        feed.resume().await.map_err(FeedError::into_store_error)?;
        Ok(ReactorRunner { feed })
    }

    /// Opens personal data with `keys` (a key management service, say) instead of the store's
    /// keyring, as [`Repository::with_keys`](crate::Repository::with_keys) does.
    pub fn with_keys(mut self, keys: Keyring) -> Self {
        self.feed = self.feed.keys(keys);
        self
    }

    /// How many times a reaction is tried (at least 1) and the backoff between tries.
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.feed = self.feed.retry(retry);
        self
    }

    /// What to do when every attempt failed.
    pub fn on_failure(mut self, on_failure: OnFailure) -> Self {
        self.feed = match on_failure {
            OnFailure::Park => self.feed.parking(),
            OnFailure::Stop => self.feed.without_parking(),
        };
        self
    }

    /// Events read per batch (and per checkpoint).
    pub fn with_batch(mut self, batch: usize) -> Self {
        self.feed = self.feed.batch(batch);
        self
    }

    /// Runs the reactor in one process at a time: start it in every process; the one holding
    /// the lease `name` (taken for `ttl`, renewed every batch) reacts, the others stand by and
    /// take over once it lapses. Checkpoints are fenced by the lease's epoch.
    pub fn leased(mut self, ttl: Duration) -> Self
    where
        S: Leases,
    {
        self.feed = self.feed.leased(ttl);
        self
    }

    /// The id this runner holds its lease as (default: a fresh worker id).
    pub fn owner(mut self, owner: impl Into<String>) -> Self {
        self.feed = self.feed.owner(owner);
        self
    }

    /// The reactor.
    pub fn reactor(&self) -> &R {
        &self.feed.consumer().reactor
    }

    /// The cursor of the last event reacted to (or parked).
    pub fn cursor(&self) -> Cursor {
        self.feed.cursor()
    }

    /// Reacts to every event committed so far, a batch at a time, saving the checkpoint after
    /// each batch's effects are done. Returns how many events it read (0 on standby, when
    /// leased and another holds the lease).
    pub async fn catch_up(&mut self) -> Result<usize, ReactorError> {
        let span = tracing::info_span!("es.reactor", reactor = %self.feed.name(), after = %self.cursor(), read = tracing::field::Empty);
        let read = self.feed.catch_up().instrument(span.clone()).await?;
        span.record("read", read);
        Ok(read)
    }

    /// One batch (taking or renewing the lease first, when leased).
    pub async fn step(&mut self) -> Result<Stepped, ReactorError> {
        Ok(self.feed.step().await?)
    }

    /// Catches up, then follows new events (woken by the store's signal, or every `poll`) until
    /// `stop` completes; then gives the lease up, when leased.
    pub async fn run(&mut self, poll: Duration, stop: impl Future<Output = ()>) -> Result<(), ReactorError> {
        self.feed.set_poll(poll);
        Ok(self.feed.run(stop).await?)
    }

    /// Gives the lease up, when leased, so another runner takes over at once.
    pub async fn release(&mut self) -> Result<(), StoreError> {
        self.feed.release().await
    }

    /// Checkpoint, lag, lease and parked events, as stored.
    pub async fn status(&self) -> Result<FeedStatus, StoreError> {
        self.feed.status().await
    }

    /// Tries the parked events of this reactor again, once each, in order; unparks those that
    /// succeed and re-parks the others with their new error. Returns how many succeeded.
    pub async fn retry_parked(&mut self) -> Result<usize, ReactorError> {
        let store = self.feed.store().clone();
        let mut succeeded = 0;
        for parked in store.parked(self.feed.name()).await? {
            // A key that fails to load leaves the event parked as it was: the store failed.
            match self.react_once(&parked.event).await? {
                Ok(()) => {
                    store.unpark(self.feed.name(), parked.event.id).await?;
                    succeeded += 1;
                }
                Err(error) => {
                    let attempts = parked.attempts + 1;
                    tracing::warn!(reactor = %self.feed.name(), position = parked.event.position, attempts, %error, "reaction failed again: event parked");
                    let parked_at = crate::store::time::now_micros();
                    let error = error.to_string();
                    store.park(Parked { event: parked.event, error, attempts, parked_at, ..parked }).await?;
                }
            }
        }
        Ok(succeeded)
    }

    /// Moves the checkpoint back (or forward) to `cursor`: the next `catch_up` reacts again to
    /// every event after it. Reactions that issue commands with [`ReactContext::caused`]
    /// metadata record nothing twice; other side effects happen again.
    pub async fn replay_from(&mut self, cursor: Cursor) -> Result<(), StoreError> {
        self.feed.seek(cursor).await
    }

    /// Reacts to `event` once, in the scope of its subjects' keys, and stores what it scheduled.
    /// `Err`: a key failed to load, or the schedules failed to store.
    async fn react_once(&self, event: &StoredEvent) -> Result<Result<(), ReactError>, StoreError> {
        let keyring = self.feed.keyring();
        if let Some(keys) = keyring {
            keys.load_sealed(event.payload.get()).await?;
        }
        let lent = event.as_ref();
        let schedules = Schedules::default();
        let at = ReactContext::new(&lent, self.feed.name()).with_schedules(&schedules);
        let reacted = keyed::scoped(keyring, self.feed.consumer().reactor.react_event(&at)).await;
        if reacted.is_ok() {
            let scheduled = schedules.take();
            if !scheduled.is_empty() {
                store_schedulings(self.feed.store(), self.feed.name(), &at.caused(), scheduled).await?;
            }
        }
        Ok(reacted.map(|_| ()))
    }
}

#[cfg(test)]
#[path = "reactor_runner_tests.rs"]
mod tests;
