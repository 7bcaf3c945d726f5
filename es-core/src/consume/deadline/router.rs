//! `Deadlines`: the router. A leased [`Feed`] follows the deadline events into the pending set
//! (saved with its checkpoint); after each catch-up the router fires what is due through the
//! routes' repositories, and sleeps until the next due time, the store's signal, or the poll.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use uuid::Uuid;

use super::clock::{Clock, SystemClock};
use super::error::DeadlineError;
use super::pending::PendingDeadline;
use super::route::{Executes, Fire, Route};
use super::schedule::ScheduledCommand;
use super::tracker::Tracker;
use crate::consume::fence::LeaseOps;
use crate::consume::{Feed, FeedError, FeedStatus, Outage};
use crate::repository::RetryPolicy;
use crate::store::checkpoint::CheckpointStore;
use crate::store::lease::{worker_id, Lease, Leases};
use crate::store::EventStore;

/// Fires scheduled commands when they are due, once in effect, in one process at a time when
/// [`leased`](Self::leased).
///
/// ```
/// use es_core::consume::{Deadline, Deadlines, ScheduledCommand, Tick};
/// use es_core::{Aggregate, Apply, Event, Handle, MemoryStore, Repository};
/// use serde::{Deserialize, Serialize};
/// use std::time::Duration;
///
/// #[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
/// pub struct Opened;
/// #[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
/// pub struct Cancelled;
///
/// #[derive(Aggregate, Default)]
/// #[aggregate(events(Opened, Cancelled, es_core::consume::DeadlineScheduled), error = std::convert::Infallible)]
/// pub struct Cart { cancelled: bool }
/// impl Apply<Opened> for Cart { fn apply(&mut self, _: &Opened) {} }
/// impl Apply<Cancelled> for Cart { fn apply(&mut self, _: &Cancelled) { self.cancelled = true } }
///
/// #[derive(Serialize, Deserialize)]
/// pub struct Open { id: String }
/// #[derive(Serialize, Deserialize)]
/// pub struct CancelCart;
/// impl ScheduledCommand for CancelCart { const NAME: &'static str = "CancelCart"; }
///
/// impl Handle<Open> for Cart {
///     fn handle(&self, cmd: &Open) -> Result<Vec<CartEvent>, Self::Error> {
///         // A real decision maps the error into its own: `.map_err(CartError::from)?`.
///         let cancel = Deadline::after(Duration::from_millis(20), &cmd.id, &CancelCart).expect("serializes");
///         Ok(vec![Opened.into(), cancel.into()])
///     }
/// }
/// impl Handle<CancelCart> for Cart {
///     fn handle(&self, _: &CancelCart) -> Result<Vec<CartEvent>, Self::Error> {
///         Ok(vec![Cancelled.into()])
///     }
/// }
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let store = MemoryStore::new();
/// let carts = Repository::<Cart, _>::new(store.clone());
/// carts.execute("c1", Open { id: "c1".into() }).await?;
/// let mut deadlines = Deadlines::new("deadlines", store.clone())
///     .route::<CancelCart>(carts.clone())
///     .leased(Duration::from_secs(10));
/// assert_eq!(deadlines.tick().await?, Tick::Fired(vec![]));       // not due yet
/// tokio::time::sleep(Duration::from_millis(25)).await;
/// let Tick::Fired(fired) = deadlines.tick().await? else { panic!("holds the lease") };
/// assert_eq!((fired.len(), fired[0].target.as_str()), (1, "c1"));
/// assert!(carts.load("c1").await?.state.cancelled);
/// // In a service: `deadlines.run(shutdown).await?` wakes at each due time by itself.
/// # Ok::<_, Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
pub struct Deadlines<S> {
    pub(super) feed: Feed<Tracker, S>,
    pub(super) store: S,
    pub(super) clock: Arc<dyn Clock>,
    pub(super) routes: HashMap<String, Box<dyn Fire>>,
    /// Fired and recorded as fired, but the feed has not read the `DeadlineFired` back yet.
    pub(super) in_flight: HashSet<Uuid>,
    /// Commands met without a route, warned about once.
    pub(super) unrouted: HashSet<String>,
    pub(super) owner: String,
    pub(super) lease: Option<LeaseCheck>,
    pub(super) poll: Duration,
    /// Where the `DeadlineFired` events go: `Deadlines-<name>`.
    pub(super) fired_stream: String,
    /// How often a failed firing phase is run again, as the feed retries a batch.
    pub(super) retry: RetryPolicy,
}

