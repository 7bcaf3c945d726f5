//! Decisions across streams through the derives, on MemoryStore: the course domain (a course's
//! capacity, a student's course limit) with no aggregate holding both; races on one boundary;
//! an aggregate's tagged events in a decision's boundary; idempotent command ids; personal data
//! in a decision's event; services called once per command, for decisions and aggregates
//! (`services`); the same races on SQLite and PostgreSQL (`races`); invariants over generated
//! sequences (`invariants`).

mod invariants;
mod races;
mod services;

use es_core::{
    Aggregate, Apply, CommandError, Cursor, Decide, Decisions, Event, EventSet, EventStore, Handle,
    MemoryStore, Metadata, Repository, State, Uuid,
};
use es_testing::prelude::*;
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
    #[event(tag)]
    pub course: String,
}

/// Personal data in a decision's event: the email is sealed with the student's key.
#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct StudentRegistered {
    #[event(subject, tag)]
    pub student: String,
    #[event(personal)]
    pub email: String,
}

/// Recorded by an aggregate, tagged: decisions on the course see it.
#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct CapacityChanged {
    #[event(tag = "course")]
    pub course_id: String,
    pub capacity: u32,
}

#[derive(EventSet, Debug, Clone, PartialEq)]
#[event_set(name = "University")]
pub enum University {
    CourseCreated(CourseCreated),
    StudentSubscribed(StudentSubscribed),
    StudentRegistered(StudentRegistered),
}

#[derive(State, Default, Debug)]
#[state(events(CourseCreated, CapacityChanged, StudentSubscribed), tag = course)]
pub struct Course {
    pub exists: bool,
    pub capacity: u32,
    pub subscribed: u32,
}
impl Apply<CourseCreated> for Course {
    fn apply(&mut self, e: &CourseCreated) {
        (self.exists, self.capacity) = (true, e.capacity);
    }
}
impl Apply<CapacityChanged> for Course {
    fn apply(&mut self, e: &CapacityChanged) {
        self.capacity = e.capacity;
    }
}
impl Apply<StudentSubscribed> for Course {
    fn apply(&mut self, _: &StudentSubscribed) {
        self.subscribed += 1;
    }
}

#[derive(State, Default, Debug)]
#[state(events(StudentSubscribed), tag = "student")]
pub struct Student {
    pub courses: u32,
}
impl Apply<StudentSubscribed> for Student {
    fn apply(&mut self, _: &StudentSubscribed) {
        self.courses += 1;
    }
}

#[derive(State, Default, Debug)]
#[state(events(StudentRegistered), tag = student)]
pub struct Registration {
    pub email: Option<String>,
}
impl Apply<StudentRegistered> for Registration {
    fn apply(&mut self, e: &StudentRegistered) {
        self.email = Some(e.email.clone());
    }
}

/// The per-student limit.
pub(crate) const MAX_COURSES: u32 = 3;

#[derive(Debug, PartialEq, thiserror::Error)]
pub enum UniError {
    #[error("no such course")]
    NoCourse,
    #[error("the course exists already")]
    CourseExists,
    #[error("the course is full")]
    Full,
    #[error("the student takes {MAX_COURSES} courses already")]
    TooMany,
    #[error("already registered as {0}")]
    Registered(String),
    #[error("the registry refused")]
    NotAllowed,
}

#[derive(Debug, Clone)]
pub struct CreateCourse(pub String, pub u32);
impl CreateCourse {
    pub(crate) fn new(course: impl Into<String>, capacity: u32) -> Self {
        CreateCourse(course.into(), capacity)
    }
}
impl Decide for CreateCourse {
    type Events = University;
    type States = (Course,);
    type Error = UniError;
    fn boundary(&self) -> (&str,) {
        (&self.0,)
    }
    fn decide(&self, (course,): &(Course,)) -> Result<Vec<University>, UniError> {
        // Found by the invariant checker: creating a course again could lower its capacity
        // below its subscriptions.
        if course.exists {
            return Err(UniError::CourseExists);
        }
        Ok(vec![CourseCreated { course: self.0.clone(), capacity: self.1 }.into()])
    }
}

