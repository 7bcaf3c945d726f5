use es_core::{Aggregate, Event};
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Opened;

#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Closed;

#[derive(Debug)]
pub enum AccountError {}

#[derive(Aggregate)]
#[aggregate(events(Opened), error = AccountError)]
pub union Account {
    a: u32,
}

fn main() {}
