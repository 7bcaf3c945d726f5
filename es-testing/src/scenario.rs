//! Given / when / then for any aggregate: decisions tested without a store, with failures that
//! show expected and actual side by side and point at the test's own line.

use std::any::type_name;
use std::fmt::{Debug, Write};
use std::time::Duration;

use es_core::consume::{DeadlineScheduled, ScheduledCommand};
use es_core::{Aggregate, Event, EventEnum, Handle};

use crate::events::IntoEvents;
use crate::{report, roundtrip};

/// Starts a scenario on any aggregate: `Account::given(..)`, `Account::given_nothing()`.
pub trait AggregateTest: Aggregate {
    /// The aggregate after `events` (a tuple of event types, or a vec, array or slice of the
    /// event enum). Each event is also checked to survive the codec.
    #[track_caller]
    fn given(events: impl IntoEvents<Self::Event>) -> Given<Self>;

    /// The aggregate before any event.
    fn given_nothing() -> Given<Self>;
}

impl<A: Aggregate> AggregateTest for A
where
    A::Event: PartialEq,
{
    #[track_caller]
    fn given(events: impl IntoEvents<A::Event>) -> Given<A> {
        let history = events.into_events();
        let mut state = A::default();
        for (i, event) in history.iter().enumerate() {
            if let Err(why) = roundtrip::check(event) {
                panic!("given event {} cannot be stored: {why}", i + 1);
            }
            state.apply(event);
        }
        Given { history, state }
    }

    fn given_nothing() -> Given<A> {
        Given { history: Vec::new(), state: A::default() }
    }
}

/// An aggregate built from a history, waiting for a command.
#[must_use = "a scenario does nothing until `.when(..)` and a `.then..` assertion"]
pub struct Given<A: Aggregate> {
    history: Vec<A::Event>,
    state: A,
}

impl<A: Aggregate> Given<A> {
    /// Lets the aggregate decide on `command`.
    pub fn when<C>(self, command: C) -> When<A>
    where
        A: Handle<C>,
    {
        let result = self.state.handle(&command);
        When { history: self.history, state: self.state, command: type_name::<C>(), result }
    }

    /// The state after the given events.
    pub fn state(&self) -> &A {
        &self.state
    }
}

/// The outcome of one command, to assert on.
#[must_use = "assert on the outcome with `.then(..)`, `.then_error(..)`, `.then_nothing()` or `.then_state(..)`"]
pub struct When<A: Aggregate> {
    history: Vec<A::Event>,
    state: A,
    command: &'static str,
    result: Result<Vec<A::Event>, A::Error>,
}

/// The state after a command's events, for more assertions.
pub struct Then<A: Aggregate> {
    state: A,
    events: Vec<A::Event>,
}

