use es_core::Event;
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize)]
pub struct StudentSubscribed {
    #[event(tag)]
    pub course: String,
    #[event(tag = "course")]
    pub other_course: String,
    #[event(tag = "")]
    pub student: String,
    #[event(tag = "room:number")]
    pub room: u32,
    #[event(tag = room)]
    pub floor: u32,
}

fn main() {}
