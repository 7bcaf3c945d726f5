//! `Feed`: the one lifecycle every consumer runs on. It follows the store's global order from
//! the consumer's checkpoint, a batch at a time, and owns everything around the consumer's
//! `handle`: cursor, checkpoint, lease, keys, signal, retries, parking, status.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use uuid::Uuid;

use super::consumer::Consume;
use super::error::FeedError;
use super::fence::{LeaseOps, Leasing};
use super::outage::Outage;
use super::parking::{Failures, Parking};
use super::status::{FeedStatus, Stepped};
use crate::personal::{Keyring, Privacy};
use crate::repository::RetryPolicy;
use crate::store::checkpoint::{Checkpoint, CheckpointStore};
use crate::store::cursor::Cursor;
use crate::store::dead_letter::DeadLetters;
use crate::store::lease::{worker_id, Lease, Leases};
use crate::store::EventStore;
use crate::store::StoreError;

/// Runs the consumer `C`, named for its checkpoint, lease and dead letters, over the store `S`.
///
/// ```
/// use es_core::consume::{Consume, ConsumeError, Feed};
/// use es_core::{EventRef, EventStore, ExpectedVersion, MemoryStore, NewEvent};
/// use std::time::Duration;
///
/// #[derive(Default)]
/// struct Pings(u64);
/// impl Consume for Pings {
///     fn handles(&self, name: &str) -> bool { name == "Pinged" }
///     async fn handle(&mut self, batch: &[EventRef<'_>]) -> Result<(), ConsumeError> {
///         self.0 += batch.len() as u64;
///         Ok(())
///     }
/// }
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let store = MemoryStore::new();
/// let ping = || NewEvent::new("Pinged", 1, serde_json::json!(null));
/// store.append("Pinger-1", ExpectedVersion::Any, vec![ping(), ping()]).await?;
/// let mut feed = Feed::new("pings", Pings::default(), store.clone()).leased(Duration::from_secs(10));
/// assert_eq!(feed.catch_up().await?, 2);
/// assert_eq!(feed.consumer().0, 2);
/// let status = feed.status().await?;
/// assert_eq!((status.lag, status.lease.map(|l| l.epoch)), (0, Some(1)));
/// // In a service: `feed.run(shutdown).await?` follows new events until `shutdown` completes.
/// # Ok::<_, Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
pub struct Feed<C, S> {
    pub(super) name: String,
    pub(super) consumer: C,
    pub(super) store: S,
    /// The cursor of the checkpoint the consumer's state belongs to.
    pub(super) cursor: Cursor,
    /// Set while the consumer or the cursor may differ from the stored checkpoint (at the
    /// start, during a batch, after an error, after losing the lease): the next batch reloads
    /// the checkpoint and restores the consumer first.
    pub(super) stale: bool,
    pub(super) batch: usize,
    pub(super) retry: RetryPolicy,
    pub(super) poll: Duration,
    pub(super) keys: Option<Keyring>,
    pub(super) owner: String,
    pub(super) lease_ops: Option<Arc<dyn LeaseOps>>,
    pub(super) leasing: Option<Leasing>,
    pub(super) parking: Option<Parking>,
    pub(super) failures: Failures,
    /// Parked events to leave out of the batches until the checkpoint passes them.
    pub(super) skip: Vec<(Uuid, Cursor)>,
    /// The epoch of the last lease a caller gave `step_under`: another one means another
    /// holder may have saved in between, so the checkpoint is reloaded.
    pub(super) given_epoch: Option<u64>,
}

impl<C: Consume, S: EventStore + CheckpointStore + Privacy> Feed<C, S> {
    /// A feed for `consumer` named `name` over `store`: batches of 256, 3 attempts per batch
    /// (backoff from 10 ms to 1 s), the store's keys, no lease, no parking (a failing event stops
    /// the feed before it), the store's append signal with a 500 ms poll as fallback. It resumes
    /// from the consumer's checkpoint at its first step.
    pub fn new(name: impl Into<String>, consumer: C, store: S) -> Self {
        let keys = store.keys();
        Feed {
            name: name.into(),
            consumer,
            store,
            cursor: Cursor::START,
            stale: true,
            batch: 256,
            retry: RetryPolicy::default()
                .max_attempts(3)
                .backoff(Duration::from_millis(10), Duration::from_secs(1)),
            poll: Duration::from_millis(500),
            keys,
            owner: worker_id(),
            lease_ops: None,
            leasing: None,
            parking: None,
            failures: Failures::default(),
            skip: Vec::new(),
            given_epoch: None,
        }
    }
}

impl<C: Consume, S: EventStore + CheckpointStore> Feed<C, S> {
    /// Events read per batch, and per checkpoint (at least 1).
    pub fn batch(mut self, batch: usize) -> Self {
        self.batch = batch.max(1);
        self
    }

