//! W2-W7: commands and rehydration on PostgreSQL and SQLite, each against plain sqlx code doing
//! the same reads and inserts; W5 counts what contention costs.

use std::sync::Arc;

use es_core::personal::Privacy;
use es_core::{EventStore, ExpectedVersion, NewEvent, Repository, Turns};
use es_postgres::{PostgresOptions, PostgresStore};
use es_sqlite::SqliteStore;

use crate::bank::{Account, Deposit, Open};
use crate::measure::{row, runtime, stats, time_async, Stats};
use crate::raw::{self, PgRaw, SqliteRaw};

fn pg_url() -> String {
    es_postgres::url_from_env()
}

/// A framework store and a raw table in one fresh schema, dropped by `done`.
pub async fn pg() -> (PostgresStore, Arc<PgRaw>) {
    let schema = format!("es_bench_{}", es_core::Uuid::new_v4().simple());
    let store = PostgresOptions::new()
        .schema(&schema)
        .max_connections(40)
        .connect(&pg_url())
        .await
        .unwrap_or_else(|e| panic!("the PostgreSQL benchmarks need the server: {e}"));
    let raw = PgRaw::new(store.pool().clone(), &format!("\"{schema}\"")).await.expect("raw table");
    (store, Arc::new(raw))
}

pub async fn done(store: PostgresStore) {
    store.drop_schema().await.expect("drop the bench schema");
}

async fn sqlite(dir: &std::path::Path) -> (SqliteStore, Arc<SqliteRaw>) {
    let store = SqliteStore::open(dir.join("framework.db")).await.expect("open");
    let raw = SqliteRaw::open(&dir.join("raw.db")).await.expect("open raw");
    (store, Arc::new(raw))
}

/// Opens `n` accounts named `<prefix><i>` on both sides (not timed).
async fn open_accounts<S: Turns>(
    accounts: &Repository<Account, S>,
    n: usize,
    prefix: &str,
    raw_open: impl AsyncFn(String),
) {
    for i in 0..n {
        accounts.execute(&format!("{prefix}{i}"), Open { owner: "o".into() }).await.expect("open");
        raw_open(format!("Account-{prefix}{i}")).await;
    }
}

const SEQ_COMMANDS: usize = 5_000;
const SEQ_ACCOUNTS: usize = 100;

async fn sequential<S: Turns + Privacy>(
    name: &str,
    runs: usize,
    store: S,
    raw_open: impl AsyncFn(String),
    raw_deposit: impl AsyncFn(String),
) {
    let accounts = Repository::<Account, _>::new(store);
    let (mut framework, mut hand) = (Vec::new(), Vec::new());
    for run in 0..runs {
        let (fw, rw) = (format!("f{run}-"), format!("r{run}-"));
        open_accounts(&accounts, SEQ_ACCOUNTS, &fw, async |_| {}).await;
        open_accounts(
            &Repository::<Account, _>::new(es_core::MemoryStore::new()),
            SEQ_ACCOUNTS,
            &rw,
            &raw_open,
        )
        .await;
        let (t, ()) = time_async(async {
            for i in 0..SEQ_COMMANDS {
                accounts
                    .execute(&format!("{fw}{}", i % SEQ_ACCOUNTS), Deposit { amount: 1 })
                    .await
                    .expect("deposit");
            }
        })
        .await;
        framework.push(SEQ_COMMANDS as f64 / t.as_secs_f64());
        let (t, ()) = time_async(async {
            for i in 0..SEQ_COMMANDS {
                raw_deposit(format!("Account-{rw}{}", i % SEQ_ACCOUNTS)).await;
            }
        })
        .await;
        hand.push(SEQ_COMMANDS as f64 / t.as_secs_f64());
    }
    row(name, "commands/s", stats(framework), Some(stats(hand)), true);
}

