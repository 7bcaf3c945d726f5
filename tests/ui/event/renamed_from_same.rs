use es_core::Event;
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize)]
#[event(name = "FundsAdded", renamed_from = "FundsAdded", renamed_from = "")]
pub struct FundsAdded;

fn main() {}
