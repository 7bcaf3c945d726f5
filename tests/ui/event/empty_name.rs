use es_core::Event;
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize)]
#[event(name = "")]
pub struct Nameless;

#[derive(Event, Serialize, Deserialize)]
#[event(name = Nameless)]
pub struct NotAString;

fn main() {}
