//! Plain rows of a GeoParquet batch, taken in runs: the common case (an integer id, amount and
//! year, a dictionary-encoded programme already met, a little-endian 2D WKB point that passes
//! the coordinate check) read straight from the batch's buffers, without building the row's
//! values one by one for the [`RowChecker`](crate::read::row::RowChecker).
//!
//! A row the run cannot take as plain (a null, a negative or huge amount, a date that is not a
//! year, a programme not yet interned, any other WKB, a doubtful coordinate) ends the run and
//! goes through the general path ([`Rows::push`]), which accepts or rejects it as before; the
//! run then goes on from the next row. So a plain row gives exactly what the general path would
//! (the same chunk columns, the same chunk boundaries), with the checks it needs and no others:
//! on 10 M rows the general path's per-row values, checks and pushes were about a quarter of the
//! whole run's CPU (issue #20).

use std::borrow::Cow;

use arrow_buffer::NullBuffer;
use geo::Coord;

use super::parquet::{Binaries, Column, NULL_KEY, Typed, Wkb};
use super::rows::{Rows, funding_index};
use super::{CHUNK_ROWS, NO_PERIOD, NO_PROGRAM, UNSEEN};
use crate::config::{AmountUnit, FundingSpec, Period, ValueSpec};
use crate::error::Error;
use crate::model::parse_date;
use crate::read::row::amount_int;

/// One integer column of a batch, as 64-bit values, and its validity.
struct Ints<'b> {
    values: Cow<'b, [i64]>,
    nulls: Option<&'b NullBuffer>,
}

impl<'b> Ints<'b> {
    /// The column's values when it is a 16-, 32- or 64-bit signed integer column without a
    /// dictionary (the types [`Column::val`] reads as integers).
    fn of(c: &'b Column) -> Option<Ints<'b>> {
        if c.keys.is_some() {
            return None;
        }
        let values = match &c.values {
            Typed::I64(a) => Cow::Borrowed(a.values().as_ref()),
            Typed::I32(a) => Cow::Owned(a.values().iter().map(|&v| i64::from(v)).collect()),
            Typed::I16(a) => Cow::Owned(a.values().iter().map(|&v| i64::from(v)).collect()),
            _ => return None,
        };
        Some(Ints {
            values,
            nulls: c.nulls.as_ref(),
        })
    }

    fn get(&self, i: usize) -> Option<i64> {
        match self.nulls {
            Some(n) if n.is_null(i) => None,
            _ => Some(self.values[i]),
        }
    }
}

/// What a year (an integer date) gives: not looked at yet, not a date (the general path
/// rejects it), or the index of its period ([`NO_PERIOD`] for none).
const YEAR_UNSEEN: u32 = u32::MAX;
const YEAR_INVALID: u32 = u32::MAX - 1;

/// The period of each integer year met, for an input's runs.
pub(super) struct YearPeriods(Vec<u32>);

impl YearPeriods {
    /// The integers looked up in a table: the years [`parse_date`] takes.
    const LAST: usize = 2100;

    pub(super) fn new() -> YearPeriods {
        YearPeriods(vec![YEAR_UNSEEN; Self::LAST + 1])
    }

    /// The period of year `n` (as [`RowChecker`](crate::read::row::RowChecker) reads an
    /// integer date: [`parse_date`] of its digits), `None` when `n` is not a date.
    fn period(&mut self, n: i64, periods: &[Period]) -> Option<u16> {
        let slot = self.0.get_mut(usize::try_from(n).ok()?)?;
        if *slot == YEAR_UNSEEN {
            *slot = match parse_date(&n.to_string()) {
                Some(d) => periods
                    .iter()
                    .position(|p| p.contains(d))
                    .map_or(u32::from(NO_PERIOD), |p| p as u32),
                None => YEAR_INVALID,
            };
        }
        match *slot {
            YEAR_INVALID => None,
            p => Some(p as u16),
        }
    }
}

/// A batch's columns, for runs of plain rows.
pub(super) struct Plain<'b> {
    /// `None`: the input has no id column.
    ids: Option<Ints<'b>>,
    /// `None`: a count-only input.
    amounts: Option<(Ints<'b>, AmountUnit)>,
    /// `None`: the input has no date.
    years: Option<Ints<'b>>,
    /// The programme column's dictionary keys; `None`: the input has no programme.
    programs: Option<&'b [u32]>,
    funding: u8,
    offsets: &'b [i32],
    wkb: &'b [u8],
    wkb_nulls: Option<&'b NullBuffer>,
}

/// The configured columns of one batch (`None` for a column the input does not have).
pub(super) struct Columns<'b> {
    pub(super) id: Option<&'b Column>,
    pub(super) amount: Option<&'b Column>,
    pub(super) program: Option<&'b Column>,
    pub(super) date: Option<&'b Column>,
    pub(super) wkb: Option<&'b Wkb>,
}

