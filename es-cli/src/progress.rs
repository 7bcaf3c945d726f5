//! Progress of long commands: a bar with rate and ETA on a terminal, plain lines otherwise.

use std::io::Write;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};

/// Progress towards about `total` events.
pub struct Progress {
    what: &'static str,
    total: u64,
    bar: Option<ProgressBar>,
    started: Instant,
    /// The next tenth to print a plain line at.
    next_tenth: u64,
}

impl Progress {
    /// A bar on stderr when `interactive`, else plain lines to the output at each tenth.
    pub fn new(what: &'static str, total: u64, interactive: bool) -> Self {
        let bar = interactive.then(|| {
            let bar = ProgressBar::new(total);
            let style =
                ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} events, {per_sec}, ETA {eta}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar());
            bar.set_style(style);
            bar.set_message(what);
            bar
        });
        Progress { what, total, bar, started: Instant::now(), next_tenth: 1 }
    }

    /// `done` events so far.
    pub fn at(&mut self, done: u64, out: &mut dyn Write) {
        if let Some(bar) = &self.bar {
            bar.set_position(done);
            return;
        }
        if self.total == 0 || self.next_tenth > 10 || done * 10 < self.total * self.next_tenth {
            return;
        }
        let percent = (done * 100 / self.total).min(100);
        let _ = writeln!(
            out,
            "{}: {done} of about {} events ({percent}%), {:.0} events/s",
            self.what,
            self.total,
            self.rate(done)
        );
        self.next_tenth = percent / 10 + 1;
    }

    /// Done, after `done` events.
    pub fn finish(self, done: u64, out: &mut dyn Write) {
        match self.bar {
            Some(bar) => bar.finish_and_clear(),
            None => {
                let _ = writeln!(
                    out,
                    "{}: done, {done} events in {:.1} s",
                    self.what,
                    self.started.elapsed().as_secs_f64()
                );
            }
        }
    }

    fn rate(&self, done: u64) -> f64 {
        done as f64 / self.started.elapsed().as_secs_f64().max(1e-6)
    }
}
