//! Side-by-side rebuilds of in-memory projections (state saved with the checkpoint), on the
//! memory store, SQLite and PostgreSQL: a new version is built beside the live one, readers see
//! the live version until one switch shows them the new one, complete; the live version's
//! workers then retire, and nothing they save undoes the rebuild. Across OS processes (this test
//! binary run again): a live worker and one or two builders, one holder per version at a time,
//! the builder holding the lease SIGKILLed mid-way and its successor resuming.

use std::sync::mpsc::channel;
use std::time::{Duration, Instant};

use es_core::consume::versions::{self, Phase, Switched};
use es_core::consume::{Feed, Projected};
use es_core::personal::Privacy;
use es_core::worker::{ProjectionWorker, Step};
use es_core::{Cursor, EventContext, EventStore, ExpectedVersion, Leases, NewEvent, Project, Projection};
use serde::{Deserialize, Serialize};

use crate::bank::MoneyDeposited;
use crate::feed_lease::{spawn_child, Children};

const NAME: &str = "totals";
const SPEC: &str = "ES_RB_STORE";
const OWNER: &str = "ES_RB_OWNER";
const ROLE: &str = "ES_RB_VERSION";
const STREAMS: u64 = 4;
const PER_STREAM: u64 = 100;
const TTL: Duration = Duration::from_millis(600);

/// Version 1: deposits counted and summed.
#[derive(Projection, Default, Debug, Clone, PartialEq, Serialize, Deserialize)]
#[projection(events(MoneyDeposited))]
struct TotalsV1 {
    events: u64,
    amount: u64,
}

impl Project<MoneyDeposited> for TotalsV1 {
    fn project(&mut self, e: &MoneyDeposited, _: &EventContext<'_>) {
        self.events += 1;
        self.amount += e.amount;
    }
}

/// Version 2 (the code changed): cents instead of amounts, slowly (1 ms an event) so that a
/// rebuild takes a while.
#[derive(Projection, Default, Debug, Clone, PartialEq, Serialize, Deserialize)]
#[projection(events(MoneyDeposited))]
struct TotalsV2 {
    deposits: u64,
    cents: u64,
}

impl Project<MoneyDeposited> for TotalsV2 {
    fn project(&mut self, e: &MoneyDeposited, _: &EventContext<'_>) {
        std::thread::sleep(Duration::from_millis(1));
        self.deposits += 1;
        self.cents += e.amount * 100;
    }
}

fn deposit(amount: u64) -> NewEvent {
    NewEvent::new("MoneyDeposited", 3, serde_json::json!({ "amount": amount, "currency": "EUR", "memo": "" }))
}

/// Appends `per_stream` deposits of 1..=per_stream to each of the streams `rb<tag>-<s>`.
async fn fill<S: EventStore>(store: &S, tag: &str, per_stream: u64) {
    for s in 0..STREAMS {
        let events = (1..=per_stream).map(deposit).collect();
        store.append(&format!("Account-rb{tag}-{s}"), ExpectedVersion::Any, events).await.expect("fill");
    }
}

/// What a clean build of `P` over the whole store gives.
async fn clean<P, S>(store: &S) -> P
where
    P: Projection + Default + Serialize + serde::de::DeserializeOwned,
    S: Privacy + EventStore + es_core::CheckpointStore,
{
    let name = format!("clean-{}", es_core::Uuid::new_v4().simple());
    let mut feed = Feed::new(name, Projected::<P>::default(), store.clone());
    feed.catch_up().await.expect("a clean build");
    feed.into_consumer().into_projection()
}

/// What readers read: the active version and its state, checked complete: version 1 always
/// equal to a clean build of version 1 up to its cursor, version 2 to one of version 2.
async fn read<S: EventStore + Leases>(store: &S) -> (u64, Cursor) {
    let active = versions::load_active(store, NAME).await.expect("load the active version");
    (active.version, active.cursor)
}

