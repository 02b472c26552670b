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

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::Read;
use std::path::Path;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Float32Type, Float64Type, Int8Type, Int16Type, Int32Type, Int64Type, UInt8Type, UInt16Type,
    UInt32Type, UInt64Type,
};
use arrow_array::{
    Array, ArrayRef, BinaryArray, BinaryViewArray, LargeBinaryArray, LargeStringArray,
    PrimitiveArray, StringArray, StringViewArray,
};
use arrow_buffer::NullBuffer;
use arrow_schema::DataType;
use gdal::vector::LayerAccess;
use geo::{Coord, Point};
use rayon::prelude::*;

use crate::aggregate::RegionTotals;
use crate::config::{AmountUnit, FundingSpec, InputSpec, Locate, Period, ValueSpec};
use crate::crs::WORK_CRS;
use crate::error::Error;
use crate::locate::{Locator, Settled, SourceGrid};
use crate::model::{FundingSource, Reject, RejectReason};
use crate::progress::Progress;
use crate::read::{self, InputFile, amount, encoding::Encoding};

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
    pub ms: u64,
    /// The reader thread, from opening the input to its last chunk.
    pub read_ms: u64,
    /// The locating thread, from the CRS to the last chunk (waits for the reader included).
    pub locate_ms: u64,
    /// Points not settled by a source-CRS grid: reprojected and tested exactly.
    pub reprojected: u64,
    pub settle_ms: u64,
    pub reproject_ms: u64,
    pub exact_ms: u64,
    pub fold_ms: u64,
}

/// The locators of the levels points are placed in: finest first, then coarser ones, which
/// catch points in gaps of the finer partition (held at that level). Each entry is the index of
/// the level in `Boundaries::levels` and its locator.
pub type Locators<'a> = [(usize, Locator<'a>)];

/// Column names of a file read by a streaming reader (CSV or GeoParquet); `None` for other
/// formats, which GDAL reads.
pub fn field_names(
    path: &Path,
    enc: Encoding,
    header_row: usize,
) -> Option<Result<Vec<String>, String>> {
    match Format::of(path) {
        Format::Parquet => Some(parquet_field_names(path)),
        Format::Csv(delim) => Some(
            csv_open(path, enc, header_row, delim)
                .map(|(_, _, names)| names)
                .map_err(|e| e.to_string()),
        ),
        Format::Gdal => None,
    }
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
                    source_grids(locators, &crs, cache).map(|g| grids = g)
                }
                Msg::Chunk(chunk) => {
                    Fold::locate(&chunk, &crs, &grids, locators).and_then(|located| {
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
        // Filled in by the pipeline from the run's fingerprint, which hashes the file while
        // it streams.
        sha256: String::new(),
        rows: end.rows,
        encoding: end.encoding,
        warnings: end.warnings,
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

/// What the reader sends: the CRS of its coordinates, then chunks.
enum Msg {
    Crs(String),
    Chunk(Box<Chunk>),
}

/// Rows read but not yet located, coordinates in the input's CRS.
#[derive(Default)]
struct Chunk {
    rows: Vec<u64>,
    xy: Vec<Coord<f64>>,
    amount: Vec<i64>,
    program: Vec<u32>,
    funding: Vec<u8>,
    period: Vec<u16>,
    /// Record ids, concatenated (`id_ends[i]` ends the i-th), when the input has an id column.
    ids: String,
    id_ends: Vec<usize>,
    /// Record ids of an integer id column.
    id_ints: Vec<i64>,
    /// Rows rejected while reading, in row order.
    rejects: Vec<Reject>,
    last_row: u64,
}

impl Chunk {
    fn len(&self) -> usize {
        self.rows.len()
    }

    fn id(&self, i: usize) -> String {
        if !self.id_ints.is_empty() {
            return self.id_ints[i].to_string();
        }
        if self.id_ends.is_empty() {
            return self.rows[i].to_string();
        }
        let start = if i == 0 { 0 } else { self.id_ends[i - 1] };
        self.ids[start..self.id_ends[i]].to_string()
    }
}

/// One row's values as a reader finds them.
struct Raw<'r> {
    id: Val<'r>,
    /// `None` for a count-only input.
    amount: Option<Result<i64, BadAmount>>,
    program: Option<&'r str>,
    /// The program's index in a dictionary-encoded column, remembered per batch.
    program_key: Option<usize>,
    funding: Option<&'r str>,
    date: Val<'r>,
    xy: Result<Coord<f64>, Bad>,
}

/// A cell as read: integer columns are kept as numbers so that ids and years need no text.
#[derive(Clone, Copy)]
enum Val<'r> {
    Null,
    Text(&'r str),
    Int(i64),
}

impl<'r> Val<'r> {
    fn text(t: Option<&'r str>) -> Val<'r> {
        t.map_or(Val::Null, Val::Text)
    }

    /// Null or blank.
    fn is_empty(&self) -> bool {
        match self {
            Val::Null => true,
            Val::Text(t) => t.trim().is_empty(),
            Val::Int(_) => false,
        }
    }

    fn to_text(self) -> String {
        match self {
            Val::Null => String::new(),
            Val::Text(t) => t.trim().to_string(),
            Val::Int(n) => n.to_string(),
        }
    }
}

/// FxHash (rustc's): a multiply-rotate hash, several times faster than SipHash for the short
/// programme and date keys looked up once per row. Keys come from the input, but a collision
/// only costs time, and the maps hold a handful of distinct values.
#[derive(Default, Clone, Copy)]
struct FxHasher(u64);

impl std::hash::Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut w = [0u8; 8];
            w[..chunk.len()].copy_from_slice(chunk);
            self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(w))
                .wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
        }
    }

    fn write_u8(&mut self, i: u8) {
        self.0 = (self.0.rotate_left(5) ^ u64::from(i)).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }

    fn write_u64(&mut self, i: u64) {
        self.0 = (self.0.rotate_left(5) ^ i).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }

    fn write_i64(&mut self, i: i64) {
        self.write_u64(i as u64);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

type FxMap<K, V> = HashMap<K, V, std::hash::BuildHasherDefault<FxHasher>>;

/// Why a value is unusable, and the amount to report with it when one was read.
type Bad = (RejectReason, String);
/// An unusable amount: why, and the (negative) amount to keep with the reject when one was read.
type BadAmount = (RejectReason, String, Option<i64>);

/// What the reader thread hands back at the end.
struct End {
    rows: u64,
    programs: Vec<String>,
    encoding: Option<Encoding>,
    warnings: Vec<String>,
    read_time: Duration,
}

/// Turns raw rows into chunks: checks every value as the materialising reader does, interns
/// programme ids, and sends full chunks after reprojecting them.
struct Rows<'a> {
    index: usize,
    spec: &'a InputSpec,
    periods: &'a [Period],
    tx: mpsc::SyncSender<Msg>,
    /// The source CRS of the coordinates (set by the reader before the first row).
    crs: String,
    geographic: bool,
    programs: Vec<String>,
    program_ids: FxMap<String, u32>,
    /// Program ids of the current batch's dictionary values ([`UNSEEN`] until first met in an
    /// accepted row, so ids keep their first-seen order).
    program_memo: Vec<u32>,
    dates: FxMap<String, Option<u32>>,
    date_ints: FxMap<i64, Option<u32>>,
    date_const: Option<u32>,
    rows: u64,
    chunk: Chunk,
    encoding: Option<Encoding>,
    warnings: Vec<String>,
    /// False once the consumer has gone (it stopped on an error of its own).
    open: bool,
    started: Instant,
    crs_sent: bool,
}

