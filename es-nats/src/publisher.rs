//! The relay as a consumer of the store's feed: `handle` maps a batch, publishes every message
//! and waits for every ack, so that the feed's checkpoint is saved only after the broker has
//! stored the whole batch.

use std::sync::{Arc, Mutex, PoisonError};

use async_nats::jetstream::context::{PublishAckFuture, PublishError, PublishErrorKind};
use async_nats::jetstream::{self, message::PublishMessage};
use async_nats::Client;
use es_core::consume::{Consume, ConsumeError};
use es_core::integration::{Contract, Message};
use es_core::EventRef;

use crate::message::{check_publishable, headers_for, Unpublishable};
use crate::options::RelayOptions;
use crate::status::Counters;

/// The broker could not be reached or did not ack in time: the relay retries the batch with
/// backoff. Told apart from the failures of one event (parked) by its type.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct BrokerDown(pub(crate) String);

/// Maps, publishes and acks the batches a feed hands it. Cheap to clone: the contract and the
/// counters are shared, so that the relay's unleased and leased feeds count together.
pub(crate) struct Publisher<C> {
    pub(crate) name: String,
    pub(crate) contract: Arc<C>,
    pub(crate) client: Client,
    pub(crate) js: jetstream::Context,
    pub(crate) options: RelayOptions,
    pub(crate) counters: Arc<Mutex<Counters>>,
}

impl<C> Clone for Publisher<C> {
    fn clone(&self) -> Self {
        Publisher {
            name: self.name.clone(),
            contract: Arc::clone(&self.contract),
            client: self.client.clone(),
            js: self.js.clone(),
            options: self.options.clone(),
            counters: Arc::clone(&self.counters),
        }
    }
}

/// A message sent whose ack is awaited, with the index of its event in the batch.
type Pending = Vec<(usize, PublishAckFuture)>;

impl<C: Contract> Consume for Publisher<C> {
    fn handles(&self, name: &str) -> bool {
        C::handles(name)
    }

    /// Publishes the batch in order on one connection, then awaits every ack. An event that
    /// does not map or cannot be published stops the batch there: the acks of the events
    /// before it are awaited first, so that the feed checkpoints exactly them (`handled_before`)
    /// and parks that event.
    async fn handle(&mut self, batch: &[EventRef<'_>]) -> Result<(), ConsumeError> {
        let mut pending = Pending::new();
        for (index, event) in batch.iter().enumerate() {
            if let Err(failed) = self.send(event, index, &mut pending).await {
                if failed.named {
                    // An earlier refusal by the broker comes first.
                    self.await_acks(batch, pending).await?;
                }
                return Err(failed.error);
            }
        }
        self.await_acks(batch, pending).await
    }
}

/// A failure to send, and whether it names its event (to park) or is the broker's (to retry).
struct SendFailure {
    error: ConsumeError,
    named: bool,
}

impl SendFailure {
    fn at(event: &EventRef<'_>, what: &str, why: &dyn std::fmt::Display) -> Self {
        let error = ConsumeError::new(format!("event {what}: {why}")).at(event).handled_before();
        SendFailure { error, named: true }
    }

    fn broker(why: String) -> Self {
        SendFailure { error: ConsumeError::new(BrokerDown(why)), named: false }
    }
}

impl<C: Contract> Publisher<C> {
    /// Maps `event` and sends its messages, adding their acks to `pending`.
    async fn send(
        &self,
        event: &EventRef<'_>,
        index: usize,
        pending: &mut Pending,
    ) -> Result<(), SendFailure> {
        // The feed runs `handle` with the event's keys in scope: personal fields open here.
        let messages = match self.contract.translate_event(event) {
            Ok(out) => out.into_messages(),
            Err(why) => return Err(SendFailure::at(event, "does not map", &why)),
        };
        // Every message of the event is checked before any is sent: an event is published
        // whole or parked whole (unless the broker refuses one after it took another).
        let prepared = self
            .prepare(event, &messages)
            .map_err(|why| SendFailure::at(event, "cannot be published", &why))?;
        for (subject, publish) in prepared {
            match self.js.send_publish(subject, publish).await {
                Ok(ack) => pending.push((index, ack)),
                // The server's limit can shrink on a reconnect, after `prepare` checked it.
                Err(e) if e.kind() == PublishErrorKind::MaxPayloadExceeded => {
                    return Err(SendFailure::at(event, "cannot be published", &e));
                }
                Err(e) => return Err(SendFailure::broker(e.to_string())),
            }
        }
        Ok(())
    }

    /// Awaits the acks in the order sent, counting them; a message the broker refuses to store
    /// names its event (the events before it are acked), any other failure is the broker's.
    async fn await_acks(&self, batch: &[EventRef<'_>], pending: Pending) -> Result<(), ConsumeError> {
        for (index, ack) in pending {
            match ack.await {
                Ok(ack) => self.counters.lock().unwrap_or_else(PoisonError::into_inner).acked(ack.duplicate),
                Err(e) => {
                    return Err(match (refused(&e), batch.get(index)) {
                        (Some(why), Some(event)) => {
                            SendFailure::at(event, "refused by the broker", &why).error
                        }
                        _ => SendFailure::broker(e.to_string()).error,
                    })
                }
            }
        }
        Ok(())
    }

    /// The subject and message of each of `messages`, or why one cannot be published.
    fn prepare(
        &self,
        event: &EventRef<'_>,
        messages: &[Message],
    ) -> Result<Vec<(String, PublishMessage)>, Unpublishable> {
        let limit = self.client.server_info().max_payload;
        messages
            .iter()
            .enumerate()
            .map(|(index, message)| {
                let subject = self.options.subject(message.name);
                let headers = headers_for(&self.name, event, index, message)?;
                check_publishable(&subject, &headers, message.payload.get().len(), limit)?;
                let publish =
                    PublishMessage::build().payload(message.payload.get().to_owned().into()).headers(headers);
                Ok((subject, publish))
            })
            .collect()
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
