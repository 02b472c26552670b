//! The library's error type. Bad records are not errors (they become rejects); these are the
//! faults that stop a run, each naming what a person needs to find it.

use std::path::PathBuf;

use miette::Diagnostic;
use thiserror::Error;

use crate::config::ConfigError;

#[derive(Debug, Error, Diagnostic)]
pub enum Error {
    #[error(transparent)]
    #[diagnostic(transparent)]
    Config(Box<ConfigError>),

    #[error("cannot open {}: {message}", path.display())]
    #[diagnostic(
        code(smartgap::open),
        help(
            "check that the file exists and is a vector format GDAL reads (GPKG, SHP, GeoJSON, CSV, XLSX)"
        )
    )]
    Open { path: PathBuf, message: String },

    #[error("{}, layer `{layer}`: {message}", path.display())]
    #[diagnostic(code(smartgap::read))]
    Read {
        path: PathBuf,
        layer: String,
        message: String,
    },

    #[error("{}, layer `{layer}`, feature {feature}: {message}", path.display())]
    #[diagnostic(code(smartgap::boundaries))]
    Boundary {
        path: PathBuf,
        layer: String,
        feature: u64,
        message: String,
    },

    #[error("writing {}: {message}", path.display())]
    #[diagnostic(code(smartgap::write))]
    Write { path: PathBuf, message: String },

    #[error(
        "{rejected} of {total} records rejected ({share:.2} %), above max_reject_share {max:.2} %"
    )]
    #[diagnostic(
        code(smartgap::rejects),
        help("open the `rejects` layer of the staged outputs in {} to see each reason; outputs were not published", staging.display())
    )]
    TooManyRejects {
        rejected: u64,
        total: u64,
        share: f64,
        max: f64,
        staging: PathBuf,
    },

    #[error("another smartgap run holds the lock {}{holder}", path.display())]
    #[diagnostic(
        code(smartgap::locked),
        help("wait for it to finish; the lock is released when that process exits")
    )]
    Locked { path: PathBuf, holder: String },

    #[error("PostGIS publish to {host} failed at step {step}: {message}")]
    #[diagnostic(
        code(smartgap::postgis),
        help(
            "the files were published; the database keeps the previous night's schema and the next run retries (run again, no --force needed)"
        )
    )]
    Postgis {
        host: String,
        step: &'static str,
        message: String,
    },

    #[error("{0}")]
    #[diagnostic(
        code(smartgap::data_limit),
        help(
            "a figure is beyond what the outputs can hold (64-bit integers, ±9.2 × 10¹⁸ KRW); check the input amounts and their unit"
        )
    )]
    DataLimit(String),

    #[error("internal invariant broken, this is a bug in smartgap: {0}")]
    #[diagnostic(
        code(smartgap::invariant),
        help("please report it with out/run.json of the previous run and the inputs")
    )]
    Invariant(String),
}

/// An I/O error as a message, saying "disk full" first when the disk is full (ENOSPC) or the
/// file too large for the process's limit (EFBIG), so the operator sees the cause at once.
pub(crate) fn io_message(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::StorageFull | std::io::ErrorKind::FileTooLarge => {
            format!("disk full: {e}")
        }
        _ => e.to_string(),
    }
}

impl Error {
    /// [`Error::Write`] of `path` from an I/O error (see [`io_message`]).
    pub(crate) fn write_io(path: &std::path::Path, e: &std::io::Error) -> Error {
        Error::Write {
            path: path.to_path_buf(),
            message: io_message(e),
        }
    }

    /// The process exit code: 2 for configuration and usage problems, 1 for a failed run.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Config(_) => 2,
            _ => 1,
        }
    }
}

impl From<Box<ConfigError>> for Error {
    fn from(e: Box<ConfigError>) -> Error {
        Error::Config(e)
    }
}
