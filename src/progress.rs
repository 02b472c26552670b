//! Progress and timing helpers for the stage log: a throttled progress line on a terminal,
//! throughput, and the process's peak memory. The bottom of the module graph: it uses nothing
//! of the crate.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

/// The named points of a run, in order, where `checkpoint` can hold the process.
pub const CHECKPOINTS: [&str; 13] = [
    "read.first_chunk",
    "read",
    "assign",
    "aggregate",
    "indicators",
    "write",
    "report",
    "publish.synced",
    "publish.renamed",
    "publish.swapped",
    "publish.linked",
    "postgis.loaded",
    "postgis.swapping",
];

/// A named point of a run (one of [`CHECKPOINTS`]). With `SMARTGAP_PAUSE_AT=<name>` in the
/// environment the process prints `smartgap: paused at <name>` on standard error and waits
/// there until it is killed, so a test can stop a run at an exact moment (the nightly tests
/// SIGKILL it at every point) instead of at a timed one. With `SMARTGAP_PAUSE_UNTIL=stdin` as
/// well, it waits instead for a line on standard input (or its end) and then goes on, so a
/// test can act on the paused run and see what the run makes of it (rewrite an input mid-read
/// at `read.first_chunk`, which every input passes once: after its first chunk when streamed,
/// its first row when materialised). Without the variables it costs one environment lookup.
pub(crate) fn checkpoint(name: &str) {
    debug_assert!(CHECKPOINTS.contains(&name), "unknown checkpoint {name}");
    if std::env::var_os("SMARTGAP_PAUSE_AT").is_some_and(|v| v == name) {
        let _ = writeln!(std::io::stderr(), "smartgap: paused at {name}");
        if std::env::var_os("SMARTGAP_PAUSE_UNTIL").is_some_and(|v| v == "stdin") {
            let _ = std::io::stdin().read_line(&mut String::new());
            return;
        }
        loop {
            std::thread::park();
        }
    }
}

/// The process's peak resident set so far (Linux `VmHWM`), for the stage log.
pub(crate) fn peak_rss_mib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb / 1024)
}

/// CPU time the calling thread has run, in milliseconds (`/proc/thread-self/schedstat`; 0
/// where that is not readable). For debug lines: on a shared machine a thread's wall time
/// says little, its CPU time what it cost.
pub(crate) fn thread_cpu_ms() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .map_or(0, |ns| ns / 1_000_000)
}

/// Throughput for the stage log lines: rows per second over `ms` milliseconds.
pub(crate) fn per_second(rows: usize, ms: u64) -> u64 {
    (rows as u64 * 1000)
        .checked_div(ms)
        .unwrap_or(rows as u64 * 1000)
}

/// A progress line on standard error, redrawn at most four times a second, only when it is a
/// terminal.
pub(crate) struct Progress {
    name: String,
    on: bool,
    started: Instant,
    last: std::cell::Cell<Instant>,
}

impl Progress {
    pub(crate) fn new(name: &str) -> Progress {
        let now = Instant::now();
        Progress {
            name: name.to_string(),
            on: std::io::stderr().is_terminal(),
            started: now,
            last: std::cell::Cell::new(now),
        }
    }

    /// Whether a line is due (on a terminal, a quarter second after the last), marking it drawn.
    fn due(&self) -> bool {
        if !self.on || self.last.get().elapsed() < Duration::from_millis(250) {
            return false;
        }
        self.last.set(Instant::now());
        true
    }

    pub(crate) fn tick(&self, rows: u64) {
        if !self.due() {
            return;
        }
        let s = self.started.elapsed().as_secs_f64().max(1e-3);
        let _ = write!(
            std::io::stderr(),
            "\r{}: {:.1} M rows, {:.2} M rows/s   ",
            self.name,
            rows as f64 / 1e6,
            rows as f64 / 1e6 / s
        );
    }

    /// `done` of `total` items.
    pub(crate) fn tick_of(&self, done: usize, total: usize, what: &str) {
        if !self.due() {
            return;
        }
        let _ = write!(
            std::io::stderr(),
            "\r{}: {done} of {total} {what} ({:.0} %)   ",
            self.name,
            100.0 * done as f64 / total.max(1) as f64
        );
    }

    pub(crate) fn done(&self) {
        if self.on && self.started.elapsed() >= Duration::from_millis(250) {
            let _ = writeln!(std::io::stderr());
        }
    }
}
