//! Given / when / then for decisions across streams: the given events (of the event set, with
//! their tags) are appended to a fresh [`MemoryStore`], and the command runs through the real
//! [`Decisions`] (the query by tags, the states' fold, the conditional append), not a mock.
//!
//! ```text
//! University::given((CourseCreated { course: "c1".into(), capacity: 1 },))
//!     .when(Subscribe { student: "ann".into(), course: "c1".into() })
//!     .then((StudentSubscribed { student: "ann".into(), course: "c1".into() },));
//! University::given_nothing().when(Subscribe { .. }).then_error(SubscribeError::NoCourse);
//! ```

use std::any::type_name;
use std::fmt::{Debug, Write};

use es_core::{
    CommandError, Decide, Decisions, EventSet, EventStore, ExpectedVersion, MemoryStore, Metadata, NewEvent,
    PrepareDecision, Recorded,
};

use crate::events::IntoEvents;
use crate::{report, roundtrip};

/// Starts a decision scenario on an event set: `University::given(..)`.
pub trait DecisionTest: EventSet + PartialEq {
    /// A store holding `events` (a tuple of event types, or a vec, array or slice of the set),
    /// with their tags, in order. Each event is also checked to survive the codec.
    #[track_caller]
    fn given(events: impl IntoEvents<Self>) -> GivenEvents<Self>;

    /// An empty store.
    fn given_nothing() -> GivenEvents<Self>;
}

impl<E: EventSet + PartialEq> DecisionTest for E {
    #[track_caller]
    fn given(events: impl IntoEvents<E>) -> GivenEvents<E> {
        let history = events.into_events();
        for (i, event) in history.iter().enumerate() {
            if let Err(why) = roundtrip::check(event) {
                panic!("given event {} cannot be stored: {why}", i + 1);
            }
        }
        GivenEvents { history }
    }

    fn given_nothing() -> GivenEvents<E> {
        GivenEvents { history: Vec::new() }
    }
}

/// The events a decision will read, waiting for a command.
#[must_use = "a scenario does nothing until `.when(..)` and a `.then..` assertion"]
pub struct GivenEvents<E> {
    history: Vec<E>,
}

impl<E: EventSet + PartialEq> GivenEvents<E> {
    /// Runs `decision` on a store holding the given events, through [`Decisions::execute`].
    #[track_caller]
    pub fn when<D: Decide<Events = E>>(self, decision: D) -> WhenDecided<E, D::Error> {
        let result =
            run(&self.history, |store| async move { Decisions::<E, _>::new(store).execute(decision).await });
        WhenDecided { history: self.history, command: type_name::<D>(), result }
    }

    /// Runs a command whose decision calls `services` first, through
    /// [`Decisions::with_services`].
    #[track_caller]
    pub fn when_prepared<P>(
        self,
        command: P,
        services: P::Services,
    ) -> WhenDecided<E, <P::Decision as Decide>::Error>
    where
        P: PrepareDecision,
        P::Decision: Decide<Events = E>,
    {
        let result = run(&self.history, |store| async move {
            Decisions::<E, _>::new(store).with_services(services).execute(command).await
        });
        WhenDecided { history: self.history, command: type_name::<P>(), result }
    }
}

