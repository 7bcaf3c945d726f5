//! The benchmark workloads: each measures the framework's real path against a hand-written
//! baseline in the same run and prints `name  value  unit  ratio_to_raw` (median of the runs),
//! with min and max.
//!
//! `cargo bench --bench workloads` runs all; `cargo bench --bench workloads -- W2` runs the
//! workloads whose name contains `W2`. `ES_BENCH_RUNS` sets the runs (default 3);
//! `ES_POSTGRES_URL` the server (default the local one). `cargo bench --bench workloads --
//! jetstream` runs W2-W4 on NATS JetStream (one server and a 3-node cluster started by the run)
//! beside PostgreSQL.

#[path = "../../examples/bank/domain.rs"]
#[allow(dead_code)]
mod bank;
#[path = "../../examples/bank/contract.rs"]
mod contract;
#[path = "../../examples/bank/read_model.rs"]
mod read_model;
#[path = "../../examples/bank/review.rs"]
mod review;
mod domain {
    pub use crate::bank::*;
}
mod catch_up;
mod compile;
mod decisions;
mod integrity;
mod jetstream;
mod measure;
mod memory;
mod raw;
mod reactor;
mod relay;
mod sql;
mod upcast;

/// A workload: its name and how to run it a number of times.
type Workload = (&'static str, fn(usize));

const WORKLOADS: &[Workload] = &[
    ("W1 rehydrate_mem", memory::rehydrate),
    ("W1 peak_rss", memory::peak_rss),
    ("W2 append_pg_seq", sql::append_pg_seq),
    ("W3 append_pg_conc", sql::append_pg_conc),
    ("W4 rehydrate_pg", sql::rehydrate_pg),
    ("W5 contention_pg", sql::contention_pg),
    ("W6 append_sqlite_seq", sql::append_sqlite_seq),
    ("W7 rehydrate_sqlite", sql::rehydrate_sqlite),
    ("W8 upcast_decode", upcast::run),
    ("W9 catch_up_pg", catch_up::run),
    ("W10 compile_50_events", compile::run),
    ("W11 reactor_pg", reactor::run),
    ("W12 verify_pg", integrity::verify_pg),
    ("W13 decode_personal", integrity::decode_personal),
    ("W14 load_verified_sqlite", integrity::load_verified),
    ("W15 relay_pg_to_nats", relay::run),
    ("W16 decisions_pg", decisions::run),
    ("W2 jetstream_seq", jetstream::seq),
    ("W3 jetstream_conc", jetstream::conc),
    ("W4 jetstream_load", jetstream::load),
];

fn main() {
    if memory::child_mode() {
        return;
    }
    let filter = std::env::args().skip(1).find(|a| !a.starts_with('-')).unwrap_or_default();
    let runs = std::env::var("ES_BENCH_RUNS").ok().and_then(|r| r.parse().ok()).unwrap_or(3);
    println!(
        "{:<22} {:>14} {:<10} {:>12}   (median of {runs} runs: min..max; raw median: min..max)",
        "name", "value", "unit", "ratio_to_raw"
    );
    for (name, run) in WORKLOADS {
        if name.contains(&filter) {
            run(runs);
        }
    }
}
