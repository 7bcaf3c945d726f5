use es_core::{Event, EventSet};
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct CourseCreated {
    #[event(tag)]
    pub course: String,
}

#[derive(EventSet, Debug, Clone)]
pub struct University {
    pub created: CourseCreated,
}

fn main() {}
