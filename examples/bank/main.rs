//! The bank: open accounts, move money, see a refused command, run concurrent commands on one
//! account (the repository retries on conflict), then print the events this run stored and the
//! balances; publishes deposits to NATS JetStream as `PaymentReceived` when a server answers.
//!
//! ```text
//! cargo run --example bank                          # SQLite file ./bank.db (run it twice)
//! cargo run --example bank -- --memory              # in memory
//! cargo run --example bank -- --postgres URL        # PostgreSQL, schema es_bank
//! cargo run --example bank -- nats://127.0.0.1:4231  # NATS JetStream (nats-server >= 2.12 -js; deploy/nats-cluster)
//! cargo run --example bank -- 'nats://127.0.0.1:4231,nats://127.0.0.1:4232,nats://127.0.0.1:4233?replicas=3'
//! ```
//!
//! On JetStream the events are in the stream `ES_BANK` (`?stream=NAME` for another), replicated
//! on `replicas` nodes (1 by default; 3 on the cluster of deploy/nats-cluster), and the relay
//! publishes on the same servers.

mod contract;
mod domain;
mod read_model;
mod review;

use domain::{Account, AccountError, AccountEvent, Deposit, Open, Withdraw};
use es_core::personal::Privacy;
use es_core::{
    CheckpointStore, CommandError, DeadLetters, EventStore, MemoryStore, ProjectionRunner, ReactorRunner,
    Recorded, Repository, SnapshotStore, Turns,
};
use read_model::BalancePerOwner;

type Result<T> = std::result::Result<T, Box<dyn std::error::Error + Send + Sync>>;

const USAGE: &str =
    "usage: bank [--memory | --postgres URL | --sqlite PATH | nats://HOST:PORT[,nats://...][?stream=NAME&replicas=N]]";

#[tokio::main]
async fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        [] => sqlite("bank.db").await,
        ["--sqlite", path] => sqlite(path).await,
        ["--memory"] => {
            println!("store: in memory (gone when the program ends)");
            run(MemoryStore::new(), None).await
        }
        ["--postgres", url] => {
            let options = es_postgres::PostgresOptions::new().schema("es_bank");
            let store = options.connect(url).await?;
            println!("store: PostgreSQL at {}, schema es_bank", es_postgres::redact(url));
            run(store, None).await
        }
        [url] if url.starts_with("nats://") => jetstream(url).await,
        _ => Err(USAGE.into()),
    }
}

/// The store on NATS JetStream at `url` (servers, then `?stream=NAME&replicas=N`).
async fn jetstream(url: &str) -> Result<()> {
    let (servers, query) = url.split_once('?').unwrap_or((url, ""));
    let (mut stream, mut replicas) = ("ES_BANK", 1);
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        match pair.split_once('=') {
            Some(("stream", name)) => stream = name,
            Some(("replicas", n)) => replicas = n.parse().map_err(|_| format!("replicas `{n}`: a number"))?,
            _ => return Err(format!("`{pair}`: the options are stream=NAME and replicas=N\n{USAGE}").into()),
        }
    }
    let options = es_nats::JetStreamOptions::new(stream).replicas(replicas);
    let store = es_nats::JetStreamStore::connect(servers, options).await?;
    let options = store.options();
    println!(
        "store: NATS JetStream at {servers}, stream {} (side tables {0}_SIDE), {} replica(s)",
        options.stream_name(),
        options.replica_count()
    );
    run(store, Some(servers)).await
}

async fn sqlite(path: &str) -> Result<()> {
    let store = es_sqlite::SqliteStore::open(path).await?;
    println!("store: SQLite file {path} (run again to see the history grow; delete it to start over)");
    run(store, None).await
}

