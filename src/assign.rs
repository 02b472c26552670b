//! Assignment: each record is resolved to exactly one region (at the finest level its location
//! allows) or rejected with a reason. Its coarser regions follow from the code hierarchy, so a
//! record is counted once at every level and levels roll up exactly.
//!
//! - **Codes** are matched exactly against every level.
//! - **Names** are matched within their parent only: a 시군구 name within its 시도, an 읍면동
//!   name within its 시군구. Spacing and the suffixes 시/군/구 are normalised; more than one
//!   candidate is a `name_ambiguous` reject listing them, never a guess.
//! - **Points** use the [`Locator`]: the region whose interior holds the point; a point on a
//!   shared edge or vertex belongs to the region with the lowest code among those whose closed
//!   polygon holds it (the *edge rule*). Points outside every region are rejected.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::crosswalk::{Crosswalk, Date, KostatCodes};
use geo::{BoundingRect, MultiPolygon};
use rayon::prelude::*;

use crate::model::{
    AdminLevel, Boundaries, Investment, LevelRegions, Location, Region, Reject, RejectReason,
};

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
    pub rule: String,
}

/// One part of a record's money: the region that holds it (`None`: outside every region, for
/// the share of a polygon record over sea or abroad), the amount and its weight.
#[derive(Debug, Clone, PartialEq)]
pub struct Holder<'a> {
    pub target: Option<(AdminLevel, &'a str)>,
    pub amount: i64,
    pub weight: f64,
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
    pub fn holders(&self, amount: i64) -> Vec<Holder<'_>> {
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
    pub fn describe(&self) -> String {
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
}

type Outcome = Result<(Resolution, String), (RejectReason, String)>;

/// Assigns every record or rejects it. Pure: boundaries, crosswalk and records in, outcomes out.
pub fn assign(
    b: &Boundaries,
    cw: &Crosswalk,
    kostat: Option<&KostatCodes>,
    records: &[Investment],
) -> Assignment {
    let names = NameIndex::new(b);
    let has_points = records
        .iter()
        .any(|r| matches!(r.location, Location::Point(_)));
    let locator = b.finest().filter(|_| has_points).map(|finest| {
        // The grid pays off from a few thousand points; below that, exact tests are cheaper.
        let cells = if records.len() > 5_000 {
            4 * finest.regions.len().max(1) * 64
        } else {
            0
        };
        let with_grid = |l| {
            let loc = Locator::new(l);
            if cells > 0 {
                loc.with_grid(crate::locate::default_cells(l))
            } else {
                loc
            }
        };
        let mut levels = vec![with_grid(finest)];
        // Coarser levels catch points in gaps of the finer partition (held at that level).
        for l in b.levels.iter().rev().skip(1) {
            levels.push(with_grid(l));
        }
        levels
    });
    let mut outcomes: Vec<Outcome> = records
        .par_iter()
        .map(|r| match &r.location {
            // GDAL geometries are not shared across threads: polygons are apportioned below.
            Location::Area(_) => Err((RejectReason::GeometryInvalid, String::new())),
            Location::Code(c) => {
                resolve_code(b, cw, c, r.date).map(|(res, rule)| (res, format!("code: {rule}")))
            }
            Location::KostatCode(c) => resolve_kostat(b, kostat, c),
            Location::Names { sido, sigungu, emd } => match names.resolve(sido, sigungu, emd) {
                Ok(res) => Ok((res, "name".to_string())),
                Err((RejectReason::NameNotFound, why))
                    if !sigungu.trim().is_empty() && emd.trim().is_empty() =>
                {
                    old_name(b, cw, sido, sigungu, r.date)
                        .map_err(|_| (RejectReason::NameNotFound, why))
                }
                Err(e) => Err(e),
            },
            Location::Point(p) => {
                let hit = locator.iter().flatten().find_map(|loc| {
                    loc.locate(p.0)
                        .map(|i| (loc.level, &loc.regions.regions[i]))
                });
                match hit {
                    Some((level, region)) => Ok((
                        Resolution::Region {
                            level,
                            code: region.code.clone(),
                        },
                        "point".to_string(),
                    )),
                    None => Err((
                        RejectReason::OutsideAllRegions,
                        format!(
                            "point ({:.1}, {:.1}) EPSG:5179 is outside every region",
                            p.x(),
                            p.y()
                        ),
                    )),
                }
            }
        })
        .collect();
    if let Some(finest) = b.finest() {
        let areas: Vec<(usize, &MultiPolygon<f64>)> = records
            .iter()
            .enumerate()
            .filter_map(|(i, r)| match &r.location {
                Location::Area(mp) => Some((i, mp)),
                _ => None,
            })
            .collect();
        if !areas.is_empty() {
            // Each polygon's shares depend on it alone: computed in parallel, a few thousand at
            // a time between progress updates.
            let started = std::time::Instant::now();
            let apportioner = Apportioner::new(finest);
            let progress = crate::progress::Progress::new("apportioning");
            let mut done = 0;
            for part in areas.chunks(4096) {
                let results: Vec<(usize, Outcome)> = part
                    .par_iter()
                    .map(|(i, mp)| (*i, apportioner.apportion(mp)))
                    .collect();
                for (i, o) in results {
                    outcomes[i] = o;
                }
                done += part.len();
                progress.tick_of(done, areas.len(), "polygons");
            }
            progress.done();
            let ms = started.elapsed().as_millis() as u64;
            tracing::info!(
                polygons = areas.len(),
                pairs = apportioner.pairs.load(Ordering::Relaxed),
                by_geos = apportioner.by_geos.load(Ordering::Relaxed),
                ms,
                polygons_per_s = crate::progress::per_second(areas.len(), ms),
                "apportioned by intersected area"
            );
        }
    }
    let mut out = Assignment::default();
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

fn resolve_code(b: &Boundaries, cw: &Crosswalk, code: &str, date: Option<Date>) -> Outcome {
    if let Some(r) = b.find(code) {
        let res = Resolution::Region {
            level: r.level,
            code: r.code.clone(),
        };
        return Ok((res, code.to_string()));
    }
    if cw.is_empty() {
        return Err((
            RejectReason::UnknownCode,
            format!(
                "code `{code}` is not a region code of the boundaries (no crosswalk configured)"
            ),
        ));
    }
    let exists = |c: &str| b.find(c).is_some();
    let area = |c: &str| b.find(c).map(|r| r.area_km2);
    let m = cw.map(code, date, &exists, &area)?;
    let parts: Vec<(AdminLevel, String, f64)> = m
        .targets
        .iter()
        .filter_map(|t| b.find(&t.code).map(|r| (r.level, r.code.clone(), t.weight)))
        .collect();
    let res = Resolution::of_parts(parts);
    Ok((res, m.rule))
}

/// A KOSTAT code through the population table's KOSTAT units.
fn resolve_kostat(b: &Boundaries, kostat: Option<&KostatCodes>, code: &str) -> Outcome {
    let Some(k) = kostat else {
        return Err((
            RejectReason::UnknownCode,
            "no KOSTAT code table is configured".to_string(),
        ));
    };
    let Some(targets) = k.map(code) else {
        return Err((
            RejectReason::UnknownCode,
            format!(
                "`{}` is not a KOSTAT unit of the {} census in {}",
                code.trim(),
                k.year,
                k.path.display()
            ),
        ));
    };
    let mut parts = Vec::new();
    for (c, w) in &targets {
        match b.find(c) {
            Some(r) => parts.push((r.level, r.code.clone(), *w)),
            None => {
                return Err((
                    RejectReason::UnknownCode,
                    format!(
                        "KOSTAT unit `{}` maps to `{c}`, which is not a region of the boundaries",
                        code.trim()
                    ),
                ));
            }
        }
    }
    let rule = format!(
        "kostat {}: {} -> {}",
        k.year,
        code.trim(),
        targets
            .iter()
            .map(|(c, w)| format!("{c}*{w:.4}"))
            .collect::<Vec<_>>()
            .join("+")
    );
    let res = Resolution::of_parts(parts);
    Ok((res, rule))
}

/// A 시군구 name that no longer exists (마산시, 연기군): its old code from the crosswalk's
/// recorded names within the same 시도, then the crosswalk.
fn old_name(
    b: &Boundaries,
    cw: &Crosswalk,
    sido: &str,
    sigungu: &str,
    date: Option<Date>,
) -> Outcome {
    let want = key(sigungu);
    let sk = sido_key(sido);
    let codes = cw.codes_named(|old| {
        let Some((s, rest)) = old.split_once(' ') else {
            return false;
        };
        let rest = key(rest);
        sido_key(s) == sk
            && ["", "시", "군", "구"]
                .iter()
                .any(|suf| rest == format!("{want}{suf}"))
    });
    match codes.as_slice() {
        [code] => resolve_code(b, cw, code, date)
            .map(|(res, rule)| (res, format!("old name {sigungu} = {code}: {rule}"))),
        [] => Err((RejectReason::NameNotFound, String::new())),
        many => Err((
            RejectReason::NameAmbiguous,
            format!("old name `{sigungu}`: codes {}", many.join(", ")),
        )),
    }
}

/// Normalises a name for matching: no whitespace, no middle dots.
fn key(name: &str) -> String {
    name.chars()
        .filter(|c| !c.is_whitespace() && *c != '·')
        .collect()
}

/// The short form of a 시도 name that all its spellings share: 서울특별시, 서울시 and 서울
/// give 서울; 충청북도 and 충북 give 충북; 강원도 and 강원특별자치도 give 강원.
pub fn sido_key(name: &str) -> String {
    let k = key(name);
    let mut s = k.as_str();
    for suffix in ["특별자치시", "특별자치도", "특별시", "광역시", "도", "시"] {
        if let Some(t) = s.strip_suffix(suffix)
            && !t.is_empty()
        {
            s = t;
            break;
        }
    }
    match s {
        "충청북" => "충북",
        "충청남" => "충남",
        "전라북" => "전북",
        "전라남" => "전남",
        "경상북" => "경북",
        "경상남" => "경남",
        other => other,
    }
    .to_string()
}

/// Names of regions, indexed for resolution within a parent.
struct NameIndex<'a> {
    /// sido key → sido codes
    sido: HashMap<String, Vec<&'a Region>>,
    /// parent code → children with their match keys
    children: HashMap<&'a str, Vec<(&'a Region, Vec<String>)>>,
}

