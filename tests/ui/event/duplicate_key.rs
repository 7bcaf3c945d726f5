use es_core::Event;
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize)]
#[event(version = 2)]
#[event(version = 3, name = "A", name = "B")]
pub struct Twice;

fn main() {}