pub fn append_pg_seq(runs: usize) {
    runtime().block_on(async {
        let (store, raw) = pg().await;
        let (r1, r2) = (raw.clone(), raw.clone());
        sequential(
            "W2 append_pg_seq",
            runs,
            store.clone(),
            async move |s: String| {
                r1.append(&s, 1, "AccountOpened", r#"{"owner":"o"}"#).await.expect("raw open")
            },
            async move |s: String| r2.deposit(&s, 1).await.expect("raw deposit"),
        )
        .await;
        done(store).await;
    });
}

pub fn append_sqlite_seq(runs: usize) {
    runtime().block_on(async {
        let dir = tempfile::tempdir().expect("temp dir");
        let (store, raw) = sqlite(dir.path()).await;
        let (r1, r2) = (raw.clone(), raw.clone());
        sequential(
            "W6 append_sqlite_seq",
            runs,
            store,
            async move |s: String| {
                r1.append_many(&s, &[(1, "AccountOpened", r#"{"owner":"o"}"#.to_owned())])
                    .await
                    .expect("raw open")
            },
            async move |s: String| r2.deposit(&s, 1).await.expect("raw deposit"),
        )
        .await;
    });
}

/// W3: deposits on their own accounts from concurrent tasks, 8 (the table's row), then 1 and 32
/// to show how the rate scales with writers. Each run opens fresh accounts.
pub fn append_pg_conc(runs: usize) {
    runtime().block_on(async {
        let (store, raw) = pg().await;
        let accounts = Repository::<Account, _>::new(store.clone());
        for (writers, commands) in [(8, 8_000), (1, 2_000), (32, 8_000)] {
            let per_task = commands / writers;
            let (mut framework, mut hand) = (Vec::new(), Vec::new());
            for run in 0..runs {
                let id = |t: usize| format!("c{writers}-{run}-{t}");
                for t in 0..writers {
                    accounts.execute(&id(t), Open { owner: "o".into() }).await.expect("open");
                    raw.append(&format!("Account-r{}", id(t)), 1, "AccountOpened", r#"{"owner":"o"}"#)
                        .await
                        .expect("raw");
                }
                let (t, ()) = time_async(async {
                    let tasks: Vec<_> = (0..writers)
                        .map(|t| {
                            let (accounts, id) = (accounts.clone(), id(t));
                            tokio::spawn(async move {
                                for _ in 0..per_task {
                                    accounts.execute(&id, Deposit { amount: 1 }).await.expect("deposit");
                                }
                            })
                        })
                        .collect();
                    for t in tasks {
                        t.await.expect("task");
                    }
                })
                .await;
                framework.push((writers * per_task) as f64 / t.as_secs_f64());
                let (t, ()) = time_async(async {
                    let tasks: Vec<_> = (0..writers)
                        .map(|t| {
                            let (raw, stream) = (raw.clone(), format!("Account-r{}", id(t)));
                            tokio::spawn(async move {
                                for _ in 0..per_task {
                                    raw.deposit(&stream, 1).await.expect("raw deposit");
                                }
                            })
                        })
                        .collect();
                    for t in tasks {
                        t.await.expect("task");
                    }
                })
                .await;
                hand.push((writers * per_task) as f64 / t.as_secs_f64());
            }
            let name =
                if writers == 8 { "W3 append_pg_conc".to_owned() } else { format!("W3 ({writers} writers)") };
            row(&name, "commands/s", stats(framework), Some(stats(hand)), true);
        }
        done(store).await;
    });
}

const LONG: usize = 10_000;

fn long_history() -> Vec<(u64, &'static str, String)> {
    std::iter::once((1, "AccountOpened", r#"{"owner":"o"}"#.to_owned()))
        .chain((2..=LONG as u64).map(|v| (v, "MoneyDeposited", raw::deposit_payload(v % 100))))
        .collect()
}

async fn fill<S: EventStore>(store: &S, stream: &str) {
    for chunk in long_history().chunks(1000) {
        let batch = chunk
            .iter()
            .map(|(_, name, payload)| {
                let version = if *name == "AccountOpened" { 1 } else { 3 };
                let mut e = NewEvent::new(*name, version, serde_json::Value::Null);
                e.payload = serde_json::value::RawValue::from_string(payload.clone()).expect("json");
                e
            })
            .collect();
        store.append(stream, ExpectedVersion::Any, batch).await.expect("fill");
    }
}

/// Framework: load 10,000 events and execute one more command. Raw: one SELECT decoded by hand.
async fn rehydrate<S: Privacy + Turns>(name: &str, runs: usize, store: S, raw_load: impl AsyncFn() -> u64) {
    fill(&store, "Account-long").await;
    let accounts = Repository::<Account, _>::new(store);
    let (mut framework, mut load_only, mut hand) = (Vec::new(), Vec::new(), Vec::new());
    // One untimed round first, so both sides run on connections that prepared their statements.
    accounts.load("long").await.expect("warm-up");
    raw_load().await;
    for _ in 0..runs {
        let (t, r) = time_async(accounts.execute("long", Deposit { amount: 1 })).await;
        r.expect("execute");
        framework.push(t.as_secs_f64() * 1e3);
        let (t, r) = time_async(accounts.load("long")).await;
        r.expect("load");
        load_only.push(t.as_secs_f64() * 1e3);
        let (t, balance) = time_async(raw_load()).await;
        assert!(balance > 0);
        hand.push(t.as_secs_f64() * 1e3);
    }
    let hand = stats(hand);
    row(name, "ms/command", stats(framework), Some(hand), false);
    let load_name = format!("{} (load only)", &name[..2]);
    row(&load_name, "ms/load", stats(load_only), Some(hand), false);
}

pub fn rehydrate_pg(runs: usize) {
    runtime().block_on(async {
        let (store, raw) = pg().await;
        for (v, name, payload) in long_history() {
            raw.append("Account-rlong", v, name, &payload).await.expect("raw fill");
        }
        rehydrate("W4 rehydrate_pg", runs, store.clone(), async || {
            raw.load("Account-rlong").await.expect("raw").balance
        })
        .await;
        done(store).await;
    });
}

pub fn rehydrate_sqlite(runs: usize) {
    runtime().block_on(async {
        let dir = tempfile::tempdir().expect("temp dir");
        let (store, raw) = sqlite(dir.path()).await;
        raw.append_many("Account-rlong", &long_history()).await.expect("raw fill");
        rehydrate("W7 rehydrate_sqlite", runs, store, async || {
            raw.load("Account-rlong").await.expect("raw").balance
        })
        .await;
    });
}

const CONTENDERS: usize = 8;
const DEPOSITS: usize = 200;

/// How W5's 8 writers reach the store.
#[derive(Clone, Copy, PartialEq)]
enum Contenders {
    /// One repository and its clones: commands wait in the store's queue of this process.
    Queued,
    /// One repository, no queue: the writers race, then take turns.
    Racing,
    /// Eight store handles, each with its own pool and repository, as eight processes would.
    SeparateStores,
}

/// W5: 8 writers, 200 deposits each, on one account. Every command must land; the balance is
/// checked against them, and the retries and turns taken are reported.
pub fn contention_pg(runs: usize) {
    runtime().block_on(async {
        let (store, _) = pg().await;
        for mode in [Contenders::Queued, Contenders::Racing, Contenders::SeparateStores] {
            let (mut rates, mut retries, mut turns, mut failed) = (Vec::new(), Vec::new(), Vec::new(), 0);
            for run in 0..runs {
                let id = format!("hot{run}-{}", mode as u8);
                let repositories: Vec<Repository<Account, PostgresStore>> = match mode {
                    Contenders::Queued | Contenders::Racing => {
                        let one = Repository::new(store.clone()).with_local_queue(mode == Contenders::Queued);
                        vec![one; CONTENDERS]
                    }
                    Contenders::SeparateStores => {
                        let mut each = Vec::new();
                        for _ in 0..CONTENDERS {
                            let options = PostgresOptions::new().schema(store.schema_name()).max_connections(4);
                            each.push(Repository::new(options.connect(&pg_url()).await.expect("a store handle")));
                        }
                        each
                    }
                };
                repositories[0].execute(&id, Open { owner: "o".into() }).await.expect("open");
                let (t, failures) = time_async(async {
                    let tasks: Vec<_> = repositories
                        .iter()
                        .map(|accounts| {
                            let (accounts, id) = (accounts.clone(), id.clone());
                            tokio::spawn(async move {
                                let mut failures = 0;
                                for _ in 0..DEPOSITS {
                                    failures += usize::from(accounts.execute(&id, Deposit { amount: 1 }).await.is_err());
                                }
                                failures
                            })
                        })
                        .collect();
                    let mut failures = 0;
                    for t in tasks {
                        failures += t.await.expect("task");
                    }
                    failures
                })
                .await;
                let balance = repositories[0].load(&id).await.expect("load").state.balance;
                assert_eq!(balance, (CONTENDERS * DEPOSITS - failures) as u64, "every accepted command is in the balance");
                failed += failures;
                rates.push((CONTENDERS * DEPOSITS) as f64 / t.as_secs_f64());
                // Clones share the counters: count each repository once.
                let distinct = if mode == Contenders::SeparateStores { &repositories[..] } else { &repositories[..1] };
                retries.push(distinct.iter().map(|r| r.retries()).sum::<u64>() as f64);
                turns.push(distinct.iter().map(|r| r.turns_taken()).sum::<u64>() as f64);
                if mode == Contenders::SeparateStores {
                    for r in &repositories {
                        r.store().pool().close().await;
                    }
                }
            }
            let mode = match mode {
                Contenders::Queued => "queued",
                Contenders::Racing => "racing",
                Contenders::SeparateStores => "8 stores",
            };
            row(&format!("W5 contention ({mode})"), "commands/s", stats(rates), None, true);
            let (r, t): (Stats, Stats) = (stats(retries), stats(turns));
            println!(
                "{:<22} {:>14.0} {:<10} {:>12}   ({:.0}..{:.0}; turns {:.0} ({:.0}..{:.0}); {} of {} commands failed over {runs} runs, balances checked)",
                format!("W5 retries ({mode})"),
                r.median,
                "retries",
                "-",
                r.min,
                r.max,
                t.median,
                t.min,
                t.max,
                failed,
                CONTENDERS * DEPOSITS * runs
            );
        }
        done(store).await;
    });
}
