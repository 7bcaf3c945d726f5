//! [`JetStreamStore`]: the event store on a NATS JetStream stream, replicated by Raft on a
//! cluster (R3: any one of three nodes may die), for users who outgrow one database server.
//!
//! - One JetStream stream holds every event; each event stream is one literal subject
//!   (`es.<name>.e.x<hex of the stream name>`), so any stream name is valid.
//! - An event is a message: the payload is the body; id (`Nats-Msg-Id`), name, schema version,
//!   stream version, metadata, recorded time and chain hash are headers.
//! - An append is one atomic batch (ADR-50, nats-server 2.12): every event or none. Its first
//!   message carries `Nats-Expected-Last-Subject-Sequence`, the stream subject's last sequence
//!   read with the expected version, so of concurrent appends expecting one version exactly one
//!   commits. (`Any` is the same check, retried.)
//! - The global order is the stream sequence: gap-free, assigned at commit, so a reader that
//!   goes on from its last cursor never skips an event. Reads are batch direct gets (ADR-31,
//!   2.11), answered by any replica; a replica behind what this process already saw is asked
//!   again.
//! - Side tables (checkpoints, leases, snapshots, dead letters, keys, turns, the id index) are
//!   a second stream keeping the last message per key; a write is conditional on the key's
//!   revision, and a fenced checkpoint is one atomic batch with its lease check.
//!
//! Not here: [`Boundaries`](es_core::store::Boundaries) (decisions whose condition spans the
//! streams matching a tag query). JetStream checks an expected sequence per literal subject; a
//! condition over several subjects needs a wildcard filter, and with a wildcard
//! `Nats-Expected-Last-Subject-Sequence-Subject` let conflicting writes both commit on a
//! 3-node stream when their filters differed. So the type does not implement the trait, rather
//! than fail at run time. Nor [`Rewrite`](es_core::integrity::Rewrite): stored messages are
//! immutable, and the events stream denies deletes.

mod api;
mod append;
mod batch;
mod direct;
mod error;
mod ids;
mod inspect;
mod keys;
mod leases;
mod links;
mod message;
mod names;
mod options;
mod read;
mod setup;
mod side;
mod tables;
mod turns;

pub use error::JetStreamError;
pub use options::JetStreamOptions;
pub use turns::JetStreamTurn;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use es_core::personal::{Keyring, Privacy};
use es_core::{AppendSignal, LocalQueues, StoreError};
use futures_util::StreamExt;

use api::Api;
use names::Subjects;
use side::Side;

/// The store's name in errors.
pub(crate) const BACKEND: &str = "jetstream";

/// An event store on NATS JetStream; cheap to clone (clones share the connection).
///
/// ```no_run
/// # async fn run() -> Result<(), es_core::StoreError> {
/// use es_nats::{JetStreamOptions, JetStreamStore};
/// let store = JetStreamStore::connect("nats://127.0.0.1:4222", JetStreamOptions::new("BANK").replicas(3)).await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct JetStreamStore {
    inner: Arc<Inner>,
}

struct Inner {
    api: Api,
    side: Side,
    subjects: Subjects,
    options: JetStreamOptions,
    /// The events' stream name.
    events: String,
    /// The highest event sequence this process saw: a replica behind it is asked again.
    high: AtomicU64,
    /// Ticks on every append anywhere (through the tick subject).
    signal: AppendSignal,
    queues: LocalQueues,
    /// This process's turns (a second queue, held while the side-table lock is taken).
    turns: LocalQueues,
    keys: Keyring,
    url: String,
}

impl std::fmt::Debug for JetStreamStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JetStreamStore")
            .field("url", &self.inner.url)
            .field("stream", &self.inner.events)
            .finish()
    }
}

impl JetStreamStore {
    /// Connects to `url` (`nats://host:port`, several comma-separated for a cluster), creates
    /// the streams or checks the ones there. Refuses a server older than 2.12 and a stream
    /// without atomic publish, saying what to run.
    pub async fn connect(url: &str, options: JetStreamOptions) -> Result<Self, StoreError> {
        let unavailable = |e: JetStreamError| StoreError::Unavailable {
            backend: BACKEND,
            target: url.to_owned(),
            source: Box::new(e),
        };
        let client = setup::client(url, &options).await.map_err(unavailable)?;
        setup::check_version(&client, url)?;
        let api = Api { client: client.clone(), timeout: options.timeout };
        let subjects = Subjects::new(&options.stream);
        let events = options.stream.clone();
        let side_name = format!("{events}_SIDE");
        setup::ensure_streams(&api, &events, &side_name, &subjects, &options, url).await?;
        let side = Side {
            api: api.clone(),
            stream: side_name,
            subjects: subjects.clone(),
            high: Arc::new(AtomicU64::new(0)),
        };
        // Written once per store; a store opened without creating writes nothing.
        if side.get(side::META, side::SENTINEL).await?.is_none() {
            side.put(side::META, side::SENTINEL, &serde_json::json!({}), None).await?.ok();
        }
        let keys = keys::keyring(side.clone())?;
        let signal = AppendSignal::default();
        forward_ticks(&client, &subjects, &signal).await?;
        let inner = Inner {
            api,
            side,
            subjects,
            options,
            events,
            high: AtomicU64::new(0),
            signal,
            queues: LocalQueues::default(),
            turns: LocalQueues::default(),
            keys,
            url: url.to_owned(),
        };
        Ok(JetStreamStore { inner: Arc::new(inner) })
    }

    /// The client, for anything else the application does on NATS.
    pub fn client(&self) -> &async_nats::Client {
        &self.inner.api.client
    }

    /// The options it was opened with.
    pub fn options(&self) -> &JetStreamOptions {
        &self.inner.options
    }

    /// Deletes both streams with every event and side table: for tests and tools.
    pub async fn destroy(&self) -> Result<(), StoreError> {
        for stream in [&self.inner.events, &self.inner.side.stream] {
            self.inner.api.call(&format!("STREAM.DELETE.{stream}"), &serde_json::json!({})).await?;
        }
        Ok(())
    }

    /// Forgets `subject`: deletes its key, so its personal data reads as erased from now on.
    pub async fn forget(&self, subject: &str) -> Result<es_core::shredding::Forgotten, StoreError> {
        es_core::shredding::forget(self, &self.inner.keys, subject).await
    }

    /// Records that this process saw the events up to `seq`.
    fn saw(&self, seq: u64) {
        self.inner.high.fetch_max(seq, Ordering::Relaxed);
    }

    fn high(&self) -> u64 {
        self.inner.high.load(Ordering::Relaxed)
    }
}

/// Ticks `signal` on every message of the tick subject, while the signal lives.
async fn forward_ticks(
    client: &async_nats::Client,
    subjects: &Subjects,
    signal: &AppendSignal,
) -> Result<(), StoreError> {
    let mut ticks = client.subscribe(subjects.tick()).await.map_err(|e| StoreError::backend(BACKEND, e))?;
    let weak = signal.downgrade();
    tokio::spawn(async move {
        while ticks.next().await.is_some() {
            match weak.upgrade() {
                Some(signal) => signal.tick(),
                None => break,
            }
        }
    });
    Ok(())
}

impl Privacy for JetStreamStore {
    fn keys(&self) -> Option<Keyring> {
        Some(self.inner.keys.clone())
    }
}