impl<'a> Rows<'a> {
    fn new(
        index: usize,
        spec: &'a InputSpec,
        periods: &'a [Period],
        tx: mpsc::SyncSender<Msg>,
    ) -> Rows<'a> {
        let crs = match &spec.locate {
            Locate::Point { crs, .. } => crs.clone(),
            Locate::Geometry { crs } => crs.clone().unwrap_or_default(),
            _ => String::new(),
        };
        let mut rows = Rows {
            index,
            spec,
            periods,
            tx,
            crs: String::new(),
            geographic: false,
            programs: Vec::new(),
            program_ids: FxMap::default(),
            program_memo: Vec::new(),
            dates: FxMap::default(),
            date_ints: FxMap::default(),
            date_const: match &spec.date {
                ValueSpec::Const(c) => crate::model::parse_date(c),
                _ => None,
            },
            rows: 0,
            chunk: Chunk::default(),
            encoding: None,
            warnings: Vec::new(),
            open: true,
            started: Instant::now(),
            crs_sent: false,
        };
        rows.set_crs(crs);
        rows
    }

    fn set_crs(&mut self, crs: String) {
        self.geographic = read::is_geographic(&crs);
        self.crs = crs;
    }

    fn err(&self, message: impl Into<String>) -> Error {
        Error::Read {
            path: self.spec.path.clone(),
            layer: self.spec.layer.clone().unwrap_or_default(),
            message: message.into(),
        }
    }

    fn program_id(&mut self, p: &str) -> u32 {
        if let Some(&i) = self.program_ids.get(p) {
            return i;
        }
        let i = self.programs.len() as u32;
        self.programs.push(p.to_string());
        self.program_ids.insert(p.to_string(), i);
        i
    }

    /// Checks one row and adds it to the chunk or to its rejects. `Ok(false)` once the
    /// consumer has stopped.
    fn push(&mut self, raw: Raw<'_>) -> Result<bool, Error> {
        self.rows += 1;
        let row = self.rows;
        let has_id = self.spec.id_field.is_some();
        let id = raw.id;
        let reject = |c: &mut Chunk, reason: RejectReason, detail: String, amount| {
            c.rejects.push(Reject {
                input: self.index,
                row,
                record_id: if has_id {
                    id.to_text()
                } else {
                    row.to_string()
                },
                reason,
                detail,
                amount_krw: amount,
                point: None,
            });
        };
        let amount = match raw.amount {
            None => None,
            Some(Ok(v)) => Some(v),
            Some(Err((reason, detail, value))) => {
                let field = self.spec.amount.as_ref().map_or("", |a| a.field.as_str());
                reject(
                    &mut self.chunk,
                    reason,
                    format!("column `{field}`: {detail}"),
                    value,
                );
                return self.flush_if_full();
            }
        };
        if has_id && id.is_empty() {
            let d = "record id is empty".to_string();
            reject(&mut self.chunk, RejectReason::DuplicateId, d, amount);
            return self.flush_if_full();
        }
        let funding = match &self.spec.funding {
            FundingSpec::Const(c) => *c,
            FundingSpec::Field(_) => {
                let v = raw.funding.unwrap_or("");
                match FundingSource::parse(v) {
                    Some(f) => f,
                    None => {
                        let d = format!(
                            "funding `{v}` is not one of national_program, development_fee, local"
                        );
                        reject(&mut self.chunk, RejectReason::FundingInvalid, d, amount);
                        return self.flush_if_full();
                    }
                }
            }
        };
        let date = match (&self.spec.date, raw.date) {
            (ValueSpec::Field(_), Val::Int(n)) => {
                let parsed = match self.date_ints.get(&n) {
                    Some(d) => *d,
                    None => {
                        let d = crate::model::parse_date(&n.to_string());
                        self.date_ints.insert(n, d);
                        d
                    }
                };
                if parsed.is_none() {
                    let d = format!("date `{n}` is not YYYY, YYYY-MM or YYYY-MM-DD");
                    reject(&mut self.chunk, RejectReason::DateInvalid, d, amount);
                    return self.flush_if_full();
                }
                parsed
            }
            (ValueSpec::Field(_), v) => {
                let v = match v {
                    Val::Text(t) => t.trim(),
                    _ => "",
                };
                if v.is_empty() {
                    None
                } else {
                    let parsed = match self.dates.get(v) {
                        Some(d) => *d,
                        None => {
                            let d = crate::model::parse_date(v);
                            self.dates.insert(v.to_string(), d);
                            d
                        }
                    };
                    if parsed.is_none() {
                        let d = format!("date `{v}` is not YYYY, YYYY-MM or YYYY-MM-DD");
                        reject(&mut self.chunk, RejectReason::DateInvalid, d, amount);
                        return self.flush_if_full();
                    }
                    parsed
                }
            }
            _ => self.date_const,
        };
        let xy = match raw.xy {
            Ok(c) if !(c.x.is_finite() && c.y.is_finite()) => Err((
                RejectReason::CoordinateInvalid,
                format!("coordinates x={} y={} are not finite numbers", c.x, c.y),
            )),
            Ok(c) => match self
                .geographic
                .then(|| read::lonlat_doubt(&self.crs, c.x, c.y))
                .flatten()
            {
                Some(d) => Err((RejectReason::CoordinateInvalid, d)),
                None => Ok(c),
            },
            Err(e) => Err(e),
        };
        let xy = match xy {
            Ok(c) => c,
            Err((reason, detail)) => {
                reject(&mut self.chunk, reason, detail, amount);
                return self.flush_if_full();
            }
        };
        let memo = raw
            .program_key
            .and_then(|k| self.program_memo.get(k).copied())
            .filter(|&id| id != UNSEEN);
        let program = match memo {
            Some(id) => id,
            None => {
                let id = match (&self.spec.program, raw.program) {
                    (ValueSpec::Field(_), Some(p)) if !p.trim().is_empty() => {
                        self.program_id(p.trim())
                    }
                    (ValueSpec::Const(c), _) if !c.is_empty() => {
                        let c = c.clone();
                        self.program_id(&c)
                    }
                    _ => NO_PROGRAM,
                };
                if let Some(slot) = raw.program_key.and_then(|k| self.program_memo.get_mut(k)) {
                    *slot = id;
                }
                id
            }
        };
        let period = date
            .and_then(|d| self.periods.iter().position(|p| p.contains(d)))
            .map_or(NO_PERIOD, |p| p as u16);
        let c = &mut self.chunk;
        c.rows.push(row);
        c.xy.push(xy);
        c.amount.push(amount.unwrap_or(0));
        c.program.push(program);
        c.funding.push(funding_index(funding));
        c.period.push(period);
        match id {
            _ if !has_id => {}
            Val::Int(n) => c.id_ints.push(n),
            v => {
                if let Val::Text(t) = v {
                    c.ids.push_str(t.trim());
                }
                c.id_ends.push(c.ids.len());
            }
        }
        self.flush_if_full()
    }

    fn flush_if_full(&mut self) -> Result<bool, Error> {
        if self.chunk.len() + self.chunk.rejects.len() >= CHUNK_ROWS {
            self.flush()
        } else {
            Ok(self.open)
        }
    }

    /// Sends the chunk (after the CRS, before the first chunk).
    fn flush(&mut self) -> Result<bool, Error> {
        let mut chunk = std::mem::take(&mut self.chunk);
        chunk.last_row = self.rows;
        if chunk.len() + chunk.rejects.len() == 0 {
            return Ok(self.open);
        }
        if !self.crs_sent {
            self.crs_sent = true;
            self.send(Msg::Crs(self.crs.clone()));
        }
        self.send(Msg::Chunk(Box::new(chunk)));
        Ok(self.open)
    }

    fn send(&mut self, msg: Msg) {
        if self.open && self.tx.send(msg).is_err() {
            self.open = false;
        }
    }

    fn finish(mut self) -> Result<End, Error> {
        self.flush()?;
        Ok(End {
            rows: self.rows,
            programs: self.programs,
            encoding: self.encoding,
            warnings: self.warnings,
            read_time: self.started.elapsed(),
        })
    }
}

/// An amount written as text, exactly in KRW. A negative amount is kept with its reject, as the
/// materialising reader does: the money is reported, not lost.
fn amount_text(s: &str, unit: AmountUnit) -> Result<i64, BadAmount> {
    amount::parse_amount(s, unit).map_err(|(reason, detail)| {
        let value = (reason == RejectReason::AmountNegative)
            .then(|| amount::parse_amount(s.trim().trim_start_matches('-'), unit).ok())
            .flatten()
            .map(|v| -v);
        (reason, detail, value)
    })
}

fn funding_index(f: FundingSource) -> u8 {
    FundingSource::ALL.iter().position(|x| *x == f).unwrap_or(0) as u8
}

/// An integer amount in `unit`, exactly in KRW.
fn amount_int(v: i128, unit: AmountUnit) -> Result<i64, BadAmount> {
    let krw = 10i128
        .checked_pow(unit.exponent())
        .and_then(|m| v.checked_mul(m))
        .and_then(|k| i64::try_from(k).ok());
    match krw {
        Some(k) if k < 0 => Err((
            RejectReason::AmountNegative,
            format!("amount {v} is negative"),
            Some(k),
        )),
        Some(k) => Ok(k),
        None => Err((
            RejectReason::AmountInvalid,
            format!("`{v}` does not fit a 64-bit KRW amount"),
            None,
        )),
    }
}

