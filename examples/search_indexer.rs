//! A consumer of your own on the one building block: an in-memory search index of the bank's
//! accounts (owner name -> accounts, with balances), kept by a `Feed` on SQLite. The feed owns
//! the cursor, the checkpoint (the index is saved with it), retries and the lease; the indexer
//! only says which events it wants and what a batch does.
//!
//! ```text
//! cargo run --example search_indexer            # SQLite file ./search.db (run it twice)
//! ```

#[path = "bank/domain.rs"]
#[allow(dead_code)]
mod domain;

use std::collections::BTreeMap;
use std::time::Duration;

use domain::{Account, AccountEvent, Deposit, Open, Withdraw};
use es_core::consume::{Consume, ConsumeError, Feed, Resume};
use es_core::{EventRef, Repository};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// Accounts by lower-cased owner name, each with its balance.
#[derive(Default, Serialize, Deserialize)]
struct SearchIndexer {
    by_owner: BTreeMap<String, BTreeMap<String, u64>>,
    owner_of: BTreeMap<String, String>,
}

impl SearchIndexer {
    /// The accounts of owners whose name starts with `prefix`.
    fn search(&self, prefix: &str) -> Vec<(&str, &str, u64)> {
        let prefix = prefix.to_lowercase();
        let hits = self.by_owner.range(prefix.clone()..).take_while(|(owner, _)| owner.starts_with(&prefix));
        hits.flat_map(|(owner, accounts)| accounts.iter().map(move |(a, b)| (owner.as_str(), a.as_str(), *b)))
            .collect()
    }

    fn balance(&mut self, stream: &str) -> Option<&mut u64> {
        let owner = self.owner_of.get(stream)?;
        self.by_owner.get_mut(owner)?.get_mut(stream)
    }
}

impl Consume for SearchIndexer {
    fn handles(&self, name: &str) -> bool {
        matches!(name, "AccountOpened" | "MoneyDeposited" | "MoneyWithdrawn")
    }

    async fn handle(&mut self, batch: &[EventRef<'_>]) -> Result<(), ConsumeError> {
        for event in batch {
            // Decoding goes through the aggregate's codec, upcasting old deposits on the way.
            match es_core::codec::decode_ref::<AccountEvent>(event)? {
                AccountEvent::AccountOpened(e) => {
                    let owner = e.owner.to_lowercase();
                    self.owner_of.insert(event.stream.to_owned(), owner.clone());
                    self.by_owner.entry(owner).or_default().insert(event.stream.to_owned(), 0);
                }
                AccountEvent::MoneyDeposited(e) => {
                    self.balance(event.stream).map_or((), |b| *b = b.saturating_add(e.amount))
                }
                AccountEvent::MoneyWithdrawn(e) => {
                    self.balance(event.stream).map_or((), |b| *b = b.saturating_sub(e.amount))
                }
            }
        }
        Ok(())
    }

    // The index lives in memory: it is saved with each checkpoint, and put back from it after
    // an error or a restart, so that no batch is ever applied twice.
    fn state(&self) -> Result<Option<Box<RawValue>>, ConsumeError> {
        Ok(Some(serde_json::value::to_raw_value(self).map_err(ConsumeError::new)?))
    }

    fn restore(&mut self, state: Option<&RawValue>) -> Result<Resume, ConsumeError> {
        *self = match state {
            Some(state) => serde_json::from_str(state.get()).map_err(ConsumeError::new)?,
            None => SearchIndexer::default(),
        };
        Ok(Resume::Checkpoint)
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let store = es_sqlite::SqliteStore::open("search.db").await?;
    let accounts = Repository::<Account, _>::new(store.clone());
    for (id, owner) in [("ann-1", "Ann"), ("ann-2", "Annika"), ("bob-1", "Bob")] {
        if accounts.load(id).await?.version == 0 {
            accounts.execute(id, Open { owner: owner.into() }).await?;
        }
        accounts.execute(id, Deposit { amount: 100 }).await?;
    }
    accounts.execute("ann-2", Withdraw { amount: 30 }).await?;

    // One process at a time keeps the index (start it everywhere: the others stand by).
    let mut feed =
        Feed::new("search-indexer", SearchIndexer::default(), store).leased(Duration::from_secs(10));
    let read = feed.catch_up().await?;
    println!("indexed {read} new events; the checkpoint is at {}", feed.cursor());
    for (owner, account, balance) in feed.consumer().search("ann") {
        println!("  {owner}: {account} holds {balance}");
    }
    // A service would follow new events instead: `feed.run(shutdown).await?`.
    feed.release().await?;
    Ok(())
}
