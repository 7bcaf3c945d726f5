//! The bank: open accounts, move money, see a refused command, run concurrent commands on one
//! account (the repository retries on conflict), then print every stored event and the balances.
//!
//! Run with `cargo run --example bank`.

mod domain;

use domain::{Account, AccountError, Deposit, Open, Withdraw};
use es_core::{CommandError, EventStore, MemoryStore, Recorded, Repository};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error + Send + Sync>>;

#[tokio::main]
async fn main() -> Result<()> {
    let store = MemoryStore::new();
    println!("bank on the in-memory store");
    run(store).await
}

async fn run<S: EventStore>(store: S) -> Result<()> {
    let accounts = Repository::<Account, _>::new(store.clone());

    accounts.execute("ann", Open { owner: "Ann".into() }).await?;
    accounts.execute("bob", Open { owner: "Bob".into() }).await?;
    accounts.execute("ann", Deposit { amount: 100 }).await?;
    accounts.execute("bob", Deposit { amount: 50 }).await?;
    accounts.execute("ann", Withdraw { amount: 30 }).await?;
    println!("opened ann and bob; ann deposited 100 and withdrew 30, bob deposited 50");

    match accounts.execute("bob", Withdraw { amount: 80 }).await {
        Err(CommandError::Rejected(e @ AccountError::InsufficientFunds { .. })) => {
            println!("bob withdraws 80: refused ({e})");
        }
        other => return Err(format!("expected a refusal, got {other:?}").into()),
    }

    let (tasks, each, amount) = (4, 2, 5);
    let mut handles = Vec::new();
    for _ in 0..tasks {
        let accounts = accounts.clone();
        handles.push(tokio::spawn(async move {
            for _ in 0..each {
                accounts.execute("ann", Deposit { amount }).await?;
            }
            Ok::<_, CommandError<AccountError>>(())
        }));
    }
    for h in handles {
        h.await??;
    }
    println!(
        "{tasks} tasks deposited {amount} on ann {each} times each, concurrently: all {} landed, {} conflicts retried",
        tasks * each,
        accounts.retries()
    );

    println!("\nstored events:");
    println!("  {:>8}  {:<12} {:>7}  event", "position", "stream", "version");
    let mut from = 1;
    loop {
        let page = store.read_all(from, 256).await?;
        for stored in &page {
            let r = Recorded::<domain::AccountEvent>::decode(stored.clone())?;
            println!("  {:>8}  {:<12} {:>7}  {:?}", r.position, r.stream, r.stream_version, r.event);
            from = r.position + 1;
        }
        if page.len() < 256 {
            break;
        }
    }

    println!("\nbalances:");
    for id in ["ann", "bob"] {
        let loaded = accounts.load(id).await?;
        println!("  {id}: {} (version {})", loaded.state.balance, loaded.version);
    }
    Ok(())
}
