//! One step of a feed: take the lease, put the consumer back to its checkpoint if it may have
//! moved, read a batch, load its keys, hand it to the consumer, commit it with the checkpoint;
//! and on any error, put the consumer back and retry, park, or stop.

use tracing::Instrument;

use super::consumer::{Consume, Resume};
use super::error::{ConsumeError, FeedError};
use super::feed::Feed;
use super::fence::Took;
use super::status::Stepped;
use crate::model::keyed;
use crate::store::checkpoint::{Checkpoint, CheckpointStore};
use crate::store::cursor::Cursor;
use crate::store::dead_letter::Parked;
use crate::store::lease::{Lease, Leases};
use crate::store::EventStore;
use crate::store::StoreError;
use crate::store::{EventRef, StoredEvent};

/// What one attempt at a batch came to, short of an error.
enum Attempt {
    Done { read: usize, more: bool, lease: Option<Lease> },
    Standby(Option<Lease>),
}

/// An attempt that failed: the error, the events checkpointed before it, and the event the
/// consumer named, to park.
struct Failure {
    error: ConsumeError,
    committed: usize,
    event: Option<StoredEvent>,
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        Failure { error: e.into(), committed: 0, event: None }
    }
}

impl From<ConsumeError> for Failure {
    fn from(error: ConsumeError) -> Self {
        Failure { error, committed: 0, event: None }
    }
}

impl<C: Consume, S: EventStore + CheckpointStore> Feed<C, S> {
    /// Handles the next batch and checkpoints it (under the lease, when leased), retrying from
    /// the last checkpoint after an error, as the retry policy says; then parks the event the
    /// consumer named (when parking) and goes on, or returns the error.
    pub async fn step(&mut self) -> Result<Stepped, FeedError> {
        self.step_fenced(None).await
    }

    /// Like [`step`](Self::step), saving the checkpoint only while `lease` (taken by the caller)
    /// is still held at its epoch: [`Stepped::Fenced`] and nothing saved otherwise.
    pub async fn step_under(&mut self, lease: &Lease) -> Result<Stepped, FeedError>
    where
        S: Leases,
    {
        if self.lease_ops.is_none() {
            self.lease_ops = Some(std::sync::Arc::new(self.store.clone()));
        }
        self.step_fenced(Some(lease)).await
    }

    async fn step_fenced(&mut self, given: Option<&Lease>) -> Result<Stepped, FeedError> {
        let mut read = 0;
        loop {
            let failure = match self.attempt(given).await {
                Ok(Attempt::Done { read: n, more, lease }) => {
                    self.failures.clear();
                    return Ok(Stepped::Worked { read: read + n, more, lease });
                }
                Ok(Attempt::Standby(holder)) => return Ok(Stepped::Standby { holder }),
                Err(failure) => failure,
            };
            read += failure.committed;
            if let Some(StoreError::Fenced { epoch, .. }) = failure.error.store_error() {
                // Another holds the lease now: what this feed did since its checkpoint is void.
                self.stale = true;
                if let Some(leasing) = &mut self.leasing {
                    leasing.held = None;
                }
                return Ok(Stepped::Fenced { epoch: *epoch });
            }
            if let Err(e) = self.recover(failure).await {
                // Back to the checkpoint now, so the caller sees the state the error left; if
                // the store cannot say, the next step reloads it.
                if self.stale {
                    if let Err(reload) = self.reload().await {
                        tracing::debug!(consumer = %self.name, error = %reload, "checkpoint not reloaded: the next step will");
                    }
                }
                return Err(e);
            }
        }
    }

    /// After a failed attempt: waits to retry, or parks the named event, or gives up.
    async fn recover(&mut self, failure: Failure) -> Result<(), FeedError> {
        let named = failure.error.failed().map(|f| f.id);
        let attempts = self.failures.count(named);
        if attempts < self.retry.attempts() {
            tracing::debug!(consumer = %self.name, error = %failure.error, attempts, "batch failed: retrying from the checkpoint");
            self.retry.wait(attempts).await;
            return Ok(());
        }
        if let (Some(parking), Some(event)) = (&self.parking, failure.event) {
            tracing::warn!(consumer = %self.name, position = event.position, attempts, error = %failure.error, "event parked");
            let (id, cursor) = (event.id, event.cursor);
            let error = failure.error.to_string();
            let parked_at = crate::store::time::now_micros();
            parking.park(Parked { reactor: self.name.clone(), event, error, attempts, parked_at }).await?;
            self.skip.push((id, cursor));
            self.failures.clear();
            return Ok(());
        }
        Err(failure.error.into_feed_error(&self.name, attempts))
    }

