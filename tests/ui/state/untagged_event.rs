use es_core::{Apply, Event, State};
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct CourseCreated {
    #[event(tag)]
    pub course: String,
    pub capacity: u32,
}

#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct StudentSubscribed {
    #[event(tag)]
    pub student: String,
    pub course: String, // not tagged: the Course state would never see it
}

#[derive(State, Default)]
#[state(events(CourseCreated, StudentSubscribed), tag = course)]
pub struct Course;
impl Apply<CourseCreated> for Course {
    fn apply(&mut self, _: &CourseCreated) {}
}
impl Apply<StudentSubscribed> for Course {
    fn apply(&mut self, _: &StudentSubscribed) {}
}

fn main() {}
