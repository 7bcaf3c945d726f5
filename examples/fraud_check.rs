//! A withdrawal that asks a fraud service first (`cargo run --example fraud_check`): the
//! service is called once per command, outside the conflict retries (`Prepare`), and the pure
//! decision (`HandlePrepared`) gets its score, again on fresh state after a conflict, and may
//! refuse. Ten withdrawals race on one account: each asks the service exactly once.

use std::sync::atomic::{AtomicUsize, Ordering};

use es_core::{Aggregate, Apply, CommandError, Event, HandlePrepared, MemoryStore, Prepare, Repository};
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
struct Deposited {
    amount: u64,
}

#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
struct Withdrawn {
    amount: u64,
    score: u8,
}

#[derive(Debug, PartialEq, thiserror::Error)]
enum AccountError {
    #[error("insufficient funds")]
    Insufficient,
    #[error("held for review (fraud score {0})")]
    Suspicious(u8),
}

#[derive(Aggregate, Default, Debug)]
#[aggregate(events(Deposited, Withdrawn), error = AccountError)]
struct Account {
    balance: u64,
}
impl Apply<Deposited> for Account {
    fn apply(&mut self, e: &Deposited) {
        self.balance += e.amount;
    }
}
impl Apply<Withdrawn> for Account {
    fn apply(&mut self, e: &Withdrawn) {
        self.balance -= e.amount;
    }
}

/// The fraud service: in real life a network call; here it scores large amounts high.
#[derive(Default)]
struct Fraud {
    calls: AtomicUsize,
}
impl Fraud {
    async fn score(&self, amount: u64) -> u8 {
        self.calls.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        if amount >= 1_000 {
            90
        } else {
            10
        }
    }
}

struct Deposit(u64);
impl es_core::Handle<Deposit> for Account {
    fn handle(&self, cmd: &Deposit) -> Result<Vec<AccountEvent>, AccountError> {
        Ok(vec![Deposited { amount: cmd.0 }.into()])
    }
}

struct Withdraw(u64);
impl Prepare<Withdraw> for Account {
    type Services = Fraud;
    type Prepared = u8;
    async fn prepare(cmd: &Withdraw, fraud: &Fraud) -> Result<u8, AccountError> {
        Ok(fraud.score(cmd.0).await)
    }
}
impl HandlePrepared<Withdraw> for Account {
    fn handle(&self, cmd: &Withdraw, score: &u8) -> Result<Vec<AccountEvent>, AccountError> {
        if *score > 50 {
            return Err(AccountError::Suspicious(*score));
        }
        if self.balance < cmd.0 {
            return Err(AccountError::Insufficient);
        }
        Ok(vec![Withdrawn { amount: cmd.0, score: *score }.into()])
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let accounts = Repository::<Account, _>::new(MemoryStore::new()).with_services(Fraud::default());
    accounts.repository().execute("ann", Deposit(500)).await?;

    let refused = accounts.execute("ann", Withdraw(2_000)).await;
    assert!(matches!(refused, Err(CommandError::Rejected(AccountError::Suspicious(90)))));

    let racers: Vec<_> = (0..10)
        .map(|_| {
            let accounts = accounts.clone();
            tokio::spawn(async move { accounts.execute("ann", Withdraw(100)).await })
        })
        .collect();
    let (mut paid, mut insufficient) = (0, 0);
    for racer in racers {
        match racer.await? {
            Ok(_) => paid += 1,
            Err(CommandError::Rejected(AccountError::Insufficient)) => insufficient += 1,
            Err(other) => return Err(other.into()),
        }
    }
    let calls = accounts.services().calls.load(Ordering::SeqCst);
    let balance = accounts.repository().load("ann").await?.state.balance;
    println!("{paid} paid, {insufficient} refused (insufficient), balance {balance}, fraud service called {calls} times");
    assert_eq!((paid, insufficient, balance, calls), (5, 5, 0, 11));
    Ok(())
}
