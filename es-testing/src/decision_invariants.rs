//! Invariants of decisions across streams over generated command sequences: each sequence runs
//! through the real [`Decisions`] on a fresh [`MemoryStore`], and after every accepted command
//! every state named by an invariant is read back from the store (for each tag value the
//! accepted events carry) and checked. A failing sequence is shrunk to a minimal one and printed
//! as a given / when / then.
//!
//! ```
//! # use es_core::{Apply, Decide, Event, EventSet, State};
//! # use serde::{Deserialize, Serialize};
//! #[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
//! pub struct Booked { #[event(tag)] pub room: u8 }
//! #[derive(EventSet, Debug, Clone, PartialEq)]
//! pub enum Hotel { Booked(Booked) }
//!
//! #[derive(State, Default, Debug)]
//! #[state(events(Booked), tag = room)]
//! pub struct Room { pub booked: u32 }
//! impl Apply<Booked> for Room { fn apply(&mut self, _: &Booked) { self.booked += 1 } }
//!
//! #[derive(Debug, Clone)]
//! pub struct Book(String);
//! impl Decide for Book {
//!     type Events = Hotel;
//!     type States = (Room,);
//!     type Error = String;
//!     fn boundary(&self) -> (&str,) { (&self.0,) }
//!     fn decide(&self, (room,): &(Room,)) -> Result<Vec<Hotel>, String> {
//!         if room.booked >= 2 { return Err("full".into()) }
//!         Ok(vec![Booked { room: self.0.parse().map_err(|_| "no such room")? }.into()])
//!     }
//! }
//!
//! use es_testing::decision_invariants::DecisionInvariants;
//! use es_testing::proptest::prelude::*;
//!
//! DecisionInvariants::<Hotel>::new()
//!     .command((1u8..4).prop_map(|r| Book(r.to_string())))
//!     .invariant("a room takes two guests at most", |room: &Room| room.booked <= 2)
//!     .check();
//! ```

use std::collections::BTreeSet;
use std::fmt::{self, Debug, Write};
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;

use es_core::{
    Boundaries, CommandError, Decide, Decisions, EventSet, MemoryStore, Metadata, NewEvent, Query, State,
    States, StoreError,
};
use proptest::prelude::*;
use proptest::strategy::{BoxedStrategy, Union};
use proptest::test_runner::{Config, TestCaseError, TestError, TestRunner};

// Not `Send`: sequences run on a current-thread runtime of their own.
type Boxed<'a, T> = Pin<Box<dyn Future<Output = T> + 'a>>;

/// What one command came to: recorded events, a refusal, or a failure of the framework.
enum Outcome<E> {
    Recorded(Vec<E>),
    Refused,
    Failed(String),
}

type Run<E> = dyn Fn(Decisions<E, MemoryStore>) -> Boxed<'static, Outcome<E>>;

/// One generated decision command of any type that records the event set `E`.
pub struct AnyDecision<E> {
    shown: String,
    run: Arc<Run<E>>,
}

impl<E> Clone for AnyDecision<E> {
    fn clone(&self) -> Self {
        AnyDecision { shown: self.shown.clone(), run: Arc::clone(&self.run) }
    }
}

impl<E> Debug for AnyDecision<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.shown)
    }
}

/// One invariant, checked on the store for each of the tag values the accepted events carry.
trait Rule {
    /// `Some(value)`: broken for the state keyed `value`.
    fn broken<'a>(
        &'a self,
        store: &'a MemoryStore,
        tags: &'a BTreeSet<String>,
    ) -> Boxed<'a, Result<Option<String>, StoreError>>;
}

/// An invariant of every state `S`.
struct StateRule<S, F> {
    holds: F,
    state: PhantomData<fn() -> S>,
}

impl<S: State, F: Fn(&S) -> bool> Rule for StateRule<S, F> {
    fn broken<'a>(
        &'a self,
        store: &'a MemoryStore,
        tags: &'a BTreeSet<String>,
    ) -> Boxed<'a, Result<Option<String>, StoreError>> {
        Box::pin(async move {
            let prefix = format!("{}:", S::TAG);
            for value in tags.iter().filter_map(|t| t.strip_prefix(&prefix)) {
                let items = vec![S::item(value)];
                let query = Query::new(items.iter().cloned());
                let mut state = <(S,)>::default();
                store
                    .visit_query(&query, |event, tags| {
                        state.apply(&items, event, tags).map_err(StoreError::from)
                    })
                    .await?;
                if !(self.holds)(&state.0) {
                    return Ok(Some(value.to_owned()));
                }
            }
            Ok(None)
        })
    }
}

/// A property test of decisions recording the event set `E`: commands to generate, and the
/// invariants of the states they read.
#[must_use = "nothing is checked until `.check()`"]
pub struct DecisionInvariants<E> {
    commands: Vec<BoxedStrategy<AnyDecision<E>>>,
    rules: Vec<(String, Box<dyn Rule>)>,
    cases: u32,
    max_commands: usize,
}

impl<E> Default for DecisionInvariants<E> {
    fn default() -> Self {
        DecisionInvariants { commands: Vec::new(), rules: Vec::new(), cases: 128, max_commands: 20 }
    }
}

/// The first step of a sequence that broke a rule.
struct Violation<E> {
    given: Vec<E>,
    when: String,
    produced: Vec<E>,
    broken: String,
}

impl<E: EventSet + Debug> DecisionInvariants<E> {
    /// No commands, no invariants; 128 sequences of up to 20 commands.
    pub fn new() -> Self {
        Self::default()
    }