    /// How many times a batch is tried (at least 1) and the backoff between tries. Every try
    /// starts from the last checkpoint.
    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// How long to wait for the store's append signal before reading again anyway (and how
    /// often a feed on standby looks at the lease).
    pub fn poll(mut self, poll: Duration) -> Self {
        self.poll = poll;
        self
    }

    /// Opens personal data with `keys` instead of the store's keyring.
    pub fn keys(mut self, keys: Keyring) -> Self {
        self.keys = Some(keys);
        self
    }

    /// Runs the consumer in one process at a time: each batch takes or renews the lease named
    /// like the consumer for `ttl`, and saves its checkpoint fenced by the lease's epoch. While
    /// another holds it this feed stands by; when the holder stops renewing, this feed takes it
    /// over once it lapses and resumes from the holder's last checkpoint. Keep `ttl` well above
    /// a batch's duration.
    pub fn leased(mut self, ttl: Duration) -> Self
    where
        S: Leases,
    {
        self.lease_ops = Some(Arc::new(self.store.clone()));
        self.leasing = Some(Leasing { ttl, held: None });
        self
    }

    /// The id this feed holds its lease as (default: a fresh [`worker_id`]). Feeds need
    /// distinct ids: two with one id both pass the fence.
    pub fn owner(mut self, owner: impl Into<String>) -> Self {
        self.owner = owner.into();
        self
    }

    /// Parks an event the consumer failed on (named with
    /// [`ConsumeError::at`](super::ConsumeError::at)) after every attempt, and goes on after it.
    pub fn parking(mut self) -> Self
    where
        S: DeadLetters,
    {
        self.parking = Some(Arc::new(self.store.clone()));
        self
    }

    /// The consumer's name: its checkpoint's, lease's and dead letters' key.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The consumer. Its state is the state of [`cursor`](Self::cursor) between steps.
    pub fn consumer(&self) -> &C {
        &self.consumer
    }

    /// The consumer, giving up the feed.
    pub fn into_consumer(self) -> C {
        self.consumer
    }

    /// The store.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// The cursor of the last checkpoint this feed saved or resumed from.
    pub fn cursor(&self) -> Cursor {
        self.cursor
    }

    /// The lease this feed held at its last step, when leased.
    pub fn lease(&self) -> Option<&Lease> {
        self.leasing.as_ref().and_then(|l| l.held.as_ref())
    }

    /// Loads the checkpoint and restores the consumer now, instead of at the first step.
    pub async fn resume(&mut self) -> Result<(), FeedError> {
        self.reload().await.map_err(|e| e.into_feed_error(&self.name, 1))
    }

    /// Handles every event committed so far, batch after batch; returns how many events the
    /// checkpoint moved past. On standby (or fenced) it returns at once.
    pub async fn catch_up(&mut self) -> Result<usize, FeedError> {
        let mut read = 0;
        loop {
            match self.step().await? {
                Stepped::Worked { read: n, more, .. } => {
                    read += n;
                    if !more {
                        return Ok(read);
                    }
                }
                Stepped::Standby { .. } | Stepped::Fenced { .. } => return Ok(read),
            }
        }
    }

    /// Catches up, then follows new events (woken by the store's signal, or every poll) until
    /// `stop` completes; then gives the lease up, if it holds one.
    ///
    /// A store that keeps failing after the retries (a failover, a restart) does not end it: it
    /// waits with backoff (100 ms doubling to 30 s, a warning at the start and once a minute)
    /// and goes on from the last checkpoint. The consumer failing every attempt on an event
    /// (without parking) ends it, the consumer at its last checkpoint, just before that event.
    pub async fn run(&mut self, stop: impl Future<Output = ()>) -> Result<(), FeedError> {
        tokio::pin!(stop);
        let mut watch = self.store.watch();
        let mut outage = Outage::default();
        loop {
            if let Some(watch) = &mut watch {
                watch.mark_seen();
            }
            let stepped = match self.step().await {
                Ok(stepped) => {
                    outage.recovered(&self.name);
                    stepped
                }
                Err(FeedError::Store(e)) => {
                    let wait = outage.failed(&self.name, &e);
                    tokio::select! {
                        biased;
                        () = &mut stop => break,
                        () = tokio::time::sleep(wait) => continue,
                    }
                }
                Err(e) => return Err(e),
            };
            let (idle, standby) = match stepped {
                Stepped::Worked { more, .. } => (!more, false),
                Stepped::Standby { .. } | Stepped::Fenced { .. } => (true, true),
            };
            let wait = self.idle_wait();
            let signal = async {
                match (&mut watch, standby) {
                    (Some(watch), false) => {
                        let _ = tokio::time::timeout(wait, watch.changed()).await;
                    }
                    _ => tokio::time::sleep(wait).await,
                }
            };
            tokio::select! {
                biased;
                () = &mut stop => break,
                () = signal, if idle => {}
                () = std::future::ready(()), if !idle => {}
            }
        }
        self.release().await.map_err(FeedError::Store)
    }

