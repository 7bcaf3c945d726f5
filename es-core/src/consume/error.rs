//! The errors of the consumer seam: [`ConsumeError`] from a consumer to its feed, [`FeedError`]
//! from a feed to its caller.

use uuid::Uuid;

use crate::store::cursor::Cursor;
use crate::store::EventRef;
use crate::store::{DecodeError, StoreError};

/// A batch a consumer could not handle. The feed retries it from the last checkpoint.
#[derive(Debug, thiserror::Error)]
#[error("{cause}")]
pub struct ConsumeError {
    // Boxed: a store error is large, and `Result<_, ConsumeError>` is on every batch's path.
    #[source]
    cause: Box<Cause>,
    /// The event that failed, when the consumer named it.
    event: Option<Failed>,
}

/// What failed: the store (or decoding), or the consumer's own work.
#[derive(Debug, thiserror::Error)]
enum Cause {
    #[error(transparent)]
    Store(StoreError),
    #[error(transparent)]
    Consumer(Box<dyn std::error::Error + Send + Sync>),
}

/// The event a consumer failed on.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Failed {
    pub(crate) id: Uuid,
    pub(crate) cursor: Cursor,
    /// Every event before it in the batch is handled, and the state holds exactly them.
    pub(crate) handled_before: bool,
}

impl ConsumeError {
    /// The consumer's own failure (any error, or a message).
    pub fn new(cause: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        ConsumeError { cause: Box::new(Cause::Consumer(cause.into())), event: None }
    }

    /// Names `event` as the one that failed: after its retries the feed parks it (when parking
    /// is on) or stops before it.
    pub fn at(mut self, event: &EventRef<'_>) -> Self {
        self.event = Some(Failed { id: event.id, cursor: event.cursor, handled_before: false });
        self
    }

    /// Says that every event of the batch before the one named with [`at`](Self::at) is
    /// handled and the consumer's state holds exactly them (a consumer that stops at its first
    /// failure): the feed checkpoints them before it retries, so they are not handled again.
    pub fn handled_before(mut self) -> Self {
        if let Some(failed) = &mut self.event {
            failed.handled_before = true;
        }
        self
    }

    /// The store's error, when the store (or decoding a stored event) failed.
    pub fn store_error(&self) -> Option<&StoreError> {
        match &*self.cause {
            Cause::Store(e) => Some(e),
            Cause::Consumer(_) => None,
        }
    }

    pub(crate) fn failed(&self) -> Option<Failed> {
        self.event
    }

    /// The error as the feed reports it when retries ran out.
    pub(crate) fn into_feed_error(self, consumer: &str, attempts: u32) -> FeedError {
        match *self.cause {
            Cause::Store(e) => FeedError::Store(e),
            Cause::Consumer(source) => FeedError::Consumer {
                consumer: consumer.to_owned(),
                position: self.event.map(|f| f.cursor.position()),
                attempts,
                source,
            },
        }
    }
}

impl From<StoreError> for ConsumeError {
    fn from(e: StoreError) -> Self {
        ConsumeError { cause: Box::new(Cause::Store(e)), event: None }
    }
}

impl From<DecodeError> for ConsumeError {
    fn from(e: DecodeError) -> Self {
        StoreError::from(e).into()
    }
}

/// Why a feed stopped. The consumer is at its last checkpoint (state and cursor) either way:
/// running the feed again resumes there, and applies nothing twice.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FeedError {
    /// The store failed (reading, a checkpoint, a lease, parking, a key) every attempt.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The consumer failed every attempt, and the feed does not park (or the consumer did not
    /// name the event).
    #[error("consumer `{consumer}` failed{} after {attempts} attempts: {source}", at(*.position))]
    Consumer {
        /// The consumer's name.
        consumer: String,
        /// The position of the event it failed on, when it named it; the checkpoint is before it.
        position: Option<u64>,
        /// Attempts made.
        attempts: u32,
        /// The last error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl FeedError {
    /// As the runners' `StoreError`, for consumers that fail only through the store or the
    /// codec (projections, reactors).
    pub(crate) fn into_store_error(self) -> StoreError {
        match self {
            FeedError::Store(e) => e,
            FeedError::Consumer { consumer, source, .. } => {
                StoreError::backend("feed", format!("consumer `{consumer}` failed: {source}"))
            }
        }
    }
}

fn at(position: Option<u64>) -> String {
    position.map(|p| format!(" at the event at position {p}")).unwrap_or_default()
}