impl<A: Aggregate> When<A>
where
    A::Event: PartialEq,
{
    /// Asserts the command produced exactly `expected`, in order.
    #[track_caller]
    pub fn then(self, expected: impl IntoEvents<A::Event>) -> Then<A> {
        let expected = expected.into_events();
        let actual = self.accepted("the events below", &expected);
        if actual != expected {
            let table = report::side_by_side(
                &format!("expected ({})", count(expected.len())),
                &report::numbered(&expected),
                &format!("actual ({})", count(actual.len())),
                &report::numbered(&actual),
            );
            self.fail("the command produced other events than expected", &table);
        }
        self.applied(actual)
    }

    /// Asserts the command was accepted and produced no event.
    #[track_caller]
    pub fn then_nothing(self) -> Then<A> {
        let actual = self.accepted("no event", &[]);
        if !actual.is_empty() {
            let shown = report::numbered(&actual).join("\n");
            self.fail(
                &format!("expected no event, but the command produced {}", count(actual.len())),
                &shown,
            );
        }
        self.applied(actual)
    }

    /// Asserts the command was refused with `expected`.
    #[track_caller]
    pub fn then_error(self, expected: A::Error)
    where
        A::Error: PartialEq,
    {
        match &self.result {
            Err(actual) if *actual == expected => {}
            Err(actual) => {
                let table = report::side_by_side(
                    "expected error",
                    &report::lines(&expected),
                    "actual error",
                    &report::lines(actual),
                );
                self.fail("the command was refused with another error", &table);
            }
            Ok(events) => {
                let shown = format!(
                    "expected error: {expected:?}\nactual events:\n{}",
                    report::numbered(events).join("\n")
                );
                self.fail("expected the command to be refused, but it was accepted", &shown);
            }
        }
    }

    /// Asserts the command was accepted, applies its events, and runs `check` on the new state.
    #[track_caller]
    pub fn then_state(self, check: impl FnOnce(&A)) -> Then<A> {
        let actual = self.accepted("a new state", &[]);
        let then = self.applied(actual);
        check(&then.state);
        then
    }

    /// Asserts the command was accepted and, among its events, scheduled `command` (on any
    /// target) due `delay` after its events are recorded.
    ///
    /// ```text
    /// ShoppingCart::given(events).when(Open { .. }).then_scheduled_after(Duration::from_secs(86_400), CancelCart);
    /// ```
    #[track_caller]
    pub fn then_scheduled_after<C>(self, delay: Duration, command: C) -> Then<A>
    where
        C: ScheduledCommand + PartialEq + Debug,
    {
        let actual = self.accepted("a scheduled command", &[]);
        let scheduled: Vec<DeadlineScheduled> = actual.iter().filter_map(schedule_of).collect();
        let found = scheduled
            .iter()
            .any(|s| s.delay() == Some(delay) && s.command_as::<C>().as_ref() == Some(&command));
        if !found {
            let shown = format!(
                "expected: {} {command:?} after {delay:?}\nscheduled ({}):\n{}",
                C::NAME,
                scheduled.len(),
                report::numbered(&scheduled).join("\n")
            );
            self.fail("the command did not schedule what was expected", &shown);
        }
        self.applied(actual)
    }

    /// Moves a virtual clock on by `elapsed` after the (accepted) command: see
    /// [`Then::advance`].
    #[track_caller]
    #[must_use = "assert what fired with `.then_fired(..)`, or run it with `.fire::<C>()`"]
    pub fn advance(self, elapsed: Duration) -> crate::Advanced<A> {
        let events = self.accepted("events", &[]);
        self.applied(events).advance(elapsed)
    }

    /// The produced events after checking each survives the codec; fails on a refusal.
    #[track_caller]
    fn accepted(&self, expected_what: &str, expected: &[A::Event]) -> Vec<A::Event> {
        let events = match &self.result {
            Ok(events) => events.clone(),
            Err(error) => {
                let mut shown = format!("error: {error:#?}");
                if !expected.is_empty() {
                    let _ = write!(shown, "\nexpected events:\n{}", report::numbered(expected).join("\n"));
                }
                self.fail(&format!("expected {expected_what}, but the command was refused"), &shown);
            }
        };
        for (i, event) in events.iter().enumerate() {
            if let Err(why) = roundtrip::check(event) {
                self.fail(&format!("produced event {} cannot be stored", i + 1), &why);
            }
        }
        events
    }

    fn applied(mut self, events: Vec<A::Event>) -> Then<A> {
        for e in &events {
            self.state.apply(e);
        }
        Then { state: self.state, events }
    }

    /// Panics with the scenario around `what`, at the caller's line.
    #[track_caller]
    fn fail(&self, what: &str, detail: &str) -> ! {
        let given = report::numbered(&self.history).join("\n  ");
        panic!(
            "\n{what}\n\ngiven ({}):\n  {given}\nwhen: {}\n\n{detail}\n",
            count(self.history.len()),
            self.command
        );
    }
}

impl<A: Aggregate> Then<A> {
    /// Runs `check` on the state after the command's events.
    pub fn then_state(self, check: impl FnOnce(&A)) -> Self {
        check(&self.state);
        self
    }

    /// The state after the command's events.
    pub fn state(&self) -> &A {
        &self.state
    }

    /// The events the command produced.
    pub fn events(&self) -> &[A::Event] {
        &self.events
    }

    /// The state and the events, for the steps that go on from here (`advance`).
    pub(crate) fn into_parts(self) -> (A, Vec<A::Event>) {
        (self.state, self.events)
    }

    /// A scenario at `state` after `events`.
    pub(crate) fn from_parts(state: A, events: Vec<A::Event>) -> Self {
        Then { state, events }
    }
}

impl<A: Aggregate + Debug> Debug for Then<A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Then").field("state", &self.state).field("events", &self.events).finish()
    }
}

/// The deadline an event schedules, when it is a `DeadlineScheduled`.
fn schedule_of<E: EventEnum>(event: &E) -> Option<DeadlineScheduled> {
    let encoded = event.encode().ok()?;
    (encoded.name == DeadlineScheduled::NAME)
        .then(|| serde_json::from_str(encoded.payload.get()).ok())
        .flatten()
}

fn count(n: usize) -> String {
    if n == 1 {
        "1 event".to_owned()
    } else {
        format!("{n} events")
    }
}
