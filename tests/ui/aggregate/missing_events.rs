use es_core::{Aggregate, Event};
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Opened;

#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Closed;

#[derive(Debug)]
pub enum AccountError {}

#[derive(Aggregate, Default)]
#[aggregate(error = AccountError)]
pub struct Account;

#[derive(Aggregate, Default)]
#[aggregate(events(), error = AccountError)]
pub struct Empty;

fn main() {}
