use es_core::integration::{MapError, Outgoing, Translate};
use es_core::{Contract, Event, EventContext};
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct MoneyDeposited { pub amount: u64 }

#[derive(Contract)]
#[contract(events(MoneyDeposited))]
pub struct Payments;

impl Translate<MoneyDeposited> for Payments {
    fn translate(&self, e: &MoneyDeposited, _: &EventContext<'_>) -> Result<Outgoing, MapError> {
        Outgoing::one(e.clone())
    }
}

fn main() {}
