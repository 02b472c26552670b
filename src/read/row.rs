//! One row's values checked: the rules every reader applies to a record's amount, id, funding,
//! date, programme and coordinates, and the texts of the rejects they give.
//!
//! The materialising reader ([`records`](fn@super::records)) and the streaming one (`stream`) find
//! a row's values in their own ways (GDAL text, CSV bytes, Arrow columns) and do their own
//! things with the checked ones (records, or chunks of columns), but both check them through
//! one [`RowChecker`], so the two cannot drift apart. They check in the same order: amount, id,
//! funding, date, then location; the programme never rejects a row. Before all of them, a CSV
//! row with fewer fields than the header is refused whole ([`short_row`]).
//!
//! Where the two paths have always differed, the checker keeps each path's behaviour, chosen by
//! [`Reader`] (see there). Before the checks, the readers also decode some values differently,
//! kept as they were:
//! - plain CSV digits and Parquet integer amounts are converted by [`amount_int`] (`amount -5
//!   is negative`, `` `…` does not fit a 64-bit KRW amount``), text by [`amount_text`] (`` amount
//!   `-5` is negative``, `` `…` 천원 is too large``);
//! - a geometry the streaming reader cannot take is refused as `no geometry` / `empty
//!   geometry` / `expected a point, found a …; polygon inputs are read with stream = false`,
//!   where the materialising reader takes polygons and says `no geometry` / `expected a point
//!   or polygon geometry, found …` (and rejects geometries above `max_vertices`);
//! - non-finite numeric coordinates (WKB, GDAL points) are `coordinates x=inf y=… are not
//!   finite numbers` when streamed; the materialising reader says `expected a point or polygon
//!   geometry, found Point` for such a point geometry.

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use geo::Coord;

use super::amount;
use crate::config::{AmountUnit, FundingSpec, InputSpec, Locate, ValueSpec};
use crate::error::Error;
use crate::model::{
    Date, FundingSource, QUOTED_CHARS, RejectReason, clip, funding_key, parse_date,
};

/// Why a value is unusable: the reject reason and its detail.
pub type Bad = (RejectReason, String);
/// An unusable amount: why, and the (negative) amount to keep with the reject when one was read.
pub type BadAmount = (RejectReason, String, Option<i64>);

/// A cell as read: integer columns are kept as numbers so that ids and years need no text.
#[derive(Clone, Copy, Debug)]
pub enum Val<'r> {
    /// No value (a null, or no such column).
    Null,
    /// Text as read, untrimmed.
    Text(&'r str),
    /// A value of an integer column.
    Int(i64),
}

impl<'r> Val<'r> {
    /// Text, or [`Val::Null`] for `None`.
    pub fn text(t: Option<&'r str>) -> Val<'r> {
        t.map_or(Val::Null, Val::Text)
    }

    /// Null or blank.
    pub fn is_empty(&self) -> bool {
        match self {
            Val::Null => true,
            Val::Text(t) => t.trim().is_empty(),
            Val::Int(_) => false,
        }
    }

    /// The value as trimmed text (empty for null).
    pub fn to_text(self) -> String {
        match self {
            Val::Null => String::new(),
            Val::Text(t) => t.trim().to_string(),
            Val::Int(n) => n.to_string(),
        }
    }
}

/// The values of one row that the checker checks before its location.
pub struct Values<'r> {
    /// The record id ([`Val::Null`] when the input has no id column).
    pub id: Val<'r>,
    /// The amount as the reader parsed it ([`amount_text`], [`amount_int`]); `None` for a
    /// count-only input.
    pub amount: Option<Result<i64, BadAmount>>,
    /// The funding column's text (`None` when null or when funding is a constant).
    pub funding: Option<&'r str>,
    /// The date column's value ([`Val::Null`] when null or when the date is not a column).
    pub date: Val<'r>,
}

/// A row's checked values.
#[derive(Debug, Clone, Copy)]
pub struct Checked {
    /// Exact KRW; `None` for a count-only input.
    pub amount_krw: Option<i64>,
    pub funding: FundingSource,
    pub date: Option<Date>,
}

/// A row the checker refuses: why, the reject's detail, and the amount to report with it.
#[derive(Debug)]
pub struct Rejected {
    pub reason: RejectReason,
    pub detail: String,
    pub amount_krw: Option<i64>,
}

