//! GDAL's error handler. GDAL reports notices and failures through a callback, not only through
//! the call that met them: a driver can stop early with a warning (a CSV line longer than its
//! limit) or say why a call failed only there (SQLite's "database or disk is full"). The
//! handler sends every message to the log and remembers the warnings and failures of the
//! calling thread, so the reader or writer that made the call can `take` them and fail with
//! what GDAL said instead of publishing a short result or an error code.

use std::cell::RefCell;
use std::sync::Once;

use gdal::errors::CplErrType;

thread_local! {
    /// Warnings and failures GDAL raised on this thread since the last [`take`].
    static RAISED: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
    /// Set by [`isolated`]: its probe's messages are answers, not news for the log.
    static QUIET: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// At most this many messages are kept per thread between two [`take`]s.
const KEPT: usize = 32;

/// Installs the handler (once per process; later calls do nothing).
pub fn install() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        gdal::config::set_error_handler(|class, number, message| match class {
            CplErrType::Warning | CplErrType::Failure | CplErrType::Fatal => {
                if QUIET.with(|q| q.get()) {
                    tracing::debug!(gdal_error = number, "GDAL: {message}");
                } else {
                    tracing::warn!(gdal_error = number, "GDAL: {message}");
                }
                RAISED.with(|r| {
                    let mut r = r.borrow_mut();
                    if r.len() < KEPT {
                        r.push(message.to_string());
                    }
                });
            }
            CplErrType::None | CplErrType::Debug => {
                tracing::debug!(gdal_error = number, "GDAL: {message}")
            }
        });
    });
}

/// The warnings and failures GDAL raised on this thread since the last call, oldest first.
pub(crate) fn take() -> Vec<String> {
    RAISED.with(|r| std::mem::take(&mut *r.borrow_mut()))
}

/// Runs `f` and returns what it raised, leaving what was raised before on this thread for the
/// next [`take`]: a probe whose own failure is an answer must not hide a driver's warning,
/// nor log a warning per record (its messages go to the debug log).
pub(crate) fn isolated<T>(f: impl FnOnce() -> T) -> (T, Vec<String>) {
    let before = take();
    QUIET.with(|q| q.set(true));
    let out = f();
    QUIET.with(|q| q.set(false));
    let raised = take();
    RAISED.with(|r| *r.borrow_mut() = before);
    (out, raised)
}

/// The first of `messages` that says the disk (or the SQLite database on it) is full, clipped.
pub(crate) fn disk_full(messages: &[String]) -> Option<String> {
    messages
        .iter()
        .find(|m| {
            let m = m.to_ascii_lowercase();
            m.contains("disk is full") || m.contains("no space left")
        })
        .map(|m| clip(m))
}

/// At most 200 characters of a GDAL message (they can quote whole SQL statements or input
/// lines), marked where cut.
pub(crate) fn clip(message: &str) -> String {
    match message.char_indices().nth(200) {
        Some((i, _)) => format!("{}…", &message[..i]),
        None => message.to_string(),
    }
}
