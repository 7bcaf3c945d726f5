//! Read models kept in PostgreSQL tables, updated in the same transaction as their checkpoint,
//! so that each event takes effect exactly once, whatever crashes in between.
//!
//! The runner is a [`Feed`] (the lifecycle every consumer runs on) over the projection: a batch
//! that fails anywhere (the projection, the database, a lost lease) rolls back with its
//! checkpoint, and the feed retries it from the checkpoint (3 attempts) before it returns the
//! error.
//!
//! ```no_run
//! use es_core::{StoreError, StoredEvent};
//! use es_postgres::{PostgresStore, TableProjection, TableProjectionRunner};
//! use sqlx::PgConnection;
//!
//! /// Counts events per stream in a table.
//! struct EventsPerStream;
//!
//! impl TableProjection for EventsPerStream {
//!     fn name(&self) -> &str { "events-per-stream" }
//!     fn handles(&self, _event_name: &str) -> bool { true }
//!     async fn apply(&mut self, tx: &mut PgConnection, event: &StoredEvent) -> Result<(), StoreError> {
//!         sqlx::query("INSERT INTO counts (stream, n) VALUES ($1, 1)
//!                      ON CONFLICT (stream) DO UPDATE SET n = counts.n + 1")
//!             .bind(&event.stream)
//!             .execute(tx)
//!             .await
//!             .map_err(|e| StoreError::backend(<PostgresStore as es_core::EventStore>::BACKEND, e))?;
//!         Ok(())
//!     }
//! }
//!
//! # async fn f(store: PostgresStore) -> Result<(), StoreError> {
//! let mut runner = TableProjectionRunner::new(store, EventsPerStream);
//! runner.catch_up().await?;
//! # Ok(()) }
//! ```

use std::future::Future;
use std::time::Duration;

use es_core::consume::{Feed, FeedError, Stepped};
use es_core::worker::Step;
use es_core::{Cursor, EventStore, Lease, Leases, RetryPolicy, StoreError, StoredEvent};
use sqlx::PgConnection;

use crate::PostgresStore;

mod beside;
mod tables;

use beside::Version;
use es_core::consume::versions::{Phase, Switched};
use tables::Tables;

/// A read model in tables of the store's database, updated inside the runner's transaction.
pub trait TableProjection: Send + 'static {
    /// The name its checkpoint is kept under.
    fn name(&self) -> &str;

    /// Whether it consumes events stored under `event_name` (others are skipped unread).
    fn handles(&self, event_name: &str) -> bool;

    /// Applies one event using `tx`, the batch's transaction. An error rolls the whole batch
    /// back, checkpoint included.
    fn apply(
        &mut self,
        tx: &mut PgConnection,
        event: &StoredEvent,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Creates its tables (`CREATE TABLE IF NOT EXISTS ...`), in the transaction of the first
    /// batch a runner applies (and again in later batches until one commits). A versioned
    /// runner ([`TableProjectionRunner::version`]) runs it, as every `apply`, with the
    /// version's own schema as `search_path`: name the tables unqualified. Default: nothing.
    fn setup(&mut self, tx: &mut PgConnection) -> impl Future<Output = Result<(), StoreError>> + Send {
        let _ = tx;
        async { Ok(()) }
    }
}

/// Runs a [`TableProjection`]: each batch of events and the checkpoint commit together.
///
/// Runners of one projection in several processes without a lease take turns: each batch's
/// transaction locks the checkpoint row, and applies only the events after the checkpoint it
/// finds there. A step cut off mid-way (its future dropped) keeps its transaction, and that
/// lock, until the runner steps again or is dropped.
pub struct TableProjectionRunner<P> {
    feed: Feed<Tables<P>, PostgresStore>,
    batch: usize,
    retry: Option<RetryPolicy>,
    /// The version run, when versioned, with where it stands.
    version: Option<(Version, Phase)>,
    /// What this runner's switch did, once its version caught up.
    switched: Option<Switched>,
}

impl<P: TableProjection> TableProjectionRunner<P> {
    /// A runner for `projection` over `store`'s events; batches of 256.
    pub fn new(store: PostgresStore, projection: P) -> Self {
        let name = projection.name().to_owned();
        let feed = Feed::new(name, Tables::new(store.clone(), projection, None), store);
        TableProjectionRunner {
            feed: feed.batch(256),
            batch: 256,
            retry: None,
            version: None,
            switched: None,
        }
    }

    /// How many events to apply per transaction.
    pub fn with_batch(mut self, batch: usize) -> Self {
        self.batch = batch.max(1);
        self.feed = self.feed.batch(self.batch);
        self
    }

