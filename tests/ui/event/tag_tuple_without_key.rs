use es_core::Event;
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize)]
pub struct CourseCreated(#[event(tag)] String, #[event(tag = "capacity")] u32);

fn main() {}