/// Which reader checks. The two have always differed in these ways, kept as they were:
/// - [`Reader::Materialised`] rejects repeated record ids (the first is kept); a streamed input
///   does not check them, which would need memory per row (documented in `stream`);
/// - an invalid date is quoted as read by [`Reader::Materialised`] (`` date ` 2020-13` ``), and
///   trimmed by [`Reader::Streamed`] (`` date `2020-13` ``).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reader {
    /// `read::records`: every row kept in memory as a record.
    Materialised,
    /// `stream`: rows gathered into chunks and folded into totals.
    Streamed,
}

/// Where a row's date comes from.
#[derive(Debug)]
enum DateRule {
    Field,
    /// The configured constant, parsed (`None` also when no date is configured).
    Fixed(Option<Date>),
}

/// Where a row's programme comes from.
#[derive(Debug)]
enum ProgramRule {
    Field,
    /// The configured constant (empty when no programme is configured).
    Fixed(String),
}

/// Checks the rows of one input, built once per input from its [`InputSpec`].
#[derive(Debug)]
pub struct RowChecker {
    reader: Reader,
    has_id: bool,
    /// The amount column, named in amount rejects.
    amount_field: String,
    /// The constant funding, or `None` for a funding column.
    funding: Option<FundingSource>,
    date: DateRule,
    program: ProgramRule,
    /// The CRS of the coordinates, named in coordinate rejects.
    crs: String,
    /// Whether `crs` is longitude/latitude, whose coordinates are checked.
    geographic: bool,
    /// Dates parsed so far by their trimmed text: few distinct values, met once per row.
    dates: FxMap<String, Option<Date>>,
    date_ints: FxMap<i64, Option<Date>>,
    /// Dates of the integers 0..=[`LAST_YEAR_INT`] (`None` until met), by the integer: a year
    /// column's values without hashing (the map probe was most of this checker's time on
    /// 10 M streamed rows).
    year_ints: Vec<Option<Option<Date>>>,
    /// The first row of each record id ([`Reader::Materialised`] only).
    first_row_of_id: Option<HashMap<String, u64>>,
    /// Rows whose programme id is longer than [`MAX_PROGRAM_BYTES`], and the first of them with
    /// its id clipped.
    long_programs: (u64, Option<(u64, String)>),
    /// The input's `funding_labels`, by [`funding_key`].
    funding_labels: HashMap<String, FundingSource>,
    /// Funding labels no mapping knows, with their rows (the first [`MAX_UNMAPPED`] labels).
    unmapped_funding: std::collections::BTreeMap<String, u64>,
}

/// The largest integer whose date [`RowChecker`] keeps in a table rather than a map (the
/// last year [`parse_date`] takes).
const LAST_YEAR_INT: usize = 2100;

/// How many distinct unmapped funding labels the warning lists.
const MAX_UNMAPPED: usize = 20;

/// The longest programme id kept, in bytes. A programme names an output column
/// (`amount_program_<id>_krw`, on every region of every layer), so a longer one, which is not
/// an id but a damaged or misplaced value, is dropped: the row keeps its money and counts with
/// no programme, and the input gets a warning ([`RowChecker::warnings`]).
pub const MAX_PROGRAM_BYTES: usize = 64;