/// Checks the lease again before firing (a feed checks it only per batch).
pub(super) struct LeaseCheck {
    pub(super) ops: Arc<dyn LeaseOps>,
    pub(super) ttl: Duration,
}

/// What one [`Deadlines::tick`] did.
#[derive(Debug, Clone, PartialEq)]
pub enum Tick {
    /// It caught up and fired these (none: nothing was due).
    Fired(Vec<Firing>),
    /// Another process holds the lease: this one stands by and fires nothing.
    Standby,
}

/// A deadline the router fired.
#[derive(Debug, Clone, PartialEq)]
pub struct Firing {
    /// The deadline's id, the command id the command ran with.
    pub id: Uuid,
    /// The aggregate the command went to.
    pub target: String,
    /// The command's name.
    pub command: String,
    /// The command, as JSON.
    pub payload: serde_json::Value,
    /// When it was due.
    pub due: SystemTime,
    /// The router's clock when it fired.
    pub fired_at: SystemTime,
    /// What came of it.
    pub outcome: super::Outcome,
}

impl Firing {
    /// The command, decoded (`None` when it is another command).
    pub fn command_as<C: ScheduledCommand>(&self) -> Option<C> {
        (self.command == C::NAME).then(|| C::deserialize(&self.payload).ok()).flatten()
    }
}

impl<S: EventStore + CheckpointStore + crate::personal::Privacy> Deadlines<S> {
    /// A router named `name` (its checkpoint, its lease, and the stream `Deadlines-<name>` of
    /// its `DeadlineFired` events) over `store`: the system clock, batches of 512, no lease,
    /// no routes yet, the store's signal with a 500 ms poll as fallback.
    pub fn new(name: impl Into<String>, store: S) -> Self {
        let name = name.into();
        let owner = worker_id();
        let fired_stream = format!("Deadlines-{name}");
        let feed = Feed::new(name, Tracker::default(), store.clone()).batch(512).owner(owner.clone());
        Deadlines {
            feed,
            store,
            clock: Arc::new(SystemClock),
            routes: HashMap::new(),
            in_flight: HashSet::new(),
            unrouted: HashSet::new(),
            owner,
            lease: None,
            poll: Duration::from_millis(500),
            fired_stream,
            retry: RetryPolicy::default()
                .max_attempts(3)
                .backoff(Duration::from_millis(10), Duration::from_secs(1)),
        }
    }

    /// Sends the scheduled commands `C` to `executor`: a [`Repository`](crate::Repository) of an
    /// aggregate that handles them, `route::<CancelCart>(carts)`.
    pub fn route<C: ScheduledCommand>(mut self, executor: impl Executes<C>) -> Self {
        let route = Route { executor, command: PhantomData::<fn() -> C> };
        self.routes.insert(C::NAME.to_owned(), Box::new(route));
        self
    }

    /// Reads the time from `clock` (a virtual clock in tests).
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Fires in one process at a time: start the router in every process; the one holding the
    /// lease `name` (taken for `ttl`, renewed every batch and checked again before firing)
    /// fires, the others stand by and take over once it lapses.
    pub fn leased(mut self, ttl: Duration) -> Self
    where
        S: Leases,
    {
        self.feed = self.feed.leased(ttl);
        self.lease = Some(LeaseCheck { ops: Arc::new(self.store.clone()), ttl });
        self
    }

