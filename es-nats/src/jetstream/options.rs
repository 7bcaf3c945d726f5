//! [`JetStreamOptions`]: which streams the store uses and how they are replicated.

use std::time::Duration;

/// How [`JetStreamStore::connect`](super::JetStreamStore::connect) sets up its streams.
///
/// ```
/// let options = es_nats::JetStreamOptions::new("BANK").replicas(3);
/// assert_eq!(options.stream_name(), "BANK");
/// ```
#[derive(Debug, Clone)]
pub struct JetStreamOptions {
    pub(crate) stream: String,
    pub(crate) replicas: usize,
    pub(crate) duplicate_window: Duration,
    pub(crate) timeout: Duration,
    pub(crate) failover: Duration,
    pub(crate) create: bool,
}

impl Default for JetStreamOptions {
    fn default() -> Self {
        Self::new("ES")
    }
}

impl JetStreamOptions {
    /// Events in the JetStream stream `stream` (letters, digits, `-` and `_`), side tables in
    /// `<stream>_SIDE`; one replica.
    pub fn new(stream: impl Into<String>) -> Self {
        JetStreamOptions {
            stream: stream.into(),
            replicas: 1,
            duplicate_window: Duration::from_secs(120),
            timeout: Duration::from_secs(5),
            failover: Duration::from_secs(30),
            create: true,
        }
    }

    /// Replicas of both streams (3 on a 3-node cluster: any one node may fail).
    pub fn replicas(mut self, replicas: usize) -> Self {
        self.replicas = replicas.max(1);
        self
    }

    /// How long the server remembers event ids to drop a repeated append (2 minutes by
    /// default); the store's own id index covers the time after it.
    pub fn duplicate_window(mut self, window: Duration) -> Self {
        self.duplicate_window = window;
        self
    }

    /// How long one request waits for its answer (5 s by default).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// How long an append keeps retrying while the stream has no leader (30 s by default).
    pub fn failover(mut self, failover: Duration) -> Self {
        self.failover = failover;
        self
    }

    /// Whether [`connect`](super::JetStreamStore::connect) creates the streams when they are
    /// missing (yes by default). `false` opens an existing store as a tool does: a missing
    /// stream is [`JetStreamError::MissingStream`](super::JetStreamError::MissingStream), and
    /// connecting writes nothing.
    pub fn create(mut self, create: bool) -> Self {
        self.create = create;
        self
    }

    /// The events' stream name.
    pub fn stream_name(&self) -> &str {
        &self.stream
    }

    /// The replicas the streams are created with.
    pub fn replica_count(&self) -> usize {
        self.replicas
    }
}
