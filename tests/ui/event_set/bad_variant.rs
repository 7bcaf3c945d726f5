use es_core::{Event, EventSet};
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct CourseCreated {
    #[event(tag)]
    pub course: String,
}

#[derive(EventSet, Debug, Clone)]
pub enum University {
    CourseCreated(CourseCreated),
    Closed,
    Both(CourseCreated, CourseCreated),
    Named { event: CourseCreated },
}

fn main() {}
