//! The invariant checker finds a planted bug and prints the minimal reproduction.
#![allow(missing_docs)] // test fixtures, not a public API

use std::panic::{catch_unwind, AssertUnwindSafe};

use es_core::{Aggregate, Apply, Event, Handle};
use es_testing::invariants::Invariants;
use es_testing::prelude::*;
use es_testing::proptest::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Opened {
    pub owner: String,
}

#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Deposited {
    pub amount: i64,
}

#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Withdrawn {
    pub amount: i64,
}

#[derive(Debug, PartialEq)]
pub enum Refused {
    NotOpen,
    InsufficientFunds,
}

#[derive(Aggregate, Default, Debug)]
#[aggregate(events(Opened, Deposited, Withdrawn), error = Refused)]
pub struct Wallet {
    open: bool,
    balance: i64,
}

impl Apply<Opened> for Wallet {
    fn apply(&mut self, _: &Opened) {
        self.open = true;
    }
}
impl Apply<Deposited> for Wallet {
    fn apply(&mut self, e: &Deposited) {
        self.balance += e.amount;
    }
}
impl Apply<Withdrawn> for Wallet {
    fn apply(&mut self, e: &Withdrawn) {
        self.balance -= e.amount;
    }
}

#[derive(Debug, Clone)]
pub struct Open {
    pub owner: String,
}
#[derive(Debug, Clone)]
pub struct Deposit {
    pub amount: i64,
}
/// The correct withdrawal.
#[derive(Debug, Clone)]
pub struct Withdraw {
    pub amount: i64,
}
/// The planted bug: a withdrawal that skips the balance check.
#[derive(Debug, Clone)]
pub struct WithdrawUnchecked {
    pub amount: i64,
}

impl Handle<Open> for Wallet {
    fn handle(&self, cmd: &Open) -> Result<Vec<WalletEvent>, Refused> {
        Ok(vec![Opened { owner: cmd.owner.clone() }.into()])
    }
}
impl Handle<Deposit> for Wallet {
    fn handle(&self, cmd: &Deposit) -> Result<Vec<WalletEvent>, Refused> {
        if !self.open {
            return Err(Refused::NotOpen);
        }
        Ok(vec![Deposited { amount: cmd.amount }.into()])
    }
}
impl Handle<Withdraw> for Wallet {
    fn handle(&self, cmd: &Withdraw) -> Result<Vec<WalletEvent>, Refused> {
        if !self.open {
            return Err(Refused::NotOpen);
        }
        if cmd.amount > self.balance {
            return Err(Refused::InsufficientFunds);
        }
        Ok(vec![Withdrawn { amount: cmd.amount }.into()])
    }
}
impl Handle<WithdrawUnchecked> for Wallet {
    fn handle(&self, cmd: &WithdrawUnchecked) -> Result<Vec<WalletEvent>, Refused> {
        if !self.open {
            return Err(Refused::NotOpen);
        }
        Ok(vec![Withdrawn { amount: cmd.amount }.into()])
    }
}

fn owners() -> impl Strategy<Value = Open> {
    "[a-z]{0,8}".prop_map(|owner| Open { owner })
}

fn checker() -> Invariants<Wallet> {
    Invariants::<Wallet>::new()
        .command(owners())
        .command((1i64..1000).prop_map(|amount| Deposit { amount }))
        .invariant("the balance is never negative", |w| w.balance >= 0)
        .invariant("a wallet that is not open holds nothing", |w| w.open || w.balance == 0)
}

#[test]
fn correct_commands_keep_the_invariants() {
    checker().command((1i64..1000).prop_map(|amount| Withdraw { amount })).check();
}

#[test]
fn the_planted_bug_is_found_and_shrunk() {
    let found = catch_unwind(AssertUnwindSafe(|| {
        checker().command((1i64..1000).prop_map(|amount| WithdrawUnchecked { amount })).check();
    }));
    let panic = found.expect_err("the unchecked withdrawal must break the invariant");
    let message = panic.downcast_ref::<String>().cloned().unwrap_or_default();
    println!("{message}");
    assert!(message.contains("invariant \"the balance is never negative\" broken"), "{message}");
    assert!(message.contains("by the last of 2 generated commands"), "shrunk to open + withdraw: {message}");
    let expected_test = "\
#[test]
fn regression_invariant_the_balance_is_never_negative_broken() {
    Wallet::given((
        Opened { owner: \"\".into() },
    ))
    .when(WithdrawUnchecked { amount: 1 })
    .then((Withdrawn { amount: 1 },)); // what it does now
}";
    assert!(message.contains(expected_test), "{message}");
}

/// The printed reproduction, pasted: it compiles and passes, showing the bug.
#[test]
fn regression_invariant_the_balance_is_never_negative_broken() {
    Wallet::given((Opened { owner: "".into() },))
        .when(WithdrawUnchecked { amount: 1 })
        .then((Withdrawn { amount: 1 },)); // what it does now
}

#[test]
fn a_panicking_apply_is_reported_too() {
    #[derive(Debug, Clone)]
    struct Overflow;
    impl Handle<Overflow> for Wallet {
        fn handle(&self, _: &Overflow) -> Result<Vec<WalletEvent>, Refused> {
            Ok(vec![Deposited { amount: i64::MAX }.into()])
        }
    }
    let found = catch_unwind(AssertUnwindSafe(|| {
        Invariants::<Wallet>::new().command(Just(Overflow)).check();
    }));
    let message = found.expect_err("overflow").downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(message.contains("apply panicked: attempt to add with overflow"), "{message}");
}
