use es_core::{Event, State};
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct CourseCreated {
    #[event(tag)]
    pub course: String,
    pub capacity: u32,
}

#[derive(State, Default)]
#[state(tag = course)]
pub struct Course;

#[derive(State, Default)]
#[state(events(), tag = course)]
pub struct Empty;

fn main() {}
