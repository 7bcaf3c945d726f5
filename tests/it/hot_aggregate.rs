//! Many processes, one hot aggregate: 8 OS processes (this test binary run again as children),
//! each with its own store handle and repository, deposit on one account at once. Every command
//! lands and the balance is the sum of them, on SQLite (one file) and PostgreSQL.
//! `ES_HOT_ROUNDS` sets the rounds (default 2; the closing note quotes a run of 20).

use std::process::{Command, Stdio};

use es_core::{Repository, Turns};

use crate::bank::{Account, Deposit, Open};

const PROCESSES: usize = 8;
const COMMANDS: usize = 25;
const SPEC: &str = "ES_HOT_STORE";
const ACCOUNT: &str = "ES_HOT_ACCOUNT";

fn rounds() -> usize {
    std::env::var("ES_HOT_ROUNDS").ok().and_then(|r| r.parse().ok()).unwrap_or(2)
}

/// Deposits 1 on `account`, `COMMANDS` times, through a repository of its own.
async fn deposit_all<S: Turns>(store: S, account: &str) -> Result<(usize, u64), String> {
    let accounts = Repository::<Account, _>::new(store);
    for n in 0..COMMANDS {
        accounts.execute(account, Deposit { amount: 1 }).await.map_err(|e| format!("command {n}: {e}"))?;
    }
    Ok((COMMANDS, accounts.turns_taken()))
}

#[test]
#[ignore = "a child process of the hot-aggregate tests; they run it"]
fn hot_child() {
    let (Ok(spec), Ok(account)) = (std::env::var(SPEC), std::env::var(ACCOUNT)) else { return };
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let result = rt.block_on(async {
        match spec.split_once(':') {
            Some(("sqlite", path)) => {
                let store = es_sqlite::SqliteStore::open(path).await.map_err(|e| e.to_string())?;
                deposit_all(store, &account).await
            }
            Some(("postgres", schema)) => {
                let options = es_postgres::PostgresOptions::new().schema(schema).max_connections(4);
                let store = options.connect(&es_postgres::url_from_env()).await.map_err(|e| e.to_string())?;
                deposit_all(store, &account).await
            }
            _ => Err(format!("bad {SPEC}: {spec}")),
        }
    });
    // On lines of their own: the test harness prints its "test ... " prefix before them.
    match result {
        Ok((accepted, turns)) => println!("\nhot: accepted {accepted} turns {turns}"),
        Err(e) => println!("\nhot: failed {e}"),
    }
}

/// Runs `PROCESSES` children at once against `spec`, each depositing on `account`; returns how
/// many commands each accepted, failing with what a child reported.
fn run_children(spec: &str, account: &str) -> Vec<usize> {
    let exe = std::env::current_exe().expect("the test binary");
    let children: Vec<_> = (0..PROCESSES)
        .map(|_| {
            Command::new(&exe)
                .args(["--ignored", "--exact", "hot_aggregate::hot_child", "--nocapture", "--test-threads=1"])
                .env(SPEC, spec)
                .env(ACCOUNT, account)
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .expect("spawn a child")
        })
        .collect();
    children
        .into_iter()
        .map(|child| {
            let out = child.wait_with_output().expect("a child's output");
            let text = String::from_utf8_lossy(&out.stdout);
            let line = text.lines().find_map(|l| l.strip_prefix("hot: "));
            match line.and_then(|l| l.strip_prefix("accepted ")) {
                Some(rest) => rest.split(' ').next().and_then(|n| n.parse().ok()).expect("a count"),
                None => panic!("a child did not land every command: {}", line.unwrap_or("no report")),
            }
        })
        .collect()
}

async fn every_command_lands<S: Turns + Clone>(store: S, spec: &str) {
    let accounts = Repository::<Account, _>::new(store);
    for round in 0..rounds() {
        let account = format!("hot-{round}");
        accounts.execute(&account, Open { owner: "hot".into() }).await.expect("open");
        let accepted = tokio::task::block_in_place(|| run_children(spec, &account));
        let total: usize = accepted.iter().sum();
        assert_eq!(total, PROCESSES * COMMANDS, "round {round}: every command of every process lands");
        let loaded = accounts.load(&account).await.expect("load");
        assert_eq!(
            loaded.state.balance, total as u64,
            "round {round}: the balance is the sum of the commands"
        );
        assert_eq!(loaded.version, 1 + total as u64, "round {round}: one event per command, no more");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_every_command_on_a_hot_aggregate_lands() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("hot.db");
    let store = es_sqlite::SqliteStore::open(&path).await.expect("open");
    every_command_lands(store, &format!("sqlite:{}", path.display())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_every_command_on_a_hot_aggregate_lands() {
    let store = crate::stores::pg_store("es_hot").await;
    every_command_lands(store.clone(), &format!("postgres:{}", store.schema_name())).await;
    store.drop_schema().await.expect("drop the test schema");
}
