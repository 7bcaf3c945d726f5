//! `Repository`: load, decide, append, retry on conflict, metadata.

use es_core::personal::Privacy;
use es_core::{
    AppendWatch, Appended, CommandError, Cursor, EventRef, EventStore, ExpectedVersion, Lend, LocalQueue,
    MemoryStore, Metadata, NewEvent, Repository, RetryPolicy, StoreError, Turn, Turns,
};

use crate::bank::{Account, AccountError, AccountEvent, Deposit, MoneyDeposited, Open, Withdraw};

type TestResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;

async fn opened(store: MemoryStore) -> Result<Repository<Account, MemoryStore>, CommandError<AccountError>> {
    let accounts = Repository::<Account, _>::new(store);
    accounts.execute("ann", Open { owner: "Ann".into() }).await?;
    Ok(accounts)
}

#[tokio::test]
async fn execute_records_events_in_the_aggregate_stream() -> TestResult {
    let accounts = opened(MemoryStore::new()).await?;
    let recorded = accounts.execute("ann", Deposit { amount: 10 }).await?;
    assert_eq!(recorded.len(), 1);
    let r = &recorded[0];
    assert_eq!((r.stream.as_str(), r.stream_version, r.position), ("Account-ann", 2, 2));
    assert_eq!(
        r.event,
        AccountEvent::from(MoneyDeposited { amount: 10, currency: "EUR".into(), memo: String::new() })
    );
    let ann = accounts.load("ann").await?;
    assert_eq!((ann.state.balance, ann.version), (10, 2));
    Ok(())
}

#[tokio::test]
async fn a_refused_command_stores_nothing() -> TestResult {
    let store = MemoryStore::new();
    let accounts = opened(store.clone()).await?;
    let refused = accounts.execute("ann", Withdraw { amount: 1 }).await;
    assert!(matches!(
        refused,
        Err(CommandError::Rejected(AccountError::InsufficientFunds { balance: 0, requested: 1 }))
    ));
    assert_eq!(store.len(), 1);
    Ok(())
}

#[tokio::test]
async fn loading_an_unknown_aggregate_gives_the_default_state() -> TestResult {
    let accounts = Repository::<Account, _>::new(MemoryStore::new());
    let nobody = accounts.load("nobody").await?;
    assert_eq!((nobody.state, nobody.version), (Account::default(), 0));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_commands_on_one_aggregate_lose_nothing() -> TestResult {
    concurrent_deposits(opened(MemoryStore::new()).await?).await
}

/// Without the in-process queue, commands race and the losers retry: still nothing is lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_commands_retry_and_lose_nothing() -> TestResult {
    let accounts = opened(MemoryStore::new()).await?.with_local_queue(false);
    concurrent_deposits(accounts.clone()).await?;
    assert!(accounts.retries() > 0, "8 racing writers on one account must have met conflicts");
    Ok(())
}

async fn concurrent_deposits(accounts: Repository<Account, MemoryStore>) -> TestResult {
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let accounts = accounts.clone();
            tokio::spawn(async move {
                for _ in 0..25 {
                    accounts.execute("ann", Deposit { amount: 2 }).await?;
                }
                Ok::<_, CommandError<AccountError>>(())
            })
        })
        .collect();
    for t in tasks {
        t.await??;
    }
    let ann = accounts.load("ann").await?;
    assert_eq!((ann.state.balance, ann.version), (8 * 25 * 2, 1 + 8 * 25));
    Ok(())
}

/// A real MemoryStore with another writer that always gets in first: every append of the
/// repository meets a newer version.
#[derive(Clone)]
struct AlwaysOvertaken(MemoryStore);

