//! The relay: reads the store's global order from its checkpoint, maps each event through the
//! contract, publishes to JetStream, waits for every ack, and only then saves its checkpoint.

use std::future::Future;
use std::time::{Duration, SystemTime};

use async_nats::jetstream::context::{PublishError, PublishErrorKind};
use async_nats::jetstream::{self, message::PublishMessage};
use async_nats::Client;
use es_core::integration::{Contract, MapError, Message, Outgoing};
use es_core::{Checkpoint, Cursor, DeadLetters, EventStore, Lease, Leases, Parked, StoreError, StoredEvent};
use tracing::Instrument;

use crate::broker::ensure_stream;
use crate::error::RelayError;
use crate::message::{build_headers, check_publishable, Unpublishable};
use crate::options::RelayOptions;
use crate::status::{Counters, RelayStatus};

/// Publishes the integration events of contract `C` from store `S` to NATS JetStream.
///
/// At least once, with broker-side deduplication: each message carries a `Nats-Msg-Id` derived
/// from (relay, event id, index), so the broker drops a message published again within its
/// duplicate window (after a crash between publish and checkpoint, or a retried batch), and
/// consumers can drop one beyond it by the same id. Messages of one batch are published in
/// the store's order on one connection, so each stream's events reach the stream in order.
pub struct Relay<C, S> {
    name: String,
    contract: C,
    store: S,
    client: Client,
    js: jetstream::Context,
    options: RelayOptions,
    cursor: Cursor,
    lease: Option<Lease>,
    counters: Counters,
    /// Whether the broker failed last time: warn once per outage.
    broker_down: bool,
}

