//! The benchmark workloads: each measures the framework's real path against a baseline in the
//! same run and prints `name  value  unit  ratio_to_raw` (median of the runs), with min and max.
//!
//! `cargo bench --bench workloads` runs all; `cargo bench --bench workloads -- upcast` runs the
//! workloads whose name contains `upcast`. Set `ES_BENCH_RUNS` for more runs (default 5).

#[path = "../../examples/bank/domain.rs"]
#[allow(dead_code)]
mod bank;
mod measure;
mod upcast;

fn main() {
    let filter = std::env::args().skip(1).find(|a| !a.starts_with('-')).unwrap_or_default();
    let runs = std::env::var("ES_BENCH_RUNS").ok().and_then(|r| r.parse().ok()).unwrap_or(5);
    println!(
        "{:<22} {:>14} {:<10} {:>12}   (median of {runs} runs; min..max)",
        "name", "value", "unit", "ratio_to_raw"
    );
    let workloads: [(&str, fn(usize)); 1] = [("W8 upcast_decode", upcast::run)];
    for (name, run) in workloads {
        if name.contains(&filter) {
            run(runs);
        }
    }
}
