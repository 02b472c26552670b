//! Streaming point inputs: millions of facility points (CCTV, sensors, smart poles) read in
//! chunks, reprojected and located in parallel, and folded straight into per-region totals, so
//! memory does not grow with the input.
//!
//! A streamed input (`stream = true`, the default for GeoParquet) differs from a materialised one
//! in two documented ways: its records are not listed one by one in the `assignments` table (the
//! per-region totals are), and record ids are not checked for duplicates (that needs memory per
//! row). Rejects are listed up to [`LISTED_REJECTS`] per input; beyond that they are counted and
//! summed by reason in `run.json` and in the totals, so every won is still accounted for.
//!
//! Readers: GeoParquet with the `parquet` crate (WKB points or x/y columns; Debian's GDAL 3.6 has
//! no Parquet driver), CSV with the `csv` crate (UTF-8 or CP949), and every other vector format
//! through GDAL (FlatGeobuf, GeoPackage, Shapefile, ...).
//!
//! One thread reads and reprojects chunks (PROJ in parallel, one transformation per worker
//! thread); the caller's thread locates each chunk in parallel and folds it. A bounded channel of
//! two chunks keeps memory flat whichever side is slower.

mod csv;
mod fold;
mod grids;
mod locate;
mod ogr;
mod parquet;
mod plain;
mod rows;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use self::csv::{csv_open, produce_csv};
use self::fold::{Fold, Located};
pub use self::grids::GridCache;
use self::grids::source_grids;
use self::ogr::produce_gdal;
use self::parquet::{parquet_field_names, produce_parquet};
use self::rows::{Chunk, Msg, Rows};
use crate::aggregate::RegionTotals;
use crate::config::{InputSpec, Period};
use crate::error::Error;
use crate::locate::{Locator, SourceGrid};
use crate::model::{Reject, RejectReason};
use crate::progress::Progress;
use crate::read::{InputFile, encoding::Encoding};

/// Rows per chunk: large enough to amortise PROJ and rayon, small enough to keep memory flat.
pub const CHUNK_ROWS: usize = 65_536;

/// A program id not yet known (see `Rows::program_memo`).
const UNSEEN: u32 = u32::MAX - 1;
/// Rejects listed with their row per streamed input; the rest are counted by reason.
pub const LISTED_REJECTS: usize = 10_000;
const NO_PROGRAM: u32 = u32::MAX;
const NO_PERIOD: u16 = u16::MAX;
const MISS: u32 = u32::MAX;
const UNSETTLED: u32 = u32::MAX - 1;
/// Settled by the grids as outside every region of every level.
const OUT_ALL: u32 = u32::MAX - 2;

/// What one streamed input gave.
#[derive(Debug, Default)]
pub struct Streamed {
    pub file: InputFile,
    /// Totals of every region a point landed in: (index of the level in `Boundaries::levels`,
    /// index of the region in that level, totals of the points located there).
    pub located: Vec<(usize, usize, RegionTotals)>,
    pub assigned_count: u64,
    pub assigned_krw: i128,
    /// Every readable amount: assigned plus rejected (listed or not).
    pub read_krw: i128,
    /// The first [`LISTED_REJECTS`] rejects, with rows.
    pub rejects: Vec<Reject>,
    /// Rejects beyond the listed ones: count and amount by reason.
    pub unlisted: BTreeMap<RejectReason, (u64, i128)>,
    /// Distinct programme ids seen.
    pub programs: Vec<String>,
    pub profile: StreamProfile,
}

impl Streamed {
    /// The totals the aggregation adds to the materialised records'.
    pub fn folded(&self) -> crate::aggregate::Folded<'_> {
        crate::aggregate::Folded {
            located: &self.located,
            assigned_count: self.assigned_count,
            assigned_krw: self.assigned_krw,
            programs: &self.programs,
        }
    }
}

