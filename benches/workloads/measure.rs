//! Timing: run a workload and its baseline alternately, report medians with min and max.

use std::time::{Duration, Instant};

/// Times `f` once.
pub fn time<T>(f: impl FnOnce() -> T) -> (Duration, T) {
    let start = Instant::now();
    let out = f();
    (start.elapsed(), out)
}

/// Median, min and max of some samples.
pub struct Stats {
    pub median: f64,
    pub min: f64,
    pub max: f64,
}

pub fn stats(mut samples: Vec<f64>) -> Stats {
    samples.sort_by(f64::total_cmp);
    let n = samples.len();
    let median = if n % 2 == 1 { samples[n / 2] } else { (samples[n / 2 - 1] + samples[n / 2]) / 2.0 };
    Stats { median, min: samples[0], max: samples[n - 1] }
}

/// Prints one table row: the framework's median and its ratio to the baseline's median.
/// `higher_is_better` says whether `value` is a rate (ratio = value / raw) or a time (raw / value).
pub fn row(name: &str, unit: &str, framework: &Stats, raw: &Stats, higher_is_better: bool) {
    let ratio = if higher_is_better { framework.median / raw.median } else { raw.median / framework.median };
    println!(
        "{name:<22} {:>14.1} {unit:<10} {ratio:>12.3}   ({:.1}..{:.1}; raw {:.1} {unit}, {:.1}..{:.1})",
        framework.median, framework.min, framework.max, raw.median, raw.min, raw.max
    );
}
