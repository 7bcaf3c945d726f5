//! Invariants over generated command sequences: state rules that no sequence of accepted
//! commands may break, checked on random sequences and shrunk to a minimal reproduction.
//!
//! ```
//! # use es_core::{Aggregate, Apply, Event, Handle};
//! # use serde::{Deserialize, Serialize};
//! # #[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
//! # pub struct Added { pub n: i64 }
//! # #[derive(Aggregate, Default, Debug)]
//! # #[aggregate(events(Added), error = String)]
//! # pub struct Counter { total: i64 }
//! # impl Apply<Added> for Counter { fn apply(&mut self, e: &Added) { self.total += e.n } }
//! #[derive(Debug, Clone)]
//! pub struct Add(i64);
//! impl Handle<Add> for Counter {
//!     fn handle(&self, cmd: &Add) -> Result<Vec<CounterEvent>, String> {
//!         if self.total + cmd.0 > 100 { return Err("too much".into()) }
//!         Ok(vec![Added { n: cmd.0 }.into()])
//!     }
//! }
//!
//! use es_testing::invariants::Invariants;
//! use es_testing::proptest::prelude::*;
//!
//! Invariants::<Counter>::new()
//!     .command((0i64..50).prop_map(Add))
//!     .invariant("the total stays within 100", |c| c.total <= 100)
//!     .check();
//! ```

use std::fmt::{self, Debug, Write};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use es_core::{Aggregate, Handle};
use proptest::prelude::*;
use proptest::strategy::{BoxedStrategy, Union};
use proptest::test_runner::{Config, TestCaseError, TestError, TestRunner};

type Decide<A> = dyn Fn(&A) -> Result<Vec<<A as Aggregate>::Event>, <A as Aggregate>::Error> + Send + Sync;

/// One generated command of any type the aggregate handles.
pub struct AnyCommand<A: Aggregate> {
    shown: String,
    decide: Arc<Decide<A>>,
}

impl<A: Aggregate> Clone for AnyCommand<A> {
    fn clone(&self) -> Self {
        AnyCommand { shown: self.shown.clone(), decide: Arc::clone(&self.decide) }
    }
}

impl<A: Aggregate> Debug for AnyCommand<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.shown)
    }
}

type Rule<A> = (String, Box<dyn Fn(&A) -> bool>);

/// A property test of an aggregate: commands to generate, and the invariants of its state.
#[must_use = "nothing is checked until `.check()`"]
pub struct Invariants<A: Aggregate> {
    commands: Vec<BoxedStrategy<AnyCommand<A>>>,
    rules: Vec<Rule<A>>,
    cases: u32,
    max_commands: usize,
}

impl<A: Aggregate> Default for Invariants<A> {
    fn default() -> Self {
        Invariants { commands: Vec::new(), rules: Vec::new(), cases: 256, max_commands: 20 }
    }
}

/// What happened when a sequence ran: the accepted history before the step that broke a rule.
struct Violation<A: Aggregate> {
    given: Vec<A::Event>,
    when: String,
    produced: Vec<A::Event>,
    broken: String,
}

impl<A: Aggregate + Debug> Invariants<A> {
    /// No commands, no invariants; 256 sequences of up to 20 commands.
    pub fn new() -> Self {
        Self::default()
    }

