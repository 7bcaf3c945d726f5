use es_core::{Event, EventContext, Project, Projection};
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Opened;

#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Closed;

#[derive(Projection, Default)]
#[projection(events(Opened, Closed, Opened))]
pub struct OpenAccounts;

#[derive(Projection, Default)]
#[projection(events(Opened, Closed))]
pub struct Counted;

impl Project<Opened> for Counted {
    fn project(&mut self, _: &Opened, _: &EventContext<'_>) {}
}

fn main() {}