async fn beside_in_process<S: Privacy + EventStore + Leases>(store: S) {
    fill(&store, "a", PER_STREAM).await;
    let mut live = ProjectionWorker::<TotalsV1, _>::new(NAME, store.clone()).version(1).batch(50).ttl(TTL);
    while !matches!(live.step().await.expect("live"), Step::Worked { read: 0, .. }) {}
    assert_eq!(live.phase(), Phase::Active, "version 1 is active without a record");
    let full_v1 = clean::<TotalsV1, _>(&store).await;
    assert_eq!(
        versions::load_active(&store, NAME).await.expect("read").decode::<TotalsV1>().ok(),
        Some(full_v1)
    );

    let mut beside = ProjectionWorker::<TotalsV2, _>::new(NAME, store.clone()).version(2).batch(50).ttl(TTL);
    let mut steps = 0;
    while beside.phase() == Phase::Beside {
        beside.step().await.expect("beside");
        steps += 1;
        if steps == 3 {
            // Events keep coming during the rebuild: the live version takes them, and so must
            // the new one before it switches.
            fill(&store, "b", 10).await;
            while !matches!(live.step().await.expect("live"), Step::Worked { read: 0, .. }) {}
        }
        let (version, _) = read(&store).await;
        if beside.phase() == Phase::Beside {
            assert_eq!(version, 1, "readers read the live version until the switch");
            let state = versions::load_active(&store, NAME).await.expect("read").decode::<TotalsV1>().ok();
            assert_eq!(
                state,
                Some(live.projection().cloned().unwrap_or_default()),
                "the live version, complete"
            );
        }
        assert!(steps < 100, "the rebuild never switched");
    }
    assert!(steps > 3, "the rebuild took several batches ({steps})");
    assert_eq!(beside.switched(), Some(Switched::Now { from: None }));
    let full_v2 = clean::<TotalsV2, _>(&store).await;
    let active = versions::load_active(&store, NAME).await.expect("read");
    assert_eq!((active.version, active.decode::<TotalsV2>().ok()), (2, Some(full_v2.clone())));

    // A second process of version 2 finds it active: no second switch.
    let mut again = ProjectionWorker::<TotalsV2, _>::new(NAME, store.clone()).version(2).ttl(TTL);
    beside.release().await.expect("release");
    while !matches!(again.step().await.expect("again"), Step::Worked { read: 0, .. }) {}
    assert_eq!((again.phase(), again.switched()), (Phase::Active, None));

    // The live version sees the switch, retires, and saves nothing more.
    live.step().await.expect("live");
    assert_eq!(live.phase(), Phase::Retired { active: 2 });
    fill(&store, "c", 5).await;
    assert_eq!(live.step().await.expect("retired"), Step::Standby { holder: None });
    while !matches!(again.step().await.expect("again"), Step::Worked { read: 0, .. }) {}
    let record = versions::active(&store, NAME).await.expect("record").expect("a record");
    assert_eq!((record.version, record.switches_to(2), record.switches.len()), (2, 1, 1));
    let active = versions::load_active(&store, NAME).await.expect("read");
    assert_eq!(active.decode::<TotalsV2>().ok(), Some(clean::<TotalsV2, _>(&store).await));
    assert!(versions::retire(&store, NAME, 2).await.is_err(), "the active version stays");
    versions::retire(&store, NAME, 1).await.expect("retire version 1");
    assert!(es_core::CheckpointStore::load_checkpoint(&store, NAME).await.expect("load").is_none());
}

