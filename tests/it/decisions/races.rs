//! Decisions racing on one boundary, through `Decisions` on every store (memory, a SQLite
//! file, a PostgreSQL schema): 40 students for 5 seats, exactly 5 land; one student racing for
//! ten courses gets exactly the limit. Each store's boundary check must turn every racer that
//! read before another's append into a re-read, or the counts go over.

use es_core::personal::Privacy;
use es_core::{Boundaries, CommandError, Cursor, Decisions, EventStore, MemoryStore};

use super::{CreateCourse, StudentSubscribed, Subscribe, UniError, University, MAX_COURSES};

/// How many rounds the races run: `ES_DECISION_ROUNDS`, 3 by default.
fn rounds() -> usize {
    std::env::var("ES_DECISION_ROUNDS").ok().and_then(|r| r.parse().ok()).unwrap_or(3)
}

/// The subscriptions stored for `course`, once at least `expected` are readable (or 10 s
/// passed): PostgreSQL's readers stop below the oldest transaction running anywhere on the
/// server, so other tests' transactions can hold back what a read sees for a moment.
async fn subscriptions<S: EventStore>(store: &S, course: &str, expected: usize) -> usize {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let stored = store.read_all(Cursor::START, usize::MAX).await.expect("read");
        let n = stored
            .iter()
            .filter(|e| e.name == "StudentSubscribed")
            .map(|e| serde_json::from_str::<StudentSubscribed>(e.payload.get()).expect("a subscription"))
            .filter(|s| s.course == course)
            .count();
        if n >= expected || std::time::Instant::now() > deadline {
            return n;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// Round `round` of 40 students racing for the 5 seats of a new course on `store`.
async fn forty_for_five<S: Boundaries + Privacy>(store: S, round: usize) {
    let university = Decisions::<University, _>::new(store);
    let course = format!("hot{round}");
    university.execute(CreateCourse::new(&course, 5)).await.expect("course");
    let racers: Vec<_> = (0..40)
        .map(|n| {
            let (university, course) = (university.clone(), course.clone());
            tokio::spawn(
                async move { university.execute(Subscribe::new(format!("r{round}s{n}"), course)).await },
            )
        })
        .collect();
    let (mut landed, mut full) = (0, 0);
    for racer in racers {
        match racer.await.expect("task") {
            Ok(events) => {
                assert_eq!(events.len(), 1);
                landed += 1;
            }
            Err(CommandError::Rejected(UniError::Full)) => full += 1,
            Err(other) => panic!("round {round}: unexpected outcome: {other:?}"),
        }
    }
    assert_eq!((landed, full), (5, 35), "round {round}");
    assert_eq!(subscriptions(university.store(), &course, 5).await, 5, "round {round}");
}

/// One student racing for ten courses on `store` gets exactly `MAX_COURSES` of them.
async fn one_for_ten<S: Boundaries + Privacy>(store: S) {
    let university = Decisions::<University, _>::new(store);
    for n in 0..10 {
        university.execute(CreateCourse::new(format!("k{n}"), 10)).await.expect("course");
    }
    let racers: Vec<_> = (0..10)
        .map(|n| {
            let university = university.clone();
            tokio::spawn(async move { university.execute(Subscribe::new("ann", format!("k{n}"))).await })
        })
        .collect();
    let mut outcomes = Vec::new();
    for racer in racers {
        outcomes.push(racer.await.expect("task").map(|_| ()).map_err(|e| format!("{e:?}")));
    }
    assert_eq!(outcomes.iter().filter(|o| o.is_ok()).count(), MAX_COURSES as usize, "{outcomes:?}");
    assert!(outcomes.iter().filter_map(|o| o.as_ref().err()).all(|e| e.contains("TooMany")), "{outcomes:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn memory_exactly_capacity_subscriptions_land_out_of_many_racers() {
    for round in 0..rounds() {
        forty_for_five(MemoryStore::new(), round).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_exactly_capacity_subscriptions_land_out_of_many_racers() {
    let (store, _dir) = crate::stores::sqlite_store("races.db").await;
    for round in 0..rounds() {
        forty_for_five(store.clone(), round).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_exactly_capacity_subscriptions_land_out_of_many_racers() {
    let store = crate::stores::pg_store("es_dcbrace").await;
    for round in 0..rounds() {
        forty_for_five(store.clone(), round).await;
    }
    store.drop_schema().await.expect("drop the test schema");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn memory_one_student_racing_for_ten_courses_gets_three() {
    one_for_ten(MemoryStore::new()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_one_student_racing_for_ten_courses_gets_three() {
    let (store, _dir) = crate::stores::sqlite_store("student.db").await;
    one_for_ten(store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_one_student_racing_for_ten_courses_gets_three() {
    let store = crate::stores::pg_store("es_dcbrace").await;
    one_for_ten(store.clone()).await;
    store.drop_schema().await.expect("drop the test schema");
}
