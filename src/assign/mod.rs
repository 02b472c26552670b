//! Assignment: each record is resolved to exactly one region (at the finest level its location
//! allows) or rejected with a reason. Its coarser regions follow from the code hierarchy, so a
//! record is counted once at every level and levels roll up exactly.
//!
//! - **Codes** are matched exactly against every level, then through the crosswalk (`code`).
//! - **Names** are matched within their parent only: a 시군구 name within its 시도, an 읍면동
//!   name within its 시군구. Spacing and the suffixes 시/군/구 are normalised; more than one
//!   candidate is a `name_ambiguous` reject listing them, never a guess (`name`).
//! - **Points** use the [`Locator`]: the region whose interior holds the point; a point on a
//!   shared edge or vertex belongs to the region with the lowest code among those whose closed
//!   polygon holds it (the *edge rule*). Points outside every region are rejected (`point`).
//! - **Polygons** are apportioned over the finest level by intersected area (`polygon`).
//!
//! Attribute records are copied onto the regions they resolved to by `attributes()`.

use rayon::prelude::*;

use crate::crosswalk::{Crosswalk, KostatCodes};
use crate::model::{AdminLevel, Boundaries, Investment, Location, Mismatch, Reject, RejectReason};

mod attributes;
mod code;
mod dated;
mod name;
mod point;
mod polygon;

pub use crate::locate::Locator;
pub(crate) use attributes::{RegionAttributes, attributes};

/// Where a record was assigned.
#[derive(Debug, Clone, PartialEq)]
pub enum Resolution {
    /// A region at one level; coarser levels follow by `parent_code`.
    Region { level: AdminLevel, code: String },
    /// A city with 일반구 (e.g. 천안시 = 동남구 + 서북구): the city has no polygon of its own in
    /// a clean partition, so money is held at its 시도 and attributes go to every 구.
    City {
        sido_code: String,
        name: String,
        gu_codes: Vec<String>,
    },
    /// A code mapped by the crosswalk onto several regions, or a polygon record apportioned by
    /// intersected area: weights (with `outside`) sum to 1; money is split by largest
    /// remainder.
    Split {
        parts: Vec<(AdminLevel, String, f64)>,
        /// Share outside every region (polygon records over sea or abroad).
        outside: f64,
    },
}

/// One assigned record: which record, where, and by which rule (for the `assignments` table).
#[derive(Debug, Clone, PartialEq)]
pub struct Assigned {
    pub record: usize,
    pub resolution: Resolution,
    pub(crate) rule: String,
}

/// One part of a record's money: the region that holds it (`None`: outside every region, for
/// the share of a polygon record over sea or abroad), the amount and its weight.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Holder<'a> {
    pub(crate) target: Option<(AdminLevel, &'a str)>,
    pub(crate) amount: i64,
    pub(crate) weight: f64,
}

impl Resolution {
    /// One region, or a split over several (weights summing to 1).
    fn of_parts(mut parts: Vec<(AdminLevel, String, f64)>) -> Resolution {
        if parts.len() == 1 {
            let (level, code, _) = parts.remove(0);
            Resolution::Region { level, code }
        } else {
            Resolution::Split {
                parts,
                outside: 0.0,
            }
        }
    }