#[tokio::test]
async fn memory_a_projection_rebuilt_beside_switches_once() {
    beside_in_process(es_core::MemoryStore::new()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_a_projection_rebuilt_beside_switches_once() {
    let (store, _dir) = crate::stores::sqlite_store("beside.db").await;
    beside_in_process(store).await;
}

/// Runs version `version` of the projection as `owner` until it retires (or forever), reporting
/// `took E` when it takes its version's lease at epoch E, `standby` when it first finds another
/// holding it, `at P` after each batch, `switched`, `active`, `retired`.
async fn work<S: Privacy + EventStore + Leases>(store: S, owner: &str, version: u64) {
    let name = versions::versioned_name(NAME, version);
    let (mut held, mut standing_by, mut phase) = (None, false, None);
    let mut v1 =
        ProjectionWorker::<TotalsV1, _>::new(NAME, store.clone()).version(1).owner(owner).ttl(TTL).batch(20);
    let mut v2 =
        ProjectionWorker::<TotalsV2, _>::new(NAME, store.clone()).version(2).owner(owner).ttl(TTL).batch(20);
    loop {
        let (step, now, switched) = if version == 1 {
            (v1.step().await.expect("a step"), v1.phase(), v1.switched())
        } else {
            (v2.step().await.expect("a step"), v2.phase(), v2.switched())
        };
        match step {
            Step::Worked { read, lease } => {
                standing_by = false;
                if held != Some(lease.epoch) {
                    println!("\nrb: took {}", lease.epoch);
                    held = Some(lease.epoch);
                }
                if read > 0 {
                    let cursor = store.load_checkpoint(&name).await.expect("checkpoint").map(|c| c.cursor);
                    println!("\nrb: at {}", cursor.unwrap_or_default().position());
                }
            }
            Step::Standby { .. } | Step::Fenced { .. } => {
                held = None;
                if !standing_by && now != (Phase::Retired { active: 2 }) {
                    println!("\nrb: standby");
                    standing_by = true;
                }
            }
        }
        if phase != Some(now) {
            phase = Some(now);
            match now {
                Phase::Active if matches!(switched, Some(Switched::Now { .. })) => println!("\nrb: switched"),
                Phase::Active if version > 1 => println!("\nrb: active"),
                Phase::Retired { .. } => {
                    println!("\nrb: retired");
                    return;
                }
                _ => {}
            }
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[test]
#[ignore = "a child process of the rebuild-against-a-live-worker tests; they run it"]
fn rebuild_beside_child() {
    let (Ok(spec), Ok(owner), Ok(version)) = (std::env::var(SPEC), std::env::var(OWNER), std::env::var(ROLE))
    else {
        return;
    };
    let version: u64 = version.parse().expect("a version");
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        match spec.split_once(':') {
            Some(("sqlite", path)) => {
                work(es_sqlite::SqliteStore::open(path).await.expect("open"), &owner, version).await
            }
            Some(("postgres", schema)) => {
                let options = es_postgres::PostgresOptions::new().schema(schema).max_connections(3);
                work(options.connect(&es_postgres::url_from_env()).await.expect("connect"), &owner, version)
                    .await
            }
            _ => panic!("bad {SPEC}: {spec}"),
        }
    });
}

/// A live worker of version 1 (child 0) and `builders` workers of version 2 (children 1..):
/// one holder per version at a time; with two builders, the holder is SIGKILLed mid-way and
/// the other resumes from its checkpoint; one switch; the live worker retires; readers see a
/// complete version 1, then a complete version 2 that nothing undoes while events keep coming.
async fn rebuild_against_a_live_worker<S: Privacy + EventStore + Leases>(
    store: S,
    spec: &str,
    builders: usize,
) {
    fill(&store, "a", PER_STREAM).await;
    let (send, lines) = channel();
    let start = |k: usize, version: u64| {
        let env = [(SPEC, spec.to_owned()), (OWNER, format!("w{k}")), (ROLE, version.to_string())];
        spawn_child("rebuild_beside::rebuild_beside_child", "rb: ", &env, k, send.clone())
    };
    let mut children = Children { children: vec![start(0, 1)], lines, seen: Vec::new() };
    children.wait_for("the live version caught up", |k, l| k == 0 && l == "took 1");
    let deadline = Instant::now() + Duration::from_secs(30);
    while read(&store).await.1.position() < STREAMS * PER_STREAM {
        assert!(Instant::now() < deadline, "the live worker never caught up");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut live_at = read(&store).await.1.position();
    for k in 1..=builders {
        children.children.push(start(k, 2));
    }
    let (first, _) = children.wait_for("a builder taking its lease", |k, l| k > 0 && l == "took 1");
    if builders > 1 {
        let other = 3 - first;
        children.wait_for("the other builder standing by", |k, l| k == other && l == "standby");
        let (_, at) = children.wait_for("a saved batch", |k, l| k == first && l.starts_with("at "));
        let saved: u64 = children.seen[at].1["at ".len()..].parse().expect("a position");
        children.children[first].kill().expect("SIGKILL the builder");
        children.wait_for("a takeover", |k, l| k == other && l == "took 2");
        let (_, at) = children.wait_for("the successor's batch", |k, l| k == other && l.starts_with("at "));
        let resumed: u64 = children.seen[at].1["at ".len()..].parse().expect("a position");
        assert!(resumed > saved, "the successor went on from {saved}, it did not start over");
        let before = children.seen[..at].iter().filter(|(k, l)| *k == other && l.starts_with("at ")).count();
        assert_eq!(before, 0, "the stand-by built nothing before the takeover: {:?}", children.seen);
    }
    // Until the switch, readers read the complete live version.
    let mut more = 0;
    loop {
        let (version, cursor) = read(&store).await;
        if version == 2 {
            // Never half-built: the new version shows at least what readers saw before.
            assert!(
                cursor.position() >= live_at,
                "switched at {cursor}, behind the live version's {live_at}"
            );
            break;
        }
        live_at = cursor.position();
        let state =
            versions::load_active(&store, NAME).await.expect("read").decode::<TotalsV1>().expect("v1");
        assert_eq!(state.events, cursor.position(), "version 1 complete to its cursor");
        if more < 3 {
            fill(&store, &format!("m{more}"), 5).await;
            more += 1;
        }
        assert!(Instant::now() < deadline + Duration::from_secs(60), "no switch; saw {:?}", children.seen);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    children.wait_for("the live worker retiring", |k, l| k == 0 && l == "retired");
    // Events keep coming; the live version's worker saves nothing that undoes the rebuild.
    fill(&store, "z", 10).await;
    let head = store.head().await.expect("head").position();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let active = versions::load_active(&store, NAME).await.expect("read");
        assert_eq!(active.version, 2, "the switch is never undone");
        let state = active.decode::<TotalsV2>().expect("version 2's state");
        assert_eq!(state.deposits, active.cursor.position(), "version 2 complete to its cursor");
        if active.cursor.position() >= head {
            assert_eq!(state, clean::<TotalsV2, _>(&store).await, "equal to a clean build");
            break;
        }
        assert!(Instant::now() < deadline, "version 2 never caught up");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    children.wait_for("the switch", |k, l| k > 0 && l == "switched");
    // Whatever else the children said by now.
    while let Ok(line) = children.lines.recv_timeout(Duration::from_millis(200)) {
        children.seen.push(line);
    }
    let switched = children.seen.iter().filter(|(_, l)| l == "switched").count();
    assert_eq!(switched, 1, "one switch: {:?}", children.seen);
    let record = versions::active(&store, NAME).await.expect("record").expect("a record");
    assert_eq!(record.switches_to(2), 1);
    // One holder per version at a time: each epoch of each lease taken by one process.
    let leases = [(NAME.to_owned(), 0..1), (versions::versioned_name(NAME, 2), 1..builders + 1)];
    for (name, owners) in leases {
        let took: Vec<(usize, &String)> = children
            .seen
            .iter()
            .filter(|(k, l)| owners.contains(k) && l.starts_with("took"))
            .map(|(k, l)| (*k, l))
            .collect();
        let mut epochs: Vec<&String> = took.iter().map(|(_, l)| *l).collect();
        epochs.sort();
        epochs.dedup();
        assert_eq!(epochs.len(), took.len(), "lease {name}: an epoch taken twice: {took:?}");
    }
    drop(children);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_a_rebuild_beside_a_live_worker_two_processes() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("rebuild2.db");
    let store = es_sqlite::SqliteStore::open(&path).await.expect("open");
    rebuild_against_a_live_worker(store, &format!("sqlite:{}", path.display()), 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_a_rebuild_beside_a_live_worker_three_processes() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("rebuild3.db");
    let store = es_sqlite::SqliteStore::open(&path).await.expect("open");
    rebuild_against_a_live_worker(store, &format!("sqlite:{}", path.display()), 2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_rebuild_beside_a_live_worker_three_processes() {
    let store = crate::stores::pg_store("es_rbeside").await;
    rebuild_against_a_live_worker(store.clone(), &format!("postgres:{}", store.schema_name()), 2).await;
    store.drop_schema().await.expect("drop the test schema");
}
