//! The bank's decisions, tested with given / when / then: no store, no boilerplate.

use es_testing::invariants::Invariants;
use es_testing::prelude::*;
use es_testing::proptest::prelude::*;

use crate::bank::*;

fn opened() -> AccountOpened {
    AccountOpened { owner: "ann".into() }
}

fn eur(amount: u64) -> MoneyDeposited {
    MoneyDeposited { amount, currency: "EUR".into(), memo: String::new() }
}

#[test]
fn opening_an_account() {
    Account::given_nothing()
        .when(Open { owner: "ann".into() })
        .then((opened(),))
        .then_state(|a| assert!(a.opened && a.owner == "ann"));
}

#[test]
fn an_account_opens_once() {
    Account::given((opened(),)).when(Open { owner: "bob".into() }).then_error(AccountError::AlreadyOpen);
}

#[test]
fn deposit_adds_money() {
    Account::given((opened(),))
        .when(Deposit { amount: 10 })
        .then((eur(10),))
        .then_state(|acct| assert_eq!(acct.balance, 10));
}

#[test]
fn a_closed_account_takes_nothing() {
    Account::given_nothing().when(Deposit { amount: 10 }).then_error(AccountError::NotOpen);
}

#[test]
fn zero_amounts_are_refused() {
    Account::given((opened(),)).when(Deposit { amount: 0 }).then_error(AccountError::ZeroAmount);
    Account::given((opened(), eur(5))).when(Withdraw { amount: 0 }).then_error(AccountError::ZeroAmount);
}

#[test]
fn withdrawing_within_the_balance() {
    Account::given((opened(), eur(10), MoneyWithdrawn { amount: 3 }))
        .when(Withdraw { amount: 7 })
        .then((MoneyWithdrawn { amount: 7 },))
        .then_state(|acct| assert_eq!(acct.balance, 0));
}

#[test]
fn withdrawing_more_than_the_balance_is_refused() {
    Account::given((opened(), eur(10)))
        .when(Withdraw { amount: 11 })
        .then_error(AccountError::InsufficientFunds { balance: 10, requested: 11 });
}

#[test]
fn history_may_be_given_as_the_event_enum() {
    let history: Vec<AccountEvent> = vec![opened().into(), eur(4).into(), eur(6).into()];
    Account::given(history)
        .when(Withdraw { amount: 10 })
        .then([AccountEvent::from(MoneyWithdrawn { amount: 10 })]);
}

#[test]
fn no_command_sequence_overdraws_or_funds_a_closed_account() {
    Invariants::<Account>::new()
        .command("[a-z]{1,5}".prop_map(|owner| Open { owner }))
        .command((0u64..500).prop_map(|amount| Deposit { amount }))
        .command((0u64..500).prop_map(|amount| Withdraw { amount }))
        .invariant("an account that is not open holds nothing", |a| a.opened || a.balance == 0)
        .invariant("the balance stays below the sum of 20 deposits", |a| a.balance <= 20 * 500)
        .check();
}
