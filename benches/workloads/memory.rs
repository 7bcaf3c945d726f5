//! W1: one stream of 100,000 deposits in the MemoryStore; time to load the aggregate and execute
//! one more command, against a hand-written loop over the same stored JSON. And the peak memory
//! (max RSS) of each, measured in a child process of its own.

use std::hint::black_box;
use std::process::Command;

use es_core::{EventStore, ExpectedVersion, MemoryStore, NewEvent, Repository};

use crate::bank::{Account, Deposit};
use crate::measure::{row, runtime, stats, time, time_async};
use crate::raw;

const EVENTS: usize = 100_000;
const CHILD: &str = "ES_BENCH_CHILD";

/// Stored event `i` as (name, JSON payload): what both sides start from.
fn row_at(i: usize) -> (String, String) {
    if i == 0 {
        ("AccountOpened".to_owned(), r#"{"owner":"ann"}"#.to_owned())
    } else {
        ("MoneyDeposited".to_owned(), raw::deposit_payload(i as u64 % 100))
    }
}

fn rows() -> Vec<(String, String)> {
    (0..EVENTS).map(row_at).collect()
}

/// The same events in a MemoryStore, appended 10,000 at a time.
async fn filled_store() -> MemoryStore {
    let store = MemoryStore::new();
    for start in (0..EVENTS).step_by(10_000) {
        let batch = (start..(start + 10_000).min(EVENTS))
            .map(|i| {
                let (name, payload) = row_at(i);
                let version = if i == 0 { 1 } else { 3 };
                let mut e = NewEvent::new(name, version, serde_json::Value::Null);
                e.payload = serde_json::value::RawValue::from_string(payload).expect("json");
                e
            })
            .collect();
        store.append("Account-big", ExpectedVersion::Any, batch).await.expect("append");
    }
    store
}

/// The hand-written command: fold every row, decide, store one more row.
fn raw_command(rows: &mut Vec<(String, String)>) -> u64 {
    let account = raw::fold(rows.iter().map(|(n, p)| (n.as_str(), p.as_str()))).expect("fold");
    assert!(account.opened);
    rows.push(("MoneyDeposited".to_owned(), raw::deposit_payload(1)));
    account.balance
}

pub fn rehydrate(runs: usize) {
    let rt = runtime();
    rt.block_on(async {
        let store = filled_store().await;
        let mut rows = rows();
        let accounts = Repository::<Account, _>::new(store);
        let (mut framework, mut hand) = (Vec::new(), Vec::new());
        for _ in 0..runs {
            let (t, r) = time_async(accounts.execute("big", Deposit { amount: 1 })).await;
            r.expect("execute");
            framework.push(t.as_secs_f64() * 1e3);
            let (t, balance) = time(|| raw_command(black_box(&mut rows)));
            black_box(balance);
            hand.push(t.as_secs_f64() * 1e3);
        }
        row("W1 rehydrate_mem", "ms/command", stats(framework), Some(stats(hand)), false);
    });
}

/// In a child process: build the events, run one command, report the peak RSS in KiB.
pub fn child_mode() -> bool {
    let Ok(mode) = std::env::var(CHILD) else { return false };
    let rt = runtime();
    rt.block_on(async {
        if mode == "framework" {
            let accounts = Repository::<Account, _>::new(filled_store().await);
            accounts.execute("big", Deposit { amount: 1 }).await.expect("execute");
        } else {
            black_box(raw_command(&mut rows()));
        }
    });
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let hwm = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .map_or("0", |v| v.trim().trim_end_matches(" kB"));
    println!("{hwm}");
    true
}

fn child_peak(mode: &str) -> f64 {
    let exe = std::env::current_exe().expect("the bench binary");
    let out = Command::new(exe).env(CHILD, mode).output().expect("run the child");
    String::from_utf8_lossy(&out.stdout).trim().parse::<f64>().unwrap_or(f64::NAN) / 1024.0
}

pub fn peak_rss(runs: usize) {
    let (mut framework, mut hand) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        framework.push(child_peak("framework"));
        hand.push(child_peak("raw"));
    }
    row("W1 peak_rss", "MiB", stats(framework), Some(stats(hand)), false);
}
