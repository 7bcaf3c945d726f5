//! The bank's read model: the balance of each owner across their accounts, built by a
//! projection from the same events the accounts record.

use std::collections::BTreeMap;

use es_core::{EventContext, Project, Projection};
use serde::{Deserialize, Serialize};

use crate::domain::{AccountOpened, MoneyDeposited, MoneyWithdrawn};

#[derive(Projection, Default, Debug, Serialize, Deserialize)]
#[projection(events(AccountOpened, MoneyDeposited, MoneyWithdrawn))]
pub struct BalancePerOwner {
    /// Owner of each account stream.
    owners: BTreeMap<String, String>,
    /// Balance per owner.
    pub balances: BTreeMap<String, u64>,
}

impl BalancePerOwner {
    fn owner_of(&mut self, stream: &str) -> &mut u64 {
        let owner = self.owners.get(stream).cloned().unwrap_or_default();
        self.balances.entry(owner).or_default()
    }
}

impl Project<AccountOpened> for BalancePerOwner {
    fn project(&mut self, e: &AccountOpened, at: &EventContext<'_>) {
        self.owners.insert(at.stream.to_owned(), e.owner.clone());
        self.balances.entry(e.owner.clone()).or_default();
    }
}

impl Project<MoneyDeposited> for BalancePerOwner {
    fn project(&mut self, e: &MoneyDeposited, at: &EventContext<'_>) {
        // Saturating: one owner's accounts may together hold more than a u64, and a panic here
        // would stop the read model for good.
        let balance = self.owner_of(at.stream);
        *balance = balance.saturating_add(e.amount);
    }
}

impl Project<MoneyWithdrawn> for BalancePerOwner {
    fn project(&mut self, e: &MoneyWithdrawn, at: &EventContext<'_>) {
        let balance = self.owner_of(at.stream);
        *balance = balance.saturating_sub(e.amount);
    }
}
