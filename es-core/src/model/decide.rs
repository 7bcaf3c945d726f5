//! Decisions: [`Decide`] for a command that decides across streams on the [`States`] its
//! boundary selects, and the traits of commands whose decision needs a service first
//! ([`Prepare`] and [`HandlePrepared`] for aggregates, [`PrepareDecision`] for decisions). The
//! service is called once per command, outside the retries on conflict; the pure decision gets
//! its answer and runs again on fresh state after a conflict.

use std::future::Future;

use crate::model::{Aggregate, EventEnum, States};

/// A command that decides on the states its boundary selects and appends only if none of them
/// changed meanwhile; run it with [`Decisions`](crate::Decisions).
///
/// ```text
/// impl Decide for Subscribe {
///     type Events = University;
///     type States = (Course, Student);
///     type Error = SubscribeError;
///     fn boundary(&self) -> (&str, &str) { (&self.course, &self.student) }
///     fn decide(&self, (course, student): &(Course, Student)) -> Result<Vec<University>, SubscribeError> { .. }
/// }
/// ```
pub trait Decide: Send + Sync {
    /// The event set it records (`#[derive(EventSet)]`).
    type Events: EventEnum;
    /// The states it reads, a tuple.
    type States: States;
    /// Why it refuses.
    type Error: std::fmt::Debug + Send + Sync + 'static;

    /// The tag value of each state, from the command's own fields: `(&self.course, &self.student)`.
    fn boundary(&self) -> <Self::States as States>::Keys<'_>;

    /// Decides on the states as of the read: the events to record, or why not. Pure: it may run
    /// again on fresh states after a conflict.
    fn decide(&self, states: &Self::States) -> Result<Vec<Self::Events>, Self::Error>;
}

/// The step of an aggregate's command that calls a service (a fraud score, a price), once per
/// command, before the decision and outside its retries. Its result goes to
/// [`HandlePrepared::handle`]; run such commands with
/// [`Repository::with_services`](crate::Repository::with_services).
pub trait Prepare<C>: Aggregate {
    /// The services it calls: the application's own type, given to the repository once.
    type Services: Send + Sync + 'static;
    /// What it found out, handed to the decision.
    type Prepared: Send + Sync;

    /// Calls the services for `command`; an error refuses the command.
    fn prepare(
        command: &C,
        services: &Self::Services,
    ) -> impl Future<Output = Result<Self::Prepared, Self::Error>> + Send;
}

/// The pure decision of a prepared command: like [`Handle`](crate::Handle), with what
/// [`Prepare::prepare`] found out. It may refuse a result that the current state makes stale.
pub trait HandlePrepared<C>: Prepare<C> {
    /// Decides on the current state with `prepared`; runs again on fresh state after a conflict.
    fn handle(&self, command: &C, prepared: &Self::Prepared) -> Result<Vec<Self::Event>, Self::Error>;
}

/// A decision's step that calls a service, once per command: it turns the command into the pure
/// [`Decide`] that runs (and reruns on conflict) with what it found out. Run it with
/// [`Decisions::with_services`](crate::Decisions::with_services).
pub trait PrepareDecision: Send + Sync {
    /// The services it calls.
    type Services: Send + Sync + 'static;
    /// The pure decision, carrying what the services answered.
    type Decision: Decide;

    /// Calls the services; an error refuses the command.
    fn prepare(
        self,
        services: &Self::Services,
    ) -> impl Future<Output = Result<Self::Decision, <Self::Decision as Decide>::Error>> + Send;
}