    async fn attempt(&mut self, given: Option<&Lease>) -> Result<Attempt, Failure> {
        let lease = match (given, &self.lease_ops, &mut self.leasing) {
            (Some(lease), _, _) => {
                if self.given_epoch != Some(lease.epoch) {
                    // A lease at another epoch: whoever held it in between may have saved.
                    self.given_epoch = Some(lease.epoch);
                    self.stale = true;
                }
                Some(lease.clone())
            }
            (None, Some(ops), Some(leasing)) => {
                match leasing.take(ops.as_ref(), &self.name, &self.owner).await? {
                    Took::Kept(lease) => Some(lease),
                    Took::New(lease) => {
                        // Newly taken, or taken back after another held it: reload its checkpoint.
                        self.stale = true;
                        Some(lease)
                    }
                    Took::Standby(holder) => {
                        self.stale = true;
                        return Ok(Attempt::Standby(holder));
                    }
                }
            }
            _ => None,
        };
        if self.stale {
            self.reload().await?;
        }
        let span = tracing::info_span!("es.feed.batch", consumer = %self.name, cursor = %self.cursor, read = tracing::field::Empty);
        let page = self.store.read_all(self.cursor, self.batch).instrument(span.clone()).await?;
        span.record("read", page.len());
        let Some(last) = page.last().map(|e| e.cursor) else {
            return Ok(Attempt::Done { read: 0, more: false, lease });
        };
        let more = page.len() >= self.batch;
        let handled: Vec<&StoredEvent> = page
            .iter()
            .filter(|e| self.consumer.handles(&e.name) && !self.skip.iter().any(|(id, _)| *id == e.id))
            .collect();
        if let Some(keys) = &self.keys {
            for event in &handled {
                keys.load_sealed(event.payload.get()).await?;
            }
        }
        if !handled.is_empty() {
            let lent: Vec<EventRef<'_>> = handled.iter().map(|e| e.as_ref()).collect();
            // From here the consumer's state is ahead of the checkpoint until the commit.
            self.stale = true;
            let handling = keyed::scoped(self.keys.as_ref(), self.consumer.handle(&lent));
            if let Err(error) = handling.instrument(span).await {
                return Err(self.partial(error, &page, lease.as_ref()).await);
            }
        }
        self.commit(last, lease.as_ref()).await?;
        Ok(Attempt::Done { read: page.len(), more, lease })
    }

    /// A batch failed at an event the consumer named: when it says the events before it are
    /// handled, they are checkpointed, so that a retry starts at the failing event.
    async fn partial(&mut self, error: ConsumeError, page: &[StoredEvent], lease: Option<&Lease>) -> Failure {
        let Some(failed) = error.failed() else { return error.into() };
        let Some(at) = page.iter().position(|e| e.id == failed.id) else { return error.into() };
        let event = Some(page[at].clone());
        if !failed.handled_before {
            return Failure { error, committed: 0, event };
        }
        if at == 0 {
            // Nothing of the batch was applied: the state is the checkpoint's.
            self.stale = false;
            return Failure { error, committed: 0, event };
        }
        match self.commit(page[at - 1].cursor, lease).await {
            Ok(()) => Failure { error, committed: at, event },
            Err(commit) => commit,
        }
    }

    /// Saves the checkpoint at `cursor` with the consumer's state, through the consumer's own
    /// commit when it has one, fenced by `lease` when there is one.
    async fn commit(&mut self, cursor: Cursor, lease: Option<&Lease>) -> Result<(), Failure> {
        let state = self.consumer.state()?;
        let checkpoint = Checkpoint { cursor, state, saved_at: crate::store::time::now_micros() };
        if let Some(checkpoint) = self.consumer.commit(checkpoint, lease).await? {
            match (lease, &self.lease_ops) {
                (Some(lease), Some(ops)) => ops.save_fenced(checkpoint, lease).await?,
                _ => self.store.save_checkpoint(&self.name, checkpoint).await?,
            }
        }
        self.cursor = cursor;
        self.stale = false;
        self.skip.retain(|(_, parked)| *parked > cursor);
        Ok(())
    }

    /// Puts the consumer back to its checkpoint as stored (the store's word, also after a save
    /// whose answer was lost).
    pub(super) async fn reload(&mut self) -> Result<(), ConsumeError> {
        let saved = self.store.load_checkpoint(&self.name).await?;
        let (cursor, state) = saved.map_or((Cursor::START, None), |c| (c.cursor, c.state));
        self.cursor = match self.consumer.restore(state.as_deref())? {
            Resume::Checkpoint => cursor,
            Resume::Start => Cursor::START,
        };
        self.stale = false;
        Ok(())
    }
}
