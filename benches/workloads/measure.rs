//! Timing: run a workload and its baseline alternately, report medians with min and max.

use std::future::Future;
use std::time::{Duration, Instant};

/// Times `f` once.
pub fn time<T>(f: impl FnOnce() -> T) -> (Duration, T) {
    let start = Instant::now();
    let out = f();
    (start.elapsed(), out)
}

/// Times an async block once.
pub async fn time_async<T>(f: impl Future<Output = T>) -> (Duration, T) {
    let start = Instant::now();
    let out = f.await;
    (start.elapsed(), out)
}

/// A runtime for the async workloads.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime")
}

/// Median, min and max of some samples.
#[derive(Clone, Copy)]
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

impl Stats {
    /// The same figures divided by `d` (units).
    pub fn scaled(self, d: f64) -> Stats {
        Stats { median: self.median / d, min: self.min / d, max: self.max / d }
    }
}

/// Prints one table row: the framework's median and its ratio to the baseline's median.
/// `higher_is_better` says whether `value` is a rate (ratio = value / raw) or a cost (raw / value).
pub fn row(name: &str, unit: &str, framework: Stats, raw: Option<Stats>, higher_is_better: bool) {
    let (ratio, raw_text) = match raw {
        Some(raw) => {
            let ratio =
                if higher_is_better { framework.median / raw.median } else { raw.median / framework.median };
            (format!("{ratio:.3}"), format!("; raw {:.1}: {:.1}..{:.1}", raw.median, raw.min, raw.max))
        }
        None => ("-".to_owned(), String::new()),
    };
    println!(
        "{name:<22} {:>14.1} {unit:<10} {ratio:>12}   ({:.1}..{:.1}{raw_text})",
        framework.median, framework.min, framework.max
    );
}