impl EventStore for AlwaysOvertaken {
    async fn append(
        &self,
        stream: &str,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<Appended, StoreError> {
        let deposit = NewEvent::new(
            "MoneyDeposited",
            3,
            serde_json::json!({ "amount": 1, "currency": "EUR", "memo": "" }),
        );
        self.0.append(stream, ExpectedVersion::Any, vec![deposit]).await?;
        self.0.append(stream, expected, events).await
    }
    const BACKEND: &'static str = "overtaken";
    async fn visit_stream<F>(
        &self,
        stream: &str,
        from: u64,
        limit: usize,
        lend: Lend,
        visit: F,
    ) -> Result<usize, StoreError>
    where
        F: FnMut(&EventRef<'_>) -> Result<(), StoreError> + Send,
    {
        self.0.visit_stream(stream, from, limit, lend, visit).await
    }
    async fn visit_all<F>(&self, after: Cursor, limit: usize, visit: F) -> Result<usize, StoreError>
    where
        F: FnMut(&EventRef<'_>) -> Result<(), StoreError> + Send,
    {
        self.0.visit_all(after, limit, visit).await
    }
    async fn head(&self) -> Result<Cursor, StoreError> {
        self.0.head().await
    }
    fn watch(&self) -> Option<AppendWatch> {
        self.0.watch()
    }
}

impl Privacy for AlwaysOvertaken {
    fn keys(&self) -> Option<es_core::personal::Keyring> {
        self.0.keys()
    }
}

/// Its turns are no shelter: the other writer takes no turns.
impl Turns for AlwaysOvertaken {
    type Turn<'a> = Overtaken<'a>;

    fn local_queue(&self, stream: &str) -> LocalQueue {
        self.0.local_queue(stream)
    }

    async fn take_turn<'a>(&'a self, stream: &'a str) -> Result<Overtaken<'a>, StoreError> {
        Ok(Overtaken(self, stream))
    }
}

struct Overtaken<'a>(&'a AlwaysOvertaken, &'a str);

impl Turn for Overtaken<'_> {
    async fn visit_stream<F>(
        &mut self,
        from: u64,
        limit: usize,
        lend: Lend,
        visit: F,
    ) -> Result<usize, StoreError>
    where
        F: FnMut(&EventRef<'_>) -> Result<(), StoreError> + Send,
    {
        self.0.visit_stream(self.1, from, limit, lend, visit).await
    }

    async fn append(
        &mut self,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<Appended, StoreError> {
        self.0.append(self.1, expected, events).await
    }

    async fn finish(self) -> Result<(), StoreError> {
        Ok(())
    }
}

#[tokio::test]
async fn retries_are_bounded_and_reported() -> TestResult {
    let store = MemoryStore::new();
    opened(store.clone()).await?;
    let policy = RetryPolicy::default().optimistic(2).max_attempts(3);
    let accounts = Repository::<Account, _>::new(AlwaysOvertaken(store)).with_retry_policy(policy);
    match accounts.execute("ann", Deposit { amount: 5 }).await {
        Err(CommandError::Conflict { stream, attempts }) => {
            assert_eq!((stream.as_str(), attempts), ("Account-ann", 5), "2 optimistic, 3 in the turn");
        }
        other => panic!("expected a conflict after 5 attempts, got {other:?}"),
    }
    assert_eq!((accounts.retries(), accounts.turns_taken()), (5, 1));
    Ok(())
}

#[tokio::test]
async fn metadata_is_recorded_with_every_event() -> TestResult {
    let store = MemoryStore::new();
    let accounts = opened(store.clone()).await?;
    let correlation = es_core::Uuid::new_v4();
    let meta = Metadata::default().correlation_id(correlation).with("user", "teller-7");
    let recorded = accounts.execute_with("ann", Deposit { amount: 3 }, meta.clone()).await?;
    assert_eq!(recorded[0].metadata, meta);
    let stored = store.read_stream("Account-ann", 2, 10).await?;
    assert_eq!(stored[0].metadata, meta);
    assert_eq!(stored[0].id, recorded[0].id);
    assert_eq!(stored[0].recorded_at, recorded[0].recorded_at);
    Ok(())
}
