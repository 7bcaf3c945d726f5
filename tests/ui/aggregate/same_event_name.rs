use es_core::{Aggregate, Apply, Event};
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Opened;

#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Closed;

#[derive(Debug)]
pub enum AccountError {}

#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[event(name = "Opened")]
pub struct Reopened;

#[derive(Aggregate, Default)]
#[aggregate(events(Opened, Reopened), error = AccountError)]
pub struct Account;

impl Apply<Opened> for Account {
    fn apply(&mut self, _: &Opened) {}
}
impl Apply<Reopened> for Account {
    fn apply(&mut self, _: &Reopened) {}
}

fn main() {}
