//! The relay: a [`Feed`] over the store's global order whose consumer maps each event through
//! the contract, publishes to JetStream and waits for every ack; the feed saves its checkpoint
//! only after that. Around the feed's steps the relay keeps its own loop for broker outages:
//! backoff between tries, one warning per outage.

use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_nats::jetstream;
use async_nats::Client;
use es_core::consume::{Feed, FeedError, Outage, Stepped};
use es_core::integration::Contract;
use es_core::personal::Privacy;
use es_core::{Cursor, DeadLetters, EventStore, Leases, RetryPolicy};

use crate::broker::ensure_stream;
use crate::error::RelayError;
use crate::options::RelayOptions;
use crate::publisher::{BrokerDown, Publisher};
use crate::status::{Counters, RelayStatus};

/// Publishes the integration events of contract `C` from store `S` to NATS JetStream.
///
/// At least once, with broker-side deduplication: each message carries a `Nats-Msg-Id` derived
/// from (relay, event id, index), so the broker drops a message published again within its
/// duplicate window (after a crash between publish and checkpoint, or a retried batch), and
/// consumers can drop one beyond it by the same id. Messages of one batch are published in
/// the store's order on one connection, so each stream's events reach the stream in order.
pub struct Relay<C, S> {
    /// The unleased feed of [`catch_up`](Self::catch_up) and [`publish_batch`](Self::publish_batch);
    /// [`run`](Self::run) builds a leased one beside it.
    feed: Feed<Publisher<C>, S>,
    publisher: Publisher<C>,
    /// Whether the broker failed last time: warn once per outage.
    broker_down: bool,
}