    /// The id this router holds its lease as (default: a fresh worker id).
    pub fn owner(mut self, owner: impl Into<String>) -> Self {
        self.owner = owner.into();
        self.feed = self.feed.owner(self.owner.clone());
        self
    }

    /// Deadline events read per batch (and per checkpoint).
    pub fn batch(mut self, batch: usize) -> Self {
        self.feed = self.feed.batch(batch);
        self
    }

    /// How many times a batch, and the firing of what is due, is tried, and the backoff between
    /// tries.
    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self.feed = self.feed.retry(retry);
        self
    }

    /// The longest wait between two looks at the store (and at the lease, on standby).
    pub fn poll(mut self, poll: Duration) -> Self {
        self.poll = poll;
        self.feed = self.feed.poll(poll);
        self
    }

    /// The router's name.
    pub fn name(&self) -> &str {
        self.feed.name()
    }

    /// The pending deadlines as of the last tick, soonest first (including those fired whose
    /// `DeadlineFired` the router has not read back yet).
    pub fn pending(&self) -> impl Iterator<Item = &PendingDeadline> {
        self.feed.consumer().pending.iter()
    }

    /// How many deadlines are pending, as of the last tick.
    pub fn pending_count(&self) -> usize {
        self.feed.consumer().pending.len()
    }

    /// The lease the router held at its last tick, when leased.
    pub fn lease(&self) -> Option<&Lease> {
        self.feed.lease()
    }

    /// Checkpoint, lag and lease, as stored.
    pub async fn status(&self) -> Result<FeedStatus, crate::store::StoreError> {
        self.feed.status().await
    }

    /// Gives the lease up, when leased, so that another router takes over at once.
    pub async fn release(&mut self) -> Result<(), crate::store::StoreError> {
        self.in_flight.clear();
        self.feed.release().await
    }

    /// Ticks until `stop` completes: catches up, fires what is due, then sleeps until the next
    /// due time, the store's append signal, or the poll (shorter on standby and to renew the
    /// lease in time). Then gives the lease up.
    ///
    /// A store that keeps failing, or a deadline whose command keeps failing, does not end it:
    /// it waits with backoff (100 ms doubling to 30 s, warning at the start and once a minute)
    /// and tries again, the failing deadline still pending. A deadline event that does not
    /// decode ends it, the pending set at its last checkpoint.
    pub async fn run(&mut self, stop: impl Future<Output = ()>) -> Result<(), DeadlineError> {
        tokio::pin!(stop);
        let mut watch = self.store.watch();
        let mut outage = Outage::default();
        loop {
            if let Some(watch) = &mut watch {
                watch.mark_seen();
            }
            let tick = match self.tick().await {
                Ok(tick) => {
                    outage.recovered(self.feed.name());
                    tick
                }
                Err(e @ DeadlineError::Feed(FeedError::Consumer { .. })) => return Err(e),
                Err(e) => {
                    let wait = outage.failed(self.feed.name(), &e);
                    tokio::select! {
                        biased;
                        () = &mut stop => break,
                        () = tokio::time::sleep(wait) => continue,
                    }
                }
            };
            let standby = tick == Tick::Standby;
            let wait = self.wait(standby);
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
                () = signal => {}
            }
        }
        self.release().await.map_err(DeadlineError::Store)
    }

    /// How long to sleep after a tick: until the next deadline this router would fire is due,
    /// at most the poll (and a third of the lease, to renew it in time).
    fn wait(&self, standby: bool) -> Duration {
        let idle = match &self.lease {
            Some(lease) => self.poll.min(lease.ttl / 3),
            None => self.poll,
        };
        if standby {
            return idle;
        }
        let now = self.clock.now();
        let next = self
            .feed
            .consumer()
            .pending
            .iter()
            .find(|p| !self.in_flight.contains(&p.id) && self.routes.contains_key(&p.command));
        match next {
            Some(p) => p.due().duration_since(now).unwrap_or(Duration::ZERO).min(idle),
            None => idle,
        }
    }
}