/// Appends `history` to a fresh store and runs `decide` on it, on a runtime of its own in a
/// thread of its own (so that a `#[tokio::test]` can call it too).
#[track_caller]
fn run<E, Err, F, Fut>(history: &[E], decide: F) -> Result<Vec<E>, CommandError<Err>>
where
    E: EventSet,
    Err: Send,
    F: FnOnce(MemoryStore) -> Fut + Send,
    Fut: std::future::Future<Output = Result<Vec<Recorded<E>>, CommandError<Err>>>,
{
    let outcome = std::thread::scope(|scope| {
        scope
            .spawn(|| {
                let runtime = tokio::runtime::Builder::new_current_thread().enable_time().build()?;
                runtime.block_on(async {
                    let store = MemoryStore::new();
                    let given = history
                        .iter()
                        .map(|e| NewEvent::encode(e, Metadata::default()))
                        .collect::<Result<Vec<_>, _>>()
                        .map_err(|e| std::io::Error::other(e.to_string()))?;
                    if !given.is_empty() {
                        let stream = format!("{}-given", E::NAME);
                        store
                            .append(&stream, ExpectedVersion::Any, given)
                            .await
                            .map_err(|e| std::io::Error::other(e.to_string()))?;
                    }
                    Ok::<_, std::io::Error>(decide(store).await)
                })
            })
            .join()
    });
    match outcome {
        Ok(Ok(result)) => result.map(|recorded| recorded.into_iter().map(|r| r.event).collect()),
        Ok(Err(setup)) => panic!("the decision scenario could not set up its store: {setup}"),
        Err(panicked) => std::panic::resume_unwind(panicked),
    }
}

/// The outcome of one decision, to assert on.
#[must_use = "assert on the outcome with `.then(..)`, `.then_error(..)` or `.then_nothing()`"]
pub struct WhenDecided<E, Err> {
    history: Vec<E>,
    command: &'static str,
    result: Result<Vec<E>, CommandError<Err>>,
}

impl<E: EventSet + PartialEq, Err: Debug> WhenDecided<E, Err> {
    /// Asserts the decision recorded exactly `expected`, in order; returns them.
    #[track_caller]
    pub fn then(self, expected: impl IntoEvents<E>) -> Vec<E> {
        let expected = expected.into_events();
        let actual = self.accepted("the events below", &expected);
        if actual != expected {
            let table = report::side_by_side(
                &format!("expected ({})", count(expected.len())),
                &report::numbered(&expected),
                &format!("actual ({})", count(actual.len())),
                &report::numbered(&actual),
            );
            self.fail("the decision recorded other events than expected", &table);
        }
        actual
    }

    /// Asserts the decision was accepted and recorded nothing.
    #[track_caller]
    pub fn then_nothing(self) {
        let actual = self.accepted("no event", &[]);
        if !actual.is_empty() {
            let shown = report::numbered(&actual).join("\n");
            self.fail(
                &format!("expected no event, but the decision recorded {}", count(actual.len())),
                &shown,
            );
        }
    }

    /// Asserts the decision refused with `expected`.
    #[track_caller]
    pub fn then_error(self, expected: Err)
    where
        Err: PartialEq,
    {
        match &self.result {
            Err(CommandError::Rejected(actual)) if *actual == expected => {}
            Err(CommandError::Rejected(actual)) => {
                let table = report::side_by_side(
                    "expected error",
                    &report::lines(&expected),
                    "actual error",
                    &report::lines(actual),
                );
                self.fail("the decision refused with another error", &table);
            }
            Err(other) => self.fail("the decision failed in the store", &format!("{other}")),
            Ok(events) => {
                let shown = format!(
                    "expected error: {expected:?}\nactual events:\n{}",
                    report::numbered(events).join("\n")
                );
                self.fail("expected the decision to refuse, but it was accepted", &shown);
            }
        }
    }

    /// The recorded events after checking each survives the codec; fails on a refusal.
    #[track_caller]
    fn accepted(&self, expected_what: &str, expected: &[E]) -> Vec<E> {
        let events = match &self.result {
            Ok(events) => events.clone(),
            Err(error) => {
                let mut shown = format!("error: {error:?}");
                if !expected.is_empty() {
                    let _ = write!(shown, "\nexpected events:\n{}", report::numbered(expected).join("\n"));
                }
                self.fail(&format!("expected {expected_what}, but the decision was refused"), &shown);
            }
        };
        for (i, event) in events.iter().enumerate() {
            if let Err(why) = roundtrip::check(event) {
                self.fail(&format!("recorded event {} cannot be stored", i + 1), &why);
            }
        }
        events
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

fn count(n: usize) -> String {
    if n == 1 {
        "1 event".to_owned()
    } else {
        format!("{n} events")
    }
}
