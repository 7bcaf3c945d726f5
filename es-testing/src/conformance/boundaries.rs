//! Conformance of [`Boundaries`]: tags kept through every append path, query reads, and
//! conditional appends that are exact under concurrency and never conflict falsely.
//!
//! Run them for your store with [`boundary_conformance!`](crate::boundary_conformance), one
//! `#[tokio::test]` per check, each on a fresh store:
//!
//! ```
//! es_testing::boundary_conformance!(es_core::MemoryStore::new());
//! # fn main() {}
//! ```
//!
//! Long runs: `ES_DCB_ROUNDS` racing rounds (default 10) and `ES_DCB_DECISIONS` decisions on
//! disjoint boundaries (default 400) by `ES_DCB_WRITERS` writers (default 8), e.g.
//! `ES_DCB_ROUNDS=100 ES_DCB_DECISIONS=8000`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use es_core::{
    AppendCondition, Boundaries, ExpectedVersion, NewEvent, Query, QueryItem, Seen, StoreError, Turn, Turns,
};
use tokio::sync::Barrier;
use tokio::task::JoinSet;

/// What a query read lent: (stream, version, name, sorted distinct tags), in the order lent,
/// and the store's mark.
pub type ReadBack = (Vec<(String, u64, String, Vec<String>)>, Seen);

/// Reads `query`, keeping what each lent event is and the positions in order.
pub async fn read_query<S: Boundaries>(store: &S, query: &Query) -> ReadBack {
    let mut read = Vec::new();
    let mut positions = Vec::new();
    let seen = store
        .visit_query(query, |e, tags| {
            let mut tags: Vec<String> = tags.iter().map(|t| (*t).to_owned()).collect();
            tags.sort();
            tags.dedup();
            read.push((e.stream.to_owned(), e.stream_version, e.name.to_owned(), tags));
            positions.push(e.cursor);
            Ok(())
        })
        .await
        .unwrap_or_else(|e| panic!("visit_query({query}) failed: {e}"));
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "visit_query lends in the global order, once each");
    assert_eq!(seen.matched, read.len() as u64, "Seen::matched counts the events lent");
    (read, seen)
}

/// An event named `name` carrying `tags`.
pub fn tagged(name: &str, tags: &[&str]) -> NewEvent {
    NewEvent::new(name, 1, serde_json::json!({ "tags": tags })).with_tags(tags.iter().copied())
}

fn item(names: &[&str], tags: &[&str]) -> QueryItem {
    QueryItem::new(names.iter().copied(), tags.iter().copied())
}

fn one(names: &[&str], tags: &[&str]) -> Query {
    Query::new([item(names, tags)])
}

