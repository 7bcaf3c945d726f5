//! Reactors: like projections, but they act. For each committed event it lists, in the global
//! order, a reactor may issue commands (through repositories it holds) and call other services.
//! Derive the dispatch with `#[derive(Reactor)]` and write one `impl React<E>` per event; run it
//! with a [`ReactorRunner`](crate::ReactorRunner).
//!
//! Effects happen exactly once in effect: the runner saves its checkpoint only after the
//! effects of the events before it are done, so a crash means a redelivery, and the commands a
//! reactor issues carry [`ReactContext::caused`] metadata, whose command id is derived from the
//! event and the reactor: executing it again records nothing new.

use std::future::Future;
use std::ops::Deref;
use std::time::Duration;

use crate::consume::deadline::{
    Deadline, DeadlineScheduled, ScheduleError, ScheduledCommand, Schedules, Scheduling,
};
use crate::model::command;
use crate::repository::CommandError;
use crate::store::EventRef;
use crate::store::Metadata;
use crate::store::{DecodeError, StoreError};

/// What a reactor is told about the event it reacts to: the stored record (through `Deref`),
/// and which reactor it is, for [`caused`](Self::caused); and where the deadlines it
/// [`schedule`](Self::schedule)s go.
#[derive(Debug, Clone, Copy)]
pub struct ReactContext<'a> {
    event: &'a EventRef<'a>,
    reactor: &'a str,
    schedules: Option<&'a Schedules>,
}

impl<'a> ReactContext<'a> {
    /// The context of `event` for the reactor named `reactor`.
    pub fn new(event: &'a EventRef<'a>, reactor: &'a str) -> Self {
        ReactContext { event, reactor, schedules: None }
    }

    /// Collects what the reaction schedules into `schedules` (the runner stores them after the
    /// reaction succeeded). Without it, [`schedule`](Self::schedule) is an error.
    pub fn with_schedules(mut self, schedules: &'a Schedules) -> Self {
        self.schedules = Some(schedules);
        self
    }

    /// Schedules `command` for the aggregate `target`, due `delay` after the runner stores the
    /// schedule (right after this reaction). Stored once, also when the event is redelivered:
    /// its id derives from (event id, reactor name, index).
    ///
    /// ```text
    /// at.schedule(Duration::from_secs(24 * 3600), cart_id, CancelCart)?;
    /// ```
    pub fn schedule<C: ScheduledCommand>(
        &self,
        delay: Duration,
        target: impl Into<String>,
        command: C,
    ) -> Result<(), ScheduleError> {
        self.schedule_deadline(Deadline::after(delay, target, &command)?)
    }

    /// Schedules a deadline made with [`Deadline`] (one with a key, or at a fixed time).
    pub fn schedule_deadline(&self, deadline: DeadlineScheduled) -> Result<(), ScheduleError> {
        let schedules =
            self.schedules.ok_or(ScheduleError::NotCollected { reactor: self.reactor.to_owned() })?;
        schedules.push(Scheduling::Scheduled(deadline));
        Ok(())
    }

    /// Cancels the pending deadlines of the command `C` on `target` (without a key).
    pub fn cancel<C: ScheduledCommand>(&self, target: impl Into<String>) -> Result<(), ScheduleError> {
        let schedules =
            self.schedules.ok_or(ScheduleError::NotCollected { reactor: self.reactor.to_owned() })?;
        schedules.push(Scheduling::Cancelled(Deadline::cancel::<C>(target)));
        Ok(())
    }

    /// The reactor's name.
    pub fn reactor(&self) -> &str {
        self.reactor
    }

    /// Metadata for the commands this reaction issues: caused by this event, in its correlation
    /// (or starting one at it), with a command id derived from (event id, reactor name), so that
    /// a redelivery of the event records nothing twice.
    pub fn caused(&self) -> Metadata {
        let correlation = self.event.metadata.correlation_id.unwrap_or(self.event.id);
        Metadata::default()
            .correlation_id(correlation)
            .causation_id(self.event.id)
            .command_id(command::event_id(self.event.id, self.reactor, 0))
    }
}

impl<'a> Deref for ReactContext<'a> {
    type Target = EventRef<'a>;

    fn deref(&self) -> &EventRef<'a> {
        self.event
    }
}

/// A reaction that failed; the runner retries it, then parks the event or stops.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct ReactError(Box<dyn std::error::Error + Send + Sync>);

impl ReactError {
    /// A failure with this cause (any error, or a message).
    pub fn new(cause: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        ReactError(cause.into())
    }
}

impl From<StoreError> for ReactError {
    fn from(e: StoreError) -> Self {
        ReactError::new(e)
    }
}

impl From<DecodeError> for ReactError {
    fn from(e: DecodeError) -> Self {
        ReactError::new(e)
    }
}

impl From<ScheduleError> for ReactError {
    fn from(e: ScheduleError) -> Self {
        ReactError::new(e)
    }
}

impl<E: std::fmt::Debug + Send + Sync + 'static> From<CommandError<E>> for ReactError {
    fn from(e: CommandError<E>) -> Self {
        ReactError::new(e)
    }
}

/// Something that reacts to events. Derive it with `#[derive(Reactor)]`.
pub trait Reactor: Send + Sync + 'static {
    /// Whether the reactor reacts to events stored under `name`.
    fn handles(name: &str) -> bool;

    /// Decodes the event and awaits the matching `React<E>`; `Ok(false)` when the reactor does
    /// not react to it. Generated.
    fn react_event<'a>(
        &'a self,
        at: &'a ReactContext<'a>,
    ) -> impl Future<Output = Result<bool, ReactError>> + Send + 'a;
}

/// How a reactor reacts to an event of type `E`: async, it may do I/O, and may fail.
#[diagnostic::on_unimplemented(
    message = "`{Self}` does not react to the event `{E}`",
    label = "`{E}` is listed in #[reactor(events(..))] but has no `impl React<{E}> for {Self}`",
    note = "add `impl es_core::React<{E}> for {Self} {{ async fn react(&self, event: &{E}, at: &ReactContext<'_>) -> Result<(), ReactError> {{ .. }} }}`"
)]
pub trait React<E> {
    /// Reacts to `event`, recorded as `at` says.
    fn react(&self, event: &E, at: &ReactContext<'_>) -> impl Future<Output = Result<(), ReactError>> + Send;
}
