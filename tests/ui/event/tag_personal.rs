use es_core::Event;
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize)]
pub struct StudentRegistered {
    #[event(subject, tag)]
    pub student: String,
    #[event(personal, tag)]
    pub email: String,
}

fn main() {}