/// Wall and thread times of a streamed input, in milliseconds. The reader thread and the
/// locating run side by side; settle, reproject and exact are summed over the chunks (each on
/// rayon's threads), fold is the folder thread's.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct StreamProfile {
    pub rows: u64,
    ms: u64,
    /// The reader thread, from opening the input to its last chunk.
    read_ms: u64,
    /// The locating thread, from the CRS to the last chunk (waits for the reader included).
    locate_ms: u64,
    /// Points not settled by a source-CRS grid: reprojected and tested exactly.
    pub reprojected: u64,
    /// Rows the GeoParquet reader took in plain runs (`stream::plain`); the others went
    /// through the general per-row path.
    pub plain_rows: u64,
    settle_ms: u64,
    reproject_ms: u64,
    exact_ms: u64,
    fold_ms: u64,
}

/// The locators of the levels points are placed in: finest first, then coarser ones, which
/// catch points in gaps of the finer partition (held at that level). Each entry is the index of
/// the level in `Boundaries::levels` and its locator.
pub type Locators<'a> = [(usize, Locator<'a>)];

/// Column names of a file read by a streaming reader (CSV or GeoParquet), clipped as
/// [`crate::read::header_names`] clips them; `None` for other formats, which GDAL reads.
pub fn field_names(
    path: &Path,
    enc: Encoding,
    header_row: usize,
) -> Option<Result<Vec<String>, crate::config::HeaderError>> {
    let names = match Format::of(path) {
        Format::Parquet => parquet_field_names(path).map_err(Into::into),
        Format::Csv(delim) => csv_open(path, enc, header_row, delim, false)
            .map(|(_, _, names)| names)
            .map_err(Into::into),
        Format::Gdal => return None,
    };
    Some(names.map(crate::read::header_names))
}

#[derive(Clone, Copy)]
enum Format {
    Parquet,
    Csv(u8),
    Gdal,
}

impl Format {
    fn of(path: &Path) -> Format {
        let ext = path
            .extension()
            .map(|e| e.to_string_lossy().to_ascii_lowercase())
            .unwrap_or_default();
        match ext.as_str() {
            e if crate::config::PARQUET_EXTENSIONS.contains(&e) => Format::Parquet,
            "csv" | "txt" => Format::Csv(b','),
            "tsv" => Format::Csv(b'\t'),
            _ => Format::Gdal,
        }
    }
}

