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
//! One thread reads chunks; rayon's threads locate them side by side, a whole chunk each (PROJ
//! with one transformation per thread), and a folder thread folds them in order. A bounded
//! channel and a few tokens keep memory flat whichever side is slower.

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
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
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
use crate::locate::Locator;
use crate::model::{Reject, RejectReason};
use crate::progress::Progress;
use crate::read::{InputFile, encoding::Encoding};

/// A located chunk handed to the folder, with the CRS of its coordinates.
type Handed = (Box<Chunk>, Located, String);

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

/// Wall and thread times of a streamed input, in milliseconds. The reader thread, the
/// locating tasks and the folder run side by side; locate, settle, reproject and exact are
/// summed over the chunks (located side by side on rayon's threads), fold is the folder
/// thread's.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct StreamProfile {
    pub rows: u64,
    ms: u64,
    /// The reader thread, from opening the input to its last chunk.
    read_ms: u64,
    /// Locating the chunks (settle, reproject and exact), summed over them.
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

/// What the folder thread gives back: the sums, the totals so far, and the message of the error
/// that stopped it, if one did.
type FoldOutcome = (Fold, Streamed, Option<String>);

/// A chunk's sequence number and its location (or why it could not be located), sent to the
/// folder.
type Handing = (u64, Result<Handed, String>);

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
    let locate_nanos = AtomicU64::new(0);
    let (produced, fold, out) = std::thread::scope(|s| {
        let producer = s.spawn(move || {
            let mut rows = Rows::new(index, spec, periods, tx);
            let result = match Format::of(&spec.path) {
                Format::Parquet => produce_parquet(&mut rows),
                Format::Csv(delim) => produce_csv(&mut rows, delim),
                Format::Gdal => produce_gdal(&mut rows),
            };
            result.and_then(|()| rows.finish())
        });
        // Chunks are located side by side, one whole chunk per rayon task, and folded in
        // order on a thread of their own. A token is taken for each chunk handed to a task and
        // given back once the chunk is folded, so the chunks between the reader and the fold
        // stay few whichever side is slower.
        let in_flight = rayon::current_num_threads() + 1;
        let (fold_tx, fold_rx) = mpsc::channel::<Handing>();
        let (token_tx, token_rx) = mpsc::sync_channel::<()>(in_flight);
        for _ in 0..in_flight {
            let _ = token_tx.send(());
        }
        let (fold, progress) = (Fold::new(locators), Progress::new(&spec.name));
        let folder = s.spawn(move || fold_in_order(index, fold, fold_rx, &token_tx, &progress));
        // Returning drops the reader's receiver, which stops the reader, and the folder's
        // sender, which ends its loop.
        let failed = locate_chunks(rx, locators, cache, &token_rx, fold_tx, &locate_nanos).err();
        let (fold, out, fold_failed) = folder.join().unwrap_or_else(|_| {
            (
                Fold::new(locators),
                Streamed::default(),
                Some("the fold panicked".into()),
            )
        });
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
    let locate_time = Duration::from_nanos(locate_nanos.into_inner());
    Ok(finish(
        spec,
        periods,
        locators,
        produced?,
        fold,
        out,
        [started.elapsed(), locate_time],
    ))
}

/// The folder thread: folds the located chunks in reading order (those located out of turn
/// wait for the ones before them) and gives a token back for each.
fn fold_in_order(
    index: usize,
    mut fold: Fold,
    handed: mpsc::Receiver<Handing>,
    tokens: &mpsc::SyncSender<()>,
    progress: &Progress,
) -> FoldOutcome {
    let mut out = Streamed::default();
    let mut waiting = BTreeMap::new();
    let mut next = 0;
    for (seq, h) in handed {
        waiting.insert(seq, h);
        while let Some(h) = waiting.remove(&next) {
            next += 1;
            let (chunk, located, crs) = match h {
                Ok(h) => h,
                Err(m) => return (fold, out, Some(m)),
            };
            progress.tick(chunk.last_row);
            if let Err(m) = fold.fold(index, &chunk, located, &crs, &mut out) {
                return (fold, out, Some(format!("CRS {crs}: {m}")));
            }
            // Fails only when the reading has stopped.
            let _ = tokens.send(());
        }
    }
    progress.done();
    (fold, out, None)
}

/// Loads the grids of the CRS the reader sends first (most points are placed in their own CRS,
/// without PROJ or exact tests), then hands each chunk to a rayon task once a token is free,
/// until the reader is done or a chunk could not be located.
fn locate_chunks(
    rx: mpsc::Receiver<Msg>,
    locators: &Locators<'_>,
    cache: Option<&GridCache>,
    tokens: &mpsc::Receiver<()>,
    fold_tx: mpsc::Sender<Handing>,
    nanos: &AtomicU64,
) -> Result<(), String> {
    let mut rx = rx.into_iter();
    let crs = match rx.next() {
        Some(Msg::Crs(crs)) => crs,
        Some(Msg::Chunk(_)) => return Err("the reader sent a chunk before its CRS".to_string()),
        None => return Ok(()),
    };
    let grids = source_grids(locators, &crs, cache).map_err(|e| format!("CRS {crs}: {e}"))?;
    let (crs, grids) = (crs.as_str(), grids.as_slice());
    let stop = AtomicBool::new(false);
    let stop = &stop;
    rayon::in_place_scope(|tasks| {
        for msg in rx.by_ref() {
            if stop.load(Ordering::Relaxed) || tokens.recv().is_err() {
                break;
            }
            let Msg::Chunk(chunk) = msg else { continue };
            let fold_tx = fold_tx.clone();
            tasks.spawn(move |_| {
                let t = Instant::now();
                let located = Fold::locate(&chunk, crs, grids, locators)
                    .map_err(|e| format!("CRS {crs}: {e}"));
                nanos.fetch_add(t.elapsed().as_nanos() as u64, Ordering::Relaxed);
                let seq = chunk.seq;
                let failed = located.is_err();
                let handed = located.map(|l| (chunk, l, crs.to_string()));
                // The folder stopped on an error of its own, reported by the caller.
                if fold_tx.send((seq, handed)).is_err() || failed {
                    stop.store(true, Ordering::Relaxed);
                }
            });
        }
    });
    Ok(())
}

/// The streamed input's totals, file record and profile once every chunk is folded;
/// `[elapsed, located]` are the input's wall time and the locating tasks' summed time.
fn finish(
    spec: &InputSpec,
    periods: &[Period],
    locators: &Locators<'_>,
    end: rows::End,
    fold: Fold,
    mut out: Streamed,
    [elapsed, located]: [Duration; 2],
) -> Streamed {
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
    let ms = elapsed.as_millis().max(1) as u64;
    out.profile = StreamProfile {
        rows: end.rows,
        ms,
        read_ms: end.read_time.as_millis() as u64,
        locate_ms: located.as_millis() as u64,
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
    out
}