/// One grid per level in the input's CRS, finest first: 8 M cells for the two finest levels
/// (the ones nearly every point is settled in), 2 M for the rest (points in gaps only).
/// Where source-CRS grids are kept between runs: they depend only on the boundaries, the
/// level, the input's CRS and the grid settings, which rarely change between nights, and a
/// 리 grid takes ~0.45 s to build.
pub struct GridCache {
    pub dir: std::path::PathBuf,
    /// sha256 of the boundaries file.
    pub boundaries: String,
}

impl GridCache {
    /// The file of a level's grid, and the prefix its older versions share.
    fn file(&self, loc: &Locator<'_>, crs: &str, cells: usize) -> (std::path::PathBuf, String) {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        h.update(
            format!(
                "{} {} {} {crs} {cells} {} {}",
                self.boundaries,
                loc.level,
                loc.regions.regions.len(),
                crate::locate::DENSIFY_M,
                crate::VERSION
            )
            .as_bytes(),
        );
        let key: String = h
            .finalize()
            .iter()
            .take(12)
            .map(|b| format!("{b:02x}"))
            .collect();
        let tag: String = crs
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .take(40)
            .collect();
        let prefix = format!("grid-{}-{tag}-", loc.level);
        (self.dir.join(format!("{prefix}{key}.bin")), prefix)
    }
}

fn source_grids(
    locators: &Locators<'_>,
    crs: &str,
    cache: Option<&GridCache>,
) -> Result<Vec<SourceGrid>, String> {
    let mut grids = Vec::new();
    for (k, (_, loc)) in locators.iter().enumerate() {
        let cells = if k < 2 {
            crate::locate::SOURCE_GRID_CELLS
        } else {
            crate::locate::SOURCE_GRID_CELLS / 4
        };
        let t = Instant::now();
        let file = cache.map(|c| c.file(loc, crs, cells));
        let cached = file.as_ref().and_then(|(path, _)| {
            match SourceGrid::load(path, loc.regions.regions.len()) {
                Ok(g) => Some(g),
                Err(e) => {
                    if path.exists() {
                        tracing::warn!(path = %path.display(), error = %e, "cached grid not used; rebuilding it");
                    }
                    None
                }
            }
        });
        let from_cache = cached.is_some();
        let grid = match cached {
            Some(g) => Some(g),
            None => SourceGrid::new(loc, crs, cells)?,
        };
        match grid {
            Some(g) => {
                if let (false, Some((path, prefix))) = (from_cache, &file) {
                    save_grid(&g, path, prefix);
                }
                grids.push(g)
            }
            // A degenerate level (no area): everything goes to the exact chain.
            None => break,
        }
        tracing::debug!(level = %loc.level, crs = %crs, cells, from_cache, ms = t.elapsed().as_millis() as u64, peak_rss_mib = crate::progress::peak_rss_mib(), "source-CRS grid");
    }
    Ok(grids)
}

/// Saves a freshly built grid and removes the level's grids for this CRS that older
/// boundaries or versions left (best effort: a failure costs the next run a rebuild).
fn save_grid(g: &SourceGrid, path: &Path, prefix: &str) {
    let Some(dir) = path.parent() else { return };
    let saved = std::fs::create_dir_all(dir).and_then(|()| g.save(path));
    if let Err(e) = saved {
        tracing::warn!(path = %path.display(), error = %e, "grid not cached");
        return;
    }
    for old in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let name = old.file_name().to_string_lossy().into_owned();
        if name.starts_with(prefix) && old.path() != path {
            let _ = std::fs::remove_file(old.path());
        }
    }
}

/// A chunk's location, as [`Fold::locate`] leaves it for [`Fold::fold`].
struct Located {
    /// Level (high byte) and region of each point, or `MISS` / `OUT_ALL`.
    hits: Vec<u32>,
    /// The points the grids did not settle, ascending, and their EPSG:5179 coordinates.
    todo: Vec<usize>,
    work: Vec<Coord<f64>>,
    /// Time settling by grid, reprojecting, locating exactly.
    times: [Duration; 3],
}

/// Per-region sums of the located points, by locator and region index.
struct Fold {
    levels: Vec<Vec<Acc>>,
    /// Points not settled by the source-CRS grid (reprojected and tested exactly).
    unsettled: u64,
    /// Time settling by grid, reprojecting, locating exactly, folding.
    times: [Duration; 4],
}

#[derive(Default, Clone)]
struct Acc {
    count: u64,
    amount: i128,
    /// (amount, count) by funding source, programme id and period.
    funding: [(i128, u64); 4],
    program: Vec<(i128, u64)>,
    period: Vec<(i128, u64)>,
}

impl Fold {
    fn new(locators: &Locators<'_>) -> Fold {
        Fold {
            levels: locators
                .iter()
                .map(|(_, l)| vec![Acc::default(); l.regions.regions.len()])
                .collect(),
            unsettled: 0,
            times: [Duration::ZERO; 4],
        }
    }

    /// Locates a chunk in parallel. Points whose source-CRS grid cell settles them need
    /// nothing more; the rest are reprojected into EPSG:5179 and located exactly, finest level
    /// first.
    fn locate(
        chunk: &Chunk,
        crs: &str,
        grids: &[SourceGrid],
        locators: &Locators<'_>,
    ) -> Result<Located, String> {
        // Finest level first; a cell outside every region of a level passes the point on to
        // the next coarser level, as the exact chain does.
        let t0 = Instant::now();
        let mut hits: Vec<u32> = chunk
            .xy
            .par_iter()
            .with_min_len(4096)
            .map(|c| {
                for (k, g) in grids.iter().enumerate() {
                    match g.classify(*c) {
                        Settled::In(i) => return ((k as u32) << 24) | i as u32,
                        Settled::Out => continue,
                        Settled::Unsure => return UNSETTLED,
                    }
                }
                if grids.len() == locators.len() {
                    OUT_ALL
                } else {
                    UNSETTLED
                }
            })
            .collect();
        let t1 = Instant::now();
        let todo: Vec<usize> = (0..hits.len()).filter(|&i| hits[i] == UNSETTLED).collect();
        let mut work: Vec<Coord<f64>> = todo.iter().map(|&i| chunk.xy[i]).collect();
        work.par_chunks_mut(1024)
            .try_for_each(|part| crate::crs::reproject(crs, WORK_CRS, part))?;
        let t2 = Instant::now();
        // Located in Morton (Z) order of their coordinates: neighbouring points test the same
        // regions' edges one after another, while those are still in cache.
        let order = z_order(&work);
        let located: Vec<u32> = order
            .par_iter()
            .with_min_len(1024)
            .map(|&j| {
                let c = work[j as usize];
                if !(c.x.is_finite() && c.y.is_finite()) {
                    return MISS;
                }
                locators
                    .iter()
                    .enumerate()
                    .find_map(|(k, (_, loc))| loc.locate(c).map(|i| ((k as u32) << 24) | i as u32))
                    .unwrap_or(MISS)
            })
            .collect();
        for (&j, &h) in order.iter().zip(&located) {
            hits[todo[j as usize]] = h;
        }
        Ok(Located {
            hits,
            todo,
            work,
            times: [t1 - t0, t2 - t1, t2.elapsed()],
        })
    }

