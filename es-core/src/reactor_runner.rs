//! `ReactorRunner`: feeds a reactor the store's events in the global order from its checkpoint,
//! retries a failed reaction with backoff, then parks the event (or stops), and saves the
//! checkpoint only after the effects of the events before it are done.
//!
//! Loading the keys an event's personal data needs is the store's work, not the reaction's: a
//! failure there (a dropped connection, say) is retried with the same backoff, then returned
//! from `catch_up` as a store error with the checkpoint just before the event, never parked.

use std::time::Duration;

use crate::checkpoint::{Checkpoint, CheckpointStore};
use crate::cursor::Cursor;
use crate::dead_letter::{DeadLetters, Parked};
use crate::error::StoreError;
use crate::personal::{keys, Keyring};
use crate::reactor::{ReactContext, ReactError, Reactor};
use crate::record::StoredEvent;
use crate::retry::RetryPolicy;
use crate::store::EventStore;
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

/// Runs one reactor, named for its checkpoint and for the command ids its reactions derive.
pub struct ReactorRunner<R, S> {
    name: String,
    reactor: R,
    store: S,
    cursor: Cursor,
    batch: usize,
    retry: RetryPolicy,
    on_failure: OnFailure,
    /// Opens the personal data of the events reacted to (the store's keyring by default).
    keys: Option<Keyring>,
}

