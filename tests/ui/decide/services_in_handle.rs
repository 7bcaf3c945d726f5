// A decision is pure: services belong in `Prepare`, called once outside the retries. Taking
// them in `handle` or making `decide` async does not compile.
use es_core::{Aggregate, Apply, Decide, Event, EventSet, Handle, State};
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Withdrawn {
    #[event(tag)]
    pub account: String,
}

#[derive(Aggregate, Default)]
#[aggregate(events(Withdrawn), error = String)]
pub struct Account;
impl Apply<Withdrawn> for Account {
    fn apply(&mut self, _: &Withdrawn) {}
}

pub struct Fraud;
pub struct Withdraw;

impl Handle<Withdraw> for Account {
    fn handle(&self, _: &Withdraw, _fraud: &Fraud) -> Result<Vec<AccountEvent>, String> {
        Ok(Vec::new())
    }
}

#[derive(EventSet, Debug, Clone)]
pub enum Bank {
    Withdrawn(Withdrawn),
}

#[derive(State, Default)]
#[state(events(Withdrawn), tag = account)]
pub struct Balance;
impl Apply<Withdrawn> for Balance {
    fn apply(&mut self, _: &Withdrawn) {}
}

pub struct Check(String);
impl Decide for Check {
    type Events = Bank;
    type States = (Balance,);
    type Error = String;
    fn boundary(&self) -> (&str,) {
        (&self.0,)
    }
    async fn decide(&self, _: &(Balance,)) -> Result<Vec<Bank>, String> {
        Ok(Vec::new())
    }
}

fn main() {}
