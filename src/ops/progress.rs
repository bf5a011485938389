//! Progress of long command-line work (`demo generate`, a large `import`, long reports): a bar
//! with rate and time left (indicatif) when stderr is a terminal, plain periodic lines otherwise
//! (every 2 s, and at the end), e.g. `generate: 120000/1000000 samples, 41000/s, 21 s left`.
//!
//! Service code only reports counts through the [`Progress`] trait; it never prints.

use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Receives counts from long work. Implementations must be cheap to call often.
pub trait Progress {
    /// The work has `total` units (0: unknown).
    fn start(&self, total: u64);
    /// `done` units are finished so far.
    fn set(&self, done: u64);
    /// The work is over.
    fn finish(&self);
}

/// Reports nothing (tests, server-side work).
#[derive(Debug, Default, Clone, Copy)]
pub struct NoProgress;

impl Progress for NoProgress {
    fn start(&self, _total: u64) {}
    fn set(&self, _done: u64) {}
    fn finish(&self) {}
}

/// One plain progress line: `what: done/total unit, rate/s, N s left`.
///
/// `elapsed` is the time since the start; the rate is `done / elapsed` rounded to a whole
/// number, the time left `(total − done) / rate` rounded up. Without a total (0) the line has
/// no `/total` and no time left; without a rate yet (nothing done) no rate and no time left.
pub fn plain_line(what: &str, unit: &str, done: u64, total: u64, elapsed: Duration) -> String {
    let secs = elapsed.as_secs_f64();
    let mut s = if total > 0 {
        format!("{what}: {done}/{total} {unit}")
    } else {
        format!("{what}: {done} {unit}")
    };
    if done > 0 && secs > 0.0 {
        let rate = done as f64 / secs;
        s.push_str(&format!(", {}/s", rate.round() as u64));
        if total > 0 {
            let left = total.saturating_sub(done) as f64 / rate;
            s.push_str(&format!(", {} s left", left.ceil() as u64));
        }
    }
    s
}

struct PlainState {
    started: Instant,
    last: Option<Instant>,
    total: u64,
    done: u64,
}

/// Plain periodic lines on stderr (for logs and pipes).
pub struct PlainLines {
    what: String,
    unit: String,
    every: Duration,
    state: Mutex<PlainState>,
}

impl PlainLines {
    /// Lines headed `what`, counting `unit`, at most one per `every`.
    pub fn new(what: &str, unit: &str, every: Duration) -> Self {
        PlainLines {
            what: what.into(),
            unit: unit.into(),
            every,
            state: Mutex::new(PlainState {
                started: Instant::now(),
                last: None,
                total: 0,
                done: 0,
            }),
        }
    }

    fn emit(&self, st: &PlainState) {
        let line = plain_line(
            &self.what,
            &self.unit,
            st.done,
            st.total,
            st.started.elapsed(),
        );
        let _ = writeln!(std::io::stderr(), "{line}");
    }
}

impl Progress for PlainLines {
    fn start(&self, total: u64) {
        if let Ok(mut st) = self.state.lock() {
            st.started = Instant::now();
            st.last = Some(st.started);
            st.total = total;
            st.done = 0;
        }
    }

    fn set(&self, done: u64) {
        if let Ok(mut st) = self.state.lock() {
            st.done = done;
            let now = Instant::now();
            if st.last.is_none_or(|l| now.duration_since(l) >= self.every) {
                st.last = Some(now);
                self.emit(&st);
            }
        }
    }

    fn finish(&self) {
        if let Ok(st) = self.state.lock() {
            // Only work that reported something gets a closing line.
            if st.total > 0 || st.done > 0 {
                self.emit(&st);
            }
        }
    }
}

/// A terminal progress bar with rate and time left.
pub struct Bar {
    bar: indicatif::ProgressBar,
    what: String,
    unit: String,
}

impl Progress for Bar {
    fn start(&self, total: u64) {
        self.bar.set_length(total);
        self.bar.reset();
    }

