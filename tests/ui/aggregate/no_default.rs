use es_core::{Aggregate, Apply, Event};
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Opened;

#[derive(Debug)]
pub enum AccountError {}

/// An aggregate starts from `Default` before its first event.
#[derive(Aggregate)]
#[aggregate(events(Opened), error = AccountError)]
pub struct Account {
    pub open: bool,
}

impl Apply<Opened> for Account {
    fn apply(&mut self, _: &Opened) {
        self.open = true;
    }
}

fn main() {}
