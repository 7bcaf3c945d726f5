//! Cross-crate behaviour tests, one binary for every area to keep link times down.

#[path = "../../examples/bank/domain.rs"]
#[allow(dead_code)]
mod bank;
#[path = "../../examples/bank/read_model.rs"]
mod read_model;
mod domain {
    pub use crate::bank::*;
}
mod any_store;
mod bank_scenarios;
mod codec;
mod combination;
mod crash;
mod deadline_faults;
mod deadline_processes;
mod deadlines;
mod decision_processes;
mod decisions;
mod failover;
mod feed;
mod feed_lease;
mod hot_aggregate;
mod hygiene;
mod idempotent;
mod layout;
mod memory_store;
mod names;
mod outages;
mod personal_codec;
mod reactions;
mod reactor_crash;
mod read_side;
mod rebuild_beside;
mod repository;
mod reseal;
mod second_domain;
mod service;
mod shredding;
mod stores;
mod tamper;
mod upcasting;
