use es_core::{Contract, IntegrationEvent};
use serde::Serialize;

#[derive(IntegrationEvent, Serialize)]
#[integration(name = "", versoin = 2)]
pub struct PaymentReceived { pub amount: u64 }

#[derive(Contract)]
pub struct Payments;

fn main() {}
