//! What can stop a relay.

use es_core::{FeedError, StoreError};

/// Why the relay could not go on.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RelayError {
    /// The event store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The broker could not be reached, or did not acknowledge in time. The relay retries these
    /// with backoff; `publish_batch` returns them.
    #[error("the NATS broker: {0}")]
    Broker(String),
    /// The server has no JetStream: the relay refuses to start.
    #[error("{0}")]
    NoJetStream(String),
    /// The JetStream stream is there but cannot serve the relay.
    #[error("{0}")]
    Stream(String),
    /// The relay's feed stopped for another reason than the store or the broker (an event it
    /// could neither publish nor park).
    #[error(transparent)]
    Feed(FeedError),
}