    /// The parts that hold the record's money; their amounts sum exactly to `amount`
    /// (largest-remainder split for weighted parts).
    pub(crate) fn holders(&self, amount: i64) -> Vec<Holder<'_>> {
        match self {
            Resolution::Region { level, code } => vec![Holder {
                target: Some((*level, code.as_str())),
                amount,
                weight: 1.0,
            }],
            Resolution::City { sido_code, .. } => vec![Holder {
                target: Some((AdminLevel::Sido, sido_code.as_str())),
                amount,
                weight: 1.0,
            }],
            Resolution::Split { parts, outside } => {
                let mut w: Vec<f64> = parts.iter().map(|p| p.2).collect();
                if *outside > 0.0 {
                    w.push(*outside);
                }
                let amounts = crate::crosswalk::largest_remainder(amount, &w);
                let mut out: Vec<Holder<'_>> = parts
                    .iter()
                    .zip(&amounts)
                    .map(|((l, c, wt), a)| Holder {
                        target: Some((*l, c.as_str())),
                        amount: *a,
                        weight: *wt,
                    })
                    .collect();
                if *outside > 0.0 {
                    out.push(Holder {
                        target: None,
                        amount: amounts.last().copied().unwrap_or(0),
                        weight: *outside,
                    });
                }
                out
            }
        }
    }

    /// Where the record went, as text: `sigungu:11440`, `city:천안시=44131+44133`,
    /// `split:48125*0.430000+48127*0.570000`, `+outside*0.100000` for a polygon's part
    /// outside every region.
    pub(crate) fn describe(&self) -> String {
        match self {
            Resolution::Region { level, code } => format!("{level}:{code}"),
            Resolution::City { name, gu_codes, .. } => {
                format!("city:{name}={}", gu_codes.join("+"))
            }
            Resolution::Split { parts, outside } => {
                let mut s = format!(
                    "split:{}",
                    parts
                        .iter()
                        .map(|(_, c, w)| format!("{c}*{w:.6}"))
                        .collect::<Vec<_>>()
                        .join("+")
                );
                if *outside > 0.0 {
                    s.push_str(&format!("+outside*{outside:.6}"));
                }
                s
            }
        }
    }
}

/// Every record's outcome.
#[derive(Debug, Default)]
pub struct Assignment {
    /// In record order.
    pub assigned: Vec<Assigned>,
    pub rejects: Vec<Reject>,
    /// Records assigned although their code and names disagree (`code_name_mismatch = "warn"`):
    /// the record's index and what disagrees.
    pub(crate) mismatches: Vec<(usize, String)>,
}

type Outcome = Result<(Resolution, String), (RejectReason, String)>;

/// Assigns every record or rejects it. Pure: boundaries, crosswalk and records in, outcomes out.
pub fn assign(
    b: &Boundaries,
    cw: &Crosswalk,
    kostat: Option<&KostatCodes>,
    records: &[Investment],
) -> Assignment {
    let names = name::NameIndex::new(b);
    let history = dated::NameHistory::new(cw);
    let points = point::Points::new(b, records);
    let resolve = |loc: &Location, date: Option<u32>| -> Outcome {
        match loc {
            // GDAL geometries are not shared across threads: polygons are apportioned below.
            Location::Area(_) => Err((RejectReason::GeometryInvalid, String::new())),
            Location::Code(c) => {
                code::resolve_code(b, cw, c, date).map(|(res, rule)| (res, format!("code: {rule}")))
            }
            Location::KostatCode(c) => code::resolve_kostat(b, kostat, c),
            Location::Names { sido, sigungu, emd } => {
                match dated::resolve_dated(&names, &history, b, cw, sido, sigungu, emd, date) {
                    Some(outcome) => outcome,
                    None => match names.resolve(sido, sigungu, emd) {
                        Ok(res) => Ok((res, "name".to_string())),
                        Err((RejectReason::NameNotFound, why))
                            if !sigungu.trim().is_empty() && emd.trim().is_empty() =>
                        {
                            name::old_name(b, cw, sido, sigungu, date)
                                .map_err(|_| (RejectReason::NameNotFound, why))
                        }
                        Err(e) => Err(e),
                    },
                }
            }
            Location::Point(p) => points.locate(p),
        }
    };
    let (mut outcomes, warned): (Vec<Outcome>, Vec<Option<String>>) = records
        .par_iter()
        .map(|r| {
            let o = resolve(&r.location, r.date);
            match (&o, &r.check) {
                (Ok((res, _)), Some(check)) => {
                    let other = resolve(&check.location, r.date);
                    match mismatch(b, &r.location, res, &check.location, &other) {
                        None => (o, None),
                        Some(why) => match check.policy {
                            Mismatch::Reject => (Err((RejectReason::CodeNameMismatch, why)), None),
                            Mismatch::Warn => (o, Some(why)),
                        },
                    }
                }
                _ => (o, None),
            }
        })
        .unzip();
    let mismatches: Vec<(usize, String)> = warned
        .into_iter()
        .enumerate()
        .filter_map(|(i, w)| w.map(|w| (i, w)))
        .collect();
    if let Some(finest) = b.finest() {
        polygon::apportion_areas(finest, records, &mut outcomes);
    }
    let mut out = Assignment {
        mismatches,
        ..Assignment::default()
    };
    for (i, (r, o)) in records.iter().zip(outcomes).enumerate() {
        match o {
            Ok((resolution, rule)) => out.assigned.push(Assigned {
                record: i,
                resolution,
                rule,
            }),
            Err((reason, detail)) => out.rejects.push(Reject {
                input: r.input,
                row: r.row,
                record_id: r.record_id.clone(),
                reason,
                detail,
                amount_krw: r.amount_krw,
                point: match &r.location {
                    Location::Point(p) => Some(*p),
                    _ => None,
                },
            }),
        }
    }
    out
}

