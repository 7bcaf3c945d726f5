//! The harness tests itself: every assertion fails when it should, with the message checked and
//! the panic located at the test's own line.
#![allow(missing_docs)] // test fixtures, not a public API

use std::cell::{Cell, RefCell};
use std::panic::{self, AssertUnwindSafe};
use std::sync::Once;

use es_core::{Aggregate, Apply, Event, Handle};
use es_testing::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Opened {
    pub owner: String,
}

#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Deposited {
    pub amount: u64,
}

/// An event with a field serde skips: it does not survive storage.
#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Noted {
    pub text: String,
    #[serde(skip)]
    pub priority: u8,
}

#[derive(Debug, PartialEq)]
pub enum AccountError {
    NotOpen,
    TooMuch { limit: u64 },
}

#[derive(Aggregate, Default, Debug)]
#[aggregate(events(Opened, Deposited, Noted), error = AccountError)]
pub struct Account {
    open: bool,
    balance: u64,
}

impl Apply<Opened> for Account {
    fn apply(&mut self, _: &Opened) {
        self.open = true;
    }
}
impl Apply<Deposited> for Account {
    fn apply(&mut self, e: &Deposited) {
        self.balance += e.amount;
    }
}
impl Apply<Noted> for Account {
    fn apply(&mut self, _: &Noted) {}
}

pub struct Deposit(u64);
pub struct Note(u8);

impl Handle<Deposit> for Account {
    fn handle(&self, cmd: &Deposit) -> Result<Vec<AccountEvent>, AccountError> {
        if !self.open {
            return Err(AccountError::NotOpen);
        }
        if cmd.0 > 100 {
            return Err(AccountError::TooMuch { limit: 100 });
        }
        if cmd.0 == 0 {
            return Ok(vec![]);
        }
        Ok(vec![Deposited { amount: cmd.0 }.into()])
    }
}

impl Handle<Note> for Account {
    fn handle(&self, cmd: &Note) -> Result<Vec<AccountEvent>, AccountError> {
        Ok(vec![Noted { text: "hi".into(), priority: cmd.0 }.into()])
    }
}

fn opened() -> Opened {
    Opened { owner: "ann".into() }
}

thread_local! {
    static CAPTURING: Cell<bool> = const { Cell::new(false) };
    static LAST_PANIC: RefCell<Option<(String, u32)>> = const { RefCell::new(None) };
}

/// Runs `f`, which must panic, and returns its message and the line it was reported at.
fn failure(f: impl FnOnce()) -> (String, u32) {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let default = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if !CAPTURING.get() {
                return default(info);
            }
            let message = info
                .payload()
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| info.payload().downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            let line = info.location().map_or(0, |l| l.line());
            LAST_PANIC.with(|p| *p.borrow_mut() = Some((message, line)));
        }));
    });
    CAPTURING.set(true);
    let result = panic::catch_unwind(AssertUnwindSafe(f));
    CAPTURING.set(false);
    assert!(result.is_err(), "the assertion should have failed");
    LAST_PANIC.with(|p| p.borrow_mut().take()).expect("a panic was recorded")
}

#[test]
fn passing_scenarios_pass() {
    Account::given((opened(),))
        .when(Deposit(10))
        .then((Deposited { amount: 10 },))
        .then_state(|a| assert_eq!(a.balance, 10));
    Account::given(vec![AccountEvent::from(opened()), Deposited { amount: 5 }.into()])
        .when(Deposit(1))
        .then_state(|a| assert_eq!(a.balance, 6));
    Account::given((opened(),)).when(Deposit(0)).then_nothing();
    Account::given_nothing().when(Deposit(1)).then_error(AccountError::NotOpen);
}

#[test]
fn then_shows_both_sides_and_the_first_difference() {
    let (message, line) = failure(|| {
        Account::given((opened(),)).when(Deposit(10)).then((Deposited { amount: 11 },));
    });
    assert_eq!(line, line!() - 2, "the failure points at the test's own line");
    assert!(message.contains("the command produced other events than expected"), "{message}");
    assert!(message.contains("given (1 event):\n  1. Opened("), "{message}");
    assert!(message.contains("when: scenario::Deposit"), "{message}");
    assert!(message.contains("expected (1 event)"), "{message}");
    assert!(
        message.contains("first difference at line 3: expected `amount: 11,`, got `amount: 10,`"),
        "{message}"
    );
    let marked: Vec<&str> = message.lines().filter(|l| l.starts_with('>')).collect();
    assert_eq!(marked.len(), 1, "only the differing line is marked: {message}");
}

#[test]
fn then_reports_a_refusal_with_its_error() {
    let (message, _) = failure(|| {
        Account::given((opened(),)).when(Deposit(500)).then((Deposited { amount: 500 },));
    });
    assert!(message.contains("expected the events below, but the command was refused"), "{message}");
    assert!(message.contains("TooMuch {\n    limit: 100,"), "{message}");
    assert!(message.contains("expected events:\n1. Deposited("), "{message}");
}

#[test]
fn then_error_reports_accepted_commands_and_other_errors() {
    let (message, line) =
        failure(|| Account::given((opened(),)).when(Deposit(5)).then_error(AccountError::NotOpen));
    assert_eq!(line, line!() - 1);
    assert!(message.contains("expected the command to be refused, but it was accepted"), "{message}");
    assert!(message.contains("expected error: NotOpen\nactual events:\n1. Deposited("), "{message}");

    let (message, _) =
        failure(|| Account::given((opened(),)).when(Deposit(500)).then_error(AccountError::NotOpen));
    assert!(message.contains("the command was refused with another error"), "{message}");
    assert!(message.contains("first difference at line 1: expected `NotOpen`, got `TooMuch {`"), "{message}");
}

#[test]
fn then_nothing_reports_produced_events() {
    let (message, _) = failure(|| {
        Account::given((opened(),)).when(Deposit(3)).then_nothing();
    });
    assert!(message.contains("expected no event, but the command produced 1 event"), "{message}");
}

#[test]
fn then_state_runs_the_check_on_the_new_state() {
    let (message, _) = failure(|| {
        Account::given((opened(),)).when(Deposit(3)).then_state(|a| assert_eq!(a.balance, 4));
    });
    assert!(message.contains("left: 3\n right: 4"), "{message}");
    let (message, _) = failure(|| {
        Account::given_nothing().when(Deposit(3)).then_state(|_| {});
    });
    assert!(message.contains("expected a new state, but the command was refused"), "{message}");
}

#[test]
fn events_that_do_not_survive_storage_fail_naming_the_field() {
    let (message, line) = failure(|| {
        Account::given_nothing().when(Note(7)).then((Noted { text: "hi".into(), priority: 7 },));
    });
    assert_eq!(line, line!() - 2);
    assert!(message.contains("produced event 1 cannot be stored"), "{message}");
    assert!(message.contains("event `Noted` does not survive storage"), "{message}");
    assert!(message.contains("the field that changed: `priority: 7,` became `priority: 0,`"), "{message}");

    let (message, _) = failure(|| {
        let _ = Account::given((Noted { text: "x".into(), priority: 1 },));
    });
    assert!(message.contains("given event 1 cannot be stored"), "{message}");
}
