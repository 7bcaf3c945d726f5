use es_core::{Apply, Event, State};
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct CourseCreated {
    #[event(tag)]
    pub course: String,
    pub capacity: u32,
}

#[derive(State, Default)]
#[state(events(CourseCreated))]
pub struct Course;
impl Apply<CourseCreated> for Course {
    fn apply(&mut self, _: &CourseCreated) {}
}

#[derive(State, Default)]
#[state(events(CourseCreated), tag = "course:id")]
pub struct Colon;
impl Apply<CourseCreated> for Colon {
    fn apply(&mut self, _: &CourseCreated) {}
}

fn main() {}