    /// Folds a located chunk into the per-region totals and lists its rejects, in row order.
    fn fold(
        &mut self,
        index: usize,
        chunk: &Chunk,
        located: Located,
        crs: &str,
        out: &mut Streamed,
    ) -> Result<(), String> {
        let t3 = Instant::now();
        let Located {
            hits,
            todo,
            work,
            times,
        } = located;
        self.unsettled += todo.len() as u64;
        for (total, t) in self.times.iter_mut().zip(times) {
            *total += t;
        }
        let mut unsettled = todo.iter().zip(&work).peekable();
        let mut unlisted_outside = (0u64, 0i128);
        // Reader rejects and location rejects, merged in row order.
        let mut reader_rejects = chunk.rejects.iter().peekable();
        for (i, &hit) in hits.iter().enumerate() {
            while let Some(r) = reader_rejects.next_if(|r| r.row < chunk.rows[i]) {
                reject_into(out, r.clone());
            }
            let amount = chunk.amount[i];
            if hit == OUT_ALL && out.rejects.len() >= LISTED_REJECTS {
                // Counted, not listed: no coordinates or text needed.
                let a = i128::from(amount);
                out.read_krw += a;
                unlisted_outside.0 += 1;
                unlisted_outside.1 += a;
                continue;
            }
            if hit == MISS || hit == OUT_ALL {
                let c = if hit == OUT_ALL {
                    let mut one = [chunk.xy[i]];
                    crate::crs::reproject(crs, WORK_CRS, &mut one)?;
                    one[0]
                } else {
                    loop {
                        match unsettled.next() {
                            Some((&k, c)) if k == i => break *c,
                            Some(_) => continue,
                            None => break chunk.xy[i],
                        }
                    }
                };
                let detail = if c.x.is_finite() {
                    format!(
                        "point ({:.1}, {:.1}) EPSG:5179 is outside every region",
                        c.x, c.y
                    )
                } else {
                    "PROJ could not transform the coordinates into EPSG:5179".to_string()
                };
                let reason = if c.x.is_finite() {
                    RejectReason::OutsideAllRegions
                } else {
                    RejectReason::CoordinateInvalid
                };
                reject_into(
                    out,
                    Reject {
                        input: index,
                        row: chunk.rows[i],
                        record_id: chunk.id(i),
                        reason,
                        detail,
                        amount_krw: Some(amount),
                        point: c.x.is_finite().then_some(Point(c)),
                    },
                );
                continue;
            }
            let acc = &mut self.levels[(hit >> 24) as usize][(hit & 0xFF_FFFF) as usize];
            let a = i128::from(amount);
            acc.count += 1;
            acc.amount += a;
            let f = &mut acc.funding[chunk.funding[i] as usize];
            f.0 += a;
            f.1 += 1;
            if chunk.program[i] != NO_PROGRAM {
                add_at(&mut acc.program, chunk.program[i] as usize, a);
            }
            if chunk.period[i] != NO_PERIOD {
                add_at(&mut acc.period, usize::from(chunk.period[i]), a);
            }
            out.assigned_count += 1;
            out.assigned_krw += a;
            out.read_krw += a;
        }
        for r in reader_rejects {
            reject_into(out, r.clone());
        }
        if unlisted_outside.0 > 0 {
            let e = out
                .unlisted
                .entry(RejectReason::OutsideAllRegions)
                .or_default();
            e.0 += unlisted_outside.0;
            e.1 += unlisted_outside.1;
        }
        self.times[3] += t3.elapsed();
        Ok(())
    }

    /// The totals of every region with points, as the materialising path builds them: an
    /// entry per funding source, programme and period a point of the region had.
    fn finish(
        self,
        locators: &Locators<'_>,
        programs: &[String],
        periods: &[Period],
    ) -> Vec<(usize, usize, RegionTotals)> {
        let mut out = Vec::new();
        for ((level, _), accs) in locators.iter().zip(self.levels) {
            for (ri, acc) in accs.into_iter().enumerate() {
                if acc.count == 0 {
                    continue;
                }
                let mut t = RegionTotals {
                    amount_krw: acc.amount,
                    record_count: acc.count,
                    ..RegionTotals::default()
                };
                for (f, (a, n)) in FundingSource::ALL.iter().zip(acc.funding) {
                    if n > 0 {
                        t.by_funding.insert(*f, a);
                    }
                }
                for (p, (a, n)) in programs.iter().zip(acc.program) {
                    if n > 0 {
                        t.by_program.insert(p.clone(), a);
                    }
                }
                for (p, (a, n)) in periods.iter().zip(acc.period) {
                    if n > 0 {
                        t.by_period.insert(p.label.clone(), a);
                    }
                }
                out.push((*level, ri, t));
            }
        }
        out
    }
}

/// The indices of `cs` in Morton (Z) order of their coordinates, quantised to 16 bits each over
/// their finite extent (non-finite ones last).
fn z_order(cs: &[Coord<f64>]) -> Vec<u32> {
    let (mut lo, mut hi) = (
        Coord {
            x: f64::INFINITY,
            y: f64::INFINITY,
        },
        Coord {
            x: f64::NEG_INFINITY,
            y: f64::NEG_INFINITY,
        },
    );
    for c in cs.iter().filter(|c| c.x.is_finite() && c.y.is_finite()) {
        lo.x = lo.x.min(c.x);
        lo.y = lo.y.min(c.y);
        hi.x = hi.x.max(c.x);
        hi.y = hi.y.max(c.y);
    }
    let (sx, sy) = (
        65535.0 / (hi.x - lo.x).max(f64::MIN_POSITIVE),
        65535.0 / (hi.y - lo.y).max(f64::MIN_POSITIVE),
    );
    // Spreads the 16 bits of v over the even bits of a u32.
    let spread = |v: u32| {
        let mut v = v & 0xFFFF;
        v = (v | (v << 8)) & 0x00FF_00FF;
        v = (v | (v << 4)) & 0x0F0F_0F0F;
        v = (v | (v << 2)) & 0x3333_3333;
        (v | (v << 1)) & 0x5555_5555
    };
    let mut keyed: Vec<(u64, u32)> = cs
        .iter()
        .enumerate()
        .map(|(j, c)| {
            let key = if c.x.is_finite() && c.y.is_finite() {
                let qx = ((c.x - lo.x) * sx) as u32;
                let qy = ((c.y - lo.y) * sy) as u32;
                u64::from(spread(qx) | (spread(qy) << 1))
            } else {
                u64::MAX
            };
            (key, j as u32)
        })
        .collect();
    keyed.sort_unstable();
    keyed.into_iter().map(|(_, j)| j).collect()
}

/// Adds `amount` and one record at slot `k` (ids are dense: the vector grows to hold it).
fn add_at(slots: &mut Vec<(i128, u64)>, k: usize, amount: i128) {
    if slots.len() <= k {
        slots.resize(k + 1, (0, 0));
    }
    slots[k].0 += amount;
    slots[k].1 += 1;
}

fn reject_into(out: &mut Streamed, r: Reject) {
    let amount = i128::from(r.amount_krw.unwrap_or(0));
    out.read_krw += amount;
    if out.rejects.len() < LISTED_REJECTS {
        out.rejects.push(r);
    } else {
        let e = out.unlisted.entry(r.reason).or_default();
        e.0 += 1;
        e.1 += amount;
    }
}

// ---------------------------------------------------------------------------------------------
// GeoParquet

fn parquet_builder(
    path: &Path,
) -> Result<parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder<File>, String> {
    let f = File::open(path).map_err(|e| e.to_string())?;
    parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(f)
        .map_err(|e| format!("not a readable Parquet file: {e}"))
}

/// `builder` again, reading the text columns `names` as Arrow dictionaries.
fn with_dictionaries(
    path: &Path,
    builder: parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder<File>,
    names: &[&str],
) -> Result<parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder<File>, String> {
    use arrow_schema::{Field, Schema};
    let schema = builder.schema().clone();
    let text = |f: &Field| {
        names.contains(&f.name().as_str())
            && matches!(f.data_type(), DataType::Utf8 | DataType::LargeUtf8)
    };
    if !schema.fields().iter().any(|f| text(f)) {
        return Ok(builder);
    }
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .map(|f| {
            let f = f.as_ref().clone();
            if text(&f) {
                let t = f.data_type().clone();
                f.with_data_type(DataType::Dictionary(Box::new(DataType::Int32), Box::new(t)))
            } else {
                f
            }
        })
        .collect();
    let schema = std::sync::Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone()));
    let f = File::open(path).map_err(|e| e.to_string())?;
    let options = parquet::arrow::arrow_reader::ArrowReaderOptions::new().with_schema(schema);
    parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new_with_options(f, options)
        .map_err(|e| format!("not a readable Parquet file: {e}"))
}

fn parquet_field_names(path: &Path) -> Result<Vec<String>, String> {
    let b = parquet_builder(path)?;
    Ok(b.schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect())
}

