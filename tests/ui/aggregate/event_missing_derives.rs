use es_core::{Aggregate, Apply, Event};
use serde::{Deserialize, Serialize};

/// Listed events need `Debug, Clone, PartialEq`: the generated event enum derives them.
#[derive(Event, Serialize, Deserialize)]
pub struct Opened;

#[derive(Debug)]
pub enum AccountError {}

#[derive(Aggregate, Default)]
#[aggregate(events(Opened), error = AccountError)]
pub struct Account;

impl Apply<Opened> for Account {
    fn apply(&mut self, _: &Opened) {}
}

fn main() {}