fn env_count(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn is_boundary_conflict<T: std::fmt::Debug>(r: &Result<T, StoreError>) -> bool {
    matches!(r, Err(StoreError::BoundaryConflict { .. }))
}

/// Tags round trip through `append`, turns and `append_if`: a query lends the events named one
/// of an item's names (former names included) carrying all its tags, with all their tags, in
/// the global order, each once; untagged events and other names never match.
pub async fn tags_round_trip<S: Boundaries + Turns>(store: S) {
    let ok = |r: Result<_, StoreError>| r.unwrap_or_else(|e| panic!("append: {e}"));
    ok(store
        .append(
            "t-1",
            ExpectedVersion::Any,
            vec![
                tagged("CourseCreated", &["course:c1"]),
                NewEvent::new("StudentSubscribed", 1, serde_json::json!({})),
                tagged("StudentSubscribed", &["student:ann", "course:c1"]),
            ],
        )
        .await);
    let mut turn = store.take_turn("t-2").await.expect("take a turn");
    ok(turn
        .append(ExpectedVersion::NoStream, vec![tagged("StudentJoined", &["course:c1", "student:bob"])])
        .await);
    turn.finish().await.expect("finish the turn");
    let nothing = AppendCondition { query: one(&["Unrelated"], &["x:y"]), seen: Seen::default() };
    let repeated = tagged("StudentSubscribed", &["student:cid", "course:c2", "student:cid"]);
    ok(store.append_if("t-3", ExpectedVersion::NoStream, vec![repeated], &nothing).await);
    ok(store.append("t-1", ExpectedVersion::Any, vec![tagged("CourseRenamed", &["course:c1"])]).await);

    let subscribed = ["StudentSubscribed", "StudentJoined"];
    let (read, _) = read_query(&store, &one(&subscribed, &["course:c1"])).await;
    let tags = |t: &[&str]| t.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    assert_eq!(
        read,
        vec![
            ("t-1".into(), 3, "StudentSubscribed".into(), tags(&["course:c1", "student:ann"])),
            ("t-2".into(), 1, "StudentJoined".into(), tags(&["course:c1", "student:bob"])),
        ],
        "the events of either name carrying course:c1, through append and a turn, in order"
    );
    let (read, _) = read_query(&store, &one(&subscribed, &["course:c1", "student:bob"])).await;
    assert_eq!(read.len(), 1, "an item with two tags matches only events carrying both: {read:?}");
    let (read, _) = read_query(&store, &one(&["StudentSubscribed"], &["student:cid"])).await;
    assert_eq!(
        read,
        vec![("t-3".into(), 1, "StudentSubscribed".into(), tags(&["course:c2", "student:cid"]))],
        "append_if keeps its events' tags (a repeated tag once)"
    );
    let union = Query::new([
        item(&["CourseCreated", "CourseRenamed"], &["course:c1"]),
        item(&subscribed, &["course:c1"]),
        item(&["StudentSubscribed"], &["student:ann"]),
    ]);
    let (read, seen) = read_query(&store, &union).await;
    let at: Vec<(&str, u64)> = read.iter().map(|(s, v, _, _)| (s.as_str(), *v)).collect();
    assert_eq!(at, vec![("t-1", 1), ("t-1", 3), ("t-2", 1), ("t-1", 4)], "items overlap: each event once");
    assert_eq!(seen.matched, 4);
    let (read, _) = read_query(&store, &one(&["Nothing"], &["course:c1"])).await;
    assert!(read.is_empty(), "no event of that name: {read:?}");
    let (read, _) = read_query(&store, &Query::default()).await;
    assert!(read.is_empty(), "an empty query matches nothing: {read:?}");
}

/// A query item without names or tags is an error, not a panic or a scan.
pub async fn bad_queries_are_errors<S: Boundaries>(store: S) {
    for bad in [one(&[], &["course:c1"]), one(&["StudentSubscribed"], &[])] {
        let read = store.visit_query(&bad, |_, _| Ok(())).await;
        assert!(read.is_err(), "visit_query({bad:?}) must be refused");
        let condition = AppendCondition { query: bad.clone(), seen: Seen::default() };
        let append =
            store.append_if("bad", ExpectedVersion::Any, vec![tagged("E", &["a:b"])], &condition).await;
        assert!(append.is_err(), "append_if under {bad:?} must be refused");
    }
    assert!(
        store.read_stream("bad", 1, 10).await.expect("read").is_empty(),
        "a refused append stores nothing"
    );
}

/// A condition fails once an event matching its query was appended after the read, by
/// `append` or by `append_if`; the failed append stores nothing.
pub async fn conditions_fail_on_later_matches<S: Boundaries>(store: S) {
    let course = one(&["StudentSubscribed"], &["course:c1"]);
    let sub = |s: &str| tagged("StudentSubscribed", &[&format!("student:{s}"), "course:c1"]);
    store.append("c-0", ExpectedVersion::Any, vec![sub("ann")]).await.expect("append");

    let (_, seen) = read_query(&store, &course).await;
    store.append("c-1", ExpectedVersion::Any, vec![sub("bob")]).await.expect("append");
    let stale = AppendCondition { query: course.clone(), seen };
    let r = store.append_if("d-1", ExpectedVersion::NoStream, vec![sub("cid")], &stale).await;
    assert!(is_boundary_conflict(&r), "a plain append matching the query came after the read: {r:?}");

    let (_, seen) = read_query(&store, &course).await;
    let fresh = AppendCondition { query: course.clone(), seen };
    store.append_if("d-2", ExpectedVersion::NoStream, vec![sub("dan")], &fresh).await.expect("fresh read");
    let r = store.append_if("d-3", ExpectedVersion::NoStream, vec![sub("eve")], &fresh).await;
    assert!(is_boundary_conflict(&r), "an append_if matching the query came after the read: {r:?}");

    // An item with several tags: an event carrying all of them is a match.
    let pair = one(&["StudentSubscribed"], &["course:c1", "student:fay"]);
    let (_, seen) = read_query(&store, &pair).await;
    store.append("c-2", ExpectedVersion::Any, vec![sub("fay")]).await.expect("append");
    let r = store
        .append_if("d-4", ExpectedVersion::NoStream, vec![sub("gus")], &AppendCondition { query: pair, seen })
        .await;
    assert!(is_boundary_conflict(&r), "an event carrying both tags came after the read: {r:?}");

    for stream in ["d-1", "d-3", "d-4"] {
        assert!(store.read_stream(stream, 1, 10).await.expect("read").is_empty(), "{stream}: nothing stored");
    }
    let (read, _) = read_query(&store, &course).await;
    assert_eq!(read.len(), 4, "ann, bob, dan, fay: {read:?}");
}

/// A condition holds when only events outside its query came after the read: another tag,
/// another name, part of a several-tag item, untagged events; and a read that saw the
/// matching event passes.
pub async fn conditions_pass_on_other_events<S: Boundaries>(store: S) {
    let query = Query::new([
        item(&["StudentSubscribed"], &["course:c1"]),
        item(&["StudentSubscribed"], &["student:ann", "term:t1"]),
    ]);
    store
        .append("o-0", ExpectedVersion::Any, vec![tagged("StudentSubscribed", &["course:c1"])])
        .await
        .expect("a");
    let (_, seen) = read_query(&store, &query).await;
    let others = vec![
        tagged("StudentSubscribed", &["course:c2"]),
        tagged("CourseRenamed", &["course:c1"]),
        tagged("StudentSubscribed", &["student:ann", "term:t2"]),
        NewEvent::new("StudentSubscribed", 1, serde_json::json!({})),
    ];
    store.append("o-1", ExpectedVersion::Any, others).await.expect("append");
    let condition = AppendCondition { query: query.clone(), seen };
    let mine = vec![tagged("StudentSubscribed", &["course:c1", "student:ann", "term:t1"])];
    let appended = store.append_if("o-2", ExpectedVersion::NoStream, mine, &condition).await;
    let appended =
        appended.unwrap_or_else(|e| panic!("only events outside the query came after the read: {e}"));
    assert_eq!(appended.stream_version, 1);
    let (read, _) = read_query(&store, &query).await;
    assert_eq!(read.len(), 2, "the first event and the conditional one: {read:?}");
}

/// A committed `append_if`, retried with the same events, is acknowledged as `append`
/// acknowledges a retry, though its own events now match its query.
pub async fn conditional_retries_acknowledge<S: Boundaries>(store: S) {
    let query = one(&["Claimed"], &["name:ann"]);
    let (_, seen) = read_query(&store, &query).await;
    let condition = AppendCondition { query: query.clone(), seen };
    let events = vec![tagged("Claimed", &["name:ann"])];
    let first = store
        .append_if("claim-1", ExpectedVersion::NoStream, events.clone(), &condition)
        .await
        .expect("first");
    let again = store.append_if("claim-1", ExpectedVersion::NoStream, events, &condition).await;
    let again =
        again.unwrap_or_else(|e| panic!("an exact retry of a committed append_if is acknowledged: {e}"));
    assert_eq!(first.events, again.events, "the retry reports where the first stored its events");
    let (read, _) = read_query(&store, &query).await;
    assert_eq!(read.len(), 1, "stored once: {read:?}");
    let other = store
        .append_if("claim-2", ExpectedVersion::NoStream, vec![tagged("Claimed", &["name:ann"])], &condition)
        .await;
    assert!(is_boundary_conflict(&other), "a new event under the stale condition conflicts: {other:?}");
}

/// `ES_DCB_ROUNDS` rounds (default 10): 20 tasks read the same boundary, then all append under
/// their condition: exactly one wins each round, the others conflict and store nothing.
pub async fn boundary_races_have_one_winner<S: Boundaries>(store: S) {
    const RACERS: usize = 20;
    for round in 0..env_count("ES_DCB_ROUNDS", 10) {
        let boundary = format!("race:{round}");
        let barrier = Arc::new(Barrier::new(RACERS));
        let mut tasks = JoinSet::new();
        for racer in 0..RACERS {
            let (store, barrier, boundary) = (store.clone(), Arc::clone(&barrier), boundary.clone());
            tasks.spawn(async move {
                let query = one(&["Won"], &[&boundary]);
                let (_, seen) = read_query(&store, &query).await;
                // Every racer has read before any appends: all decide on the same state.
                barrier.wait().await;
                let events = vec![tagged("Won", &[&boundary, &format!("racer:{racer}")])];
                let stream = format!("race-{round}-{racer}");
                store
                    .append_if(&stream, ExpectedVersion::NoStream, events, &AppendCondition { query, seen })
                    .await
            });
        }
        let (mut won, mut lost) = (0, 0);
        while let Some(result) = tasks.join_next().await {
            match result.expect("racer task") {
                Ok(_) => won += 1,
                Err(StoreError::BoundaryConflict { .. }) => lost += 1,
                Err(other) => panic!("round {round}: a racer failed with {other}"),
            }
        }
        assert_eq!((won, lost), (1, RACERS - 1), "round {round}: exactly one of {RACERS} racers wins");
        let (read, _) = read_query(&store, &one(&["Won"], &[&boundary])).await;
        assert_eq!(read.len(), 1, "round {round}: one event stored in the boundary: {read:?}");
    }
}

/// `ES_DCB_WRITERS` writers (default 8) make `ES_DCB_DECISIONS` decisions between them
/// (default 400) on boundaries no other writer touches: every one succeeds at its first attempt (no false conflicts). Prints
/// the time taken.
pub async fn disjoint_decisions_never_conflict<S: Boundaries>(store: S) {
    let writers = env_count("ES_DCB_WRITERS", 8).max(1);
    let per_writer = env_count("ES_DCB_DECISIONS", 400).div_ceil(writers);
    let conflicts = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = JoinSet::new();
    for w in 0..writers {
        let (store, conflicts) = (store.clone(), Arc::clone(&conflicts));
        tasks.spawn(async move {
            for i in 0..per_writer {
                // Ten accounts per writer, each decided on many times: boundaries with history.
                let account = format!("account:{w}-{}", i % 10);
                let query = one(&["Deposited"], &[&account]);
                let (read, seen) = read_query(&store, &query).await;
                assert_eq!(read.len() as u64, i / 10, "writer {w} sees its own decisions");
                let condition = AppendCondition { query, seen };
                let events = vec![tagged("Deposited", &[&account, "bank:one"])];
                let r = store
                    .append_if(&format!("dj-{w}-{i}"), ExpectedVersion::NoStream, events, &condition)
                    .await;
                match r {
                    Ok(_) => {}
                    Err(StoreError::BoundaryConflict { .. }) => {
                        conflicts.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(other) => panic!("writer {w}, decision {i}: {other}"),
                }
            }
        });
    }
    while let Some(r) = tasks.join_next().await {
        r.expect("writer task");
    }
    let total = per_writer * writers;
    let conflicts = conflicts.load(Ordering::Relaxed);
    println!(
        "{}: {total} decisions on disjoint boundaries by {writers} writers: {conflicts} conflicts, {:.2?} ({:.0}/s)",
        S::BACKEND,
        started.elapsed(),
        total as f64 / started.elapsed().as_secs_f64()
    );
    assert_eq!(conflicts, 0, "decisions whose queries do not overlap never conflict");
}

/// The course example: capacity 30, 100 students subscribing through 8 concurrent workers,
/// each re-reading and re-deciding on conflict: exactly 30 land.
pub async fn course_capacity_holds<S: Boundaries>(store: S) {
    const CAPACITY: u64 = 30;
    const STUDENTS: u64 = 100;
    const WORKERS: u64 = 8;
    let created = NewEvent::new("CourseCreated", 1, serde_json::json!({ "capacity": CAPACITY }))
        .with_tags(["course:c1"]);
    store.append("Course-c1", ExpectedVersion::NoStream, vec![created]).await.expect("create the course");
    let next = Arc::new(AtomicU64::new(0));
    let mut tasks = JoinSet::new();
    for _ in 0..WORKERS {
        let (store, next) = (store.clone(), Arc::clone(&next));
        tasks.spawn(async move {
            let mut landed = 0;
            loop {
                let student = next.fetch_add(1, Ordering::Relaxed);
                if student >= STUDENTS {
                    return landed;
                }
                landed += u64::from(subscribe(&store, student, CAPACITY).await);
            }
        });
    }
    let mut landed = 0;
    while let Some(r) = tasks.join_next().await {
        landed += r.expect("worker task");
    }
    let (read, _) = read_query(&store, &one(&["StudentSubscribed"], &["course:c1"])).await;
    assert_eq!((landed, read.len() as u64), (CAPACITY, CAPACITY), "exactly the capacity lands");
}

/// One subscription decision, re-read and re-decided on conflict: whether it landed.
async fn subscribe<S: Boundaries>(store: &S, student: u64, capacity: u64) -> bool {
    let student = format!("student:s{student}");
    let query = Query::new([
        item(&["CourseCreated", "StudentSubscribed"], &["course:c1"]),
        item(&["StudentSubscribed"], &[&student]),
    ]);
    for _ in 0..10_000 {
        let mut subscribed = 0;
        let seen = store
            .visit_query(&query, |e, tags| {
                subscribed += u64::from(e.name == "StudentSubscribed" && tags.contains(&"course:c1"));
                Ok(())
            })
            .await
            .expect("read the course");
        if subscribed >= capacity {
            return false;
        }
        let events = vec![tagged("StudentSubscribed", &[&student, "course:c1"])];
        let condition = AppendCondition { query: query.clone(), seen };
        match store.append_if(&format!("sub-{student}"), ExpectedVersion::NoStream, events, &condition).await
        {
            Ok(_) => return true,
            Err(StoreError::BoundaryConflict { .. }) => tokio::task::yield_now().await,
            Err(other) => panic!("{student}: {other}"),
        }
    }
    panic!("{student}: no decision after 10,000 attempts")
}

/// Generates one `#[tokio::test]` per [`Boundaries`] check for a store.
///
/// `$fresh` is an expression (it may `.await`) giving a fresh, empty store implementing
/// [`Boundaries`] and [`Turns`]; `teardown = |store| async { .. }` runs after a check passed.
#[macro_export]
macro_rules! boundary_conformance {
    ($fresh:expr $(, teardown = $teardown:expr)? $(,)?) => {
        $crate::boundary_conformance!(@tests ($fresh)
            ($crate::__or!($($teardown)? ; |_store| async {}))
            tags_round_trip bad_queries_are_errors conditions_fail_on_later_matches
            conditions_pass_on_other_events conditional_retries_acknowledge
            boundary_races_have_one_winner disjoint_decisions_never_conflict course_capacity_holds);
    };
    (@tests ($fresh:expr) ($teardown:expr) $($check:ident)*) => {
        $(
            #[$crate::__private::tokio::test(
                flavor = "multi_thread",
                worker_threads = 4,
                crate = "es_testing::__private::tokio"
            )]
            async fn $check() {
                let store = $fresh;
                $crate::conformance::boundaries::$check(::core::clone::Clone::clone(&store)).await;
                ($teardown)(store).await;
            }
        )*
    };
}