/// The primary geometry column of a GeoParquet file and its CRS (`None`: declared unknown),
/// from the file's `geo` metadata (GeoParquet 1.x). A missing `crs` means OGC:CRS84.
fn geoparquet_geometry(
    meta: &parquet::file::metadata::ParquetMetaData,
) -> Result<(String, Option<String>), String> {
    let geo = meta
        .file_metadata()
        .key_value_metadata()
        .and_then(|kv| kv.iter().find(|k| k.key == "geo"))
        .and_then(|k| k.value.as_deref())
        .ok_or("no GeoParquet `geo` metadata: locate by x/y columns instead (by = \"point\")")?;
    let geo: serde_json::Value =
        serde_json::from_str(geo).map_err(|e| format!("GeoParquet `geo` metadata: {e}"))?;
    let column = geo["primary_column"]
        .as_str()
        .unwrap_or("geometry")
        .to_string();
    let col = &geo["columns"][&column];
    let encoding = col["encoding"].as_str().unwrap_or("");
    if !encoding.eq_ignore_ascii_case("wkb") {
        return Err(format!(
            "geometry column `{column}` is encoded as `{encoding}`; smartgap reads WKB GeoParquet"
        ));
    }
    let crs = match col.get("crs") {
        None => Some("OGC:CRS84".to_string()),
        Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::String(s)) => Some(s.clone()),
        Some(projjson) => match (
            projjson["id"]["authority"].as_str(),
            &projjson["id"]["code"],
        ) {
            (Some(a), serde_json::Value::Number(n)) => Some(format!("{a}:{n}")),
            (Some(a), serde_json::Value::String(c)) => Some(format!("{a}:{c}")),
            // PROJ reads PROJJSON itself.
            _ => Some(projjson.to_string()),
        },
    };
    Ok((column, crs))
}

fn produce_parquet(rows: &mut Rows<'_>) -> Result<(), Error> {
    let spec = rows.spec;
    let builder = parquet_builder(&spec.path).map_err(|m| rows.err(m))?;
    // The program column decoded as a dictionary: a few distinct values, each read and
    // interned once per batch instead of once per row.
    let dictionary: Vec<&str> = match &spec.program {
        ValueSpec::Field(f) => vec![f.as_str()],
        _ => Vec::new(),
    };
    let builder = with_dictionaries(&spec.path, builder, &dictionary).map_err(|m| rows.err(m))?;
    let schema = builder.schema().clone();
    let names: Vec<String> = schema.fields().iter().map(|f| f.name().clone()).collect();
    let (geom, xy) = match &spec.locate {
        Locate::Geometry { crs } => {
            let (column, file_crs) =
                geoparquet_geometry(builder.metadata()).map_err(|m| rows.err(m))?;
            let crs = crs.clone().or(file_crs).ok_or_else(|| {
                rows.err("the GeoParquet file declares its CRS unknown; set locate.crs")
            })?;
            rows.set_crs(crs);
            (Some(column), None)
        }
        Locate::Point { x, y, .. } => (None, Some((x.clone(), y.clone()))),
        _ => return Err(rows.err("a streamed input is located by point or geometry")),
    };
    let field = |v: &ValueSpec| match v {
        ValueSpec::Field(f) => Some(f.clone()),
        _ => None,
    };
    let funding_field = match &spec.funding {
        FundingSpec::Field(f) => Some(f.clone()),
        FundingSpec::Const(_) => None,
    };
    let wanted: Vec<String> = [
        spec.id_field.clone(),
        spec.amount.as_ref().map(|a| a.field.clone()),
        field(&spec.program),
        funding_field.clone(),
        field(&spec.date),
        geom.clone(),
        xy.as_ref().map(|p| p.0.clone()),
        xy.as_ref().map(|p| p.1.clone()),
    ]
    .into_iter()
    .flatten()
    .collect();
    let mut roots = Vec::new();
    for w in &wanted {
        match names.iter().position(|n| n == w) {
            Some(i) => roots.push(i),
            None => {
                return Err(rows.err(format!(
                    "column `{w}` not found (columns: {})",
                    names.join(", ")
                )));
            }
        }
    }
    roots.sort_unstable();
    roots.dedup();
    let mask = parquet::arrow::ProjectionMask::roots(builder.parquet_schema(), roots);
    let reader = builder
        .with_projection(mask)
        .with_batch_size(CHUNK_ROWS)
        .build()
        .map_err(|e| rows.err(e.to_string()))?;
    let unit = spec.amount.as_ref().map(|a| a.unit);
    let (mut b_id, mut b_prog, mut b_fund, mut b_date, mut b_amount, mut b_x, mut b_y) = (
        String::new(),
        String::new(),
        String::new(),
        String::new(),
        String::new(),
        String::new(),
        String::new(),
    );
    for batch in reader {
        let batch = batch.map_err(|e| rows.err(format!("after row {}: {e}", rows.rows)))?;
        let col = |name: &Option<String>| -> Result<Option<Column>, Error> {
            match name {
                None => Ok(None),
                Some(n) => {
                    let a = batch
                        .column_by_name(n)
                        .ok_or_else(|| rows.err(format!("column `{n}` not found")))?;
                    Column::new(a.clone(), n).map(Some).map_err(|m| rows.err(m))
                }
            }
        };
        let id = col(&spec.id_field)?;
        let amount = col(&spec.amount.as_ref().map(|a| a.field.clone()))?;
        let program = col(&field(&spec.program))?;
        let funding = col(&funding_field)?;
        let date = col(&field(&spec.date))?;
        let x = col(&xy.as_ref().map(|p| p.0.clone()))?;
        let y = col(&xy.as_ref().map(|p| p.1.clone()))?;
        rows.program_memo.clear();
        if let Some(n) = program.as_ref().and_then(Column::dictionary_len) {
            rows.program_memo.resize(n, UNSEEN);
        }
        let wkb = match &geom {
            Some(g) => {
                let a = batch
                    .column_by_name(g)
                    .ok_or_else(|| rows.err(format!("column `{g}` not found")))?;
                Some(Wkb::new(a).map_err(|m| rows.err(format!("column `{g}`: {m}")))?)
            }
            None => None,
        };
        for i in 0..batch.num_rows() {
            let xy = match (&wkb, &x, &y) {
                (Some(w), _, _) => w.point(i),
                (None, Some(x), Some(y)) => {
                    coordinates(x.number(i, &mut b_x), y.number(i, &mut b_y), || {
                        (
                            x.text(i, &mut b_x).unwrap_or("").to_string(),
                            y.text(i, &mut b_y).unwrap_or("").to_string(),
                        )
                    })
                }
                _ => Err((RejectReason::LocationMissing, "no location".into())),
            };
            let raw = Raw {
                id: id.as_ref().map_or(Val::Null, |c| c.val(i, &mut b_id)),
                amount: match (&amount, unit) {
                    (Some(c), Some(u)) => Some(c.amount(i, u, &mut b_amount)),
                    _ => None,
                },
                program: program.as_ref().and_then(|c| c.text(i, &mut b_prog)),
                program_key: program
                    .as_ref()
                    .filter(|c| c.keys.is_some())
                    .and_then(|c| c.index(i)),
                funding: funding.as_ref().and_then(|c| c.text(i, &mut b_fund)),
                date: date.as_ref().map_or(Val::Null, |c| c.val(i, &mut b_date)),
                xy,
            };
            if !rows.push(raw)? {
                return Ok(());
            }
        }
    }
    Ok(())
}

/// One Arrow column of text or numbers, dictionary-encoded or not, its type resolved once per
/// batch: reading a value is a match on [`Typed`] and a bit of the null bitmap, not a chain of
/// dynamic calls (`is_null`, `data_type`, downcast) per value.
struct Column {
    values: Typed,
    /// Validity of `values` (`None`: no nulls).
    nulls: Option<NullBuffer>,
    /// Dictionary keys, normalised to indices into `values` (`NULL_KEY`: null).
    keys: Option<Vec<u32>>,
}

const NULL_KEY: u32 = u32::MAX;

/// The column types a value column may have.
enum Typed {
    Utf8(StringArray),
    LargeUtf8(LargeStringArray),
    Utf8View(StringViewArray),
    I8(PrimitiveArray<Int8Type>),
    I16(PrimitiveArray<Int16Type>),
    I32(PrimitiveArray<Int32Type>),
    I64(PrimitiveArray<Int64Type>),
    U8(PrimitiveArray<UInt8Type>),
    U16(PrimitiveArray<UInt16Type>),
    U32(PrimitiveArray<UInt32Type>),
    U64(PrimitiveArray<UInt64Type>),
    F32(PrimitiveArray<Float32Type>),
    F64(PrimitiveArray<Float64Type>),
}

