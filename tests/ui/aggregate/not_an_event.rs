use es_core::{Aggregate, Apply, Event};
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Opened;

#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Closed;

#[derive(Debug)]
pub enum AccountError {}

#[derive(Debug, Clone, PartialEq)]
pub struct JustAStruct;

#[derive(Aggregate, Default)]
#[aggregate(events(Opened, JustAStruct), error = AccountError)]
pub struct Account;

impl Apply<Opened> for Account {
    fn apply(&mut self, _: &Opened) {}
}
impl Apply<JustAStruct> for Account {
    fn apply(&mut self, _: &JustAStruct) {}
}

fn main() {}
