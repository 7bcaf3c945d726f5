use es_core::{Aggregate, Event};
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Opened;

#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Closed;

#[derive(Debug)]
pub enum AccountError {}

mod other {
    #[derive(es_core::Event, serde::Serialize, serde::Deserialize, Debug, Clone, PartialEq)]
    #[event(name = "other.Opened")]
    pub struct Opened;
}

#[derive(Aggregate, Default)]
#[aggregate(events(Opened, Closed, Opened, other::Opened), error = AccountError)]
pub struct Account;

fn main() {}
