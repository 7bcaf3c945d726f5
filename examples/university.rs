//! Decisions across streams: a course takes at most `capacity` students and a student at most
//! 3 courses, with no aggregate holding both (`cargo run --example university`). Each
//! subscription reads the course's and the student's events (by tag), decides, and appends only
//! if neither changed meanwhile; 40 students race for 30 seats and exactly 30 get one.

use es_core::{Apply, Decide, Decisions, Event, EventSet, MemoryStore, State};
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
struct CourseCreated {
    #[event(tag)]
    course: String,
    capacity: u32,
}

#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
struct StudentSubscribed {
    #[event(tag)]
    student: String,
    #[event(tag)]
    course: String,
}

/// Every event the university's decisions record.
#[derive(EventSet, Debug, Clone, PartialEq)]
enum University {
    CourseCreated(CourseCreated),
    StudentSubscribed(StudentSubscribed),
}

/// A course: its events are those tagged `course:<id>`.
#[derive(State, Default, Debug)]
#[state(events(CourseCreated, StudentSubscribed), tag = course)]
struct Course {
    exists: bool,
    capacity: u32,
    subscribed: u32,
}
impl Apply<CourseCreated> for Course {
    fn apply(&mut self, e: &CourseCreated) {
        (self.exists, self.capacity) = (true, e.capacity);
    }
}
impl Apply<StudentSubscribed> for Course {
    fn apply(&mut self, _: &StudentSubscribed) {
        self.subscribed += 1;
    }
}

/// A student: the subscriptions tagged `student:<id>`.
#[derive(State, Default, Debug)]
#[state(events(StudentSubscribed), tag = student)]
struct Student {
    courses: u32,
}
impl Apply<StudentSubscribed> for Student {
    fn apply(&mut self, _: &StudentSubscribed) {
        self.courses += 1;
    }
}

#[derive(Debug, PartialEq, thiserror::Error)]
enum SubscribeError {
    #[error("no such course")]
    NoCourse,
    #[error("the course is full")]
    Full,
    #[error("the student takes too many courses")]
    TooMany,
}

struct CreateCourse {
    course: String,
    capacity: u32,
}
impl Decide for CreateCourse {
    type Events = University;
    type States = (Course,);
    type Error = SubscribeError;
    fn boundary(&self) -> (&str,) {
        (&self.course,)
    }
    fn decide(&self, _: &(Course,)) -> Result<Vec<University>, SubscribeError> {
        Ok(vec![CourseCreated { course: self.course.clone(), capacity: self.capacity }.into()])
    }
}

struct Subscribe {
    student: String,
    course: String,
}
impl Decide for Subscribe {
    type Events = University;
    type States = (Course, Student);
    type Error = SubscribeError;
    fn boundary(&self) -> (&str, &str) {
        (&self.course, &self.student)
    }
    fn decide(&self, (course, student): &(Course, Student)) -> Result<Vec<University>, SubscribeError> {
        if !course.exists {
            return Err(SubscribeError::NoCourse);
        }
        if course.subscribed >= course.capacity {
            return Err(SubscribeError::Full);
        }
        if student.courses >= 3 {
            return Err(SubscribeError::TooMany);
        }
        Ok(vec![StudentSubscribed { student: self.student.clone(), course: self.course.clone() }.into()])
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let university = Decisions::<University, _>::new(MemoryStore::new());
    university.execute(CreateCourse { course: "rust-101".into(), capacity: 30 }).await?;

    // 40 students at once: each decision that meets a newer subscription reads and decides again.
    let racers = (0..40).map(|n| {
        let university = university.clone();
        tokio::spawn(async move {
            university.execute(Subscribe { student: format!("s{n}"), course: "rust-101".into() }).await
        })
    });
    let (mut seated, mut full) = (0, 0);
    for racer in racers {
        match racer.await? {
            Ok(_) => seated += 1,
            Err(es_core::CommandError::Rejected(SubscribeError::Full)) => full += 1,
            Err(other) => return Err(other.into()),
        }
    }
    println!("rust-101: {seated} seated, {full} refused (full)");
    assert_eq!(seated, 30);
    Ok(())
}
