//! Why a deadline router stopped.

use crate::consume::FeedError;
use crate::store::StoreError;

/// Why [`Deadlines::tick`](super::Deadlines::tick) or [`run`](super::Deadlines::run) stopped.
/// The pending set is at its last checkpoint either way, and a deadline that was fired but not
/// yet recorded as fired fires again on the next run, recording nothing twice (its id is the
/// command id).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DeadlineError {
    /// Following the deadline events failed (the store, decoding, the checkpoint, the lease).
    #[error(transparent)]
    Feed(#[from] FeedError),
    /// The store failed while firing.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The command of deadline `id` kept meeting version conflicts on `stream`.
    #[error("deadline {id}: the command on `{stream}` kept meeting version conflicts ({attempts} attempts)")]
    Conflict {
        /// The deadline.
        id: uuid::Uuid,
        /// The target's stream.
        stream: String,
        /// Attempts made.
        attempts: u32,
    },
}