impl<'b> Plain<'b> {
    /// The batch's columns, when the input's configuration and the columns' types allow plain
    /// rows at all: a WKB geometry column, a constant funding, a programme and a date that are
    /// columns (dictionary-encoded for the programme) or not configured, and integer ids,
    /// amounts and years.
    pub(super) fn of(rows: &Rows<'_>, c: &Columns<'b>) -> Option<Plain<'b>> {
        let spec = rows.spec;
        let funding = match &spec.funding {
            FundingSpec::Const(f) => funding_index(*f),
            FundingSpec::Field(_) => return None,
        };
        let wkb = c.wkb?;
        let Binaries::Binary(a) = &wkb.values else {
            return None;
        };
        let ints = |col: Option<&'b Column>, configured: bool| match (col, configured) {
            (Some(col), true) => Ints::of(col).map(Some),
            (None, false) => Some(None),
            _ => None,
        };
        let programs = match (&spec.program, c.program) {
            (ValueSpec::Field(_), Some(p)) => Some(p.keys.as_deref()?),
            (ValueSpec::None, None) => None,
            _ => return None,
        };
        let years = match &spec.date {
            ValueSpec::Field(_) => ints(c.date, true)?,
            ValueSpec::None => None,
            ValueSpec::Const(_) => return None,
        };
        // The general path reads 16-bit amounts through their text ([`Column::amount`]).
        let amounts = match (&spec.amount, c.amount) {
            (Some(a), Some(col)) if !matches!(col.values, Typed::I16(_)) => {
                Some((Ints::of(col)?, a.unit))
            }
            (None, None) => None,
            _ => return None,
        };
        Some(Plain {
            ids: ints(c.id, spec.id_field.is_some())?,
            amounts,
            years,
            programs,
            funding,
            offsets: a.value_offsets(),
            wkb: a.value_data(),
            wkb_nulls: wkb.nulls.as_ref(),
        })
    }

    /// Takes the plain rows from `i` on, sending each chunk that fills. Returns the first row
    /// not taken (`end` when all were), or `None` once the consumer has stopped.
    pub(super) fn run(
        &self,
        rows: &mut Rows<'_>,
        years: &mut YearPeriods,
        mut i: usize,
        end: usize,
    ) -> Result<Option<usize>, Error> {
        loop {
            // The general path sends a full chunk at once, so a chunk always has room here.
            let room = CHUNK_ROWS.saturating_sub(rows.chunk.len() + rows.chunk.rejects.len());
            let stop = end.min(i + room);
            while i < stop {
                let Some(r) = self.row(rows, years, i) else {
                    break;
                };
                rows.rows += 1;
                rows.plain += 1;
                let c = &mut rows.chunk;
                c.rows.push(rows.rows);
                c.xy.push(r.xy);
                c.amount.push(r.amount);
                c.program.push(r.program);
                c.funding.push(self.funding);
                c.period.push(r.period);
                if let Some(id) = r.id {
                    c.id_ints.push(id);
                }
                i += 1;
            }
            if !rows.flush_if_full()? {
                return Ok(None);
            }
            if i < stop || i == end {
                return Ok(Some(i));
            }
        }
    }

    /// Row `i` when it is plain.
    #[inline]
    fn row(&self, rows: &Rows<'_>, years: &mut YearPeriods, i: usize) -> Option<PlainRow> {
        // In the general path's order: amount, id, date (funding is constant), point.
        let amount = match &self.amounts {
            Some((a, unit)) => amount_int(i128::from(a.get(i)?), *unit).ok()?,
            None => 0,
        };
        let id = match &self.ids {
            Some(ids) => Some(ids.get(i)?),
            None => None,
        };
        let period = match &self.years {
            Some(y) => years.period(y.get(i)?, rows.periods)?,
            None => NO_PERIOD,
        };
        let program = match self.programs {
            Some(keys) => match keys[i] {
                NULL_KEY => return None,
                k => match rows.program_memo.get(k as usize) {
                    Some(&p) if p != UNSEEN => p,
                    _ => return None,
                },
            },
            None => NO_PROGRAM,
        };
        if self.wkb_nulls.is_some_and(|n| n.is_null(i)) {
            return None;
        }
        let (start, stop) = (self.offsets[i] as usize, self.offsets[i + 1] as usize);
        let b = self.wkb.get(start..stop)?;
        // Little-endian ISO/EWKB type 1 without flags: POINT, then x and y.
        if b.len() < 21 || b[..5] != [1, 1, 0, 0, 0] {
            return None;
        }
        let f = |at: usize| f64::from_le_bytes(b[at..at + 8].try_into().unwrap_or_default());
        let xy = rows.check.point(Coord { x: f(5), y: f(13) }).ok()?;
        Some(PlainRow {
            xy,
            amount,
            program,
            period,
            id,
        })
    }
}

struct PlainRow {
    xy: Coord<f64>,
    amount: i64,
    program: u32,
    period: u16,
    id: Option<i64>,
}
