//! How a relay publishes: subjects, the JetStream stream, batches, retries.

use std::time::Duration;

/// The relay's settings, with defaults for a first run.
///
/// ```
/// use std::time::Duration;
/// let options = es_nats::RelayOptions::new("bank").stream("BANK_EVENTS").max_age(Duration::from_secs(7 * 86_400));
/// assert_eq!(options.subject("PaymentReceived"), "bank.PaymentReceived");
/// ```
#[derive(Debug, Clone)]
pub struct RelayOptions {
    pub(crate) prefix: String,
    pub(crate) stream: String,
    pub(crate) max_age: Duration,
    pub(crate) duplicate_window: Duration,
    pub(crate) batch: usize,
    pub(crate) ack_timeout: Duration,
    pub(crate) backoff: (Duration, Duration),
    pub(crate) lease_ttl: Duration,
}

impl RelayOptions {
    /// Subjects `<prefix>.<integration event name>`, in a JetStream stream named after the
    /// prefix (upper case, `.` as `_`), kept 7 days, duplicates dropped within 2 minutes.
    pub fn new(prefix: impl Into<String>) -> Self {
        let prefix = prefix.into();
        let stream = prefix.to_uppercase().replace(['.', ' ', '*', '>'], "_");
        RelayOptions {
            prefix,
            stream,
            max_age: Duration::from_secs(7 * 24 * 3600),
            duplicate_window: Duration::from_secs(120),
            batch: 500,
            ack_timeout: Duration::from_secs(5),
            backoff: (Duration::from_millis(50), Duration::from_secs(5)),
            lease_ttl: Duration::from_secs(10),
        }
    }

    /// The JetStream stream to publish to (created if missing).
    pub fn stream(mut self, name: impl Into<String>) -> Self {
        self.stream = name.into();
        self
    }

    /// How long the stream keeps messages (a new stream's retention).
    pub fn max_age(mut self, max_age: Duration) -> Self {
        self.max_age = max_age;
        self
    }

    /// How long the broker remembers message ids to drop duplicates (a new stream's).
    pub fn duplicate_window(mut self, window: Duration) -> Self {
        self.duplicate_window = window;
        self
    }

    /// Events read, mapped and published between checkpoints (default 500).
    pub fn batch(mut self, batch: usize) -> Self {
        self.batch = batch.max(1);
        self
    }

    /// How long to wait for the broker's ack of a publish (default 5 s).
    pub fn ack_timeout(mut self, timeout: Duration) -> Self {
        self.ack_timeout = timeout;
        self
    }

    /// The first and the longest wait between attempts while the broker is unreachable.
    pub fn backoff(mut self, first: Duration, max: Duration) -> Self {
        self.backoff = (first, max.max(first));
        self
    }

    /// How long a relay's lease lasts without renewal: how soon another process takes over
    /// from one that died (default 10 s).
    pub fn lease_ttl(mut self, ttl: Duration) -> Self {
        self.lease_ttl = ttl;
        self
    }

    /// The subject an integration event named `name` is published on.
    pub fn subject(&self, name: &str) -> String {
        format!("{}.{name}", self.prefix)
    }
}
