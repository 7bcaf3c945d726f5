//! Checkpoints: how far a projection has read, kept with its state so that a restart resumes
//! exactly where the saved state ends.

use std::future::Future;
use std::time::SystemTime;

use serde_json::value::RawValue;

use crate::store::cursor::Cursor;
use crate::store::StoreError;

/// A projection's progress: the cursor of the last event folded into `state`.
#[derive(Debug, Clone)]
pub struct Checkpoint {
    /// The cursor of the last event handled ([`Cursor::START`]: none).
    pub cursor: Cursor,
    /// The projection's state as JSON, when the runner keeps it (in-memory read models).
    pub state: Option<Box<RawValue>>,
    /// When it was saved.
    pub saved_at: SystemTime,
}

/// Storage of one checkpoint per projection name, written atomically (position and state
/// together).
pub trait CheckpointStore: Clone + Send + Sync + 'static {
    /// Replaces the checkpoint of `projection`.
    fn save_checkpoint(
        &self,
        projection: &str,
        checkpoint: Checkpoint,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The checkpoint of `projection`, if one was saved.
    fn load_checkpoint(
        &self,
        projection: &str,
    ) -> impl Future<Output = Result<Option<Checkpoint>, StoreError>> + Send;

    /// Forgets the checkpoint of `projection` (to rebuild it from the first event).
    fn delete_checkpoint(&self, projection: &str) -> impl Future<Output = Result<(), StoreError>> + Send;
}