impl<C, S> Relay<C, S>
where
    C: Contract,
    S: EventStore + Leases + DeadLetters + Privacy,
{
    /// A relay named `name` (its checkpoint, lease and dead letters), resuming from its
    /// checkpoint. Creates or checks the JetStream stream, waiting with backoff while the broker
    /// is unreachable; refuses a server without JetStream, or a stream that cannot serve it.
    pub async fn start(
        name: impl Into<String>,
        contract: C,
        store: S,
        client: Client,
        options: RelayOptions,
    ) -> Result<Self, RelayError> {
        let js = jetstream::ContextBuilder::new()
            .timeout(options.ack_timeout)
            .ack_timeout(options.ack_timeout)
            .build(client.clone());
        let publisher = Publisher {
            name: name.into(),
            contract: Arc::new(contract),
            client,
            js,
            options,
            counters: Arc::new(Mutex::new(Counters::default())),
        };
        let mut relay = Relay { feed: feed_of(publisher.clone(), store), publisher, broker_down: false };
        relay.feed.resume().await.map_err(relay_error)?;
        let mut wait = relay.publisher.options.backoff.0;
        loop {
            let p = &relay.publisher;
            match ensure_stream(&p.js, &p.client, &p.options).await {
                Ok(()) => break,
                Err(RelayError::Broker(why)) => relay.broker_failed(&why, &mut wait).await,
                Err(other) => return Err(other),
            }
        }
        relay.broker_recovered();
        Ok(relay)
    }

    /// The relay's name.
    pub fn name(&self) -> &str {
        self.feed.name()
    }

    /// The cursor of the last event published (or skipped, or parked).
    pub fn cursor(&self) -> Cursor {
        self.feed.cursor()
    }

    /// Publishes one batch: reads it, maps it, publishes every message, waits for every ack,
    /// then saves the checkpoint. Returns how many events it read; an unreachable broker is
    /// [`RelayError::Broker`] and nothing advances. An event whose messages cannot be published
    /// (a subject NATS refuses, a message too large, one the broker refuses to store) is parked
    /// in the store's dead letters with the reason, and the relay goes on.
    pub async fn publish_batch(&mut self) -> Result<usize, RelayError> {
        match self.feed.step().await.map_err(relay_error)? {
            Stepped::Worked { read, .. } => Ok(read),
            // Unleased: it never stands by.
            _ => Ok(0),
        }
    }

    /// Publishes every event committed so far, batch after batch; while the broker is
    /// unreachable it waits with backoff (one warning per outage) and tries the batch again.
    /// Returns how many events it read.
    pub async fn catch_up(&mut self) -> Result<usize, RelayError> {
        let (mut read, mut wait) = (0, self.publisher.options.backoff.0);
        loop {
            match self.feed.step().await.map_err(relay_error) {
                Ok(Stepped::Worked { read: n, more, .. }) => {
                    if n > 0 {
                        self.broker_recovered();
                        wait = self.publisher.options.backoff.0;
                    }
                    read += n;
                    if !more {
                        return Ok(read);
                    }
                }
                Ok(_) => return Ok(read),
                Err(RelayError::Broker(why)) => self.broker_failed(&why, &mut wait).await,
                Err(other) => return Err(other),
            }
        }
    }

    /// Runs as `owner` until `stop` completes: takes the relay's lease (one relay of this name
    /// publishes at a time, across processes), catches up, then follows new events (woken by
    /// the store, or every `poll`). A relay that loses its lease stops publishing, stands by,
    /// and resumes from the checkpoint when it holds the lease again.
    pub async fn run(
        &mut self,
        owner: &str,
        poll: Duration,
        stop: impl Future<Output = ()>,
    ) -> Result<(), RelayError> {
        let ttl = self.publisher.options.lease_ttl;
        let store = self.feed.store().clone();
        let mut feed = feed_of(self.publisher.clone(), store).leased(ttl).owner(owner).poll(poll);
        let result = self.follow(&mut feed, poll.min(ttl / 3), stop).await;
        if result.is_ok() {
            // Given up, so that another relay takes over without waiting for it to lapse.
            feed.release().await?;
        }
        // The leased feed moved the checkpoint: the unleased one goes on from there.
        self.feed.resume().await.map_err(relay_error)?;
        result
    }

    /// The steps of [`run`](Self::run) on the leased `feed`, waiting `idle` (or for the store's
    /// signal) when caught up or on standby, and with backoff while the broker is down.
    async fn follow(
        &mut self,
        feed: &mut Feed<Publisher<C>, S>,
        idle: Duration,
        stop: impl Future<Output = ()>,
    ) -> Result<(), RelayError> {
        tokio::pin!(stop);
        let mut watch = feed.store().watch();
        let mut wait = self.publisher.options.backoff.0;
        let mut store_down = Outage::default();
        loop {
            if let Some(watch) = &mut watch {
                watch.mark_seen();
            }
            let stepped = feed.step().await.map_err(relay_error);
            if stepped.is_ok() {
                store_down.recovered(feed.name());
            }
            let (caught_up, standby) = match stepped {
                Ok(Stepped::Worked { read, more, .. }) => {
                    if read > 0 {
                        self.broker_recovered();
                        wait = self.publisher.options.backoff.0;
                    }
                    (!more, false)
                }
                Ok(_) => (true, true),
                Err(RelayError::Broker(why)) => {
                    tokio::select! {
                        biased;
                        () = &mut stop => return Ok(()),
                        () = self.broker_failed(&why, &mut wait) => continue,
                    }
                }
                // The event store down (a failover): wait with backoff too, as for the broker.
                Err(RelayError::Store(e)) => {
                    let pause = store_down.failed(feed.name(), &e);
                    tokio::select! {
                        biased;
                        () = &mut stop => return Ok(()),
                        () = tokio::time::sleep(pause) => continue,
                    }
                }
                Err(other) => return Err(other),
            };
            let signal = async {
                match (&mut watch, standby) {
                    (Some(watch), false) => drop(tokio::time::timeout(idle, watch.changed()).await),
                    _ => tokio::time::sleep(idle).await,
                }
            };
            tokio::select! {
                biased;
                () = &mut stop => return Ok(()),
                () = signal, if caught_up => {}
                () = std::future::ready(()), if !caught_up => {}
            }
        }
    }

    /// Position, lag, last ack, messages published and dropped as duplicates, events parked.
    pub async fn status(&self) -> Result<RelayStatus, RelayError> {
        let feed = self.feed.status().await?;
        let counters = self.publisher.counters.lock().unwrap_or_else(PoisonError::into_inner);
        let cursor = feed.cursor.unwrap_or(Cursor::START);
        Ok(counters.status(cursor, feed.lag, feed.parked.unwrap_or(0), self.broker_down))
    }

    async fn broker_failed(&mut self, why: &str, wait: &mut Duration) {
        if !self.broker_down {
            tracing::warn!(relay = %self.name(), error = %why, "NATS broker unreachable: retrying with backoff");
            self.broker_down = true;
        }
        tokio::time::sleep(*wait).await;
        *wait = (*wait * 2).min(self.publisher.options.backoff.1);
    }

    fn broker_recovered(&mut self) {
        if std::mem::take(&mut self.broker_down) {
            tracing::info!(relay = %self.name(), "NATS broker reachable again: publishing");
        }
    }
}

/// The feed a relay publishes on: the relay's batches, parking, and one attempt per step, since
/// an event that cannot be published fails the same way every time (it is parked at once) and
/// broker outages are retried by the relay's own loop, with its backoff and its one warning.
fn feed_of<C: Contract, S: EventStore + Leases + DeadLetters + Privacy>(
    publisher: Publisher<C>,
    store: S,
) -> Feed<Publisher<C>, S> {
    let (name, batch) = (publisher.name.clone(), publisher.options.batch);
    Feed::new(name, publisher, store).batch(batch).retry(RetryPolicy::default().max_attempts(1)).parking()
}

/// The relay's error for a feed's: a broker outage as [`RelayError::Broker`], to retry.
fn relay_error(e: FeedError) -> RelayError {
    match e {
        FeedError::Store(e) => RelayError::Store(e),
        FeedError::Consumer { source, .. } if source.is::<BrokerDown>() => {
            RelayError::Broker(source.to_string())
        }
        other => RelayError::Feed(other),
    }
}
