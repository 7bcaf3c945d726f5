//! The bank's public contract: what other services learn of it, over NATS JetStream.
//! Deposits are published as `PaymentReceived`, version 1, without the private memo.

use es_core::integration::{MapError, Outgoing, Translate};
use es_core::{Contract, EventContext, IntegrationEvent};
use serde::{Deserialize, Serialize};

use crate::domain::MoneyDeposited;

/// A payment into an account, as other services see it.
#[derive(IntegrationEvent, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[integration(name = "PaymentReceived", version = 1)]
pub struct PaymentReceived {
    pub account: String,
    pub amount: u64,
    pub currency: String,
}

/// Maps the bank's domain events to its integration events.
#[derive(Contract)]
#[contract(events(MoneyDeposited))]
pub struct BankContract;

impl Translate<MoneyDeposited> for BankContract {
    fn translate(&self, e: &MoneyDeposited, at: &EventContext<'_>) -> Result<Outgoing, MapError> {
        let account = at.stream.strip_prefix("Account-").unwrap_or(at.stream).to_owned();
        Outgoing::one(PaymentReceived { account, amount: e.amount, currency: e.currency.clone() })
    }
}