#[derive(Debug, Clone)]
pub struct Subscribe {
    pub student: String,
    pub course: String,
}
impl Subscribe {
    pub(crate) fn new(student: impl Into<String>, course: impl Into<String>) -> Self {
        Subscribe { student: student.into(), course: course.into() }
    }
    fn event(&self) -> StudentSubscribed {
        StudentSubscribed { student: self.student.clone(), course: self.course.clone() }
    }
}
impl Decide for Subscribe {
    type Events = University;
    type States = (Course, Student);
    type Error = UniError;
    fn boundary(&self) -> (&str, &str) {
        (&self.course, &self.student)
    }
    fn decide(&self, (course, student): &(Course, Student)) -> Result<Vec<University>, UniError> {
        subscribe(self, course, student)
    }
}

fn subscribe(cmd: &Subscribe, course: &Course, student: &Student) -> Result<Vec<University>, UniError> {
    if !course.exists {
        return Err(UniError::NoCourse);
    }
    if course.subscribed >= course.capacity {
        return Err(UniError::Full);
    }
    if student.courses >= MAX_COURSES {
        return Err(UniError::TooMany);
    }
    Ok(vec![cmd.event().into()])
}

pub struct Register(pub &'static str, pub &'static str);
impl Decide for Register {
    type Events = University;
    type States = (Registration,);
    type Error = UniError;
    fn boundary(&self) -> (&str,) {
        (self.0,)
    }
    fn decide(&self, (registration,): &(Registration,)) -> Result<Vec<University>, UniError> {
        match &registration.email {
            Some(email) => Err(UniError::Registered(email.clone())),
            None => Ok(vec![StudentRegistered { student: self.0.into(), email: self.1.into() }.into()]),
        }
    }
}

fn created(course: &str, capacity: u32) -> CourseCreated {
    CourseCreated { course: course.into(), capacity }
}

fn subscribed(student: &str, course: &str) -> StudentSubscribed {
    StudentSubscribed { student: student.into(), course: course.into() }
}

#[test]
fn derived_tags_are_key_and_value() {
    assert_eq!(StudentSubscribed::TAGS, ["student", "course"]);
    assert_eq!(subscribed("ann", "c1").tags(), ["student:ann", "course:c1"]);
    assert_eq!(CapacityChanged { course_id: "c1".into(), capacity: 2 }.tags(), ["course:c1"]);
    assert_eq!(<Course as State>::TAG, "course");
    assert_eq!(Course::event_names(), ["CourseCreated", "CapacityChanged", "StudentSubscribed"]);
    assert_eq!(<University as EventSet>::NAME, "University");
}

#[test]
fn a_subscription_lands_until_the_course_is_full() {
    University::given((created("c1", 2), subscribed("bob", "c1")))
        .when(Subscribe::new("ann", "c1"))
        .then((subscribed("ann", "c1"),));
    University::given((created("c1", 1), subscribed("bob", "c1")))
        .when(Subscribe::new("ann", "c1"))
        .then_error(UniError::Full);
    University::given_nothing().when(Subscribe::new("ann", "c1")).then_error(UniError::NoCourse);
}

#[test]
fn a_student_takes_at_most_three_courses_and_other_students_do_not_count() {
    let history = vec![
        created("c1", 9).into(),
        created("c2", 9).into(),
        created("c3", 9).into(),
        created("c4", 9).into(),
        subscribed("ann", "c1").into(),
        subscribed("ann", "c2").into(),
        subscribed("bob", "c3").into(),
    ];
    University::given(history.clone()).when(Subscribe::new("ann", "c3")).then((subscribed("ann", "c3"),));
    let mut full = history;
    full.push(subscribed("ann", "c3").into());
    University::given(full).when(Subscribe::new("ann", "c4")).then_error(UniError::TooMany);
}

