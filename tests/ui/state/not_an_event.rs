use es_core::{Apply, Event, State};
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct CourseCreated {
    #[event(tag)]
    pub course: String,
    pub capacity: u32,
}

pub struct JustAStruct;

#[derive(State, Default)]
#[state(events(CourseCreated, JustAStruct), tag = course)]
pub struct Course;
impl Apply<CourseCreated> for Course {
    fn apply(&mut self, _: &CourseCreated) {}
}
impl Apply<JustAStruct> for Course {
    fn apply(&mut self, _: &JustAStruct) {}
}

fn main() {}