    /// Generates commands of type `C` from `strategy` (a proptest strategy).
    pub fn command<C>(mut self, strategy: impl Strategy<Value = C> + 'static) -> Self
    where
        A: Handle<C>,
        C: Debug + Send + Sync + 'static,
    {
        let boxed = strategy
            .prop_map(|cmd| {
                let shown = format!("{cmd:?}");
                let decide: Arc<Decide<A>> = Arc::new(move |state: &A| state.handle(&cmd));
                AnyCommand { shown, decide }
            })
            .boxed();
        self.commands.push(boxed);
        self
    }

    /// A rule the state must satisfy after every accepted command (and initially).
    pub fn invariant(mut self, name: impl Into<String>, holds: impl Fn(&A) -> bool + 'static) -> Self {
        self.rules.push((name.into(), Box::new(holds)));
        self
    }

    /// How many random sequences to run (default 256).
    pub fn cases(mut self, cases: u32) -> Self {
        self.cases = cases.max(1);
        self
    }

    /// The longest sequence (default 20).
    pub fn max_commands(mut self, n: usize) -> Self {
        self.max_commands = n.max(1);
        self
    }

    /// Runs the sequences; on a violation, shrinks it and panics with a ready-to-paste test.
    #[track_caller]
    pub fn check(self) {
        assert!(!self.commands.is_empty(), "Invariants::check needs at least one `.command(strategy)`");
        let sequences = proptest::collection::vec(Union::new(self.commands.clone()), 1..=self.max_commands);
        let config = Config { cases: self.cases, failure_persistence: None, ..Config::default() };
        let mut runner = TestRunner::new(config);
        let result = runner.run(&sequences, |commands| match self.run(&commands) {
            Some(v) => Err(TestCaseError::fail(v.broken)),
            None => Ok(()),
        });
        match result {
            Ok(()) => {}
            Err(TestError::Fail(_, minimal)) => match self.run(&minimal) {
                Some(v) => panic!("{}", self.report(&v, minimal.len())),
                None => {
                    panic!("an invariant failed, but the shrunk sequence passes when re-run: {minimal:?}")
                }
            },
            Err(TestError::Abort(why)) => panic!("the invariant check gave up: {why}"),
        }
    }

    /// Runs one sequence; `Some` describes the first step that broke a rule or panicked.
    fn run(&self, commands: &[AnyCommand<A>]) -> Option<Violation<A>> {
        let mut state = A::default();
        let mut given = Vec::new();
        if let Some(broken) = self.broken(&state) {
            return Some(Violation {
                given,
                when: "(no command: the initial state)".into(),
                produced: vec![],
                broken,
            });
        }
        for command in commands {
            let violation = |produced: Vec<A::Event>, broken: String, given: &Vec<A::Event>| Violation {
                given: given.clone(),
                when: command.shown.clone(),
                produced,
                broken,
            };
            let events = match catch_unwind(AssertUnwindSafe(|| (command.decide)(&state))) {
                Ok(Ok(events)) => events,
                Ok(Err(_refused)) => continue,
                Err(panic) => {
                    return Some(violation(vec![], format!("handle panicked: {}", message(&panic)), &given))
                }
            };
            for event in &events {
                if let Err(panic) = catch_unwind(AssertUnwindSafe(|| state.apply(event))) {
                    return Some(violation(
                        events.clone(),
                        format!("apply panicked: {}", message(&panic)),
                        &given,
                    ));
                }
            }
            if let Some(broken) = self.broken(&state) {
                return Some(violation(events, broken, &given));
            }
            given.extend(events);
        }
        None
    }

    fn broken(&self, state: &A) -> Option<String> {
        self.rules
            .iter()
            .find(|(_, holds)| !holds(state))
            .map(|(name, _)| format!("invariant \"{name}\" broken"))
    }

    fn report(&self, v: &Violation<A>, len: usize) -> String {
        let agg = short_type_name::<A>();
        let mut out = format!(
            "\n{}, by the last of {len} generated commands (shrunk to a minimal sequence).\n\
             A test that reproduces it, to paste and then assert what should happen instead:\n\n",
            v.broken
        );
        let _ = writeln!(out, "#[test]\nfn {}() {{", test_name(&v.broken));
        if v.given.is_empty() {
            let _ = writeln!(out, "    {agg}::given_nothing()");
        } else {
            let _ = writeln!(out, "    {agg}::given((");
            for e in &v.given {
                let _ = writeln!(out, "        {},", rust_expr(e));
            }
            let _ = writeln!(out, "    ))");
        }
        let _ = writeln!(out, "    .when({})", rust_literals(&v.when));
        if v.produced.is_empty() {
            let _ = writeln!(out, "    .then_nothing();");
        } else {
            let produced: Vec<String> = v.produced.iter().map(rust_expr).collect();
            let _ = writeln!(out, "    .then(({},)); // what it does now", produced.join(", "));
        }
        out.push_str("}\n");
        out
    }
}

/// An event of the enum as the expression of its inner struct: `Variant(Inner { .. })` -> `Inner { .. }`.
fn rust_expr<E: Debug>(event: &E) -> String {
    let shown = format!("{event:?}");
    let inner = shown
        .split_once('(')
        .filter(|_| shown.ends_with(')'))
        .map_or(shown.as_str(), |(_, rest)| &rest[..rest.len() - 1]);
    rust_literals(inner)
}

/// Debug output as Rust source: string literals become `"..".into()` so they fit `String` fields.
fn rust_literals(debug: &str) -> String {
    let mut out = String::with_capacity(debug.len());
    let (mut in_str, mut escaped) = (false, false);
    for c in debug.chars() {
        out.push(c);
        if in_str {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => {
                    in_str = false;
                    out.push_str(".into()");
                }
                _ => {}
            }
        } else if c == '"' {
            in_str = true;
        }
    }
    out
}

fn test_name(broken: &str) -> String {
    let words: String = broken
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '_' })
        .collect();
    let joined = words.split('_').filter(|w| !w.is_empty()).collect::<Vec<_>>().join("_");
    format!("regression_{joined}")
}

fn short_type_name<T>() -> &'static str {
    let full = std::any::type_name::<T>();
    full.rsplit("::").next().unwrap_or(full)
}

fn message(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_else(|| "(no message)".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_becomes_source() {
        assert_eq!(rust_expr(&"x"), "\"x\".into()");
        assert_eq!(rust_literals(r#"Opened { owner: "a\"b" }"#), r#"Opened { owner: "a\"b".into() }"#);
        assert_eq!(test_name("invariant \"balance >= 0\" broken"), "regression_invariant_balance_0_broken");
    }
}
