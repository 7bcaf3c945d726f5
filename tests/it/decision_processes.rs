//! Course subscriptions from eight OS processes at once (this test binary run again as
//! children) on one store: a SQLite file, or a PostgreSQL schema. Each process runs many
//! `Subscribe` decisions through `Decisions` on random (student, course) pairs of a small
//! university, so both rules bind: a course takes at most `CAPACITY`, a student at most
//! `MAX_COURSES`. Afterwards the stored subscriptions are counted: never over either limit, and
//! exactly the subscriptions the processes saw accepted, each once.
//!
//! `ES_DCB_PROCESS_ROUNDS` (default 3) rounds, each a fresh university of `COURSES` courses and
//! `STUDENTS` students that every process subscribes into `ATTEMPTS` times.

use std::collections::{BTreeMap, HashMap};
use std::process::Child;
use std::sync::mpsc::channel;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use es_core::personal::Privacy;
use es_core::{Boundaries, CommandError, Cursor, Decisions, EventStore, RetryPolicy};

use crate::decisions::{CreateCourse, StudentSubscribed, Subscribe, UniError, University, MAX_COURSES};
use crate::feed_lease::{spawn_child, Children};

const SPEC: &str = "ES_DCB_STORE";
const CHILD: &str = "ES_DCB_CHILD";
const ROUNDS: &str = "ES_DCB_PROCESS_ROUNDS";
const START: &str = "ES_DCB_START";
const PROCESSES: usize = 8;
const COURSES: u64 = 4;
const CAPACITY: u32 = 6;
const STUDENTS: u64 = 8;
/// Decisions per process per round: 8 x 8 = 64 per round for 24 seats and 24 student places.
const ATTEMPTS: u64 = 8;

fn rounds() -> u64 {
    std::env::var(ROUNDS).ok().and_then(|v| v.parse().ok()).unwrap_or(3)
}

/// A small deterministic generator (no dependency): xorshift.
struct Rng(u64);
impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

fn course(round: u64, c: u64) -> String {
    format!("r{round}-c{c}")
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

/// Runs this process's decisions, from the agreed start time on, reporting `ok STUDENT COURSE`
/// for each accepted one and `done FULL TOO_MANY CONFLICTS` at the end (`error ...` for
/// anything else).
async fn subscribe_many<S: Boundaries + Privacy>(store: S, child: u64, rounds: u64, start: u64) {
    let retry = RetryPolicy::default().max_attempts(64);
    let university = Decisions::<University, _>::new(store).with_retry(retry);
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ (child + 1).wrapping_mul(0x2545_f491_4f6c_dd1d));
    tokio::time::sleep(Duration::from_millis(start.saturating_sub(now_ms()))).await;
    let (mut full, mut too_many, mut conflicts) = (0, 0, 0);
    for round in 0..rounds {
        for _ in 0..ATTEMPTS {
            let student = format!("r{round}-s{}", rng.below(STUDENTS));
            let course = course(round, rng.below(COURSES));
            match university.execute(Subscribe::new(&student, &course)).await {
                Ok(events) if events.len() == 1 => println!("\ndp: ok {student} {course}"),
                Ok(events) => println!("\ndp: error {} events recorded", events.len()),
                Err(CommandError::Rejected(UniError::Full)) => full += 1,
                Err(CommandError::Rejected(UniError::TooMany)) => too_many += 1,
                Err(CommandError::Conflict { .. }) => conflicts += 1,
                Err(other) => println!("\ndp: error {other}"),
            }
        }
    }
    println!("\ndp: done {full} {too_many} {conflicts}");
}

#[test]
#[ignore = "a child process of the decision process test; it runs it"]
fn decision_child() {
    let (Ok(spec), Ok(child), Ok(start)) = (std::env::var(SPEC), std::env::var(CHILD), std::env::var(START))
    else {
        return;
    };
    let child = child.parse().expect("a child number");
    let start = start.parse().expect("a start time");
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        match spec.split_once(':') {
            Some(("sqlite", path)) => {
                let store = es_sqlite::SqliteStore::open(path).await.expect("open");
                subscribe_many(store, child, rounds(), start).await
            }
            Some(("postgres", schema)) => {
                let options = es_postgres::PostgresOptions::new().schema(schema).max_connections(2);
                let store = options.connect(&es_postgres::url_from_env()).await.expect("connect");
                subscribe_many(store, child, rounds(), start).await
            }
            _ => panic!("bad {SPEC}: {spec}"),
        }
    });
}

/// What the children reported: accepted (student, course) pairs and refusal counts.
#[derive(Default, Debug)]
struct Reports {
    accepted: BTreeMap<(String, String), usize>,
    full: u64,
    too_many: u64,
    conflicts: u64,
    done: usize,
}