impl Typed {
    fn of(a: &ArrayRef) -> Option<Typed> {
        Some(match a.data_type() {
            DataType::Utf8 => Typed::Utf8(a.as_string::<i32>().clone()),
            DataType::LargeUtf8 => Typed::LargeUtf8(a.as_string::<i64>().clone()),
            DataType::Utf8View => Typed::Utf8View(a.as_string_view().clone()),
            DataType::Int8 => Typed::I8(a.as_primitive().clone()),
            DataType::Int16 => Typed::I16(a.as_primitive().clone()),
            DataType::Int32 => Typed::I32(a.as_primitive().clone()),
            DataType::Int64 => Typed::I64(a.as_primitive().clone()),
            DataType::UInt8 => Typed::U8(a.as_primitive().clone()),
            DataType::UInt16 => Typed::U16(a.as_primitive().clone()),
            DataType::UInt32 => Typed::U32(a.as_primitive().clone()),
            DataType::UInt64 => Typed::U64(a.as_primitive().clone()),
            DataType::Float32 => Typed::F32(a.as_primitive().clone()),
            DataType::Float64 => Typed::F64(a.as_primitive().clone()),
            _ => return None,
        })
    }

    /// An integer value exactly, `None` for text and floats.
    fn int(&self, k: usize) -> Option<i128> {
        Some(match self {
            Typed::I8(a) => i128::from(a.value(k)),
            Typed::I16(a) => i128::from(a.value(k)),
            Typed::I32(a) => i128::from(a.value(k)),
            Typed::I64(a) => i128::from(a.value(k)),
            Typed::U8(a) => i128::from(a.value(k)),
            Typed::U16(a) => i128::from(a.value(k)),
            Typed::U32(a) => i128::from(a.value(k)),
            Typed::U64(a) => i128::from(a.value(k)),
            _ => return None,
        })
    }
}

impl Column {
    fn new(array: ArrayRef, name: &str) -> Result<Column, String> {
        let (values, keys) = match array.data_type() {
            DataType::Dictionary(..) => {
                let d = array.as_any_dictionary();
                let nk = d.normalized_keys();
                let keys = (0..array.len())
                    .map(|i| {
                        if array.is_null(i) {
                            NULL_KEY
                        } else {
                            u32::try_from(nk[i]).unwrap_or(NULL_KEY)
                        }
                    })
                    .collect();
                (d.values().clone(), Some(keys))
            }
            _ => (array, None),
        };
        let Some(typed) = Typed::of(&values) else {
            return Err(format!(
                "column `{name}` is {}; expected text or numbers",
                values.data_type()
            ));
        };
        Ok(Column {
            nulls: values.logical_nulls(),
            values: typed,
            keys,
        })
    }

    /// The number of distinct values of a dictionary column (its dictionary's length).
    fn dictionary_len(&self) -> Option<usize> {
        self.keys.as_ref()?;
        Some(match &self.values {
            Typed::Utf8(a) => a.len(),
            Typed::LargeUtf8(a) => a.len(),
            Typed::Utf8View(a) => a.len(),
            Typed::I8(a) => a.len(),
            Typed::I16(a) => a.len(),
            Typed::I32(a) => a.len(),
            Typed::I64(a) => a.len(),
            Typed::U8(a) => a.len(),
            Typed::U16(a) => a.len(),
            Typed::U32(a) => a.len(),
            Typed::U64(a) => a.len(),
            Typed::F32(a) => a.len(),
            Typed::F64(a) => a.len(),
        })
    }

    fn index(&self, i: usize) -> Option<usize> {
        let i = match &self.keys {
            Some(k) => match k[i] {
                NULL_KEY => return None,
                k => k as usize,
            },
            None => i,
        };
        match &self.nulls {
            Some(n) if n.is_null(i) => None,
            _ => Some(i),
        }
    }

    /// The value as text (numbers formatted), `None` when null.
    fn text<'s>(&'s self, i: usize, buf: &'s mut String) -> Option<&'s str> {
        use std::fmt::Write as _;
        let k = self.index(i)?;
        buf.clear();
        let _ = match &self.values {
            Typed::Utf8(a) => return Some(a.value(k)),
            Typed::LargeUtf8(a) => return Some(a.value(k)),
            Typed::Utf8View(a) => return Some(a.value(k)),
            // Shortest text that reads back to the same float: what the writer meant.
            Typed::F32(a) => write!(buf, "{}", a.value(k)),
            Typed::F64(a) => write!(buf, "{}", a.value(k)),
            t => write!(buf, "{}", t.int(k).unwrap_or_default()),
        };
        Some(buf.as_str())
    }

    /// Integers as numbers, anything else as text.
    fn val<'s>(&'s self, i: usize, buf: &'s mut String) -> Val<'s> {
        let Some(k) = self.index(i) else {
            return Val::Null;
        };
        match &self.values {
            Typed::I64(a) => Val::Int(a.value(k)),
            Typed::I32(a) => Val::Int(i64::from(a.value(k))),
            Typed::I16(a) => Val::Int(i64::from(a.value(k))),
            _ => Val::text(self.text(i, buf)),
        }
    }

    /// An integer column exactly; anything else through its text.
    fn amount(&self, i: usize, unit: AmountUnit, buf: &mut String) -> Result<i64, BadAmount> {
        let Some(k) = self.index(i) else {
            return Err((RejectReason::AmountMissing, "amount is empty".into(), None));
        };
        let int = match &self.values {
            Typed::I64(_) | Typed::I32(_) | Typed::U64(_) | Typed::U32(_) => self.values.int(k),
            _ => None,
        };
        match int {
            Some(v) => amount_int(v, unit),
            None => amount_text(self.text(i, buf).unwrap_or(""), unit),
        }
    }

    fn number(&self, i: usize, buf: &mut String) -> Option<f64> {
        let k = self.index(i)?;
        match &self.values {
            Typed::F64(a) => Some(a.value(k)),
            Typed::F32(a) => Some(f64::from(a.value(k))),
            _ => self.text(i, buf)?.trim().parse().ok(),
        }
        .filter(|v: &f64| v.is_finite())
    }
}

/// A column of WKB geometries.
struct Wkb {
    values: Binaries,
    nulls: Option<NullBuffer>,
}

enum Binaries {
    Binary(BinaryArray),
    Large(LargeBinaryArray),
    View(BinaryViewArray),
}

impl Wkb {
    fn new(a: &ArrayRef) -> Result<Wkb, String> {
        let values = match a.data_type() {
            DataType::Binary => Binaries::Binary(a.as_binary::<i32>().clone()),
            DataType::LargeBinary => Binaries::Large(a.as_binary::<i64>().clone()),
            DataType::BinaryView => Binaries::View(a.as_binary_view().clone()),
            t => return Err(format!("{t}; expected WKB (binary)")),
        };
        Ok(Wkb {
            values,
            nulls: a.logical_nulls(),
        })
    }

    fn point(&self, i: usize) -> Result<Coord<f64>, Bad> {
        if self.nulls.as_ref().is_some_and(|n| n.is_null(i)) {
            return Err((RejectReason::LocationMissing, "no geometry".into()));
        }
        let bytes = match &self.values {
            Binaries::Binary(a) => a.value(i),
            Binaries::Large(a) => a.value(i),
            Binaries::View(a) => a.value(i),
        };
        wkb_point(bytes)
    }
}

