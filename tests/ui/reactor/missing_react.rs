use es_core::{Event, React, ReactContext, ReactError, Reactor};
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Opened;

#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Closed;

/// `Closed` is listed but has no `impl React<Closed>`.
#[derive(Reactor)]
#[reactor(events(Opened, Closed))]
pub struct Notifier;

impl React<Opened> for Notifier {
    async fn react(&self, _: &Opened, _: &ReactContext<'_>) -> Result<(), ReactError> {
        Ok(())
    }
}

fn main() {}
