use es_core::Event;
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize)]
#[event(version = 0)]
pub struct Zero;

#[derive(Event, Serialize, Deserialize)]
#[event(version = "2")]
pub struct Text;

#[derive(Event, Serialize, Deserialize)]
#[event(version = 99999999999)]
pub struct TooLarge;

fn main() {}