    /// How many times a batch is tried, and the backoff between tries (default: 3 attempts,
    /// from 10 ms to 1 s). Every try starts from the checkpoint.
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = Some(retry);
        self.feed = self.feed.retry(retry);
        self
    }

    /// Runs version `version` of the projection beside the others (bump it when the
    /// projection's code changes): its tables in a schema of its own, its checkpoint and lease
    /// named `name@version`, for version 1 too (an unversioned runner's checkpoint `name` goes
    /// with its own tables: a version 1 started where an unversioned runner ran builds from the
    /// first event). Readers query the views of [`read_schema`](Self::read_schema), which show
    /// the active version's tables. Once this version has caught up, no newer one is active and
    /// it is not behind the active one's checkpoint, a step switches the views and the active
    /// version record to it in one transaction, exactly once whatever the number of processes;
    /// a runner whose version is older than the active one retires ([`phase`](Self::phase)) and
    /// applies nothing more. Set up the tables in [`TableProjection::setup`]. An error when the
    /// schema's name would be too long.
    pub fn version(mut self, version: u64) -> Result<Self, StoreError> {
        let store = self.feed.store().clone();
        let projection = self.feed.into_consumer().projection;
        let version = Version::new(&store, projection.name(), version)?;
        let tables = Tables::new(store.clone(), projection, Some(version.clone()));
        let mut feed = Feed::new(version.checkpoint.clone(), tables, store).batch(self.batch);
        if let Some(retry) = self.retry {
            feed = feed.retry(retry);
        }
        self.feed = feed;
        let phase = Phase::of(version.version, None);
        // Until it has switched once, a version (even 1) has no views: it is beside.
        self.version = Some((version, if phase == Phase::Active { Phase::Beside } else { phase }));
        Ok(self)
    }

    /// The schema readers query, quoted, when versioned: one view per table of the active
    /// version, e.g. `SELECT * FROM {read_schema}.balances`.
    pub fn read_schema(&self) -> Option<String> {
        self.version.as_ref().map(|(v, _)| format!("\"{}\"", v.read))
    }

    /// The schema this version's tables are in, quoted, when versioned.
    pub fn tables_schema(&self) -> Option<String> {
        self.version.as_ref().map(|(v, _)| format!("\"{}\"", v.tables))
    }

    /// Where this runner's version stands ([`Phase::Active`] when unversioned).
    pub fn phase(&self) -> Phase {
        self.version.as_ref().map_or(Phase::Active, |(_, phase)| *phase)
    }

    /// What this runner's switch did, once its version caught up: [`Switched::Now`] when this
    /// runner made it active.
    pub fn switched(&self) -> Option<Switched> {
        self.switched
    }

    /// Drops the tables (the schema) and the checkpoint of version `version` of this
    /// projection, unless it is the active one. Stop its runners first.
    pub async fn retire(&self, version: u64) -> Result<(), StoreError> {
        let store = self.feed.store();
        beside::retire(store, &Version::new(store, self.projection().name(), version)?).await
    }

    /// After a batch that read everything committed, for a versioned runner: switches to its
    /// version when no newer one is active and it is not behind the active one (else it stays
    /// beside, to read on), retires when a newer one is active.
    async fn settle(&mut self) -> Result<(), StoreError> {
        let store = self.feed.store().clone();
        let Some((version, phase)) = &mut self.version else { return Ok(()) };
        let active = beside::active(&store, &version.name).await?;
        *phase = match active {
            Some(active) if active > version.version => Phase::Retired { active },
            Some(active) if active == version.version => Phase::Active,
            _ => match beside::switch(&store, version).await? {
                switched @ Switched::Now { .. } => {
                    self.switched = Some(switched);
                    Phase::Active
                }
                Switched::Already { active } => Phase::of(version.version, Some(active)),
                Switched::Behind { active, at } => {
                    tracing::debug!(projection = %version.name, version = version.version, active, %at, "behind the active version: reading on before switching");
                    Phase::Beside
                }
                Switched::Busy => Phase::Beside,
            },
        };
        Ok(())
    }

    /// A step of the feed (under `lease` when given), then [`settle`](Self::settle)d when it
    /// read everything committed; nothing once retired.
    async fn advance(&mut self, lease: Option<&Lease>) -> Result<Stepped, StoreError> {
        if let Phase::Retired { .. } = self.phase() {
            return Ok(Stepped::Standby { holder: None });
        }
        let stepped = match lease {
            Some(lease) => self.feed.step_under(lease).await,
            None => self.feed.step().await,
        }
        .map_err(store_error)?;
        if let Stepped::Worked { more: false, .. } = stepped {
            self.settle().await?;
        }
        Ok(stepped)
    }

    /// The checkpoint: the cursor of the last event applied ([`Cursor::START`]: none).
    pub async fn cursor(&self) -> Result<Cursor, StoreError> {
        let saved = es_core::CheckpointStore::load_checkpoint(self.feed.store(), self.feed.name()).await?;
        Ok(saved.map_or(Cursor::START, |c| c.cursor))
    }

    /// How far the read model is behind the store's head, in positions (an estimate: positions
    /// are handed out at insert, not at commit).
    pub async fn lag(&self) -> Result<u64, StoreError> {
        Ok(self.feed.store().head().await?.position().saturating_sub(self.cursor().await?.position()))
    }

    /// Applies every committed event, one transaction per batch. Returns how many events it
    /// read.
    pub async fn catch_up(&mut self) -> Result<usize, StoreError> {
        let mut read = 0;
        loop {
            match self.advance(None).await? {
                Stepped::Worked { read: n, more: true, .. } => read += n,
                Stepped::Worked { read: n, .. } => return Ok(read + n),
                Stepped::Standby { .. } => return Ok(read),
                Stepped::Fenced { epoch } => return Err(self.fenced(epoch)),
            }
        }
    }

    /// Applies one batch and moves the checkpoint, in one transaction. Returns how many events
    /// it read.
    pub async fn step(&mut self) -> Result<usize, StoreError> {
        match self.advance(None).await? {
            Stepped::Worked { read, .. } => Ok(read),
            // Unleased, the feed neither stands by nor is fenced (or it retired).
            Stepped::Standby { .. } => Ok(0),
            Stepped::Fenced { epoch } => Err(self.fenced(epoch)),
        }
    }

    /// Like [`step`](Self::step), in a transaction that checks that `lease` is still held at
    /// its epoch and keeps the lease row locked to the commit: a worker that lost its lease
    /// applies nothing ([`StoreError::Fenced`]).
    pub async fn step_under(&mut self, lease: &Lease) -> Result<usize, StoreError> {
        match self.advance(Some(lease)).await? {
            Stepped::Worked { read, .. } => Ok(read),
            Stepped::Standby { .. } => Ok(0),
            Stepped::Fenced { epoch } => Err(self.fenced(epoch)),
        }
    }

    /// The projection.
    pub fn projection(&self) -> &P {
        &self.feed.consumer().projection
    }

    /// One step of a worker that runs this projection only while it holds the projection's
    /// lease as `owner` (taken or renewed for `ttl`): a fenced batch when it holds it,
    /// [`Step::Standby`] while another does, [`Step::Fenced`] when another took it over before
    /// the batch committed (nothing of it was applied). Start one in every process; see
    /// [`es_core::consume`] for the lifecycle it runs on.
    ///
    /// Versioned, its lease is its version's: the version is built by one process at a time,
    /// and a successor resumes from the checkpoint. Once retired, it gives the lease up and
    /// returns [`Step::Standby`] with no holder.
    pub async fn step_leased(&mut self, owner: &str, ttl: Duration) -> Result<Step, StoreError> {
        if let Phase::Retired { .. } = self.phase() {
            return Ok(Step::Standby { holder: None });
        }
        let store = self.feed.store().clone();
        let name = self.feed.name().to_owned();
        let Some(lease) = store.acquire(&name, owner, ttl).await? else {
            return Ok(Step::Standby { holder: store.lease(&name).await? });
        };
        let step = match self.step_under(&lease).await {
            Ok(read) => Step::Worked { read, lease: lease.clone() },
            Err(StoreError::Fenced { epoch, .. }) => return Ok(Step::Fenced { epoch }),
            Err(e) => return Err(e),
        };
        if let Phase::Retired { active } = self.phase() {
            tracing::info!(projection = %name, active, "a newer version is active: retiring");
            store.release(&lease).await?;
            return Ok(Step::Standby { holder: None });
        }
        Ok(step)
    }

    fn fenced(&self, epoch: u64) -> StoreError {
        StoreError::Fenced { lease: self.feed.name().to_owned(), epoch }
    }
}

/// The runner's errors stay [`StoreError`]s, as before it ran on a feed: the projection's
/// errors are store errors already.
fn store_error(e: FeedError) -> StoreError {
    match e {
        FeedError::Store(e) => e,
        other => StoreError::backend(crate::error::BACKEND, other),
    }
}