impl Reports {
    fn add(&mut self, k: usize, line: &str) {
        let words: Vec<&str> = line.split(' ').collect();
        match words.as_slice() {
            ["ok", student, course] => {
                *self.accepted.entry((student.to_string(), course.to_string())).or_default() += 1
            }
            ["done", full, too_many, conflicts] => {
                self.full += full.parse::<u64>().expect("a count");
                self.too_many += too_many.parse::<u64>().expect("a count");
                self.conflicts += conflicts.parse::<u64>().expect("a count");
                self.done += 1;
            }
            _ => panic!("child {k} reported: {line}"),
        }
    }
}

/// Every stored subscription, as (student, course) with how often it is stored.
async fn stored<S: EventStore>(store: &S) -> BTreeMap<(String, String), usize> {
    let mut stored = BTreeMap::new();
    let mut cursor = Cursor::START;
    loop {
        let page = store.read_all(cursor, 2048).await.expect("read");
        let Some(last) = page.last() else { return stored };
        cursor = last.cursor;
        for e in page.iter().filter(|e| e.name == "StudentSubscribed") {
            let s: StudentSubscribed = serde_json::from_str(e.payload.get()).expect("a subscription");
            *stored.entry((s.student, s.course)).or_default() += 1;
        }
    }
}

async fn eight_processes<S: Boundaries + Privacy>(store: S, spec: &str) {
    let rounds = rounds();
    let university = Decisions::<University, _>::new(store.clone());
    for round in 0..rounds {
        for c in 0..COURSES {
            university.execute(CreateCourse::new(course(round, c), CAPACITY)).await.expect("course");
        }
    }
    let (send, lines) = channel();
    // The children start deciding together, once all of them are up.
    let start = (now_ms() + 1_500).to_string();
    let children: Vec<Child> = (0..PROCESSES)
        .map(|k| {
            let env = [(SPEC, spec.to_owned()), (CHILD, k.to_string()), (START, start.clone())];
            spawn_child("decision_processes::decision_child", "dp: ", &env, k, send.clone())
        })
        .collect();
    drop(send);
    let children = Children { children, lines, seen: Vec::new() };
    let started = Instant::now();
    let deadline = started + Duration::from_secs(60 + rounds * 10);
    let mut reports = Reports::default();
    while reports.done < PROCESSES {
        let left = deadline.saturating_duration_since(Instant::now());
        match children.lines.recv_timeout(left) {
            Ok((k, line)) => reports.add(k, &line),
            Err(e) => panic!("{} of {PROCESSES} processes finished ({e}): {reports:?}", reports.done),
        }
    }
    let took = started.elapsed();
    drop(children);

    let accepted: usize = reports.accepted.values().sum();
    // PostgreSQL's readers stop below the oldest transaction running anywhere on the server
    // (other tests' too): read until every accepted subscription is readable, or 20 s passed.
    let wait = Instant::now() + Duration::from_secs(20);
    let stored = loop {
        let stored = stored(&store).await;
        if stored.values().sum::<usize>() >= accepted || Instant::now() > wait {
            break stored;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    println!(
        "{PROCESSES} processes x {rounds} rounds x {ATTEMPTS}: {accepted} accepted, {} full, {} too many, \
         {} out of retries, in {took:?}",
        reports.full, reports.too_many, reports.conflicts
    );
    assert_eq!(stored, reports.accepted, "the stored subscriptions are exactly the accepted ones");
    let mut per_course: HashMap<&str, usize> = HashMap::new();
    let mut per_student: HashMap<&str, usize> = HashMap::new();
    for ((student, course), n) in &stored {
        *per_course.entry(course).or_default() += n;
        *per_student.entry(student).or_default() += n;
    }
    for (course, n) in &per_course {
        assert!(*n <= CAPACITY as usize, "{course} took {n} students, capacity {CAPACITY}");
    }
    for (student, n) in &per_student {
        assert!(*n <= MAX_COURSES as usize, "{student} takes {n} courses, limit {MAX_COURSES}");
    }
    // Both rules were reached, so a check that let either through would have shown above.
    assert!(reports.full > 0 && reports.too_many > 0, "both limits bind: {reports:?}");
    assert_eq!(reports.conflicts, 0, "no decision ran out of retries");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_subscriptions_from_eight_processes_stay_within_both_limits() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("university.db");
    let store = es_sqlite::SqliteStore::open(&path).await.expect("open");
    eight_processes(store, &format!("sqlite:{}", path.display())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_subscriptions_from_eight_processes_stay_within_both_limits() {
    let store = crate::stores::pg_store("es_dcbproc").await;
    eight_processes(store.clone(), &format!("postgres:{}", store.schema_name())).await;
    store.drop_schema().await.expect("drop the test schema");
}