impl<'a> NameIndex<'a> {
    fn new(b: &'a Boundaries) -> NameIndex<'a> {
        let mut sido: HashMap<String, Vec<&Region>> = HashMap::new();
        if let Some(l) = b.level(AdminLevel::Sido) {
            for r in &l.regions {
                sido.entry(sido_key(&r.name)).or_default().push(r);
            }
        }
        let mut children: HashMap<&str, Vec<(&Region, Vec<String>)>> = HashMap::new();
        for l in b.levels.iter().skip(1) {
            for r in &l.regions {
                let Some(p) = r.parent_code.as_deref() else {
                    continue;
                };
                let mut keys = vec![key(&r.name)];
                // The full name minus its parents' names: "천안시 동남구" from
                // "충청남도 천안시 동남구".
                let parent_full = b
                    .coarser(r.level)
                    .and_then(|up| up.get(p))
                    .map(|p| key(&p.full_name));
                let full = key(&r.full_name);
                if let Some(rest) = parent_full.as_deref().and_then(|pf| full.strip_prefix(pf))
                    && !rest.is_empty()
                {
                    keys.push(rest.to_string());
                }
                keys.sort();
                keys.dedup();
                children.entry(p).or_default().push((r, keys));
            }
        }
        NameIndex { sido, children }
    }

    fn resolve(
        &self,
        sido: &str,
        sigungu: &str,
        emd: &str,
    ) -> Result<Resolution, (RejectReason, String)> {
        let sido_region = if sido.trim().is_empty() {
            None
        } else {
            match self.sido.get(&sido_key(sido)).map(Vec::as_slice) {
                Some([r]) => Some(*r),
                Some(many) => {
                    let c: Vec<String> = many
                        .iter()
                        .map(|r| format!("{} {}", r.code, r.name))
                        .collect();
                    return Err((
                        RejectReason::NameAmbiguous,
                        format!("시도 `{sido}`: candidates {}", c.join(", ")),
                    ));
                }
                None => {
                    return Err((
                        RejectReason::NameNotFound,
                        format!("시도 `{sido}` is not a 시도 of the boundaries"),
                    ));
                }
            }
        };
        if sigungu.trim().is_empty() {
            return match sido_region {
                Some(r) => Ok(Resolution::Region {
                    level: r.level,
                    code: r.code.clone(),
                }),
                None => Err((
                    RejectReason::LocationMissing,
                    "no 시도 or 시군구 name".into(),
                )),
            };
        }
        let Some(sido_region) = sido_region else {
            return Err((
                RejectReason::NameAmbiguous,
                format!(
                    "시군구 `{sigungu}` without a 시도: names repeat across 시도 (e.g. 중구), so a 시도 is required"
                ),
            ));
        };
        let sg = self.child(sido_region, sigungu, "시군구")?;
        let gu = match sg {
            Found::One(r) => r,
            Found::City(name, gus) => {
                if !emd.trim().is_empty() {
                    // An 읍면동 name can pick the 구 of a city.
                    let hits: Vec<(&Region, Found<'_>)> = gus
                        .iter()
                        .filter_map(|g| self.child(g, emd, "읍면동").ok().map(|f| (*g, f)))
                        .collect();
                    if let [(_, Found::One(e))] = hits.as_slice() {
                        return Ok(Resolution::Region {
                            level: e.level,
                            code: e.code.clone(),
                        });
                    }
                }
                return Ok(Resolution::City {
                    sido_code: sido_region.code.clone(),
                    name,
                    gu_codes: gus.iter().map(|g| g.code.clone()).collect(),
                });
            }
        };
        if emd.trim().is_empty() {
            return Ok(Resolution::Region {
                level: gu.level,
                code: gu.code.clone(),
            });
        }
        match self.child(gu, emd, "읍면동")? {
            Found::One(e) => Ok(Resolution::Region {
                level: e.level,
                code: e.code.clone(),
            }),
            Found::City(..) => Err((
                RejectReason::NameNotFound,
                format!("읍면동 `{emd}` not found in {}", gu.full_name),
            )),
        }
    }

    /// Finds `name` among the children of `parent`, trying suffix variants.
    fn child(
        &self,
        parent: &'a Region,
        name: &str,
        what: &str,
    ) -> Result<Found<'a>, (RejectReason, String)> {
        let k = key(name);
        let kids = self
            .children
            .get(parent.code.as_str())
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        let exact: Vec<&Region> = kids
            .iter()
            .filter(|(_, ks)| ks.contains(&k))
            .map(|(r, _)| *r)
            .collect();
        let mut hits: BTreeSet<&str> = exact.iter().map(|r| r.code.as_str()).collect();
        if hits.is_empty() {
            // "마포" → 마포구; "천안시동남구" ↔ "동남구" under the same city.
            for (r, ks) in kids {
                let m = ks.iter().any(|rk| {
                    ["시", "군", "구", "읍", "면", "동"]
                        .iter()
                        .any(|s| *rk == format!("{k}{s}"))
                        || (k.len() > rk.len()
                            && k.ends_with(rk.as_str())
                            && k[..k.len() - rk.len()].ends_with('시'))
                        || (rk.len() > k.len()
                            && rk.ends_with(k.as_str())
                            && rk[..rk.len() - k.len()].ends_with('시')
                            && k.ends_with('구'))
                });
                if m {
                    hits.insert(&r.code);
                }
            }
        }
        match hits.len() {
            1 => {
                let code = hits.iter().next().copied().unwrap_or_default();
                let r = kids.iter().map(|(r, _)| *r).find(|r| r.code == code);
                r.map(Found::One)
                    .ok_or((RejectReason::NameNotFound, String::new()))
            }
            0 => {
                // A city with 일반구: every child whose key starts with the city's name.
                let city = if k.ends_with('시') {
                    k.clone()
                } else {
                    format!("{k}시")
                };
                let gus: Vec<&Region> = kids
                    .iter()
                    .filter(|(r, ks)| {
                        r.level == AdminLevel::Sigungu
                            && ks.iter().any(|rk| {
                                rk.len() > city.len() && rk.starts_with(&city) && rk.ends_with('구')
                            })
                    })
                    .map(|(r, _)| *r)
                    .collect();
                if !gus.is_empty() {
                    return Ok(Found::City(city, gus));
                }
                Err((
                    RejectReason::NameNotFound,
                    format!("{what} `{name}` not found in {}", parent.full_name),
                ))
            }
            _ => {
                let c: Vec<String> = kids
                    .iter()
                    .filter(|(r, _)| hits.contains(r.code.as_str()))
                    .map(|(r, _)| format!("{} {}", r.code, r.full_name))
                    .collect();
                Err((
                    RejectReason::NameAmbiguous,
                    format!(
                        "{what} `{name}` in {}: candidates {}",
                        parent.full_name,
                        c.join(", ")
                    ),
                ))
            }
        }
    }
}

enum Found<'a> {
    One(&'a Region),
    City(String, Vec<&'a Region>),
}

use crate::locate::EdgeIndex;
pub use crate::locate::Locator;

/// Area-weighted apportionment of polygon records over the finest level: the intersected
/// areas come from [`crate::overlay::intersection_area`] (exact to floating point, no
/// intersection polygon built), with GEOS through GDAL as a check-and-fallback should a result
/// fall outside `0..=area`. The input polygons are valid or repaired by the reader.
struct Apportioner<'a> {
    level: &'a LevelRegions,
    regions: Locator<'a>,
    /// (district, region) pairs measured, and those left to GEOS.
    pairs: AtomicUsize,
    by_geos: AtomicUsize,
}

/// Intersections smaller than this (m², a square millimetre) are rounding noise of touching
/// polygons, not overlap.
const AREA_NOISE_M2: f64 = 1e-6;

impl<'a> Apportioner<'a> {
    fn new(level: &'a LevelRegions) -> Apportioner<'a> {
        Apportioner {
            level,
            regions: Locator::new(level),
            pairs: AtomicUsize::new(0),
            by_geos: AtomicUsize::new(0),
        }
    }

    /// Shares of `mp` (EPSG:5179) per region: intersected area / polygon area; the rest is
    /// `outside`. A polygon touching no region is a reject.
    ///
    /// # Units
    /// Areas planar in EPSG:5179; weights dimensionless and summing to 1 with `outside`.
    fn apportion(&self, mp: &MultiPolygon<f64>) -> Outcome {
        let bad = |why: String| (RejectReason::GeometryInvalid, why);
        let total = geo::Area::unsigned_area(mp);
        let Some(bb) = mp.bounding_rect() else {
            return Err(bad("empty polygon".into()));
        };
        let district = EdgeIndex::new(mp);
        let mut parts = Vec::new();
        for i in self.regions.boxes_meeting(bb.min(), bb.max()) {
            let fast = crate::overlay::intersection_area(&district, self.regions.edge_index(i));
            let slack = 1e-9 * total + AREA_NOISE_M2;
            self.pairs.fetch_add(1, Ordering::Relaxed);
            let a = if let Some(a) =
                fast.filter(|a| a.is_finite() && *a > -slack && *a < total + slack)
            {
                a
            } else {
                self.by_geos.fetch_add(1, Ordering::Relaxed);
                geos_area(&self.level.regions[i].geometry, mp).map_err(|e| {
                    bad(format!(
                        "intersection with {}: {e}",
                        self.level.regions[i].code
                    ))
                })?
            };
            if a > AREA_NOISE_M2 {
                parts.push((
                    self.level.level,
                    self.level.regions[i].code.clone(),
                    a.min(total) / total,
                ));
            }
        }
        if parts.is_empty() {
            return Err((
                RejectReason::OutsideAllRegions,
                format!(
                    "polygon of {:.4} km² lies outside every region",
                    total / 1e6
                ),
            ));
        }
        let inside: f64 = parts.iter().map(|p| p.2).sum();
        // Shares below 1e-9 of the polygon are floating-point noise of the intersections.
        let outside = if 1.0 - inside > 1e-9 {
            1.0 - inside
        } else {
            0.0
        };
        let rule = format!("area: {} region(s), {:.6} outside", parts.len(), outside);
        if parts.len() == 1 && outside == 0.0 {
            let (level, code, _) = parts.remove(0);
            return Ok((Resolution::Region { level, code }, rule));
        }
        Ok((Resolution::Split { parts, outside }, rule))
    }
}

/// The area of `a ∩ b` by GEOS (through GDAL).
fn geos_area(a: &MultiPolygon<f64>, b: &MultiPolygon<f64>) -> Result<f64, String> {
    use gdal::vector::ToGdal;
    let ga = a.to_gdal().map_err(|e| e.to_string())?;
    let gb = b.to_gdal().map_err(|e| e.to_string())?;
    Ok(ga.intersection(&gb).map_or(0.0, |x| x.area()))
}

/// Per-region attribute values from attribute inputs: (level, code) → column → value.
pub type RegionAttributes = BTreeMap<(AdminLevel, String), BTreeMap<String, String>>;

/// Copies attribute records onto the regions they resolved to; a second, different value for
/// the same region and column is a reject.
pub fn attributes(
    records: &[Investment],
    assigned: &[Assigned],
    rejects: &mut Vec<Reject>,
) -> RegionAttributes {
    let mut out: RegionAttributes = BTreeMap::new();
    for a in assigned {
        let r = &records[a.record];
        let targets: Vec<(AdminLevel, String)> = match &a.resolution {
            Resolution::Region { level, code } => vec![(*level, code.clone())],
            Resolution::City { gu_codes, .. } => gu_codes
                .iter()
                .map(|c| (AdminLevel::Sigungu, c.clone()))
                .collect(),
            Resolution::Split { parts, .. } => {
                parts.iter().map(|(l, c, _)| (*l, c.clone())).collect()
            }
        };
        let mut conflict = None;
        for t in &targets {
            let slot = out.entry(t.clone()).or_default();
            for (col, v) in &r.attributes {
                match slot.get(col) {
                    Some(old) if old != v => {
                        conflict = Some(format!(
                            "{col}: `{v}` differs from `{old}` already set on {}",
                            t.1
                        ))
                    }
                    _ => {
                        slot.insert(col.clone(), v.clone());
                    }
                }
            }
        }
        if let Some(detail) = conflict {
            rejects.push(Reject {
                input: r.input,
                row: r.row,
                record_id: r.record_id.clone(),
                reason: RejectReason::AttributeConflict,
                detail,
                amount_krw: r.amount_krw,
                point: None,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sido_spellings_share_one_key() {
        for (a, b) in [
            ("서울특별시", "서울"),
            ("서울시", "서울"),
            ("충청북도", "충북"),
            ("강원특별자치도", "강원"),
            ("강원도", "강원"),
            ("전북특별자치도", "전북"),
            ("제주특별자치도", "제주"),
            ("세종특별자치시", "세종"),
            ("경기도", "경기"),
            ("부산 광역시", "부산"),
        ] {
            assert_eq!(sido_key(a), b, "{a}");
        }
    }

    #[test]
    fn names_without_boundaries_do_not_resolve() {
        let b = Boundaries::default();
        let idx = NameIndex::new(&b);
        assert_eq!(
            idx.resolve("서울", "", "").unwrap_err().0,
            RejectReason::NameNotFound
        );
    }
}
