use es_core::Event;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
pub struct Room {
    pub number: u32,
}

#[derive(Event, Serialize, Deserialize)]
pub struct Booked {
    #[event(tag)]
    pub room: Room,
}

fn main() {}
