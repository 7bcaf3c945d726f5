//! The decision invariant checker on the course domain: generated sequences of course
//! creations and subscriptions never put a course over its capacity nor a student over the
//! limit; a deliberately wrong decision that ignores the capacity is caught.

use es_core::Decide;
use es_testing::decision_invariants::DecisionInvariants;
use es_testing::proptest::prelude::*;

use super::{subscribe, Course, CreateCourse, Student, Subscribe, UniError, University, MAX_COURSES};

fn create() -> impl Strategy<Value = CreateCourse> {
    (0..3u8, 1..4u32).prop_map(|(c, capacity)| CreateCourse::new(format!("c{c}"), capacity))
}

fn subscribe_any() -> impl Strategy<Value = Subscribe> {
    (0..5u8, 0..3u8).prop_map(|(s, c)| Subscribe::new(format!("s{s}"), format!("c{c}")))
}

fn checked() -> DecisionInvariants<University> {
    DecisionInvariants::<University>::new()
        .command(create())
        .invariant("a course never takes more than its capacity", |c: &Course| c.subscribed <= c.capacity)
        .invariant("a student never takes more than the limit", |s: &Student| s.courses <= MAX_COURSES)
        .cases(64)
        .max_commands(30)
}

#[test]
fn subscriptions_never_exceed_either_limit() {
    checked().command(subscribe_any()).check();
}

/// Subscribes, forgetting the course's capacity: the checker must find a sequence that
/// overfills a course.
#[derive(Debug, Clone)]
pub struct CarelessSubscribe(Subscribe);
impl Decide for CarelessSubscribe {
    type Events = University;
    type States = (Course, Student);
    type Error = UniError;
    fn boundary(&self) -> (&str, &str) {
        (&self.0.course, &self.0.student)
    }
    fn decide(&self, (course, student): &(Course, Student)) -> Result<Vec<University>, UniError> {
        let roomy =
            Course { capacity: u32::MAX, ..Course { exists: course.exists, capacity: 0, subscribed: 0 } };
        subscribe(&self.0, &roomy, student)
    }
}

#[test]
#[should_panic(expected = "invariant \"a course never takes more than its capacity\" broken")]
fn a_decision_that_ignores_the_capacity_is_caught() {
    checked().command(subscribe_any().prop_map(CarelessSubscribe)).check();
}
