//! Cross-crate behaviour tests, one binary for every area to keep link times down.

#[path = "../../examples/bank/domain.rs"]
#[allow(dead_code)]
mod bank;
mod bank_scenarios;
mod codec;
mod crash;
mod hygiene;
mod memory_store;
mod read_side;
mod repository;
mod second_domain;
mod upcasting;