/// Decodes a WKB (ISO or EWKB) point.
pub fn wkb_point(b: &[u8]) -> Result<Coord<f64>, Bad> {
    let bad = |m: String| (RejectReason::CoordinateInvalid, m);
    let le = match b.first() {
        Some(1) => true,
        Some(0) => false,
        Some(x) => return Err(bad(format!("WKB byte order {x} is neither 0 nor 1"))),
        None => return Err((RejectReason::LocationMissing, "empty WKB geometry".into())),
    };
    let word = |off: usize, n: usize| -> Option<&[u8]> { b.get(off..off + n) };
    let u32_at = |off| {
        word(off, 4).map(|w| {
            let w: [u8; 4] = w.try_into().unwrap_or_default();
            if le {
                u32::from_le_bytes(w)
            } else {
                u32::from_be_bytes(w)
            }
        })
    };
    let f64_at = |off| {
        word(off, 8).map(|w| {
            let w: [u8; 8] = w.try_into().unwrap_or_default();
            if le {
                f64::from_le_bytes(w)
            } else {
                f64::from_be_bytes(w)
            }
        })
    };
    let t = u32_at(1).ok_or_else(|| bad(format!("WKB of {} bytes is truncated", b.len())))?;
    // EWKB flags: 0x80000000 Z, 0x40000000 M, 0x20000000 SRID follows; ISO: 1000s for Z/M.
    let off = if t & 0x2000_0000 != 0 { 9 } else { 5 };
    let base = (t & 0x0FFF_FFFF) % 1000;
    if base != 1 {
        let name = match base {
            2 => "LineString",
            3 => "Polygon",
            4 => "MultiPoint",
            5 => "MultiLineString",
            6 => "MultiPolygon",
            7 => "GeometryCollection",
            _ => "unknown",
        };
        return Err(bad(format!(
            "expected a point, found a WKB {name} (type {t}); polygon inputs are read with stream = false"
        )));
    }
    match (f64_at(off), f64_at(off + 8)) {
        (Some(x), Some(y)) if x.is_nan() && y.is_nan() => {
            Err((RejectReason::LocationMissing, "empty point".into()))
        }
        (Some(x), Some(y)) => Ok(Coord { x, y }),
        _ => Err(bad(format!("WKB of {} bytes is truncated", b.len()))),
    }
}

/// Column indices of an input's configured value columns, in a text reader's header.
struct Columns {
    id: Option<usize>,
    amount: Option<usize>,
    program: Option<usize>,
    date: Option<usize>,
    funding: Option<usize>,
}

impl Columns {
    fn of(spec: &InputSpec, idx: impl Fn(&str) -> Result<usize, Error>) -> Result<Columns, Error> {
        let opt = |v: &ValueSpec| match v {
            ValueSpec::Field(f) => idx(f).map(Some),
            _ => Ok(None),
        };
        Ok(Columns {
            id: spec.id_field.as_deref().map(&idx).transpose()?,
            amount: spec.amount.as_ref().map(|a| idx(&a.field)).transpose()?,
            program: opt(&spec.program)?,
            date: opt(&spec.date)?,
            funding: match &spec.funding {
                FundingSpec::Field(f) => Some(idx(f)?),
                FundingSpec::Const(_) => None,
            },
        })
    }
}

// ---------------------------------------------------------------------------------------------
// CSV

type CsvReader = csv::Reader<std::io::BufReader<File>>;

/// Opens a CSV at its data rows: the reader, the encoding its text is decoded with, and the
/// column names of row `header_row`.
fn csv_open(
    path: &Path,
    configured: Encoding,
    header_row: usize,
    delim: u8,
) -> Result<(CsvReader, Encoding, Vec<String>), Error> {
    let open_err = |e: std::io::Error| Error::Open {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    let mut f = File::open(path).map_err(open_err)?;
    // The encoding, from the first 4 MiB when not configured (as for GDAL-read CSVs: not
    // UTF-8 means CP949).
    let mut sample = Vec::new();
    (&mut f)
        .take(4 << 20)
        .read_to_end(&mut sample)
        .map_err(open_err)?;
    let bom = sample.starts_with(b"\xEF\xBB\xBF");
    let enc = match configured {
        Encoding::Auto => match std::str::from_utf8(&sample) {
            Ok(_) => Encoding::Utf8,
            // A character cut at the end of the sample is not evidence.
            Err(e) if e.error_len().is_none() => Encoding::Utf8,
            Err(_) => Encoding::Cp949,
        },
        e => e,
    };
    use std::io::Seek;
    f.seek(std::io::SeekFrom::Start(if bom { 3 } else { 0 }))
        .map_err(open_err)?;
    let mut r = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delim)
        .from_reader(std::io::BufReader::with_capacity(1 << 20, f));
    let mut rec = csv::ByteRecord::new();
    for _ in 0..header_row {
        let more = r.read_byte_record(&mut rec).map_err(|e| Error::Read {
            path: path.to_path_buf(),
            layer: String::new(),
            message: e.to_string(),
        })?;
        if !more {
            return Err(Error::Read {
                path: path.to_path_buf(),
                layer: String::new(),
                message: format!("the file ends before header row {header_row}"),
            });
        }
    }
    let mut buf = String::new();
    let names = rec
        .iter()
        .map(|b| decode(b, enc, &mut buf).unwrap_or("").trim().to_string())
        .collect();
    Ok((r, enc, names))
}

/// A CSV field as text: UTF-8 as is, CP949 decoded (ASCII needs no decoding). `None` when the
/// bytes are not UTF-8 in a UTF-8 file.
fn decode<'b>(bytes: &'b [u8], enc: Encoding, buf: &'b mut String) -> Option<&'b str> {
    if enc == Encoding::Cp949 && !bytes.is_ascii() {
        buf.clear();
        let (text, _) = encoding_rs::EUC_KR.decode_without_bom_handling(bytes);
        buf.push_str(&text);
        return Some(buf.as_str());
    }
    std::str::from_utf8(bytes).ok()
}

fn produce_csv(rows: &mut Rows<'_>, delim: u8) -> Result<(), Error> {
    let spec = rows.spec;
    let (mut r, enc, names) = csv_open(&spec.path, spec.encoding, spec.header_row, delim)?;
    rows.encoding = Some(enc);
    let idx = |name: &str| {
        names.iter().position(|n| n == name).ok_or_else(|| {
            rows.err(format!(
                "column `{name}` not found (columns: {})",
                names.join(", ")
            ))
        })
    };
    let (xi, yi) = match &spec.locate {
        Locate::Point { x, y, .. } => (idx(x)?, idx(y)?),
        _ => {
            return Err(rows.err("a streamed CSV is located by x/y columns (by = \"point\")"));
        }
    };
    let Columns {
        id: id_i,
        amount: amount_i,
        program: program_i,
        date: date_i,
        funding: funding_i,
    } = Columns::of(spec, idx)?;
    let unit = spec.amount.as_ref().map(|a| a.unit);
    let mut rec = csv::ByteRecord::new();
    let (mut b_id, mut b_prog, mut b_fund, mut b_date, mut b_amount) = (
        String::new(),
        String::new(),
        String::new(),
        String::new(),
        String::new(),
    );
    loop {
        let more = r
            .read_byte_record(&mut rec)
            .map_err(|e| rows.err(format!("after row {}: {e}", rows.rows)))?;
        if !more {
            return Ok(());
        }
        let row = rows.rows + 1;
        let mut not_utf8 = None;
        let get = |i: usize| rec.get(i).unwrap_or(b"");
        let id = id_i.and_then(|i| decode(get(i), enc, &mut b_id));
        let program = program_i.and_then(|i| decode(get(i), enc, &mut b_prog));
        let funding = funding_i.and_then(|i| decode(get(i), enc, &mut b_fund));
        let date = date_i.and_then(|i| decode(get(i), enc, &mut b_date));
        for (i, v) in [
            (id_i, id),
            (program_i, program),
            (funding_i, funding),
            (date_i, date),
        ] {
            if let (Some(i), None) = (i, v) {
                not_utf8 = Some(i);
            }
        }
        if let Some(i) = not_utf8 {
            return Err(rows.err(format!(
                "row {row}, column `{}`: not UTF-8 (the file's first 4 MiB were); set encoding = \"cp949\" on the input",
                names[i]
            )));
        }
        let amount = match (amount_i, unit) {
            (Some(i), Some(u)) => Some(csv_amount(get(i), u, &mut b_amount)),
            _ => None,
        };
        let (xs, ys) = (get(xi), get(yi));
        let xy = coordinates(parse_f64(xs), parse_f64(ys), || {
            (
                String::from_utf8_lossy(xs).into_owned(),
                String::from_utf8_lossy(ys).into_owned(),
            )
        });
        let raw = Raw {
            id: Val::text(id),
            amount,
            program,
            program_key: None,
            funding,
            date: Val::text(date),
            xy,
        };
        if !rows.push(raw)? {
            return Ok(());
        }
    }
}

/// A point from two parsed coordinates, or the reject naming the text of both (`text` is
/// called only then).
fn coordinates(
    x: Option<f64>,
    y: Option<f64>,
    text: impl FnOnce() -> (String, String),
) -> Result<Coord<f64>, Bad> {
    match (x, y) {
        (Some(x), Some(y)) => Ok(Coord { x, y }),
        _ => {
            let (xs, ys) = text();
            Err((
                RejectReason::CoordinateInvalid,
                format!("coordinates x=`{xs}` y=`{ys}` are not finite numbers"),
            ))
        }
    }
}

