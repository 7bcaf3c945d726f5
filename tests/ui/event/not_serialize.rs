use es_core::Event;

/// An event must be `Serialize` and `Deserialize`: the store keeps it as JSON.
#[derive(Event, Debug, Clone, PartialEq)]
pub struct Opened {
    pub owner: String,
}

fn main() {}
