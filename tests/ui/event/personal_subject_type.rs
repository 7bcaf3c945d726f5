use es_core::Event;
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize)]
pub struct Registered {
    #[event(subject)]
    pub customer: u64,
    #[event(personal)]
    pub name: String,
}

#[derive(Event, Serialize, Deserialize)]
pub struct Twice {
    #[event(subject)]
    pub customer: String,
    #[event(subject)]
    pub account: es_core::Uuid,
    #[event(personal)]
    pub name: String,
}

#[derive(Event, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Renamed {
    #[event(subject)]
    pub customer_id: String,
    #[event(personal)]
    pub full_name: String,
}

fn main() {}
