//! The bank domain: accounts that open, take deposits and allow withdrawals up to their balance.
//!
//! Shared by `examples/bank/main.rs` and the tests in `tests/`, which include it with `#[path]`.

use es_core::{Aggregate, Apply, Event, Handle};
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct AccountOpened {
    pub owner: String,
}

/// The current shape of a deposit. Version 2 added the currency, version 3 a memo; deposits
/// stored by older releases are upcast through `MoneyDepositedV2` and `MoneyDepositedV1`.
#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[event(version = 3, upcast_from = MoneyDepositedV2)]
pub struct MoneyDeposited {
    pub amount: u64,
    pub currency: String,
    pub memo: String,
}

/// A deposit as the second release stored it, before memos.
#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[event(name = "MoneyDeposited", version = 2, upcast_from = MoneyDepositedV1)]
pub struct MoneyDepositedV2 {
    pub amount: u64,
    pub currency: String,
}

/// A deposit as the first release stored it, before currencies.
#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[event(name = "MoneyDeposited", version = 1)]
pub struct MoneyDepositedV1 {
    pub amount: u64,
}

impl From<MoneyDepositedV2> for MoneyDeposited {
    fn from(old: MoneyDepositedV2) -> Self {
        MoneyDeposited { amount: old.amount, currency: old.currency, memo: String::new() }
    }
}

impl From<MoneyDepositedV1> for MoneyDepositedV2 {
    fn from(old: MoneyDepositedV1) -> Self {
        MoneyDepositedV2 { amount: old.amount, currency: "EUR".into() }
    }
}

/// A withdrawal; the first release stored it as "CashWithdrawn".
#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[event(renamed_from = "CashWithdrawn")]
pub struct MoneyWithdrawn {
    pub amount: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccountError {
    #[error("the account is not open")]
    NotOpen,
    #[error("the account is already open")]
    AlreadyOpen,
    #[error("an amount must be greater than zero")]
    ZeroAmount,
    #[error("insufficient funds: the balance is {balance}, {requested} was requested")]
    InsufficientFunds { balance: u64, requested: u64 },
    #[error("a deposit of {amount} would take the balance {balance} past the largest one an account holds")]
    BalanceOverflow { balance: u64, amount: u64 },
}

#[derive(Aggregate, Default, Debug, Clone, PartialEq, Serialize, Deserialize)]
#[aggregate(events(AccountOpened, MoneyDeposited, MoneyWithdrawn), error = AccountError)]
pub struct Account {
    pub owner: String,
    pub opened: bool,
    pub balance: u64,
}

impl Apply<AccountOpened> for Account {
    fn apply(&mut self, e: &AccountOpened) {
        self.opened = true;
        self.owner.clone_from(&e.owner);
    }
}

// The decisions below refuse what would overflow, so these never saturate on events this
// domain recorded; saturating keeps a load from panicking on events written by anything else.
impl Apply<MoneyDeposited> for Account {
    fn apply(&mut self, e: &MoneyDeposited) {
        self.balance = self.balance.saturating_add(e.amount);
    }
}

impl Apply<MoneyWithdrawn> for Account {
    fn apply(&mut self, e: &MoneyWithdrawn) {
        self.balance = self.balance.saturating_sub(e.amount);
    }
}

#[derive(Debug, Clone)]
pub struct Open {
    pub owner: String,
}

#[derive(Debug, Clone)]
pub struct Deposit {
    pub amount: u64,
}

#[derive(Debug, Clone)]
pub struct Withdraw {
    pub amount: u64,
}

impl Handle<Open> for Account {
    fn handle(&self, cmd: &Open) -> Result<Vec<AccountEvent>, AccountError> {
        if self.opened {
            return Err(AccountError::AlreadyOpen);
        }
        Ok(vec![AccountOpened { owner: cmd.owner.clone() }.into()])
    }
}

impl Handle<Deposit> for Account {
    fn handle(&self, cmd: &Deposit) -> Result<Vec<AccountEvent>, AccountError> {
        if !self.opened {
            return Err(AccountError::NotOpen);
        }
        if cmd.amount == 0 {
            return Err(AccountError::ZeroAmount);
        }
        if self.balance.checked_add(cmd.amount).is_none() {
            return Err(AccountError::BalanceOverflow { balance: self.balance, amount: cmd.amount });
        }
        Ok(vec![MoneyDeposited { amount: cmd.amount, currency: "EUR".into(), memo: String::new() }.into()])
    }
}

impl Handle<Withdraw> for Account {
    fn handle(&self, cmd: &Withdraw) -> Result<Vec<AccountEvent>, AccountError> {
        if !self.opened {
            return Err(AccountError::NotOpen);
        }
        if cmd.amount == 0 {
            return Err(AccountError::ZeroAmount);
        }
        if cmd.amount > self.balance {
            return Err(AccountError::InsufficientFunds { balance: self.balance, requested: cmd.amount });
        }
        Ok(vec![MoneyWithdrawn { amount: cmd.amount }.into()])
    }
}