/// Keeps courses' capacities; its events carry the course tag.
#[derive(Aggregate, Default)]
#[aggregate(events(CapacityChanged), error = UniError)]
pub struct Catalogue;
impl Apply<CapacityChanged> for Catalogue {
    fn apply(&mut self, _: &CapacityChanged) {}
}
pub struct SetCapacity(pub &'static str, pub u32);
impl Handle<SetCapacity> for Catalogue {
    fn handle(&self, cmd: &SetCapacity) -> Result<Vec<CatalogueEvent>, UniError> {
        Ok(vec![CapacityChanged { course_id: cmd.0.into(), capacity: cmd.1 }.into()])
    }
}

#[tokio::test]
async fn an_aggregates_tagged_events_count_in_a_decisions_boundary() {
    let store = MemoryStore::new();
    let university = Decisions::<University, _>::new(store.clone());
    university.execute(CreateCourse::new("c1", 10)).await.expect("course");
    university.execute(Subscribe::new("ann", "c1")).await.expect("ann");
    Repository::<Catalogue, _>::new(store.clone())
        .execute("main", SetCapacity("c1", 1))
        .await
        .expect("capacity");
    let refused = university.execute(Subscribe::new("bob", "c1")).await;
    assert!(matches!(refused, Err(CommandError::Rejected(UniError::Full))), "{refused:?}");
}

#[tokio::test]
async fn a_command_id_makes_a_decision_idempotent() {
    let university = Decisions::<University, _>::new(MemoryStore::new());
    university.execute(CreateCourse::new("c1", 10)).await.expect("course");
    let meta = Metadata::default().command_id(Uuid::new_v4());
    let first = university.execute_with(Subscribe::new("ann", "c1"), meta.clone()).await.expect("first");
    let again = university.execute_with(Subscribe::new("ann", "c1"), meta).await.expect("again");
    assert_eq!(
        first.iter().map(|r| r.id).collect::<Vec<_>>(),
        again.iter().map(|r| r.id).collect::<Vec<_>>()
    );
    assert_eq!(first[0].stream, again[0].stream);
    let stored = university.store().read_all(Cursor::START, usize::MAX).await.expect("read");
    assert_eq!(stored.iter().filter(|e| e.name == "StudentSubscribed").count(), 1);
}

#[tokio::test]
async fn personal_data_in_a_decision_is_sealed_and_reads_back() {
    let university = Decisions::<University, _>::new(MemoryStore::new());
    university.execute(Register("ann", "ann@example.org")).await.expect("register");
    let stored = university.store().read_all(Cursor::START, usize::MAX).await.expect("read");
    assert_eq!(stored.len(), 1);
    assert!(!stored[0].payload.get().contains("ann@example.org"), "sealed: {}", stored[0].payload.get());
    // The state decodes (opens) the email when the next decision reads it.
    let again = university.execute(Register("ann", "other@example.org")).await;
    match again {
        Err(CommandError::Rejected(UniError::Registered(email))) => assert_eq!(email, "ann@example.org"),
        other => panic!("expected a refusal naming the email, got {other:?}"),
    }
}

/// The new derives' output names everything by absolute path, as the others do (see
/// `hygiene.rs`): shadowed prelude names break nothing, needless qualification is not reported.
mod hygiene {
    #![deny(unused_qualifications)]
    #![allow(dead_code, non_camel_case_types)]

    use es_core::{Apply, Event, EventSet, State};

    struct Result;
    struct Option;
    struct Some;
    struct None;
    struct Ok;
    struct Err;
    struct Box;
    struct From;
    struct Vec;
    struct String;
    struct ToString;
    struct core;

    #[derive(Event, serde::Serialize, serde::Deserialize, Debug, Clone, PartialEq)]
    pub struct Tagged {
        #[event(tag)]
        room: u32,
        #[event(tag = "floor")]
        level: std::string::String,
    }

    #[derive(EventSet, Debug, Clone, PartialEq)]
    pub enum Set {
        Tagged(Tagged),
    }

    #[derive(State, Default)]
    #[state(events(Tagged), tag = room)]
    pub struct Room;
    impl Apply<Tagged> for Room {
        fn apply(&mut self, _: &Tagged) {}
    }

    #[test]
    fn derives_compile_with_prelude_names_shadowed() {
        let tagged = Tagged { room: 7, level: "2".into() };
        assert_eq!(tagged.tags(), ["room:7", "floor:2"]);
    }
}