    /// Generates decision commands of type `D` from `strategy` (a proptest strategy).
    pub fn command<D>(mut self, strategy: impl Strategy<Value = D> + 'static) -> Self
    where
        D: Decide<Events = E> + Clone + Debug + 'static,
    {
        let boxed = strategy
            .prop_map(|decision| {
                let shown = format!("{decision:?}");
                let run: Arc<Run<E>> = Arc::new(move |decisions: Decisions<E, MemoryStore>| {
                    let decision = decision.clone();
                    Box::pin(async move {
                        match decisions.execute(decision).await {
                            Ok(recorded) => {
                                Outcome::Recorded(recorded.into_iter().map(|r| r.event).collect())
                            }
                            Err(CommandError::Rejected(_)) => Outcome::Refused,
                            Err(other) => Outcome::Failed(format!("{other:?}")),
                        }
                    })
                });
                AnyDecision { shown, run }
            })
            .boxed();
        self.commands.push(boxed);
        self
    }

    /// A rule every state `S` must satisfy after every accepted command: checked for each tag
    /// value of `S::TAG` that the accepted events carry, the state read from the store as a
    /// decision reads it.
    pub fn invariant<S: State>(
        mut self,
        name: impl Into<String>,
        holds: impl Fn(&S) -> bool + 'static,
    ) -> Self {
        let rule = StateRule { holds, state: PhantomData };
        self.rules.push((name.into(), Box::new(rule)));
        self
    }

    /// How many random sequences to run (default 128).
    pub fn cases(mut self, cases: u32) -> Self {
        self.cases = cases.max(1);
        self
    }

    /// The longest sequence (default 20).
    pub fn max_commands(mut self, n: usize) -> Self {
        self.max_commands = n.max(1);
        self
    }

    /// Runs the sequences; on a violation, shrinks it and panics with the minimal history. Call
    /// it from a plain `#[test]` (it runs a runtime of its own).
    #[track_caller]
    pub fn check(self) {
        assert!(
            !self.commands.is_empty(),
            "DecisionInvariants::check needs at least one `.command(strategy)`"
        );
        assert!(
            tokio::runtime::Handle::try_current().is_err(),
            "DecisionInvariants::check runs a runtime of its own: call it from a plain #[test]"
        );
        let runtime = match tokio::runtime::Builder::new_current_thread().enable_time().build() {
            Ok(runtime) => runtime,
            Err(e) => panic!("DecisionInvariants::check could not start a runtime: {e}"),
        };
        let sequences = proptest::collection::vec(Union::new(self.commands.clone()), 1..=self.max_commands);
        let config = Config { cases: self.cases, failure_persistence: None, ..Config::default() };
        let mut runner = TestRunner::new(config);
        let result = runner.run(&sequences, |commands| match runtime.block_on(self.run(&commands)) {
            Some(v) => Err(TestCaseError::fail(v.broken)),
            None => Ok(()),
        });
        match result {
            Ok(()) => {}
            Err(TestError::Fail(_, minimal)) => match runtime.block_on(self.run(&minimal)) {
                Some(v) => panic!("{}", report(&v, minimal.len())),
                None => {
                    panic!("an invariant failed, but the shrunk sequence passes when re-run: {minimal:?}")
                }
            },
            Err(TestError::Abort(why)) => panic!("the invariant check gave up: {why}"),
        }
    }

    /// Runs one sequence on a fresh store; `Some` describes the first step that broke a rule.
    async fn run(&self, commands: &[AnyDecision<E>]) -> Option<Violation<E>> {
        let store = MemoryStore::new();
        let decisions = Decisions::<E, _>::new(store.clone());
        let (mut given, mut tags) = (Vec::new(), BTreeSet::new());
        for command in commands {
            let violation = |produced, broken, given: &Vec<E>| Violation {
                given: given.clone(),
                when: command.shown.clone(),
                produced,
                broken,
            };
            let events = match (command.run)(decisions.clone()).await {
                Outcome::Recorded(events) => events,
                Outcome::Refused => continue,
                Outcome::Failed(why) => {
                    return Some(violation(vec![], format!("the command failed: {why}"), &given))
                }
            };
            for event in &events {
                match NewEvent::encode(event, Metadata::default()) {
                    Ok(encoded) => tags.extend(encoded.tags),
                    Err(e) => {
                        return Some(violation(
                            events.clone(),
                            format!("an event does not encode: {e}"),
                            &given,
                        ))
                    }
                }
            }
            for (name, check) in &self.rules {
                let broken = match check.broken(&store, &tags).await {
                    Ok(None) => continue,
                    Ok(Some(value)) => format!("invariant \"{name}\" broken for {value}"),
                    Err(e) => format!("invariant \"{name}\": reading the state failed: {e}"),
                };
                return Some(violation(events, broken, &given));
            }
            given.extend(events);
        }
        None
    }
}

/// The violation as the given events, the command and what it recorded.
fn report<E: EventSet + Debug>(v: &Violation<E>, len: usize) -> String {
    let set = std::any::type_name::<E>().rsplit("::").next().unwrap_or("Events");
    let mut out = format!(
        "\n{}, by the last of {len} generated commands (shrunk to a minimal sequence):\n\n",
        v.broken
    );
    if v.given.is_empty() {
        let _ = writeln!(out, "{set}::given_nothing()");
    } else {
        let _ = writeln!(out, "{set}::given((");
        for e in &v.given {
            let _ = writeln!(out, "    {e:?},");
        }
        let _ = writeln!(out, "))");
    }
    let _ = writeln!(out, ".when({})", v.when);
    let produced: Vec<String> = v.produced.iter().map(|e| format!("{e:?}")).collect();
    let _ = writeln!(out, ".then(({},)); // what it records now", produced.join(", "));
    out
}
