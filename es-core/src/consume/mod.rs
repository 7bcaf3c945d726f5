//! Consuming: the one lifecycle on which projections, reactors and the user's own consumers
//! (a search indexer, a cache warmer) follow the store's events.
//!
//! A consumer implements [`Consume`]: which events it handles, and how it handles a batch of
//! them. A [`Feed`] runs it: it owns the cursor, the batches, the checkpoint (saved plainly,
//! fenced under a lease, or by the consumer in its own transaction), the lease (taken and
//! renewed each batch; standing by while another holds it; taken over when it lapses), the keys
//! of personal data, following the store's append signal (polling as fallback), retries with
//! backoff, parking, status and the `es.feed.batch` tracing span.
//!
//! ```text
//! Feed::new("search-indexer", SearchIndexer::new(client), store).leased(Duration::from_secs(10)).run(stop).await?;
//! ```
//!
//! # State commits with its checkpoint, or not at all
//!
//! The guarantee every consumer gets: an error at any point of a batch (reading, decoding,
//! loading a key, the consumer's own failure, saving the checkpoint, a fenced save, a dropped
//! connection anywhere) leaves the consumer exactly at its last checkpoint, state and cursor,
//! so that a retry applies nothing twice.
//!
//! How: the feed marks the consumer stale the moment it hands it a batch, and clears the mark
//! only once the checkpoint is saved. Before the next batch, a stale consumer is put back by
//! reloading the checkpoint from the store and calling [`Consume::restore`] with the state saved
//! in it. The feed reloads rather than keeping a copy of the last state it saved because the
//! store is the only one that knows the truth after a save whose answer was lost (saved or
//! not?), and after another process held the lease in between; a copy would be right in the
//! first case only by luck and wrong in the second. The cost is one checkpoint read per failed
//! batch, nothing on the happy path.
//!
//! Consumers come in three kinds, by where their state lives:
//! - in memory (projections): [`Consume::state`] gives the state saved with each checkpoint,
//!   [`Consume::restore`] puts it back ([`Projected`] does both for any `Projection`);
//! - nowhere, only effects (reactors, relays): the defaults; a retry redelivers the batch, and
//!   the effects are idempotent (a reactor's commands carry [`ReactContext::caused`] ids, the
//!   relay's messages a `Nats-Msg-Id`);
//! - in the consumer's own database (table projections): [`Consume::commit`] writes the
//!   checkpoint in the transaction of the batch's writes, checking the lease's fence there.
//!
//! A consumer that stops at its first failure may say so ([`ConsumeError::handled_before`]):
//! the events before the failing one are then checkpointed and not handled again, and retries
//! are counted per event; after the last, the event is parked ([`Feed::parking`]) or the feed
//! stops just before it.
//!
//! [`ReactContext::caused`]: crate::ReactContext::caused

mod batch;
mod consumer;
pub mod deadline;
mod error;
mod feed;
mod fence;
mod outage;
mod parking;
mod projected;
pub mod projection;
pub mod reactor;
mod reactor_runner;
mod runner;
mod status;
mod subscription;
pub mod versions;
pub mod worker;

pub use consumer::{Consume, Resume};
pub use deadline::{
    pending_deadlines, Clock, Deadline, DeadlineCancelled, DeadlineError, DeadlineScheduled, Deadlines,
    ScheduleError, ScheduledCommand, SystemClock, Tick,
};
pub use error::{ConsumeError, FeedError};
pub use feed::Feed;
pub use outage::Outage;
pub use projected::Projected;
pub use projection::{Project, Projection};
pub use reactor::{React, ReactContext, ReactError, Reactor};
pub use reactor_runner::{OnFailure, ReactorError, ReactorRunner};
pub use runner::ProjectionRunner;
pub use status::{FeedStatus, Stepped};
pub use subscription::{subscribe, Subscription};
pub use worker::ProjectionWorker;
