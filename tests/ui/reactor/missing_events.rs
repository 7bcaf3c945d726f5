use es_core::Reactor;

/// A reactor lists the events it reacts to.
#[derive(Reactor)]
pub struct Notifier;

#[derive(Reactor)]
#[reactor(events())]
pub struct Silent;

#[derive(Reactor)]
#[reactor(event(Opened))]
pub struct Misspelt;

fn main() {}
