use es_core::{Aggregate, Apply, Event};
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Opened;

#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Closed;

#[derive(Debug)]
pub enum AccountError {}

#[derive(Aggregate, Default)]
#[aggregate(events(Opened, Closed))]
pub struct Account;

impl Apply<Opened> for Account {
    fn apply(&mut self, _: &Opened) {}
}
impl Apply<Closed> for Account {
    fn apply(&mut self, _: &Closed) {}
}

fn main() {}
