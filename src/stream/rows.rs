//! Rows to chunks: every value of a streamed row is checked by the same
//! [`RowChecker`](crate::read::row::RowChecker) as the materialising reader's (amounts, ids,
//! funding, dates, programmes, coordinates), bad rows become rejects, and good ones are
//! gathered into chunks sent to the locating thread.

use std::sync::mpsc;
use std::time::{Duration, Instant};

use geo::Coord;

use super::{CHUNK_ROWS, NO_PERIOD, NO_PROGRAM, UNSEEN};
use crate::config::{InputSpec, Period};
use crate::error::Error;
use crate::model::{FundingSource, Reject};
use crate::progress::checkpoint;
use crate::read::encoding::Encoding;
use crate::read::footer::Footers;
use crate::read::row::{Bad, BadAmount, FxMap, Reader, Rejected, RowChecker, Val, Values};

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
    /// The chunk's place among those sent (0 for the first): chunks are located side by
    /// side and folded in this order.
    pub(super) seq: u64,
}

impl Chunk {
    /// An empty chunk with room for a full one, its ids kept as `like`'s were: the columns
    /// are not grown (and copied) a doubling at a time, chunk after chunk.
    fn sized_like(like: &Chunk) -> Chunk {
        let n = CHUNK_ROWS;
        let has = |len: usize| if len > 0 { n } else { 0 };
        Chunk {
            rows: Vec::with_capacity(n),
            xy: Vec::with_capacity(n),
            amount: Vec::with_capacity(n),
            program: Vec::with_capacity(n),
            funding: Vec::with_capacity(n),
            period: Vec::with_capacity(n),
            ids: String::with_capacity(like.ids.len() + like.ids.len() / 8),
            id_ends: Vec::with_capacity(has(like.id_ends.len())),
            id_ints: Vec::with_capacity(has(like.id_ints.len())),
            rejects: Vec::new(),
            last_row: 0,
            seq: 0,
        }
    }

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

/// What the reader thread hands back at the end.
pub(super) struct End {
    pub(super) rows: u64,
    /// Subtotal and footer rows among `rows`.
    pub(super) skipped: u64,
    pub(super) programs: Vec<String>,
    pub(super) encoding: Option<Encoding>,
    pub(super) warnings: Vec<String>,
    pub(super) read_time: Duration,
    /// sha256 of the bytes read.
    pub(super) sha256: String,
    /// Rows taken by plain runs.
    pub(super) plain: u64,
}

/// Turns raw rows into chunks: checks every row with the input's [`RowChecker`] (the one the
/// materialising reader uses), interns programme ids, and sends full chunks.
pub(super) struct Rows<'a> {
    pub(super) index: usize,
    pub(super) spec: &'a InputSpec,
    pub(super) periods: &'a [Period],
    pub(super) tx: mpsc::SyncSender<Msg>,
    /// The row checks, and the source CRS of the coordinates (set by the reader before the
    /// first row when the file declares it).
    pub(super) check: RowChecker,
    pub(super) programs: Vec<String>,
    pub(super) program_ids: FxMap<String, u32>,
    /// Program ids of the current batch's dictionary values ([`UNSEEN`] until first met in an
    /// accepted row, so ids keep their first-seen order).
    pub(super) program_memo: Vec<u32>,
    pub(super) rows: u64,
    pub(super) chunk: Chunk,
    pub(super) encoding: Option<Encoding>,
    pub(super) warnings: Vec<String>,
    /// sha256 of the bytes read, set by the reader at the end (see `read::watch`).
    pub(super) sha256: String,
    /// False once the consumer has gone (it stopped on an error of its own).
    pub(super) open: bool,
    pub(super) started: Instant,
    pub(super) crs_sent: bool,
    /// Subtotal and footer rows skipped (`read::footer`).
    pub(super) footers: Footers,
    /// Rows taken by the GeoParquet reader's plain runs (`stream::plain`).
    pub(super) plain: u64,
    /// Chunks sent.
    sent: u64,
}

