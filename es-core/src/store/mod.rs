//! The seam: [`EventStore`] (append with an expected version, read a stream, follow the global
//! order), the records it stores and lends, the errors it reports, and the side traits a store
//! may implement beside it: [`SnapshotStore`], [`CheckpointStore`], [`Leases`], [`DeadLetters`],
//! [`Turns`]. [`backend`] holds what store implementations share. This wing knows no aggregate,
//! no codec and no personal data: every other wing builds on it.

pub mod backend;
mod boundary;
pub mod checkpoint;
pub(crate) mod codec_error;
pub mod cursor;
pub mod dead_letter;
mod error;
mod event_store;
mod expected;
pub mod idempotency;
pub mod inspect;
pub mod lease;
mod metadata;
mod record;
mod signal;
pub mod snapshot;
mod tamper;
pub(crate) mod time;
mod turn;

pub use boundary::{tag, AppendCondition, Boundaries, Query, QueryItem, Seen};
pub use checkpoint::{Checkpoint, CheckpointStore};
pub use codec_error::{DecodeError, DecodeFailure, EncodeError, EncodeFailure, Redacted};
pub use cursor::Cursor;
pub use dead_letter::{DeadLetters, Parked};
pub use error::StoreError;
pub use event_store::{EventStore, Lend};
pub use expected::ExpectedVersion;
pub use lease::{Lease, Leases};
pub use metadata::Metadata;
pub use record::{Appended, AppendedEvent, EncodedEvent, EventContext, EventRef, NewEvent, StoredEvent};
pub use signal::{AppendSignal, AppendWatch, WeakAppendSignal};
pub use snapshot::{Snapshot, SnapshotStore};
pub use tamper::{Break, BreakKind};
pub use turn::{LocalQueue, LocalQueues, LocalTurn, Turn, Turns};