impl<C, S> Relay<C, S>
where
    C: Contract,
    S: EventStore + Leases + DeadLetters,
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
        let name = name.into();
        let js = jetstream::ContextBuilder::new()
            .timeout(options.ack_timeout)
            .ack_timeout(options.ack_timeout)
            .build(client.clone());
        let cursor = store.load_checkpoint(&name).await?.map_or(Cursor::START, |c| c.cursor);
        let mut relay = Relay {
            name,
            contract,
            store,
            client,
            js,
            options,
            cursor,
            lease: None,
            counters: Counters::default(),
            broker_down: false,
        };
        let mut wait = relay.options.backoff.0;
        loop {
            match ensure_stream(&relay.js, &relay.client, &relay.options).await {
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
        &self.name
    }

    /// The cursor of the last event published (or skipped, or parked).
    pub fn cursor(&self) -> Cursor {
        self.cursor
    }

    /// Publishes one batch: reads it, maps it, publishes every message, waits for every ack,
    /// then saves the checkpoint (fenced, when the relay holds its lease). Returns how many
    /// events it read; an unreachable broker is [`RelayError::Broker`] and nothing advances.
    /// An event whose messages cannot be published (a subject NATS refuses, a message too
    /// large, one the broker refuses to store) is parked in the store's dead letters with the
    /// reason, and the relay goes on.
    pub async fn publish_batch(&mut self) -> Result<usize, RelayError> {
        let page = self.store.read_all(self.cursor, self.options.batch).await?;
        let Some(last) = page.last().map(|e| e.cursor) else { return Ok(0) };
        let span = tracing::debug_span!("es.relay.batch", relay = %self.name, after = %self.cursor, read = page.len());
        // Instrumented, not entered: the span must not stay current on this thread across awaits.
        self.publish_page(&page).instrument(span).await?;
        let checkpoint = Checkpoint { cursor: last, state: None, saved_at: SystemTime::now() };
        match &self.lease {
            Some(lease) => self.store.save_checkpoint_fenced(checkpoint, lease).await?,
            None => self.store.save_checkpoint(&self.name, checkpoint).await?,
        }
        self.cursor = last;
        Ok(page.len())
    }

    /// Maps and publishes the events of `page`, then waits for every ack.
    async fn publish_page(&mut self, page: &[StoredEvent]) -> Result<(), RelayError> {
        let mut acks = Vec::new();
        for event in page.iter().filter(|e| C::handles(&e.name)) {
            let messages = match self.map(event).await? {
                Ok(out) => out.into_messages(),
                Err(why) => {
                    self.park(event, "does not map", &why.to_string()).await?;
                    continue;
                }
            };
            // Every message of the event is checked before any is sent: an event is published
            // whole or parked whole (unless the broker refuses one after it took another).
            let prepared = match self.prepare(event, &messages) {
                Ok(prepared) => prepared,
                Err(why) => {
                    self.park(event, "cannot be published", &why.to_string()).await?;
                    continue;
                }
            };
            for (subject, publish) in prepared {
                match self.js.send_publish(subject, publish).await {
                    Ok(ack) => acks.push((event, ack)),
                    // The server's limit can shrink on a reconnect, after `prepare` checked it.
                    Err(e) if e.kind() == PublishErrorKind::MaxPayloadExceeded => {
                        self.park(event, "cannot be published", &e.to_string()).await?;
                        break;
                    }
                    Err(e) => return Err(RelayError::Broker(e.to_string())),
                }
            }
        }
        for (event, ack) in acks {
            match ack.await {
                Ok(ack) => self.counters.acked(ack.duplicate),
                Err(e) => match refused(&e) {
                    Some(why) => self.park(event, "refused by the broker", &why.to_string()).await?,
                    None => return Err(RelayError::Broker(e.to_string())),
                },
            }
        }
        Ok(())
    }

    /// The subject and message of each of `messages`, or why one cannot be published.
    fn prepare(
        &self,
        event: &StoredEvent,
        messages: &[Message],
    ) -> Result<Vec<(String, PublishMessage)>, Unpublishable> {
        let limit = self.client.server_info().max_payload;
        messages
            .iter()
            .enumerate()
            .map(|(index, message)| {
                let subject = self.options.subject(message.name);
                let headers = build_headers(&self.name, event, index, message)?;
                check_publishable(&subject, &headers, message.payload.get().len(), limit)?;
                let publish =
                    PublishMessage::build().payload(message.payload.get().to_owned().into()).headers(headers);
                Ok((subject, publish))
            })
            .collect()
    }

    /// Publishes every event committed so far, batch after batch; while the broker is
    /// unreachable it waits with backoff (one warning per outage) and tries the batch again.
    /// Returns how many events it read.
    pub async fn catch_up(&mut self) -> Result<usize, RelayError> {
        let (mut read, mut wait) = (0, self.options.backoff.0);
        loop {
            self.renew_lease().await?;
            match self.publish_batch().await {
                Ok(0) => return Ok(read),
                Ok(n) => {
                    self.broker_recovered();
                    (read, wait) = (read + n, self.options.backoff.0);
                }
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
        tokio::pin!(stop);
        let mut watch = self.store.watch();
        loop {
            self.take_lease(owner).await?;
            if self.lease.is_some() {
                match self.catch_up().await {
                    Err(RelayError::Store(StoreError::Fenced { .. })) => self.lease = None,
                    other => {
                        other?;
                    }
                }
            }
            tokio::select! {
                () = &mut stop => break,
                _ = async {
                    match &mut watch {
                        Some(w) => drop(tokio::time::timeout(poll, w.changed()).await),
                        None => tokio::time::sleep(poll).await,
                    }
                } => {}
            }
        }
        if let Some(lease) = self.lease.take() {
            self.store.release(&lease).await?;
        }
        Ok(())
    }

    /// Position, lag, last ack, messages published and dropped as duplicates, events parked.
    pub async fn status(&self) -> Result<RelayStatus, RelayError> {
        let head = self.store.head().await?;
        let parked = self.store.parked(&self.name).await?.len();
        Ok(self.counters.status(self.cursor, head, parked, self.broker_down))
    }

    /// Maps `event` (its personal fields opened with the store's keys); the outer error is the
    /// store's, the inner one a mapping failure to park.
    async fn map(&self, event: &StoredEvent) -> Result<Result<Outgoing, MapError>, RelayError> {
        let translate = || self.contract.translate_event(&event.as_ref());
        let out = match self.store.keys() {
            Some(keys) => {
                keys.load_sealed(event.payload.get()).await?;
                keys.scope(translate)
            }
            None => translate(),
        };
        Ok(out)
    }

    /// Parks `event` in the store's dead letters with `why`; `what` says which step failed.
    async fn park(&self, event: &StoredEvent, what: &str, why: &str) -> Result<(), RelayError> {
        tracing::warn!(relay = %self.name, position = event.position, error = %why, "event {what}: parked");
        let parked = Parked {
            reactor: self.name.clone(),
            event: event.clone(),
            error: why.to_owned(),
            attempts: 1,
            parked_at: SystemTime::now(),
        };
        Ok(self.store.park(parked).await?)
    }

    async fn take_lease(&mut self, owner: &str) -> Result<(), RelayError> {
        let held = self.store.acquire(&self.lease_name(), owner, self.options.lease_ttl).await?;
        let newly = held.as_ref().is_some_and(|l| self.lease.as_ref().is_none_or(|old| old.epoch != l.epoch));
        if newly {
            // Another relay may have published meanwhile: go on from where it stopped.
            self.cursor = self.store.load_checkpoint(&self.name).await?.map_or(Cursor::START, |c| c.cursor);
        }
        self.lease = held;
        Ok(())
    }

    /// Renews the lease when a third of its time has passed.
    async fn renew_lease(&mut self) -> Result<(), RelayError> {
        let Some(lease) = &self.lease else { return Ok(()) };
        // Checked: a huge TTL would overflow `SystemTime` (a panic); such a lease is never due.
        let due = lease.renewed_at.checked_add(self.options.lease_ttl / 3);
        if due.is_some_and(|due| SystemTime::now() >= due) {
            let owner = lease.owner.clone();
            match self.store.acquire(&self.lease_name(), &owner, self.options.lease_ttl).await? {
                Some(renewed) if renewed.epoch == lease.epoch => self.lease = Some(renewed),
                _ => return Err(StoreError::Fenced { lease: self.lease_name(), epoch: lease.epoch }.into()),
            }
        }
        Ok(())
    }

    fn lease_name(&self) -> String {
        self.name.clone()
    }

    async fn broker_failed(&mut self, why: &str, wait: &mut Duration) {
        if !self.broker_down {
            tracing::warn!(relay = %self.name, error = %why, "NATS broker unreachable: retrying with backoff");
            self.broker_down = true;
        }
        tokio::time::sleep(*wait).await;
        *wait = (*wait * 2).min(self.options.backoff.1);
    }

    fn broker_recovered(&mut self) {
        if std::mem::take(&mut self.broker_down) {
            tracing::info!(relay = %self.name, "NATS broker reachable again: publishing");
        }
    }
}

/// The broker's refusal to store this one message (it would refuse it again), as opposed to a
/// failure to reach it (retried).
fn refused(e: &PublishError) -> Option<Unpublishable> {
    let source = std::error::Error::source(e)?;
    let js = source.downcast_ref::<jetstream::Error>()?;
    (js.error_code() == jetstream::ErrorCode::STREAM_MESSAGE_EXCEEDS_MAXIMUM)
        .then(|| Unpublishable::Refused(js.to_string()))
}
