use es_core::Event;
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize)]
#[event(colour = "red", verison = 2)]
pub struct AccountOpened;

fn main() {}
