use es_core::Event;
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize)]
#[event(name = "Deposited")]
pub struct DepositedV1;

#[derive(Event, Serialize, Deserialize)]
#[event(version = 2, upcast_from = DepositedV1)]
pub struct Deposited;

fn main() {}
