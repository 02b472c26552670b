//! Rows to chunks: every value of a streamed row is checked exactly as the materialising
//! reader checks it (amounts, dates, programmes, funding, coordinates), bad rows become rejects,
//! and good ones are gathered into chunks sent to the locating thread.

use std::collections::HashMap;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use geo::Coord;

use super::{CHUNK_ROWS, NO_PERIOD, NO_PROGRAM, UNSEEN};
use crate::config::{AmountUnit, FundingSpec, InputSpec, Locate, Period, ValueSpec};
use crate::error::Error;
use crate::model::{FundingSource, Reject, RejectReason};
use crate::read::{self, amount, encoding::Encoding};
/// What the reader sends: the CRS of its coordinates, then chunks.
pub(super) enum Msg {
    Crs(String),
    Chunk(Box<Chunk>),
}

/// Rows read but not yet located, coordinates in the input's CRS.
#[derive(Default)]
pub(super) struct Chunk {
    pub(super) rows: Vec<u64>,
    pub(super) xy: Vec<Coord<f64>>,
    pub(super) amount: Vec<i64>,
    pub(super) program: Vec<u32>,
    pub(super) funding: Vec<u8>,
    pub(super) period: Vec<u16>,
    /// Record ids, concatenated (`id_ends[i]` ends the i-th), when the input has an id column.
    pub(super) ids: String,
    pub(super) id_ends: Vec<usize>,
    /// Record ids of an integer id column.
    pub(super) id_ints: Vec<i64>,
    /// Rows rejected while reading, in row order.
    pub(super) rejects: Vec<Reject>,
    pub(super) last_row: u64,
}

impl Chunk {
    pub(super) fn len(&self) -> usize {
        self.rows.len()
    }

    pub(super) fn id(&self, i: usize) -> String {
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
pub(super) struct Raw<'r> {
    pub(super) id: Val<'r>,
    /// `None` for a count-only input.
    pub(super) amount: Option<Result<i64, BadAmount>>,
    pub(super) program: Option<&'r str>,
    /// The program's index in a dictionary-encoded column, remembered per batch.
    pub(super) program_key: Option<usize>,
    pub(super) funding: Option<&'r str>,
    pub(super) date: Val<'r>,
    pub(super) xy: Result<Coord<f64>, Bad>,
}

/// A cell as read: integer columns are kept as numbers so that ids and years need no text.
#[derive(Clone, Copy)]
pub(super) enum Val<'r> {
    Null,
    Text(&'r str),
    Int(i64),
}

impl<'r> Val<'r> {
    pub(super) fn text(t: Option<&'r str>) -> Val<'r> {
        t.map_or(Val::Null, Val::Text)
    }

    /// Null or blank.
    pub(super) fn is_empty(&self) -> bool {
        match self {
            Val::Null => true,
            Val::Text(t) => t.trim().is_empty(),
            Val::Int(_) => false,
        }
    }

    pub(super) fn to_text(self) -> String {
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
pub(super) struct FxHasher(u64);

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

pub(super) type FxMap<K, V> = HashMap<K, V, std::hash::BuildHasherDefault<FxHasher>>;

/// Why a value is unusable, and the amount to report with it when one was read.
pub(super) type Bad = (RejectReason, String);
/// An unusable amount: why, and the (negative) amount to keep with the reject when one was read.
pub(super) type BadAmount = (RejectReason, String, Option<i64>);

/// What the reader thread hands back at the end.
pub(super) struct End {
    pub(super) rows: u64,
    pub(super) programs: Vec<String>,
    pub(super) encoding: Option<Encoding>,
    pub(super) warnings: Vec<String>,
    pub(super) read_time: Duration,
}

/// Turns raw rows into chunks: checks every value as the materialising reader does, interns
/// programme ids, and sends full chunks after reprojecting them.
pub(super) struct Rows<'a> {
    pub(super) index: usize,
    pub(super) spec: &'a InputSpec,
    pub(super) periods: &'a [Period],
    pub(super) tx: mpsc::SyncSender<Msg>,
    /// The source CRS of the coordinates (set by the reader before the first row).
    pub(super) crs: String,
    pub(super) geographic: bool,
    pub(super) programs: Vec<String>,
    pub(super) program_ids: FxMap<String, u32>,
    /// Program ids of the current batch's dictionary values ([`UNSEEN`] until first met in an
    /// accepted row, so ids keep their first-seen order).
    pub(super) program_memo: Vec<u32>,
    pub(super) dates: FxMap<String, Option<u32>>,
    pub(super) date_ints: FxMap<i64, Option<u32>>,
    pub(super) date_const: Option<u32>,
    pub(super) rows: u64,
    pub(super) chunk: Chunk,
    pub(super) encoding: Option<Encoding>,
    pub(super) warnings: Vec<String>,
    /// False once the consumer has gone (it stopped on an error of its own).
    pub(super) open: bool,
    pub(super) started: Instant,
    pub(super) crs_sent: bool,
}

impl<'a> Rows<'a> {
    pub(super) fn new(
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

    pub(super) fn set_crs(&mut self, crs: String) {
        self.geographic = read::is_geographic(&crs);
        self.crs = crs;
    }

    pub(super) fn err(&self, message: impl Into<String>) -> Error {
        Error::Read {
            path: self.spec.path.clone(),
            layer: self.spec.layer.clone().unwrap_or_default(),
            message: message.into(),
        }
    }

    pub(super) fn program_id(&mut self, p: &str) -> u32 {
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
    pub(super) fn push(&mut self, raw: Raw<'_>) -> Result<bool, Error> {
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

    pub(super) fn flush_if_full(&mut self) -> Result<bool, Error> {
        if self.chunk.len() + self.chunk.rejects.len() >= CHUNK_ROWS {
            self.flush()
        } else {
            Ok(self.open)
        }
    }

    /// Sends the chunk (after the CRS, before the first chunk).
    pub(super) fn flush(&mut self) -> Result<bool, Error> {
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

    pub(super) fn send(&mut self, msg: Msg) {
        if self.open && self.tx.send(msg).is_err() {
            self.open = false;
        }
    }

    pub(super) fn finish(mut self) -> Result<End, Error> {
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
pub(super) fn amount_text(s: &str, unit: AmountUnit) -> Result<i64, BadAmount> {
    amount::parse_amount(s, unit).map_err(|(reason, detail)| {
        let value = (reason == RejectReason::AmountNegative)
            .then(|| amount::parse_amount(s.trim().trim_start_matches('-'), unit).ok())
            .flatten()
            .map(|v| -v);
        (reason, detail, value)
    })
}

pub(super) fn funding_index(f: FundingSource) -> u8 {
    FundingSource::ALL.iter().position(|x| *x == f).unwrap_or(0) as u8
}

/// An integer amount in `unit`, exactly in KRW.
pub(super) fn amount_int(v: i128, unit: AmountUnit) -> Result<i64, BadAmount> {
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
/// Column indices of an input's configured value columns, in a text reader's header.
pub(super) struct Columns {
    pub(super) id: Option<usize>,
    pub(super) amount: Option<usize>,
    pub(super) program: Option<usize>,
    pub(super) date: Option<usize>,
    pub(super) funding: Option<usize>,
}

impl Columns {
    pub(super) fn of(
        spec: &InputSpec,
        idx: impl Fn(&str) -> Result<usize, Error>,
    ) -> Result<Columns, Error> {
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
