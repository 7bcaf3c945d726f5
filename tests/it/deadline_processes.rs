//! Deadlines across four OS processes (this test binary run again as children), each running
//! the same leased router on one store, with the holder SIGKILLed at random points: every
//! schedule fires exactly once in effect (its alarm records one `Rang` for it), none before its
//! due time, and the cancelled ones never. Real clock, due times spread over a few seconds.
//!
//! `ES_DEADLINE_SCHEDULES` (default 10,000, as the issue asks) schedules, `ES_DEADLINE_ROUNDS` (default 3) kills.

use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use es_core::consume::{
    Deadline, DeadlineCancelled, DeadlineScheduled, Deadlines, ScheduleError, ScheduledCommand,
};
use es_core::personal::Privacy;
use es_core::{
    Aggregate, Apply, CheckpointStore, Cursor, Event, EventStore, Handle, Leases, Repository, Turns,
};
use serde::{Deserialize, Serialize};

const SPEC: &str = "ES_DP_STORE";
const OWNER: &str = "ES_DP_OWNER";
const NAME: &str = "alarms";
const PROCESSES: usize = 4;
const PER_ALARM: u64 = 50;
const TTL: Duration = Duration::from_millis(1000);

#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Rang {
    pub n: u64,
}

#[derive(Aggregate, Default, Debug)]
#[aggregate(events(Rang, DeadlineScheduled, DeadlineCancelled), error = ScheduleError)]
pub struct Alarm;

impl Apply<Rang> for Alarm {
    fn apply(&mut self, _: &Rang) {}
}

/// Sets the alarms `n` of `delays` (n, delay in ms) on this alarm.
pub struct SetAlarms {
    pub alarm: String,
    pub delays: Vec<(u64, u64)>,
}

pub struct CancelAlarm {
    pub alarm: String,
    pub n: u64,
}

#[derive(Serialize, Deserialize, Debug, PartialEq)]
pub struct Ring {
    pub n: u64,
}
impl ScheduledCommand for Ring {
    const NAME: &'static str = "Ring";
}

impl Handle<SetAlarms> for Alarm {
    fn handle(&self, cmd: &SetAlarms) -> Result<Vec<AlarmEvent>, ScheduleError> {
        cmd.delays
            .iter()
            .map(|&(n, ms)| {
                Ok(Deadline::after(Duration::from_millis(ms), &cmd.alarm, &Ring { n })?
                    .key(n.to_string())
                    .into())
            })
            .collect()
    }
}

impl Handle<CancelAlarm> for Alarm {
    fn handle(&self, cmd: &CancelAlarm) -> Result<Vec<AlarmEvent>, ScheduleError> {
        Ok(vec![Deadline::cancel::<Ring>(&cmd.alarm).key(cmd.n.to_string()).into()])
    }
}

/// Rings every time: only the deadline's command id keeps a second firing from ringing twice.
impl Handle<Ring> for Alarm {
    fn handle(&self, cmd: &Ring) -> Result<Vec<AlarmEvent>, ScheduleError> {
        Ok(vec![Rang { n: cmd.n }.into()])
    }
}

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
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

/// Cancelled schedules: every tenth, due late enough that the cancel lands first.
fn cancelled(n: u64) -> bool {
    n % 10 == 3
}

