use es_core::Event;
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize)]
pub struct Registered {
    pub customer: String,
    #[event(personal)]
    pub name: String,
}

#[derive(Event, Serialize, Deserialize)]
pub struct Noted {
    #[event(erased = String::new())]
    pub note: String,
}

fn main() {}