fn parse_f64(b: &[u8]) -> Option<f64> {
    std::str::from_utf8(b)
        .ok()?
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite())
}

/// Plain digits are converted directly; anything else (separators, decimals, full-width
/// digits, signs) goes through the exact decimal parser.
fn csv_amount(b: &[u8], unit: AmountUnit, buf: &mut String) -> Result<i64, BadAmount> {
    if !b.is_empty() && b.len() <= 18 && b.iter().all(u8::is_ascii_digit) {
        let v = b
            .iter()
            .fold(0i128, |acc, d| acc * 10 + i128::from(d - b'0'));
        return amount_int(v, unit);
    }
    buf.clear();
    buf.push_str(&String::from_utf8_lossy(b));
    amount_text(buf, unit)
}

// ---------------------------------------------------------------------------------------------
// Any other vector format, through GDAL

fn produce_gdal(rows: &mut Rows<'_>) -> Result<(), Error> {
    let spec = rows.spec;
    let (prep, ds) = read::open_input(&spec.path, spec.encoding, spec.header_row)?;
    rows.warnings.extend(prep.warnings.iter().cloned());
    let mut l = read::layer(&ds, &spec.path, spec.layer.as_deref())?;
    let names = read::header(&mut l, spec.header_row);
    let idx = |name: &str| {
        names.iter().position(|n| n == name).ok_or_else(|| {
            rows.err(format!(
                "column `{name}` not found (columns: {})",
                names.join(", ")
            ))
        })
    };
    let Columns {
        id: id_i,
        amount: amount_i,
        program: program_i,
        date: date_i,
        funding: funding_i,
    } = Columns::of(spec, idx)?;
    let xy_i = match &spec.locate {
        Locate::Point { x, y, .. } => Some((idx(x)?, idx(y)?)),
        Locate::Geometry { crs } => {
            let layer_crs = l
                .spatial_ref()
                .and_then(|s| s.authority().ok())
                .filter(|a| !a.is_empty());
            let crs = crs
                .clone()
                .or(layer_crs)
                .ok_or_else(|| rows.err("the layer has no CRS; declare one with locate.crs"))?;
            rows.set_crs(crs);
            None
        }
        _ => return Err(rows.err("a streamed input is located by point or geometry")),
    };
    let unit = spec.amount.as_ref().map(|a| a.unit);
    let skip = if spec.header_row > 1 {
        spec.header_row
    } else {
        0
    };
    for f in l.features().skip(skip) {
        let text = |i: Option<usize>| i.map(|i| read::text(&f, i));
        let (id, program, funding, date) =
            (text(id_i), text(program_i), text(funding_i), text(date_i));
        let amount = match (amount_i, unit) {
            (Some(i), Some(u)) => Some(amount_text(&read::text(&f, i), u)),
            _ => None,
        };
        let xy = match xy_i {
            Some((xi, yi)) => {
                let (xs, ys) = (read::text(&f, xi), read::text(&f, yi));
                coordinates(parse_f64(xs.as_bytes()), parse_f64(ys.as_bytes()), || {
                    (xs.clone(), ys.clone())
                })
            }
            None => match f.geometry() {
                None => Err((RejectReason::LocationMissing, "no geometry".into())),
                Some(g) if g.is_empty() => {
                    Err((RejectReason::LocationMissing, "empty geometry".into()))
                }
                Some(g) if (g.geometry_type() & 0x0FFF_FFFF) % 1000 == 1 => {
                    let (x, y, _) = g.get_point(0);
                    Ok(Coord { x, y })
                }
                Some(g) => Err((
                    RejectReason::CoordinateInvalid,
                    format!(
                        "expected a point, found a {}; polygon inputs are read with stream = false",
                        g.geometry_name()
                    ),
                )),
            },
        };
        let raw = Raw {
            id: Val::text(id.as_deref()),
            amount,
            program: program.as_deref(),
            program_key: None,
            funding: funding.as_deref(),
            date: Val::text(date.as_deref()),
            xy,
        };
        if !rows.push(raw)? {
            break;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::types::Int32Type;
    use arrow_array::{DictionaryArray, Int16Array, Int64Array};
    use std::sync::Arc;

    #[test]
    fn column_values_and_nulls_plain_and_dictionary() {
        let mut buf = String::new();
        let ints: ArrayRef = Arc::new(Int64Array::from(vec![Some(7), None, Some(-3)]));
        let c = Column::new(ints, "n").unwrap();
        assert_eq!(c.index(1), None);
        assert!(matches!(c.val(0, &mut buf), Val::Int(7)));
        assert!(matches!(c.val(1, &mut buf), Val::Null));
        assert_eq!(c.text(2, &mut buf), Some("-3"));
        assert_eq!(c.amount(0, AmountUnit::Krw, &mut buf).ok(), Some(7));
        assert!(c.amount(1, AmountUnit::Krw, &mut buf).is_err());

        let years: ArrayRef = Arc::new(Int16Array::from(vec![None, Some(2015)]));
        let c = Column::new(years, "year").unwrap();
        assert!(matches!(c.val(0, &mut buf), Val::Null));
        assert!(matches!(c.val(1, &mut buf), Val::Int(2015)));

        let text: ArrayRef = Arc::new(LargeStringArray::from(vec![Some("a"), None, Some("1.5")]));
        let c = Column::new(text, "t").unwrap();
        assert_eq!(c.text(0, &mut buf), Some("a"));
        assert_eq!(c.text(1, &mut buf), None);
        assert_eq!(c.number(2, &mut buf), Some(1.5));
        assert_eq!(c.dictionary_len(), None);

        // A null key and a key pointing at a null dictionary value both read as null.
        let dict: DictionaryArray<Int32Type> = vec![Some("x"), None, Some("y"), Some("x")]
            .into_iter()
            .collect();
        let values = StringArray::from(vec![Some("x"), Some("y"), None]);
        let keys = arrow_array::Int32Array::from(vec![Some(0), None, Some(1), Some(2)]);
        let with_null_value =
            DictionaryArray::<Int32Type>::try_new(keys, Arc::new(values)).unwrap();
        let c = Column::new(Arc::new(dict), "p").unwrap();
        assert_eq!(c.dictionary_len(), Some(2));
        let got: Vec<Option<String>> = (0..4)
            .map(|i| c.text(i, &mut buf).map(str::to_string))
            .collect();
        assert_eq!(
            got,
            [Some("x".into()), None, Some("y".into()), Some("x".into())]
        );
        assert_eq!(c.index(3), c.index(0));
        let c = Column::new(Arc::new(with_null_value), "p").unwrap();
        let got: Vec<Option<String>> = (0..4)
            .map(|i| c.text(i, &mut buf).map(str::to_string))
            .collect();
        assert_eq!(got, [Some("x".into()), None, Some("y".into()), None]);

        let floats: ArrayRef = Arc::new(arrow_array::BooleanArray::from(vec![true]));
        assert!(Column::new(floats, "b").is_err());
    }

    #[test]
    fn wkb_nulls_and_points() {
        let mut p = vec![1u8, 1, 0, 0, 0];
        p.extend(127.5f64.to_le_bytes());
        p.extend(37.25f64.to_le_bytes());
        let a: ArrayRef = Arc::new(BinaryArray::from(vec![Some(p.as_slice()), None]));
        let w = Wkb::new(&a).unwrap();
        let c = w.point(0).unwrap();
        assert_eq!((c.x, c.y), (127.5, 37.25));
        assert_eq!(w.point(1).unwrap_err().0, RejectReason::LocationMissing);
    }

    #[test]
    fn z_order_is_a_permutation_in_quadrant_order_with_non_finite_last() {
        let c = |x: f64, y: f64| Coord { x, y };
        // Quadrants of the extent: lower-left, lower-right, upper-left, upper-right.
        let cs = [
            c(9.0, 9.0),
            c(f64::NAN, 1.0),
            c(1.0, 9.0),
            c(9.0, 1.0),
            c(1.0, 1.0),
            c(0.0, 0.0),
        ];
        let order = z_order(&cs);
        assert_eq!(order, [5, 4, 3, 2, 0, 1]);
        let mut sorted = order.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..cs.len() as u32).collect::<Vec<_>>());
        assert!(z_order(&[]).is_empty());
        assert_eq!(z_order(&[c(3.0, 3.0), c(3.0, 3.0)]), [0, 1]);
    }
}
