use es_core::{Aggregate, Event};
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Opened;

// Every mistake of one derive is reported, each at its own token.
#[derive(Aggregate, Default)]
#[aggregate(evnts(Opened), name = "Account", name = "Acct")]
pub struct Account;

fn main() {}