/// Reads, locates and folds one streamed input.
///
/// # Errors
/// A file that cannot be opened or decoded, a configured column missing or of an unusable
/// type, or a CRS PROJ cannot use. Bad rows are rejects, not errors.
pub fn run(
    index: usize,
    spec: &InputSpec,
    periods: &[Period],
    locators: &Locators<'_>,
    cache: Option<&GridCache>,
) -> Result<Streamed, Error> {
    let started = Instant::now();
    let (tx, rx) = mpsc::sync_channel::<Msg>(2);
    let progress = Progress::new(&spec.name);
    let fold = Fold::new(locators);
    let out = Streamed::default();
    let mut locate_time = Duration::ZERO;
    let (produced, fold, mut out) = std::thread::scope(|s| {
        let producer = s.spawn(move || {
            let mut rows = Rows::new(index, spec, periods, tx);
            let result = match Format::of(&spec.path) {
                Format::Parquet => produce_parquet(&mut rows),
                Format::Csv(delim) => produce_csv(&mut rows, delim),
                Format::Gdal => produce_gdal(&mut rows),
            };
            result.and_then(|()| rows.finish())
        });
        let mut crs = String::new();
        let mut grids: Vec<SourceGrid> = Vec::new();
        let mut failed = None;
        // Chunks are folded on a thread of their own (in order), so that the sequential fold
        // of one chunk runs while the next is located in parallel.
        let (fold_tx, fold_rx) = mpsc::sync_channel::<(Box<Chunk>, Located, String)>(1);
        let folder = s.spawn(move || {
            let (mut fold, mut out) = (fold, out);
            for (chunk, located, crs) in fold_rx {
                if let Err(m) = fold.fold(index, &chunk, located, &crs, &mut out) {
                    return (fold, out, Some(format!("CRS {crs}: {m}")));
                }
            }
            (fold, out, None)
        });
        for msg in rx {
            let t = Instant::now();
            let done = match msg {
                Msg::Crs(c) => {
                    crs = c;
                    // Most points are placed in their own CRS, without PROJ or exact tests.
                    source_grids(locators, &crs, cache)
                        .map(|g| grids = g)
                        .map_err(|e| e.to_string())
                }
                Msg::Chunk(chunk) => {
                    Fold::locate(&chunk, &crs, &grids, locators)
                        .map_err(|e| e.to_string())
                        .and_then(|located| {
                            progress.tick(chunk.last_row);
                            // Fails only when the folder stopped on an error, reported below.
                            fold_tx
                                .send((chunk, located, crs.clone()))
                                .map_err(|_| "folding stopped".to_string())
                        })
                }
            };
            locate_time += t.elapsed();
            if let Err(m) = done {
                // Dropping the receiver stops the reader.
                failed = Some(format!("CRS {crs}: {m}"));
                break;
            }
        }
        drop(fold_tx);
        let (fold, out, fold_failed) = folder.join().unwrap_or_else(|_| {
            (
                Fold::new(locators),
                Streamed::default(),
                Some("the fold panicked".into()),
            )
        });
        // The folder's own error first: a locating error of "folding stopped" follows it.
        let failed = fold_failed.or(failed).map(|m| Error::Read {
            path: spec.path.clone(),
            layer: spec.layer.clone().unwrap_or_default(),
            message: m,
        });
        let produced = producer.join().unwrap_or_else(|_| {
            Err(Error::Invariant(format!(
                "the reader of input `{}` panicked",
                spec.name
            )))
        });
        let produced = match failed {
            Some(e) => Err(e),
            None => produced,
        };
        (produced, fold, out)
    });
    progress.done();
    let end = produced?;
    out.programs = end.programs.clone();
    let unsettled = fold.unsettled;
    let [settle_t, reproject_t, exact_t, fold_t] = fold.times.map(|d| d.as_millis() as u64);
    out.located = fold.finish(locators, &end.programs, periods);
    out.file = InputFile {
        path: spec.path.clone(),
        // The bytes read (see `read::watch`).
        sha256: end.sha256.clone(),
        rows: end.rows,
        skipped_rows: end.skipped,
        encoding: end.encoding,
        warnings: end.warnings,
        repaired_rows: Vec::new(),
    };
    for w in &out.file.warnings {
        tracing::warn!(input = %spec.name, "{w}");
    }
    let ms = started.elapsed().as_millis().max(1) as u64;
    out.profile = StreamProfile {
        rows: end.rows,
        ms,
        read_ms: end.read_time.as_millis() as u64,
        locate_ms: locate_time.as_millis() as u64,
        reprojected: unsettled,
        plain_rows: end.plain,
        settle_ms: settle_t,
        reproject_ms: reproject_t,
        exact_ms: exact_t,
        fold_ms: fold_t,
    };
    let p = &out.profile;
    tracing::info!(
        input = %spec.name,
        rows = p.rows,
        assigned = out.assigned_count,
        rejected = out.rejects.len() as u64 + out.unlisted.values().map(|v| v.0).sum::<u64>(),
        ms,
        rows_per_s = p.rows * 1000 / ms,
        read_ms = p.read_ms,
        locate_ms = p.locate_ms,
        reprojected = p.reprojected,
        settle_ms = p.settle_ms,
        reproject_ms = p.reproject_ms,
        exact_ms = p.exact_ms,
        fold_ms = p.fold_ms,
        "streamed"
    );
    Ok(out)
}