impl RowChecker {
    /// The checker of `spec`'s rows, its CRS the configured one (see [`RowChecker::set_crs`]).
    pub fn new(spec: &InputSpec, reader: Reader) -> RowChecker {
        let crs = spec
            .locates()
            .find_map(|l| match l {
                Locate::Point { crs, .. } => Some(crs.clone()),
                Locate::Geometry { crs } => Some(crs.clone().unwrap_or_default()),
                _ => None,
            })
            .unwrap_or_default();
        RowChecker {
            reader,
            has_id: spec.id_field.is_some(),
            amount_field: spec
                .amount
                .as_ref()
                .map_or_else(String::new, |a| a.field.clone()),
            funding: match &spec.funding {
                FundingSpec::Const(c) => Some(*c),
                FundingSpec::Field(_) => None,
            },
            date: match &spec.date {
                ValueSpec::Field(_) => DateRule::Field,
                ValueSpec::Const(c) => DateRule::Fixed(parse_date(c)),
                ValueSpec::None => DateRule::Fixed(None),
            },
            program: match &spec.program {
                ValueSpec::Field(_) => ProgramRule::Field,
                ValueSpec::Const(c) => ProgramRule::Fixed(c.clone()),
                ValueSpec::None => ProgramRule::Fixed(String::new()),
            },
            geographic: super::is_geographic(&crs),
            crs,
            dates: FxMap::default(),
            date_ints: FxMap::default(),
            year_ints: match &spec.date {
                ValueSpec::Field(_) => vec![None; LAST_YEAR_INT + 1],
                _ => Vec::new(),
            },
            first_row_of_id: (reader == Reader::Materialised).then(HashMap::new),
            long_programs: (0, None),
            funding_labels: spec
                .funding_labels
                .iter()
                .map(|(l, f)| (funding_key(l), *f))
                .collect(),
            unmapped_funding: std::collections::BTreeMap::new(),
        }
    }

    /// Sets the CRS of the coordinates, once the reader knows it (a layer's or file's own).
    pub fn set_crs(&mut self, crs: String) {
        self.geographic = super::is_geographic(&crs);
        self.crs = crs;
    }

    /// The CRS of the coordinates (empty when the input has none).
    pub fn crs(&self) -> &str {
        &self.crs
    }

    /// Checks row `row`'s amount, id, funding and date, in that order.
    ///
    /// # Errors
    /// The first check the row fails, with the amount when one was read.
    pub fn values(&mut self, row: u64, v: Values<'_>) -> Result<Checked, Rejected> {
        let amount_krw = match v.amount {
            None => None,
            Some(Ok(k)) => Some(k),
            Some(Err((reason, detail, value))) => {
                return Err(Rejected {
                    reason,
                    detail: format!("column `{}`: {detail}", self.amount_field),
                    amount_krw: value,
                });
            }
        };
        let reject = |(reason, detail): Bad| Rejected {
            reason,
            detail,
            amount_krw,
        };
        if self.has_id {
            self.id(row, v.id).map_err(reject)?;
        }
        let funding = self.funding(v.funding).map_err(reject)?;
        let date = self.date(v.date).map_err(reject)?;
        Ok(Checked {
            amount_krw,
            funding,
            date,
        })
    }

    /// An empty id, or (materialised) an id already seen at an earlier row.
    fn id(&mut self, row: u64, id: Val<'_>) -> Result<(), Bad> {
        if id.is_empty() {
            return Err((RejectReason::DuplicateId, "record id is empty".into()));
        }
        let Some(seen) = &mut self.first_row_of_id else {
            return Ok(());
        };
        match seen.entry(id.to_text()) {
            Entry::Occupied(e) => Err((
                RejectReason::DuplicateId,
                format!(
                    "record id `{}` already seen at row {}",
                    clip(e.key(), QUOTED_CHARS),
                    e.get()
                ),
            )),
            Entry::Vacant(e) => {
                e.insert(row);
                Ok(())
            }
        }
    }

    /// A row's funding: the English category, a label of the input's `funding_labels`, or a
    /// built-in Korean label ([`FundingSource::from_label`]); an unmapped label is a reject
    /// naming it and is listed in [`RowChecker::warnings`].
    fn funding(&mut self, v: Option<&str>) -> Result<FundingSource, Bad> {
        if let Some(c) = self.funding {
            return Ok(c);
        }
        let v = v.unwrap_or("");
        let found = FundingSource::parse(v)
            .or_else(|| self.funding_labels.get(&funding_key(v)).copied())
            .or_else(|| FundingSource::from_label(v));
        if let Some(f) = found {
            return Ok(f);
        }
        let shown = clip(v.trim(), QUOTED_CHARS);
        if self.unmapped_funding.len() < MAX_UNMAPPED || self.unmapped_funding.contains_key(&shown)
        {
            *self.unmapped_funding.entry(shown.clone()).or_default() += 1;
        }
        Err((
            RejectReason::FundingInvalid,
            format!(
                "funding `{shown}` is not national_program, development_fee, local or a known \
                 label (국비, 지방비, 민간, …); map it with funding_labels"
            ),
        ))
    }