impl<R, S> ReactorRunner<R, S>
where
    R: Reactor,
    S: EventStore + CheckpointStore + DeadLetters,
{
    /// Resumes the reactor `name` from its checkpoint, or from the first event: 3 attempts per
    /// event (backoff from 10 ms to 1 s), then park; batches of 256.
    pub async fn start(name: impl Into<String>, reactor: R, store: S) -> Result<Self, StoreError> {
        let name = name.into();
        let cursor = store.load_checkpoint(&name).await?.map_or(Cursor::START, |c| c.cursor);
        let retry =
            RetryPolicy::default().max_attempts(3).backoff(Duration::from_millis(10), Duration::from_secs(1));
        let keys = store.keys();
        Ok(ReactorRunner {
            name,
            reactor,
            store,
            cursor,
            batch: 256,
            retry,
            on_failure: OnFailure::Park,
            keys,
        })
    }

    /// Opens personal data with `keys` (a key management service, say) instead of the store's
    /// keyring, as [`Repository::with_keys`](crate::Repository::with_keys) does.
    pub fn with_keys(mut self, keys: Keyring) -> Self {
        self.keys = Some(keys);
        self
    }

    /// How many times a reaction is tried (at least 1) and the backoff between tries.
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// What to do when every attempt failed.
    pub fn on_failure(mut self, on_failure: OnFailure) -> Self {
        self.on_failure = on_failure;
        self
    }

    /// Events read per batch (and per checkpoint).
    pub fn with_batch(mut self, batch: usize) -> Self {
        self.batch = batch.max(1);
        self
    }

    /// The reactor.
    pub fn reactor(&self) -> &R {
        &self.reactor
    }

    /// The cursor of the last event reacted to (or parked).
    pub fn cursor(&self) -> Cursor {
        self.cursor
    }

    /// Reacts to every event committed so far, a batch at a time, saving the checkpoint after
    /// each batch's effects are done. Returns how many events it read.
    pub async fn catch_up(&mut self) -> Result<usize, ReactorError> {
        let span = tracing::info_span!("es.reactor", reactor = %self.name, after = %self.cursor, read = tracing::field::Empty);
        let read = self.catch_up_in().instrument(span.clone()).await?;
        span.record("read", read);
        Ok(read)
    }

    async fn catch_up_in(&mut self) -> Result<usize, ReactorError> {
        let mut read = 0;
        loop {
            let page = self.store.read_all(self.cursor, self.batch).await?;
            let n = page.len();
            for event in &page {
                if R::handles(&event.name) {
                    let reacted = match self.react(event, self.retry.attempts()).await {
                        Ok(reacted) => reacted,
                        Err(e) => return Err(self.stop_at_store_error(e).await),
                    };
                    if let Err((attempts, error)) = reacted {
                        match self.on_failure {
                            OnFailure::Park => self.park(event, attempts, &error).await?,
                            OnFailure::Stop => {
                                self.save().await?;
                                let (reactor, position) = (self.name.clone(), event.position);
                                return Err(ReactorError::Stopped { reactor, position, attempts, error });
                            }
                        }
                    }
                }
                self.cursor = event.cursor;
            }
            if n > 0 {
                self.save().await?;
            }
            read += n;
            if n < self.batch {
                return Ok(read);
            }
        }
    }

    /// Tries the parked events of this reactor again, once each, in order; unparks those that
    /// succeed and re-parks the others with their new error. Returns how many succeeded.
    pub async fn retry_parked(&mut self) -> Result<usize, ReactorError> {
        let mut succeeded = 0;
        for parked in self.store.parked(&self.name).await? {
            // A key that fails to load leaves the event parked as it was: the store failed.
            match self.react(&parked.event, 1).await? {
                Ok(()) => {
                    self.store.unpark(&self.name, parked.event.id).await?;
                    succeeded += 1;
                }
                Err((_, error)) => self.park(&parked.event, parked.attempts + 1, &error).await?,
            }
        }
        Ok(succeeded)
    }

    /// Moves the checkpoint back (or forward) to `cursor`: the next `catch_up` reacts again to
    /// every event after it. Reactions that issue commands with [`ReactContext::caused`]
    /// metadata record nothing twice; other side effects happen again.
    pub async fn replay_from(&mut self, cursor: Cursor) -> Result<(), StoreError> {
        self.cursor = cursor;
        self.save().await
    }

    /// Ends a run at a store error met before reacting to an event: saves the checkpoint (the
    /// events before it are done), so the next run starts at that event.
    async fn stop_at_store_error(&self, error: StoreError) -> ReactorError {
        if let Err(save) = self.save().await {
            // Not saving costs only reacting again to the events since the last checkpoint.
            tracing::warn!(reactor = %self.name, error = %save, "checkpoint not saved");
        }
        ReactorError::Store(error)
    }

    /// Reacts to `event`, up to `attempts` times, each in the scope of the keys of the subjects
    /// sealed in it (loaded before every attempt: one may have expired from the cache during
    /// the backoff). `Ok(Err(..))`: the reaction failed every attempt; `Err`: a key failed to
    /// load, the event was not reacted to.
    async fn react(
        &self,
        event: &StoredEvent,
        attempts: u32,
    ) -> Result<Result<(), (u32, ReactError)>, StoreError> {
        let lent = event.as_ref();
        let at = ReactContext::new(&lent, &self.name);
        let mut attempt = 1;
        loop {
            self.load_keys(event).await?;
            match keys::scoped(self.keys.as_ref(), self.reactor.react_event(&at)).await {
                Ok(_) => return Ok(Ok(())),
                Err(error) if attempt >= attempts => return Ok(Err((attempt, error))),
                Err(_) => {
                    self.retry.wait(attempt).await;
                    attempt += 1;
                }
            }
        }
    }

    /// Loads the keys (not cached) of the subjects sealed in `event`, with the runner's retries
    /// and backoff: a transient store failure does not end the run.
    async fn load_keys(&self, event: &StoredEvent) -> Result<(), StoreError> {
        let Some(keys) = &self.keys else { return Ok(()) };
        let mut attempt = 1;
        loop {
            match keys.load_sealed(event.payload.get()).await {
                Ok(()) => return Ok(()),
                Err(e) if attempt >= self.retry.attempts() => return Err(e),
                Err(e) => {
                    tracing::debug!(reactor = %self.name, position = event.position, error = %e, attempt, "key load failed: retrying");
                    self.retry.wait(attempt).await;
                    attempt += 1;
                }
            }
        }
    }

    async fn park(&self, event: &StoredEvent, attempts: u32, error: &ReactError) -> Result<(), StoreError> {
        tracing::warn!(reactor = %self.name, position = event.position, attempts, %error, "reaction failed: event parked");
        let parked = Parked {
            reactor: self.name.clone(),
            event: event.clone(),
            error: error.to_string(),
            attempts,
            parked_at: crate::time::now_micros(),
        };
        self.store.park(parked).await
    }

    async fn save(&self) -> Result<(), StoreError> {
        let checkpoint = Checkpoint { cursor: self.cursor, state: None, saved_at: crate::time::now_micros() };
        self.store.save_checkpoint(&self.name, checkpoint).await
    }
}

#[cfg(test)]
#[path = "reactor_runner_tests.rs"]
mod tests;
