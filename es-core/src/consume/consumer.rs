//! The trait a consumer implements: which events it handles, how it handles a batch, and (for
//! consumers with state) how that state is saved with the checkpoint and restored from it.

use std::future::Future;

use serde_json::value::RawValue;

use super::error::ConsumeError;
use crate::store::checkpoint::Checkpoint;
use crate::store::lease::Lease;
use crate::store::EventRef;

/// Something that follows the store's events through a [`Feed`](super::Feed): a read model, a
/// reactor, a relay, a search indexer.
///
/// Only [`handles`](Self::handles) and [`handle`](Self::handle) are required. A consumer whose
/// state lives in memory also implements [`state`](Self::state) and [`restore`](Self::restore):
/// the feed saves the state with each checkpoint, and after any error puts the consumer back to
/// the state of its last checkpoint before it retries. A consumer whose state lives in its own
/// database saves the checkpoint in its own transaction through [`commit`](Self::commit).
///
/// ```
/// use es_core::consume::{Consume, ConsumeError};
/// use es_core::EventRef;
///
/// /// Counts the events of every stream whose name starts with `Product`.
/// #[derive(Default)]
/// struct ProductEvents { seen: u64 }
///
/// impl Consume for ProductEvents {
///     fn handles(&self, name: &str) -> bool { name.starts_with("Product") }
///     async fn handle(&mut self, batch: &[EventRef<'_>]) -> Result<(), ConsumeError> {
///         self.seen += batch.len() as u64;
///         Ok(())
///     }
/// }
/// ```
pub trait Consume: Send + 'static {
    /// Whether it handles events stored under `name`; the others are skipped without being
    /// decoded (the feed still moves its cursor past them).
    fn handles(&self, name: &str) -> bool;

    /// Handles a batch of events, in the global order: only those it [`handles`](Self::handles),
    /// lent by the feed, with the keys their personal data needs in scope.
    ///
    /// An error means the batch is not done: the feed puts the consumer back to its last
    /// checkpoint (calling [`restore`](Self::restore)) and retries. Name the event that failed
    /// with [`ConsumeError::at`] so that the feed can park it after its retries.
    fn handle(&mut self, batch: &[EventRef<'_>]) -> impl Future<Output = Result<(), ConsumeError>> + Send;

    /// The state to save with the checkpoint after a batch, as JSON (`None`, the default: the
    /// consumer keeps no state in memory, or keeps it elsewhere).
    fn state(&self) -> Result<Option<Box<RawValue>>, ConsumeError> {
        Ok(None)
    }

    /// Puts the consumer back to `state`, as saved with its last checkpoint (`None`: no state was
    /// saved, start empty). The feed calls it when it starts, after a failed batch and after it
    /// took a lease over. [`Resume::Start`] when the saved state no longer fits (the consumer's
    /// shape changed): the feed then starts over from the first event, a rebuild.
    fn restore(&mut self, state: Option<&RawValue>) -> Result<Resume, ConsumeError> {
        let _ = state;
        Ok(Resume::Checkpoint)
    }

    /// Commits the batch just handled with `checkpoint` (its `state` already filled from
    /// [`state`](Self::state)), under `fence` when the feed holds a lease. Return the checkpoint
    /// for the feed to save in the store (the default), or `None` when the consumer saved it
    /// itself, in the same transaction as its own writes (a read model in SQL tables), having
    /// checked there that `fence` is still held.
    fn commit(
        &mut self,
        checkpoint: Checkpoint,
        fence: Option<&Lease>,
    ) -> impl Future<Output = Result<Option<Checkpoint>, ConsumeError>> + Send {
        let _ = fence;
        async move { Ok(Some(checkpoint)) }
    }
}

/// Where a restored consumer goes on from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resume {
    /// From its checkpoint: the saved state was restored.
    Checkpoint,
    /// From the first event: the saved state no longer fits, the consumer starts empty.
    Start,
}