/// Runs the leased router until killed; starts it again after an error.
async fn route<S: Privacy + Turns + CheckpointStore + Leases>(store: S, owner: &str) {
    loop {
        let mut deadlines = Deadlines::new(NAME, store.clone())
            .route::<Ring>(Repository::<Alarm, _>::new(store.clone()))
            .leased(TTL)
            .owner(owner)
            .poll(Duration::from_millis(100));
        if let Err(e) = deadlines.run(std::future::pending()).await {
            eprintln!("router {owner}: {e}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

#[test]
#[ignore = "a child process of the deadline process test; it runs it"]
fn deadline_child() {
    let (Ok(spec), Ok(owner)) = (std::env::var(SPEC), std::env::var(OWNER)) else { return };
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        match spec.split_once(':') {
            Some(("sqlite", path)) => {
                route(es_sqlite::SqliteStore::open(path).await.expect("open"), &owner).await
            }
            Some(("postgres", schema)) => {
                let options = es_postgres::PostgresOptions::new().schema(schema).max_connections(3);
                route(options.connect(&es_postgres::url_from_env()).await.expect("connect"), &owner).await
            }
            _ => panic!("bad {SPEC}: {spec}"),
        }
    });
}

fn spawn(spec: &str, owner: &str) -> Child {
    let exe = std::env::current_exe().expect("the test binary");
    Command::new(exe)
        .args([
            "--ignored",
            "--exact",
            "deadline_processes::deadline_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(SPEC, spec)
        .env(OWNER, owner)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn a router")
}

/// The children by owner; killed when dropped.
struct Routers(HashMap<String, Child>);

impl Drop for Routers {
    fn drop(&mut self) {
        for child in self.0.values_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Every schedule's (due, cancelled) and every ring's recorded time, by schedule number.
#[derive(Default)]
struct Seen {
    due: HashMap<u64, SystemTime>,
    cancelled: Vec<u64>,
    rang: HashMap<u64, Vec<SystemTime>>,
}

async fn seen<S: EventStore>(store: &S) -> Seen {
    let mut seen = Seen::default();
    let mut cursor = Cursor::START;
    loop {
        let page = store.read_all(cursor, 2048).await.expect("read");
        let Some(last) = page.last() else { return seen };
        cursor = last.cursor;
        for e in &page {
            match e.name.as_str() {
                "DeadlineScheduled" => {
                    let d: DeadlineScheduled = serde_json::from_str(e.payload.get()).expect("a schedule");
                    let n = d.key.parse().expect("keyed by number");
                    seen.due.insert(n, e.recorded_at + Duration::from_millis(d.after_ms));
                }
                "DeadlineCancelled" => {
                    let c: DeadlineCancelled = serde_json::from_str(e.payload.get()).expect("a cancel");
                    seen.cancelled.push(c.key.parse().expect("keyed by number"));
                }
                "Rang" => {
                    let r: Rang = serde_json::from_str(e.payload.get()).expect("a ring");
                    seen.rang.entry(r.n).or_default().push(e.recorded_at);
                }
                _ => {}
            }
        }
    }
}

async fn four_processes<S: Privacy + Turns + Leases>(store: S, spec: &str) {
    let schedules = env("ES_DEADLINE_SCHEDULES", 10_000);
    let rounds = env("ES_DEADLINE_ROUNDS", 3);
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut routers =
        Routers((0..PROCESSES).map(|k| (format!("w{k}"), spawn(spec, &format!("w{k}")))).collect());

    let alarms = Repository::<Alarm, _>::new(store.clone());
    let started = Instant::now();
    for a in 0..schedules.div_ceil(PER_ALARM) {
        let alarm = format!("a{a}");
        let numbers = a * PER_ALARM..((a + 1) * PER_ALARM).min(schedules);
        // Spread over 0.3 to 3.3 s; a cancelled one at least 2 s out, so its cancel lands first.
        let delays = numbers
            .clone()
            .map(|n| (n, 300 + rng.below(3000).max(if cancelled(n) { 2000 } else { 0 })))
            .collect();
        alarms.execute(&alarm, SetAlarms { alarm: alarm.clone(), delays }).await.expect("set alarms");
        for n in numbers.filter(|n| cancelled(*n)) {
            alarms.execute(&alarm, CancelAlarm { alarm: alarm.clone(), n }).await.expect("cancel");
        }
    }
    println!("scheduled {schedules} in {:?}", started.elapsed());

    // Kill the holder at random points while it fires; start a new process in its place.
    let mut kills = 0;
    let mut round = 0;
    while kills < rounds {
        tokio::time::sleep(Duration::from_millis(200 + rng.below(600))).await;
        round += 1;
        let Some(lease) = store.lease(NAME).await.expect("lease") else { continue };
        let Some(mut child) = routers.0.remove(&lease.owner) else { continue };
        child.kill().expect("SIGKILL the holder");
        let _ = child.wait();
        kills += 1;
        let owner = format!("w{round}-{kills}");
        routers.0.insert(owner.clone(), spawn(spec, &owner));
        assert!(round < rounds * 20, "the lease was never held");
    }

    let expected = (0..schedules).filter(|n| !cancelled(*n)).count();
    let deadline = Instant::now() + Duration::from_secs(60 + schedules / 50);
    let seen = loop {
        let seen = seen(&store).await;
        if seen.rang.len() >= expected || Instant::now() > deadline {
            break seen;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    // A little longer: a second ring would show up now if there were one.
    tokio::time::sleep(TTL).await;
    let seen = if seen.rang.len() >= expected { self::seen(&store).await } else { seen };
    println!("all fired {:?} after the start; {kills} holders killed", started.elapsed());
    drop(routers);

    assert_eq!(seen.due.len() as u64, schedules, "every schedule stored once");
    let mut late = Duration::ZERO;
    for n in 0..schedules {
        let rang = seen.rang.get(&n).map_or(&[][..], Vec::as_slice);
        if cancelled(n) {
            assert!(rang.is_empty(), "cancelled schedule {n} rang {} times", rang.len());
            assert!(seen.cancelled.contains(&n));
            continue;
        }
        assert_eq!(rang.len(), 1, "schedule {n} rang {} times", rang.len());
        let due = seen.due[&n];
        assert!(
            rang[0] >= due,
            "schedule {n} rang {:?} early",
            due.duration_since(rang[0]).unwrap_or_default()
        );
        late = late.max(rang[0].duration_since(due).unwrap_or_default());
    }
    let lease = store.lease(NAME).await.expect("lease").expect("taken");
    assert!(lease.epoch > kills, "each kill hit a holder: epoch {} after {kills} kills", lease.epoch);
    println!(
        "{schedules} schedules, {expected} rang once, none early (latest {late:?} late), epoch {}",
        lease.epoch
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_deadlines_fire_once_across_killed_processes() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("deadlines.db");
    let store = es_sqlite::SqliteStore::open(&path).await.expect("open");
    four_processes(store, &format!("sqlite:{}", path.display())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_deadlines_fire_once_across_killed_processes() {
    let store = crate::stores::pg_store("es_dlproc").await;
    four_processes(store.clone(), &format!("postgres:{}", store.schema_name())).await;
    store.drop_schema().await.expect("drop the test schema");
}
