//! Many processes, one hot aggregate, on a 3-node cluster (R3): 8 OS processes (this test
//! binary run again as children), each with its own connection, store handle and repository,
//! deposit on one account at once. Every command lands, the balance is their sum, and the
//! children took turns (a run that never needed one would not test them).
//! `ES_JS_HOT_ROUNDS` rounds (1 by default).

use std::io::{BufRead, Write};
use std::process::{Command, Stdio};

use es_core::Repository;
use es_nats::{JetStreamOptions, JetStreamStore};

use crate::bank::{Account, Deposit, Open};
use crate::server::Servers;

const PROCESSES: usize = 8;
const COMMANDS: usize = 25;
const URL: &str = "ES_JS_HOT_URL";
const STREAM: &str = "ES_JS_HOT_STREAM";
const ACCOUNT: &str = "ES_JS_HOT_ACCOUNT";

fn rounds() -> usize {
    std::env::var("ES_JS_HOT_ROUNDS").ok().and_then(|r| r.parse().ok()).unwrap_or(1)
}

/// Connects, waits for the parent's go (a line on stdin), deposits 1 `COMMANDS` times; returns
/// the commands accepted and the turns taken.
fn deposit_all(url: &str, stream: &str, account: &str) -> Result<(usize, u64), String> {
    let rt = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
    let store = rt
        .block_on(JetStreamStore::connect(url, JetStreamOptions::new(stream).replicas(3)))
        .map_err(|e| format!("connect: {e}"))?;
    let mut go = String::new();
    std::io::stdin().lock().read_line(&mut go).map_err(|e| format!("waiting for the go: {e}"))?;
    rt.block_on(async {
        let accounts = Repository::<Account, _>::new(store);
        for n in 0..COMMANDS {
            accounts
                .execute(account, Deposit { amount: 1 })
                .await
                .map_err(|e| format!("command {n}: {e}"))?;
        }
        Ok((COMMANDS, accounts.turns_taken()))
    })
}

#[test]
#[ignore = "a child process of the hot-aggregate test; it runs it"]
fn hot_child() {
    let (Ok(url), Ok(stream), Ok(account)) =
        (std::env::var(URL), std::env::var(STREAM), std::env::var(ACCOUNT))
    else {
        return;
    };
    // On lines of their own: the test harness prints its "test ... " prefix before them.
    match deposit_all(&url, &stream, &account) {
        Ok((accepted, turns)) => println!("\nhot: accepted {accepted} turns {turns}"),
        Err(e) => println!("\nhot: failed {e}"),
    }
}

/// A child's (accepted, turns), failing with what it said otherwise.
fn parse_report(stdout: &str) -> (usize, u64) {
    let line = stdout.lines().find_map(|l| l.strip_prefix("hot: "));
    match line.unwrap_or("").split(' ').collect::<Vec<_>>().as_slice() {
        ["accepted", accepted, "turns", turns] => {
            (accepted.parse().expect("a count of commands"), turns.parse().expect("a count of turns"))
        }
        _ => panic!("a child did not land every command: {}", line.unwrap_or("no report")),
    }
}

/// Runs the children at once on `account`; what each reported.
fn run_children(url: &str, stream: &str, account: &str) -> Vec<(usize, u64)> {
    let exe = std::env::current_exe().expect("the test binary");
    let mut children: Vec<_> = (0..PROCESSES)
        .map(|_| {
            Command::new(&exe)
                .args(["--ignored", "--exact", "hot::hot_child", "--nocapture", "--test-threads=1"])
                .env(URL, url)
                .env(STREAM, stream)
                .env(ACCOUNT, account)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .expect("spawn a child")
        })
        .collect();
    for child in &mut children {
        // A child that failed to connect has exited: its report says why.
        let _ = child.stdin.take().expect("a child's stdin").write_all(b"go\n");
    }
    children
        .into_iter()
        .map(|child| {
            parse_report(&String::from_utf8_lossy(&child.wait_with_output().expect("output").stdout))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_command_on_a_hot_aggregate_lands_across_processes_on_r3() {
    let servers = Servers::cluster().await;
    let store = crate::store_at(&servers.url(), 3).await;
    let stream = store.options().stream_name().to_owned();
    let accounts = Repository::<Account, _>::new(store.clone());
    for round in 0..rounds() {
        let account = format!("hot-{round}");
        accounts.execute(&account, Open { owner: "hot".into() }).await.expect("open");
        let reports = tokio::task::block_in_place(|| run_children(&servers.url(), &stream, &account));
        let total: usize = reports.iter().map(|r| r.0).sum();
        let turns: u64 = reports.iter().map(|r| r.1).sum();
        assert_eq!(total, PROCESSES * COMMANDS, "round {round}: every command of every process lands");
        assert!(turns > 0, "round {round}: {PROCESSES} processes at once on one aggregate took no turn");
        let loaded = accounts.load(&account).await.expect("load");
        assert_eq!(loaded.state.balance, total as u64, "round {round}: the balance is the sum");
        assert_eq!(loaded.version, 1 + total as u64, "round {round}: one event per command, no more");
        eprintln!("round {round}: {total} commands from {PROCESSES} processes, {turns} turns taken");
    }
    store.destroy().await.ok();
}