    fn set(&self, done: u64) {
        self.bar.set_position(done);
    }

    fn finish(&self) {
        if self.bar.length().unwrap_or(0) == 0 && self.bar.position() == 0 {
            self.bar.finish_and_clear();
            return;
        }
        self.bar.finish_with_message(format!(
            "{}: {} {} done",
            self.what,
            self.bar.position(),
            self.unit
        ));
    }
}

/// The progress display for `what` (e.g. "generate") counting `unit` (e.g. "samples"): a bar
/// when stderr is a terminal, plain lines every 2 s otherwise.
pub fn for_stderr(what: &str, unit: &str) -> Box<dyn Progress> {
    if std::io::stderr().is_terminal() {
        let bar = indicatif::ProgressBar::new(0);
        let style = indicatif::ProgressStyle::with_template(&format!(
            "{what} [{{elapsed_precise}}] {{wide_bar}} {{pos}}/{{len}} {unit} {{per_sec}} {{eta}} left {{msg}}"
        ))
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
        bar.set_style(style);
        Box::new(Bar {
            bar,
            what: what.into(),
            unit: unit.into(),
        })
    } else {
        Box::new(PlainLines::new(what, unit, Duration::from_secs(2)))
    }
}

/// Work whose progress cannot be counted (one long query, e.g. a report): on a terminal a
/// spinner with the elapsed time; otherwise a line `what: running, N s` every 2 s once it has
/// run 2 s (fast work prints nothing). Stops when dropped.
pub struct Spinner {
    bar: Option<indicatif::ProgressBar>,
    stop: Option<std::sync::mpsc::Sender<()>>,
    ticker: Option<std::thread::JoinHandle<()>>,
}

impl Spinner {
    /// Starts the display for `what` on stderr.
    pub fn start(what: &str) -> Spinner {
        if std::io::stderr().is_terminal() {
            let bar = indicatif::ProgressBar::new_spinner();
            if let Ok(style) =
                indicatif::ProgressStyle::with_template(&format!("{{spinner}} {what} {{elapsed}}"))
            {
                bar.set_style(style);
            }
            bar.enable_steady_tick(Duration::from_millis(200));
            return Spinner {
                bar: Some(bar),
                stop: None,
                ticker: None,
            };
        }
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let what = what.to_string();
        let ticker = std::thread::spawn(move || {
            let started = Instant::now();
            while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) =
                rx.recv_timeout(Duration::from_secs(2))
            {
                let _ = writeln!(
                    std::io::stderr(),
                    "{what}: running, {} s",
                    started.elapsed().as_secs()
                );
            }
        });
        Spinner {
            bar: None,
            stop: Some(tx),
            ticker: Some(ticker),
        }
    }
}

impl Drop for Spinner {
    fn drop(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
        drop(self.stop.take());
        if let Some(t) = self.ticker.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_line_has_count_rate_and_time_left() {
        // 120 000 of 1 000 000 in 3 s: 40 000/s; 880 000 left / 40 000 = 22 s.
        assert_eq!(
            plain_line(
                "generate",
                "samples",
                120_000,
                1_000_000,
                Duration::from_secs(3)
            ),
            "generate: 120000/1000000 samples, 40000/s, 22 s left"
        );
        // 1 000 of 3 000 rows in 0.3 s: 3 333.3/s → 3333; 2 000 / 3 333.3 = 0.6 s → 1 s.
        assert_eq!(
            plain_line("import", "rows", 1_000, 3_000, Duration::from_millis(300)),
            "import: 1000/3000 rows, 3333/s, 1 s left"
        );
    }

    #[test]
    fn plain_line_without_total_or_rate() {
        assert_eq!(
            plain_line("report", "rows", 0, 10, Duration::from_secs(1)),
            "report: 0/10 rows"
        );
        // No total: 500 in 2 s = 250/s, no time left.
        assert_eq!(
            plain_line("report", "rows", 500, 0, Duration::from_secs(2)),
            "report: 500 rows, 250/s"
        );
    }
}
