//! A reactor: a large withdrawal opens a review, an aggregate of its own. Its command carries
//! `caused()` metadata, so a redelivered withdrawal opens nothing twice.

use es_core::{Aggregate, Apply, Event, Handle, React, ReactContext, ReactError, Reactor, Repository, Turns};
use serde::{Deserialize, Serialize};

use crate::domain::MoneyWithdrawn;

/// Withdrawals from this amount on are reviewed.
pub const REVIEWED_FROM: u64 = 1_000;

#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct ReviewOpened {
    pub account: String,
    pub amount: u64,
}

#[derive(Aggregate, Default, Debug)]
#[aggregate(events(ReviewOpened), error = std::convert::Infallible)]
pub struct Review {
    pub amount: u64,
}

impl Apply<ReviewOpened> for Review {
    fn apply(&mut self, e: &ReviewOpened) {
        self.amount = e.amount;
    }
}

pub struct OpenReview {
    pub account: String,
    pub amount: u64,
}

impl Handle<OpenReview> for Review {
    fn handle(&self, cmd: &OpenReview) -> Result<Vec<ReviewEvent>, Self::Error> {
        Ok(vec![ReviewOpened { account: cmd.account.clone(), amount: cmd.amount }.into()])
    }
}

#[derive(Reactor)]
#[reactor(events(MoneyWithdrawn))]
pub struct LargeWithdrawals<S: Turns> {
    pub reviews: Repository<Review, S>,
}

impl<S: Turns> React<MoneyWithdrawn> for LargeWithdrawals<S> {
    async fn react(&self, e: &MoneyWithdrawn, at: &ReactContext<'_>) -> Result<(), ReactError> {
        if e.amount >= REVIEWED_FROM {
            let review = format!("{}-{}", at.stream, at.stream_version);
            let open = OpenReview { account: at.stream.to_owned(), amount: e.amount };
            self.reviews.execute_with(&review, open, at.caused()).await?;
        }
        Ok(())
    }
}