/// Why a record's location (`loc`, resolved to `res`) and its check (`check`, resolved to
/// `other`) disagree, or `None` when they agree: when some region of one is the other's region,
/// or lies within it or around it (a code of a 읍면동 and the names of its 시군구 agree; a
/// crosswalk split of an old code agrees with names of any of its parts). Names or a code that
/// resolve to nothing disagree, saying why.
fn mismatch(
    b: &Boundaries,
    loc: &Location,
    res: &Resolution,
    check: &Location,
    other: &Outcome,
) -> Option<String> {
    let said = |l: &Location| match l {
        Location::Code(c) | Location::KostatCode(c) => format!("code {c}"),
        Location::Names { sido, sigungu, emd } => {
            let n: Vec<&str> = [sido, sigungu, emd]
                .into_iter()
                .map(|s| s.trim())
                .filter(|s| !s.is_empty())
                .collect();
            format!("names `{}`", n.join(" "))
        }
        _ => "location".to_string(),
    };
    let other = match other {
        Ok((o, _)) => o,
        Err((reason, why)) => {
            return Some(format!(
                "{} is {}, but {} give {reason}: {why}",
                said(loc),
                where_is(b, res),
                said(check)
            ));
        }
    };
    let lineages = |r: &Resolution| -> Vec<Vec<(AdminLevel, String)>> {
        leaves(r)
            .into_iter()
            .map(|(level, code)| b.lineage(level, &code))
            .collect()
    };
    let (a, c) = (lineages(res), lineages(other));
    let within = |x: &[(AdminLevel, String)], y: &[(AdminLevel, String)]| {
        x.first().is_some_and(|head| y.contains(head))
    };
    let agree = a
        .iter()
        .any(|x| c.iter().any(|y| within(x, y) || within(y, x)));
    (!agree).then(|| {
        format!(
            "{} is {}, but {} are {}",
            said(loc),
            where_is(b, res),
            said(check),
            where_is(b, other)
        )
    })
}

/// The regions a resolution names, finest: the region, a city's 구, a split's parts.
fn leaves(r: &Resolution) -> Vec<(AdminLevel, String)> {
    match r {
        Resolution::Region { level, code } => vec![(*level, code.clone())],
        Resolution::City { gu_codes, .. } => gu_codes
            .iter()
            .map(|c| (AdminLevel::Sigungu, c.clone()))
            .collect(),
        Resolution::Split { parts, .. } => parts.iter().map(|(l, c, _)| (*l, c.clone())).collect(),
    }
}

/// A resolution for a message: `서울특별시 중구 (11010)`, a city's name and 구, or a split.
fn where_is(b: &Boundaries, r: &Resolution) -> String {
    match r {
        Resolution::Region { level, code } => match b.level(*level).and_then(|l| l.get(code)) {
            Some(region) if !region.full_name.is_empty() => {
                format!("{} ({code})", region.full_name)
            }
            Some(region) => format!("{} ({code})", region.name),
            None => format!("{level} {code}"),
        },
        Resolution::City { name, gu_codes, .. } => format!("{name} ({})", gu_codes.join("+")),
        Resolution::Split { .. } => r.describe(),
    }
}
