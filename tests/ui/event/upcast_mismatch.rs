use es_core::Event;
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize)]
#[event(name = "Deposited", version = 3)]
pub struct DepositedV3;

/// Upcasts from a version that is not older.
#[derive(Event, Serialize, Deserialize)]
#[event(version = 2, upcast_from = DepositedV3)]
pub struct Deposited;

impl From<DepositedV3> for Deposited {
    fn from(_: DepositedV3) -> Self { Deposited }
}

#[derive(Event, Serialize, Deserialize)]
pub struct Withdrawn;

/// Upcasts from another event.
#[derive(Event, Serialize, Deserialize)]
#[event(version = 2, upcast_from = Withdrawn)]
pub struct Opened;

impl From<Withdrawn> for Opened {
    fn from(_: Withdrawn) -> Self { Opened }
}

fn main() {}
