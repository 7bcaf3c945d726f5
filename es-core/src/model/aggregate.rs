//! The `Aggregate` trait and the two traits users implement on it: `Apply` and `Handle`.

use crate::model::EventEnum;

/// A consistency boundary whose state is the fold of its events.
///
/// Derive it with `#[derive(Aggregate)]` and `#[aggregate(events(..), error = ..)]`: the derive
/// generates the event enum (`<Type>Event` unless `event_enum = ..` says otherwise), a `From` impl
/// per event, the codec and [`Aggregate::apply`], which dispatches to your `impl Apply<E>`.
pub trait Aggregate: Default + Send + Sync + 'static {
    /// The prefix of this aggregate's stream names: `<NAME>-<id>`.
    const NAME: &'static str;
    /// The generated enum of this aggregate's events.
    type Event: EventEnum;
    /// The error `handle` returns when it refuses a command.
    type Error: std::fmt::Debug + Send + Sync + 'static;
    /// The shape of the state in snapshots: bump it (`#[aggregate(snapshot_version = N)]`) when
    /// the state changes, and older snapshots are ignored.
    const SNAPSHOT_VERSION: u32 = 1;

    /// Changes the state by one event. Generated: calls the matching `Apply<E>`.
    fn apply(&mut self, event: &Self::Event);

    /// The name of the stream holding the aggregate with this id.
    fn stream_name(id: &str) -> String {
        format!("{}-{}", Self::NAME, id)
    }
}

/// How the state changes when an event of type `E` happens. A pure function, no I/O.
#[diagnostic::on_unimplemented(
    message = "`{Self}` does not apply the event `{E}`",
    label = "`{E}` is listed in the events of `{Self}` but has no `impl Apply<{E}> for {Self}`",
    note = "add `impl es_core::Apply<{E}> for {Self} {{ fn apply(&mut self, event: &{E}) {{ .. }} }}`"
)]
pub trait Apply<E> {
    /// Updates the state with `event`.
    fn apply(&mut self, event: &E);
}

/// How the aggregate decides on a command `C`: the events to record, or a refusal.
///
/// The command comes by reference because the repository re-runs the decision after a conflict.
pub trait Handle<C>: Aggregate {
    /// Decides on `command` from the current state.
    fn handle(&self, command: &C) -> Result<Vec<Self::Event>, Self::Error>;
}