    /// A blank date is no date; one that is not a date rejects the row.
    fn date(&mut self, v: Val<'_>) -> Result<Option<Date>, Bad> {
        let invalid = |shown: &dyn std::fmt::Display| {
            (
                RejectReason::DateInvalid,
                format!(
                    "date `{}` is not YYYY, YYYY-MM or YYYY-MM-DD",
                    clip(&shown.to_string(), QUOTED_CHARS)
                ),
            )
        };
        match (&self.date, v) {
            (DateRule::Fixed(d), _) => Ok(*d),
            (DateRule::Field, Val::Int(n)) => {
                let parse = || parse_date(&n.to_string());
                let parsed = match usize::try_from(n)
                    .ok()
                    .and_then(|k| self.year_ints.get_mut(k))
                {
                    Some(slot) => *slot.get_or_insert_with(parse),
                    None => *self.date_ints.entry(n).or_insert_with(parse),
                };
                parsed.map(Some).ok_or_else(|| invalid(&n))
            }
            (DateRule::Field, v) => {
                let read = match v {
                    Val::Text(t) => t,
                    _ => "",
                };
                let t = read.trim();
                if t.is_empty() {
                    return Ok(None);
                }
                let parsed = match self.dates.get(t) {
                    Some(d) => *d,
                    None => {
                        let d = parse_date(t);
                        self.dates.insert(t.to_string(), d);
                        d
                    }
                };
                parsed.map(Some).ok_or_else(|| match self.reader {
                    Reader::Materialised => invalid(&read),
                    Reader::Streamed => invalid(&t),
                })
            }
        }
    }

    /// Row `row`'s programme: the column's trimmed text or the constant; empty for none, and
    /// for an id longer than [`MAX_PROGRAM_BYTES`] (counted for [`RowChecker::warnings`]).
    pub fn program<'a>(&'a mut self, row: u64, v: Option<&'a str>) -> &'a str {
        let p = match &self.program {
            ProgramRule::Field => v.map_or("", str::trim),
            ProgramRule::Fixed(c) => c,
        };
        if p.len() <= MAX_PROGRAM_BYTES {
            return p;
        }
        let (n, first) = &mut self.long_programs;
        *n += 1;
        first.get_or_insert_with(|| (row, clip(p, 40)));
        ""
    }

    /// What the input should be told: programme ids too long to keep, and funding labels no
    /// mapping knows (their rows are `funding_invalid` rejects).
    pub fn warnings(&self) -> Vec<String> {
        let mut w = Vec::new();
        if let (n, Some((row, id))) = &self.long_programs {
            w.push(format!(
                "{n} row(s) have a programme id longer than {MAX_PROGRAM_BYTES} bytes (the first, row \
                 {row}: `{id}`); an id names an output column, so these rows keep their money \
                 with no programme"
            ));
        }
        if !self.unmapped_funding.is_empty() {
            let labels: Vec<String> = self
                .unmapped_funding
                .iter()
                .map(|(l, n)| format!("`{l}` ({n} rows)"))
                .collect();
            w.push(format!(
                "funding labels not mapped to a category (rows rejected as funding_invalid): {}; \
                 map them with funding_labels = {{ \"label\" = \"national_program\" | \"development_fee\" | \"local\" }}",
                labels.join(", ")
            ));
        }
        w
    }

    /// Checks a point in the input's CRS: finite, and in a longitude/latitude CRS plausibly
    /// in or near Korea (see [`lonlat_doubt`](super::lonlat_doubt)).
    ///
    /// # Errors
    /// [`RejectReason::CoordinateInvalid`] and why.
    pub fn point(&self, c: Coord<f64>) -> Result<Coord<f64>, Bad> {
        if !(c.x.is_finite() && c.y.is_finite()) {
            return Err((
                RejectReason::CoordinateInvalid,
                format!("coordinates x={} y={} are not finite numbers", c.x, c.y),
            ));
        }
        match self
            .geographic
            .then(|| super::lonlat_doubt(&self.crs, c.x, c.y))
            .flatten()
        {
            Some(d) => Err((RejectReason::CoordinateInvalid, d)),
            None => Ok(c),
        }
    }
}