    /// How long an idle feed waits: the poll, but short enough to renew a held lease in time.
    fn idle_wait(&self) -> Duration {
        match &self.leasing {
            Some(leasing) => self.poll.min(leasing.ttl / 3),
            None => self.poll,
        }
    }

    /// Gives the lease up, so that another feed takes over without waiting for it to lapse.
    pub async fn release(&mut self) -> Result<(), StoreError> {
        let (Some(ops), Some(leasing)) = (&self.lease_ops, &mut self.leasing) else { return Ok(()) };
        self.stale = true;
        match leasing.held.take() {
            Some(lease) => ops.release(&lease).await,
            None => Ok(()),
        }
    }

    /// Forgets the checkpoint and the consumer's state, so that the next step starts from the
    /// first event (a rebuild). Under a lease the empty checkpoint is saved fenced: a feed that
    /// does not hold the lease changes nothing ([`StoreError::Fenced`]).
    pub async fn reset(&mut self) -> Result<(), FeedError> {
        self.stale = true;
        match (&self.lease_ops, &mut self.leasing) {
            (Some(ops), Some(leasing)) => {
                let lease = match leasing.take(ops.as_ref(), &self.name, &self.owner).await? {
                    super::fence::Took::Kept(lease) | super::fence::Took::New(lease) => lease,
                    super::fence::Took::Standby(holder) => {
                        let epoch = holder.map_or(0, |h| h.epoch);
                        return Err(StoreError::Fenced { lease: self.name.clone(), epoch }.into());
                    }
                };
                let empty = Checkpoint {
                    cursor: Cursor::START,
                    state: None,
                    saved_at: crate::store::time::now_micros(),
                };
                ops.save_fenced(empty, &lease).await?;
            }
            _ => self.store.delete_checkpoint(&self.name).await?,
        }
        self.skip.clear();
        self.resume().await
    }

    /// The consumer's status: checkpoint, lag, lease (owner, epoch, last renewal) and parked
    /// events, as stored.
    pub async fn status(&self) -> Result<FeedStatus, StoreError> {
        let checkpoint = self.store.load_checkpoint(&self.name).await?;
        let head = self.store.head().await?;
        let lease = match &self.lease_ops {
            Some(ops) => ops.lease(&self.name).await?,
            None => None,
        };
        let parked = match &self.parking {
            Some(parking) => Some(parking.count(&self.name).await?),
            None => None,
        };
        let cursor = checkpoint.as_ref().map(|c| c.cursor);
        Ok(FeedStatus {
            name: self.name.clone(),
            cursor,
            saved_at: checkpoint.map(|c| c.saved_at),
            lag: head.position().saturating_sub(cursor.unwrap_or_default().position()),
            lease,
            parked,
        })
    }

    /// Moves the checkpoint to `cursor` (a stateless consumer's replay): under a lease, saved
    /// fenced (taking the lease first), so that the holder's next save cannot undo it.
    pub(crate) async fn seek(&mut self, cursor: Cursor) -> Result<(), StoreError> {
        self.stale = true;
        let checkpoint = Checkpoint { cursor, state: None, saved_at: crate::store::time::now_micros() };
        match (&self.lease_ops, &mut self.leasing) {
            (Some(ops), Some(leasing)) => {
                let lease = match leasing.take(ops.as_ref(), &self.name, &self.owner).await? {
                    super::fence::Took::Kept(lease) | super::fence::Took::New(lease) => lease,
                    super::fence::Took::Standby(holder) => {
                        let epoch = holder.map_or(0, |h| h.epoch);
                        return Err(StoreError::Fenced { lease: self.name.clone(), epoch });
                    }
                };
                ops.save_fenced(checkpoint, &lease).await?;
            }
            _ => self.store.save_checkpoint(&self.name, checkpoint).await?,
        }
        self.cursor = cursor;
        self.skip.clear();
        Ok(())
    }

    /// Sets the poll of a built feed (for the runners' `run(poll, ..)`).
    pub(crate) fn set_poll(&mut self, poll: Duration) {
        self.poll = poll;
    }

    /// Turns parking off again (a reactor runner set to stop).
    pub(crate) fn without_parking(mut self) -> Self {
        self.parking = None;
        self
    }

    /// The keyring personal data opens with.
    pub(crate) fn keyring(&self) -> Option<&Keyring> {
        self.keys.as_ref()
    }
}