impl<'a> Rows<'a> {
    pub(super) fn new(
        index: usize,
        spec: &'a InputSpec,
        periods: &'a [Period],
        tx: mpsc::SyncSender<Msg>,
    ) -> Rows<'a> {
        Rows {
            index,
            spec,
            periods,
            tx,
            check: RowChecker::new(spec, Reader::Streamed),
            programs: Vec::new(),
            program_ids: FxMap::default(),
            program_memo: Vec::new(),
            rows: 0,
            chunk: Chunk::default(),
            encoding: None,
            warnings: Vec::new(),
            sha256: String::new(),
            open: true,
            started: Instant::now(),
            crs_sent: false,
            footers: Footers::new(&spec.skip_rows),
            plain: 0,
            sent: 0,
        }
    }

    pub(super) fn set_crs(&mut self, crs: String) {
        self.check.set_crs(crs);
    }

    pub(super) fn err(&self, message: impl Into<String>) -> Error {
        Error::Read {
            path: self.spec.path.clone(),
            layer: self.spec.layer.clone().unwrap_or_default(),
            message: message.into(),
        }
    }

    /// Checks one row and adds it to the chunk or to its rejects. `Ok(false)` once the
    /// consumer has stopped.
    pub(super) fn push(&mut self, raw: Raw<'_>) -> Result<bool, Error> {
        self.rows += 1;
        let row = self.rows;
        let values = Values {
            id: raw.id,
            amount: raw.amount,
            funding: raw.funding,
            date: raw.date,
        };
        let checked = self.check.values(row, values).and_then(|v| {
            let xy = raw.xy.and_then(|c| self.check.point(c));
            xy.map(|xy| (v, xy)).map_err(|(reason, detail)| Rejected {
                reason,
                detail,
                amount_krw: v.amount_krw,
            })
        });
        let (v, xy) = match checked {
            Ok(c) => c,
            Err(r) => {
                self.reject(row, raw.id, r);
                return self.flush_if_full();
            }
        };
        let program = self.program(row, raw.program, raw.program_key);
        let period = v
            .date
            .and_then(|d| self.periods.iter().position(|p| p.contains(d)))
            .map_or(NO_PERIOD, |p| p as u16);
        let c = &mut self.chunk;
        c.rows.push(row);
        c.xy.push(xy);
        c.amount.push(v.amount_krw.unwrap_or(0));
        c.program.push(program);
        c.funding.push(funding_index(v.funding));
        c.period.push(period);
        match raw.id {
            _ if self.spec.id_field.is_none() => {}
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

    /// Counts a subtotal or footer row as skipped: a row number, no record, no money.
    pub(super) fn skip(&mut self, label: String) {
        self.rows += 1;
        self.footers.skip(self.rows, label);
    }

    /// Counts a row refused before its values are read (`read::row::short_row`). `Ok(false)`
    /// once the consumer has stopped.
    pub(super) fn push_rejected(&mut self, id: Val<'_>, r: Rejected) -> Result<bool, Error> {
        self.rows += 1;
        self.reject(self.rows, id, r);
        self.flush_if_full()
    }

    fn reject(&mut self, row: u64, id: Val<'_>, r: Rejected) {
        self.chunk.rejects.push(Reject {
            input: self.index,
            row,
            record_id: if self.spec.id_field.is_some() {
                id.to_text()
            } else {
                row.to_string()
            },
            reason: r.reason,
            detail: r.detail,
            amount_krw: r.amount_krw,
            point: None,
        });
    }

    /// The id of an accepted row's programme (interned in first-seen order), remembered for
    /// the batch by its dictionary key when the column has one (but not for an id too long to
    /// keep, so that every row of it is counted).
    fn program(&mut self, row: u64, text: Option<&str>, key: Option<usize>) -> u32 {
        let memo = key
            .and_then(|k| self.program_memo.get(k).copied())
            .filter(|&id| id != UNSEEN);
        if let Some(id) = memo {
            return id;
        }
        // A blank programme is no programme, with nothing to count: remembered like an id.
        let blank = text.is_none_or(|t| t.trim().is_empty());
        let p = self.check.program(row, text);
        let id = if p.is_empty() {
            NO_PROGRAM
        } else if let Some(&i) = self.program_ids.get(p) {
            i
        } else {
            let i = self.programs.len() as u32;
            self.programs.push(p.to_string());
            self.program_ids.insert(p.to_string(), i);
            i
        };
        if let Some(slot) = key
            .filter(|_| id != NO_PROGRAM || blank)
            .and_then(|k| self.program_memo.get_mut(k))
        {
            *slot = id;
        }
        id
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
        let next = Chunk::sized_like(&self.chunk);
        let mut chunk = std::mem::replace(&mut self.chunk, next);
        chunk.last_row = self.rows;
        if chunk.len() + chunk.rejects.len() == 0 {
            return Ok(self.open);
        }
        chunk.seq = self.sent;
        self.sent += 1;
        self.announce();
        self.send(Msg::Chunk(Box::new(chunk)));
        if self.sent == 1 {
            // A test can act here, mid-read (see `progress::checkpoint`).
            checkpoint("read.first_chunk");
        }
        Ok(self.open)
    }

    /// Sends the CRS of the coordinates, once, before the first chunk. A reader calls it as
    /// soon as it knows the CRS, so that the grids are loaded while it reads the first rows.
    pub(super) fn announce(&mut self) {
        if !self.crs_sent {
            self.crs_sent = true;
            self.send(Msg::Crs(self.check.crs().to_string()));
        }
    }

    pub(super) fn send(&mut self, msg: Msg) {
        if self.open && self.tx.send(msg).is_err() {
            self.open = false;
        }
    }

    pub(super) fn finish(mut self) -> Result<End, Error> {
        self.flush()?;
        self.warnings.extend(self.check.warnings());
        self.warnings.extend(self.footers.note());
        Ok(End {
            rows: self.rows,
            skipped: self.footers.count,
            programs: self.programs,
            encoding: self.encoding,
            warnings: self.warnings,
            read_time: self.started.elapsed(),
            sha256: self.sha256,
            plain: self.plain,
        })
    }
}

pub(super) fn funding_index(f: FundingSource) -> u8 {
    FundingSource::ALL.iter().position(|x| *x == f).unwrap_or(0) as u8
}
