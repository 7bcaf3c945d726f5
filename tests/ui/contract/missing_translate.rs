use es_core::integration::{MapError, Outgoing, Translate};
use es_core::{Contract, Event, EventContext, IntegrationEvent};
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct MoneyDeposited { pub amount: u64 }

#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct MoneyWithdrawn { pub amount: u64 }

#[derive(IntegrationEvent, Serialize)]
pub struct PaymentReceived { pub amount: u64 }

#[derive(Contract)]
#[contract(events(MoneyDeposited, MoneyWithdrawn))]
pub struct Payments;

impl Translate<MoneyDeposited> for Payments {
    fn translate(&self, e: &MoneyDeposited, _: &EventContext<'_>) -> Result<Outgoing, MapError> {
        Outgoing::one(PaymentReceived { amount: e.amount })
    }
}

fn main() {}