/// An amount written as text, exactly in KRW. A negative amount is kept with its reject: the
/// money is reported, not lost.
///
/// # Errors
/// As [`amount::parse_amount`], with the negative amount when the text is one.
pub fn amount_text(s: &str, unit: AmountUnit) -> Result<i64, BadAmount> {
    amount::parse_amount(s, unit).map_err(|(reason, detail)| {
        let value = (reason == RejectReason::AmountNegative)
            .then(|| amount::parse_amount(s.trim().trim_start_matches('-'), unit).ok())
            .flatten()
            .map(|v| -v);
        (reason, detail, value)
    })
}

/// An integer amount in `unit`, exactly in KRW (the streaming readers' integer columns and
/// plain CSV digits).
///
/// # Errors
/// A negative amount (kept with its reject) or one beyond an `i64` of KRW.
pub fn amount_int(v: i128, unit: AmountUnit) -> Result<i64, BadAmount> {
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

/// A point from two parsed coordinates, or the reject naming the text of both (`text` is
/// called only then).
///
/// # Errors
/// [`RejectReason::CoordinateInvalid`] when either is missing.
pub fn coordinates(
    x: Option<f64>,
    y: Option<f64>,
    text: impl FnOnce() -> (String, String),
) -> Result<Coord<f64>, Bad> {
    match (x, y) {
        (Some(x), Some(y)) => Ok(Coord { x, y }),
        _ => {
            let (xs, ys) = text();
            let detail = match (xs.trim().is_empty(), ys.trim().is_empty()) {
                (true, true) => "the point is empty: x and y are empty".to_string(),
                (true, false) => format!(
                    "the point is incomplete: x is empty (y=`{}`)",
                    clip(&ys, QUOTED_CHARS)
                ),
                (false, true) => format!(
                    "the point is incomplete: y is empty (x=`{}`)",
                    clip(&xs, QUOTED_CHARS)
                ),
                (false, false) => format!(
                    "coordinates x=`{}` y=`{}` are not finite numbers",
                    clip(&xs, QUOTED_CHARS),
                    clip(&ys, QUOTED_CHARS)
                ),
            };
            Err((RejectReason::CoordinateInvalid, detail))
        }
    }
}

/// A CSV row with `fields` fields where the header has `header`: a file cut mid-row (a writer
/// that died) or a damaged line. The row is not checked further and its amount, which may be
/// cut too, is not booked.
pub fn short_row(fields: usize, header: usize) -> Rejected {
    Rejected {
        reason: RejectReason::RowMalformed,
        detail: format!(
            "the row has {fields} of the header's {header} fields (a file cut short?); its amount is not booked"
        ),
        amount_krw: None,
    }
}

/// A coordinate written as text (surrounding spaces allowed); `None` unless a finite number.
pub fn parse_f64(b: &[u8]) -> Option<f64> {
    std::str::from_utf8(b)
        .ok()?
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite())
}

/// Column indices of an input's configured value columns, in a reader's header.
pub struct Columns {
    pub id: Option<usize>,
    pub amount: Option<usize>,
    pub program: Option<usize>,
    pub date: Option<usize>,
    pub funding: Option<usize>,
}