/// The bank's run on `store`; the relay publishes to `nats` (the store's own servers when it is
/// on JetStream), else to `ES_NATS_URL`.
async fn run<S: Privacy + Turns + SnapshotStore + CheckpointStore + DeadLetters + es_core::Leases>(
    store: S,
    nats: Option<&str>,
) -> Result<()> {
    let accounts = Repository::<Account, _>::new(store.clone());
    let head = store.head().await?;

    for (id, owner) in [("ann", "Ann"), ("bob", "Bob")] {
        match accounts.execute(id, Open { owner: owner.into() }).await {
            Ok(_) => println!("opened {id}'s account"),
            Err(CommandError::Rejected(AccountError::AlreadyOpen)) => {
                println!("{id}'s account is open already")
            }
            Err(e) => return Err(e.into()),
        }
    }
    accounts.execute("ann", Deposit { amount: 100 }).await?;
    accounts.execute("bob", Deposit { amount: 50 }).await?;
    accounts.execute("ann", Withdraw { amount: 30 }).await?;
    println!("ann deposited 100 and withdrew 30; bob deposited 50");
    accounts.execute("bob", Deposit { amount: 5_000 }).await?;
    accounts.execute("bob", Withdraw { amount: 2_500 }).await?;
    println!("bob deposited 5,000 and withdrew 2,500 (a withdrawal the reviewer will see)");

    let bob = accounts.load("bob").await?.state.balance;
    match accounts.execute("bob", Withdraw { amount: bob + 30 }).await {
        Err(CommandError::Rejected(e @ AccountError::InsufficientFunds { .. })) => {
            println!("bob withdraws {}: refused ({e})", bob + 30);
        }
        other => return Err(format!("expected a refusal, got {other:?}").into()),
    }

    // Within one process the repository queues commands on the same account. These tasks race
    // the way writers in separate processes do, so some meet a conflict and retry.
    let racing = Repository::<Account, _>::new(store.clone()).with_local_queue(false);
    let (tasks, each, amount) = (4, 2, 5);
    let mut handles = Vec::new();
    for _ in 0..tasks {
        let accounts = racing.clone();
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
        "{tasks} racing writers deposited {amount} on ann {each} times each: all {} landed, {} conflicts retried",
        tasks * each,
        racing.retries()
    );

    println!("\nevents stored by this run (after {head}):");
    println!("  {:>8}  {:<12} {:>7}  event", "position", "stream", "version");
    let mut after = head;
    loop {
        let page = store.read_all(after, 256).await?;
        for stored in &page {
            after = stored.cursor;
            let r = Recorded::<AccountEvent>::decode(stored.clone())?;
            println!("  {:>8}  {:<12} {:>7}  {:?}", r.position, r.stream, r.stream_version, r.event);
        }
        if page.len() < 256 {
            break;
        }
    }

    seed_legacy_account(&store).await?;
    let olga = accounts.load("olga").await?;
    println!(
        "\nolga's account was stored by three releases (MoneyDeposited v1, v2 and v3; CashWithdrawn, \
         now MoneyWithdrawn): read back as current types, balance {}",
        olga.state.balance
    );

    println!("\nbalances:");
    for id in ["ann", "bob", "olga"] {
        let loaded = accounts.load(id).await?;
        println!("  {id}: {} (version {})", loaded.state.balance, loaded.version);
    }

    let ann = accounts.load("ann").await?;
    let earlier = accounts.load_at("ann", ann.version.saturating_sub(3)).await?;
    println!("ann's account 3 events ago: balance {} (version {})", earlier.state.balance, earlier.version);

    // The reactor resumes from its checkpoint too: each large withdrawal opens one review.
    let reviewer = review::LargeWithdrawals { reviews: Repository::new(store.clone()) };
    let mut reactions = ReactorRunner::start("large-withdrawals", reviewer, store.clone()).await?;
    let read = reactions.catch_up().await?;
    println!(
        "\nreviewer (a reactor, {read} new events read): withdrawals of {} or more open a review",
        review::REVIEWED_FROM
    );
    for recorded in store.read_all(head, usize::MAX).await? {
        if let Ok(opened) = Recorded::<review::ReviewEvent>::decode(recorded) {
            let review::ReviewEvent::ReviewOpened(r) = opened.event;
            println!("  review {} opened: {} withdrew {}", opened.stream, r.account, r.amount);
        }
    }

    // The read model resumes from its checkpoint: a second run reads only the new events.
    let mut per_owner =
        ProjectionRunner::<BalancePerOwner, _>::start("balance-per-owner", store.clone()).await?;
    let read = per_owner.catch_up().await?;
    println!(
        "\nbalance per owner (read model, {read} new events read, checkpoint at {}):",
        per_owner.cursor()
    );
    for (owner, balance) in &per_owner.projection().balances {
        println!("  {owner}: {balance}");
    }
    publish(store, nats).await
}

/// Publishes deposits as `PaymentReceived` to NATS JetStream when a server answers (`nats`, else
/// `ES_NATS_URL`, by default the local one); without one the relay is off.
async fn publish<S: Privacy + Turns + CheckpointStore + DeadLetters + es_core::Leases>(
    store: S,
    nats: Option<&str>,
) -> Result<()> {
    use es_nats::async_nats::{ConnectOptions, ServerAddr};
    let url = nats.map_or_else(es_nats::url_from_env, str::to_owned);
    let servers: Vec<ServerAddr> = url.split(',').filter_map(|u| u.trim().parse().ok()).collect();
    let connected =
        ConnectOptions::new().connection_timeout(std::time::Duration::from_secs(1)).connect(servers).await;
    let Ok(client) = connected else {
        println!(
            "
relay: off (no NATS at {url}; start `nats-server -js` to publish PaymentReceived)"
        );
        return Ok(());
    };
    let options = es_nats::RelayOptions::new("bank");
    let mut relay =
        es_nats::Relay::start("bank-payments", contract::BankContract, store, client, options.clone())
            .await?;
    relay.catch_up().await?;
    let status = relay.status().await?;
    println!(
        "\nrelay: on, NATS at {url}: {} new PaymentReceived published on {} (JetStream stream BANK), {} dropped as duplicates",
        status.published,
        options.subject("PaymentReceived"),
        status.duplicates
    );
    Ok(())
}

/// Writes, once, the events an account got from older releases of this program, as they stored
/// them: raw names, schema versions and JSON payloads.
async fn seed_legacy_account<S: EventStore>(store: &S) -> Result<()> {
    use es_core::{ExpectedVersion, NewEvent, StoreError};
    use serde_json::json;
    let history = vec![
        NewEvent::new("AccountOpened", 1, json!({ "owner": "Olga" })),
        NewEvent::new("MoneyDeposited", 1, json!({ "amount": 100 })),
        NewEvent::new("CashWithdrawn", 1, json!({ "amount": 30 })),
        NewEvent::new("MoneyDeposited", 2, json!({ "amount": 50, "currency": "CHF" })),
        NewEvent::new("MoneyDeposited", 3, json!({ "amount": 7, "currency": "EUR", "memo": "v3" })),
    ];
    match store.append("Account-olga", ExpectedVersion::NoStream, history).await {
        Ok(_) | Err(StoreError::Conflict { .. }) => Ok(()), // a conflict: seeded by an earlier run
        Err(e) => Err(e.into()),
    }
}
