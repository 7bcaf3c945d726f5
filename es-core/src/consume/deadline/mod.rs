//! Deadlines: commands scheduled for later ("cancel the cart if it is not confirmed in 24 h").
//!
//! - A decision schedules by returning a [`DeadlineScheduled`] beside its other events
//!   ([`Deadline::after`]); a reaction with [`ReactContext::schedule`](crate::ReactContext::schedule).
//!   The schedule is an event, stored in the same append as the events that set it: as durable
//!   and atomic as they are, on every store, with nothing to add to the store.
//! - A [`DeadlineCancelled`] ([`Deadline::cancel`]) cancels the pending deadlines of one command
//!   on one target (and key): none of them fires.
//! - [`Deadlines`], the router, runs on a (leased) [`Feed`](super::Feed): it keeps the pending
//!   set as its consumer state, saved with its checkpoint; after catching up it fires every
//!   deadline whose time has come by its [`Clock`], never before, through the repository of
//!   the command's route, with the deadline's id as the command id; then records a
//!   [`DeadlineFired`]. A crash between the command and that record fires it again, and the
//!   command id makes the second run record nothing: exactly once in effect.
//! - [`pending_deadlines`] lists what is pending in a store (`es deadlines`).
//!
//! An aggregate that schedules lists `DeadlineScheduled` (and `DeadlineCancelled`, if it
//! cancels) in its `events(..)`; it applies them without any code. The due time is the time the
//! store recorded the schedule plus its delay, so decisions stay pure and given / when / then
//! compares schedules exactly (`then_scheduled_after` in es-testing).

mod clock;
mod error;
mod event;
mod pending;
mod react;
mod route;
mod router;
mod schedule;
mod tick;
mod tracker;

pub use clock::{Clock, SystemClock};
pub use error::DeadlineError;
pub use event::{DeadlineCancelled, DeadlineFired, DeadlineScheduled, Outcome};
pub use pending::{pending_deadlines, PendingDeadline};
pub(crate) use react::store as store_schedulings;
pub use react::{Schedules, Scheduling};
pub use route::Executes;
pub use router::{Deadlines, Firing, Tick};
pub use schedule::{Deadline, ScheduleError, ScheduledCommand};