impl Columns {
    /// Resolves `spec`'s value columns with `idx`, in the order id, amount, programme, date,
    /// funding (the first missing one is the error).
    ///
    /// # Errors
    /// `idx`'s error for a column the header lacks.
    pub fn of(
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

/// FxHash (rustc's): a multiply-rotate hash, several times faster than SipHash for the short
/// programme and date keys looked up once per row. Keys come from the input, but a collision
/// only costs time, and the maps hold a handful of distinct values.
#[derive(Default, Clone, Copy)]
pub struct FxHasher(u64);

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

/// A hash map with [`FxHasher`].
pub type FxMap<K, V> = HashMap<K, V, std::hash::BuildHasherDefault<FxHasher>>;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{AmountSpec, InputKind};
    use crate::read::encoding::Encoding;

    fn spec() -> InputSpec {
        InputSpec {
            name: "t".into(),
            path: "t.csv".into(),
            layer: None,
            max_vertices: 10_000,
            header_row: 1,
            encoding: Encoding::Auto,
            kind: InputKind::Investments,
            id_field: Some("id".into()),
            amount: Some(AmountSpec {
                field: "amount".into(),
                unit: AmountUnit::ThousandKrw,
            }),
            program: ValueSpec::Const("P".into()),
            funding: FundingSpec::Field("funding".into()),
            date: ValueSpec::Field("date".into()),
            locate: Locate::Point {
                x: "x".into(),
                y: "y".into(),
                crs: "EPSG:4326".into(),
            },
            fallback: Vec::new(),
            code_name_mismatch: Default::default(),
            stream: false,
            skip_rows: Vec::new(),
            funding_labels: Default::default(),
        }
    }

    fn values<'r>(id: &'r str, amount: &str, funding: &'r str, date: &'r str) -> Values<'r> {
        Values {
            id: Val::Text(id),
            amount: Some(amount_text(amount, AmountUnit::ThousandKrw)),
            funding: Some(funding),
            date: Val::Text(date),
        }
    }

    #[test]
    fn a_programme_id_over_64_bytes_is_dropped_and_counted() {
        let spec = InputSpec {
            program: ValueSpec::Field("program".into()),
            ..spec()
        };
        let mut c = RowChecker::new(&spec, Reader::Streamed);
        let ok = "p".repeat(MAX_PROGRAM_BYTES);
        assert_eq!(c.program(1, Some(&format!(" {ok} "))), ok);
        assert!(c.warnings().is_empty());
        let long = "x".repeat(4 << 20);
        assert_eq!(c.program(2, Some(&long)), "");
        assert_eq!(c.program(3, Some(&long)), "");
        let w = c.warnings();
        assert_eq!(w.len(), 1);
        assert!(
            w[0].starts_with(
                "2 row(s) have a programme id longer than 64 bytes (the first, row 2: `xxxx"
            ),
            "{}",
            w[0]
        );
        assert!(w[0].len() < 300);
    }

    #[test]
    fn reject_details_quote_little_of_a_long_value() {
        let mut c = RowChecker::new(&spec(), Reader::Streamed);
        let huge = "9x".repeat(1 << 20);
        for (amount, funding, date) in [
            (huge.as_str(), "", ""),
            ("1", huge.as_str(), ""),
            ("1", "", huge.as_str()),
        ] {
            let r = c.values(1, values("a", amount, funding, date)).unwrap_err();
            assert!(r.detail.len() < 250, "{}", &r.detail[..300]);
            assert!(r.detail.contains("9x9x9x…`"), "{}", r.detail);
        }
        let (_, d) = coordinates(None, None, || (huge.clone(), "1".into())).unwrap_err();
        assert!(d.len() < 250);
    }

    #[test]
    fn a_good_row_gives_exact_krw_funding_and_date() {
        let mut c = RowChecker::new(&spec(), Reader::Streamed);
        let v = c
            .values(1, values("a", "1,234", " local ", "2020-05"))
            .unwrap();
        assert_eq!(v.amount_krw, Some(1_234_000));
        assert_eq!(v.funding, FundingSource::Local);
        assert_eq!(v.date, Some(20_200_501));
        assert_eq!(c.values(2, values("b", "1", "", " ")).unwrap().date, None);
        assert_eq!(c.program(1, Some(" ignored ")), "P");
    }

    #[test]
    fn integer_dates_read_alike_from_the_year_table_and_the_map() {
        let mut c = RowChecker::new(&spec(), Reader::Streamed);
        let date = |c: &mut RowChecker, n: i64| {
            let v = Values {
                date: Val::Int(n),
                ..values("a", "1", "local", "")
            };
            c.values(1, v).map(|v| v.date).map_err(|r| r.reason)
        };
        // Twice each: the first parses, the second is remembered (table for 0..=2100, the
        // map beyond and below).
        for _ in 0..2 {
            assert_eq!(date(&mut c, 2015), Ok(Some(20_150_101)));
            assert_eq!(date(&mut c, 2100), Ok(Some(21_000_101)));
            assert_eq!(date(&mut c, 1899), Err(RejectReason::DateInvalid));
            assert_eq!(date(&mut c, 0), Err(RejectReason::DateInvalid));
            assert_eq!(date(&mut c, 2101), Err(RejectReason::DateInvalid));
            assert_eq!(date(&mut c, 20_200_315), Ok(Some(20_200_315)));
            // `-2020` reads as the text "-2020", whose separator parse_date drops.
            assert_eq!(date(&mut c, -2020), Ok(Some(20_200_101)));
        }
        let r = c
            .values(
                2,
                Values {
                    date: Val::Int(1899),
                    ..values("a", "1", "local", "")
                },
            )
            .unwrap_err();
        assert_eq!(r.detail, "date `1899` is not YYYY, YYYY-MM or YYYY-MM-DD");
    }

    #[test]
    fn checks_run_in_order_and_keep_the_amount_read() {
        let mut c = RowChecker::new(&spec(), Reader::Streamed);
        let r = c.values(1, values("a", "-5", "bad", "bad")).unwrap_err();
        assert_eq!(r.reason, RejectReason::AmountNegative);
        assert_eq!(r.detail, "column `amount`: amount `-5` is negative");
        assert_eq!(r.amount_krw, Some(-5000));
        let r = c.values(2, values(" ", "1", "bad", "bad")).unwrap_err();
        assert_eq!(
            (r.reason, r.detail.as_str()),
            (RejectReason::DuplicateId, "record id is empty")
        );
        let r = c.values(3, values("a", "1", "bad", "bad")).unwrap_err();
        assert_eq!(r.reason, RejectReason::FundingInvalid);
        assert_eq!(r.amount_krw, Some(1000));
        let r = c.values(4, values("a", "1", "local", "bad")).unwrap_err();
        assert_eq!(r.reason, RejectReason::DateInvalid);
    }

    #[test]
    fn only_the_materialising_reader_rejects_repeated_ids() {
        let mut m = RowChecker::new(&spec(), Reader::Materialised);
        assert!(m.values(1, values(" a", "1", "", "")).is_ok());
        let r = m.values(2, values("a ", "1", "", "")).unwrap_err();
        assert_eq!(r.detail, "record id `a` already seen at row 1");
        let mut s = RowChecker::new(&spec(), Reader::Streamed);
        assert!(s.values(1, values("a", "1", "", "")).is_ok());
        assert!(s.values(2, values("a", "1", "", "")).is_ok());
    }

    #[test]
    fn an_invalid_date_is_quoted_as_read_materialised_and_trimmed_streamed() {
        let detail = |reader| {
            let mut c = RowChecker::new(&spec(), reader);
            c.values(1, values("a", "1", "", " 2020-13 "))
                .unwrap_err()
                .detail
        };
        assert_eq!(
            detail(Reader::Materialised),
            "date ` 2020-13 ` is not YYYY, YYYY-MM or YYYY-MM-DD"
        );
        assert_eq!(
            detail(Reader::Streamed),
            "date `2020-13` is not YYYY, YYYY-MM or YYYY-MM-DD"
        );
    }

    #[test]
    fn points_must_be_finite_and_plausible_longitude_latitude() {
        let mut c = RowChecker::new(&spec(), Reader::Streamed);
        assert!(
            c.point(Coord {
                x: 126.978,
                y: 37.5665
            })
            .is_ok()
        );
        let swapped = c
            .point(Coord {
                x: 37.5665,
                y: 126.978,
            })
            .unwrap_err();
        assert!(swapped.1.contains("swapped"));
        let inf = c
            .point(Coord {
                x: f64::INFINITY,
                y: 1.0,
            })
            .unwrap_err();
        assert_eq!(inf.1, "coordinates x=inf y=1 are not finite numbers");
        c.set_crs("EPSG:5179".into());
        assert!(
            c.point(Coord {
                x: 953_901.0,
                y: 1_952_032.0
            })
            .is_ok()
        );
    }

    #[test]
    fn integer_amounts_are_exact_and_overflow_is_refused() {
        assert_eq!(
            amount_int(12, AmountUnit::HundredMillionKrw),
            Ok(1_200_000_000)
        );
        assert_eq!(
            amount_int(-3, AmountUnit::ThousandKrw).unwrap_err().2,
            Some(-3000)
        );
        assert_eq!(
            amount_int(i128::from(i64::MAX), AmountUnit::ThousandKrw)
                .unwrap_err()
                .0,
            RejectReason::AmountInvalid
        );
    }
}
