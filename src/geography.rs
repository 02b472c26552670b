//! Geography as of a date (`[boundaries] as_of`): the 읍면동, 시군구 and 시도 in force on that
//! date, derived from the bundled 읍면동 (and 리) and the dated changes.
//!
//! The bundled boundaries are of one vintage (2012-07 – 2013-09). Every change since is either a
//! 시군구-level event of the change table (`data/admin_changes.csv`: merges, renames, recodes,
//! upgrades, transfers, splits) or a legal-dong succession (`data/emd_changes.csv`, built from
//! the MOIS legal-dong code table by `scripts/make_emd_changes.py`: which 읍면동 / 리 code
//! replaced which, on which date). All 시군구 changes run along legal-dong lines, so:
//!
//! 1. each bundled 읍면동 follows its successions up to the date: its code and name then, and
//!    the 시군구 it lies in (the first five digits of its code; for a unit abolished without a
//!    successor, the 시군구 its row names, carried through later 1:1 relabels);
//! 2. 읍면동 that end on one code are merged (a union), and every 시군구 is the union of its
//!    읍면동, every 시도 the union of its 시군구 (the first two digits): the levels nest and cover
//!    each other by construction, and a 시군구's area is its legal dongs' land, not the sea its
//!    old polygon took in;
//! 3. 리 follow their successions too; a 리 abolished without a successor 리 (it became a 동, or
//!    was merged) leaves the 리 level, its land staying in its 읍면동;
//! 4. every event of the change table dated on or before the date is checked against the
//!    result: an effective event that the derived units do not show is an error naming its row,
//!    one whose status is not `effective` is skipped with a warning.
//!
//! Unions are computed exactly on a 1 mm grid ([`crate::snap`]); the area of a derived
//! unit is the sum of its sources' areas, and the union's own area is reported beside it.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use geo::{Area, Coord, LineString, MultiPolygon, Polygon};
use rayon::prelude::*;
use serde::Serialize;
use tracing::warn;

use crate::error::Error;
use crate::model::{AdminLevel, Boundaries, Date, LevelRegions, Region, parse_date, show_date};

/// One row of the change table, whatever its status.
#[derive(Debug, Clone)]
pub struct Event {
    /// 1-based data row of the table (for messages).
    pub row: usize,
    pub date: Date,
    pub kind: String,
    pub old_code: String,
    pub old_name: String,
    pub new_code: String,
    pub new_name: String,
    pub status: String,
}

/// One row of the legal-dong succession table.
#[derive(Debug, Clone)]
pub struct Succession {
    pub date: Date,
    pub level: AdminLevel,
    pub old_code: String,
    /// Empty: abolished without a successor of its level.
    pub new_code: String,
    /// Full chain of names, e.g. `경기도 부천시 원미구 심곡동`.
    pub new_name: String,
    /// The 시군구 whose territory the unit is in after the change.
    pub sigungu: String,
}

pub use crate::config::AsOf;

/// The geography a run publishes, for `run.json`, the GeoPackage metadata and the report.
#[derive(Debug, Clone, Serialize)]
pub struct Vintage {
    /// `yyyy-mm-dd`: the date the units, codes, names and parents are in force.
    pub as_of: String,
    /// The vintage of the bundled source units.
    pub source: String,
    /// How each derived unit's area is measured.
    pub area_basis: String,
    /// Events of the change table dated on or before `as_of` and applied.
    pub events_applied: usize,
    /// Events on or before `as_of` whose status says they are not in force, skipped.
    pub events_skipped: Vec<String>,
    /// Legal-dong successions followed (읍면동, 리).
    pub successions_followed: usize,
    /// Bundled 읍면동 that took another code, and derived 읍면동 made of several bundled ones.
    pub emd_recoded: usize,
    pub emd_merged: usize,
    /// Bundled 리 that are no 리 on the date (became a 동, or were merged).
    pub ri_dropped: usize,
    /// Units per level.
    pub units: BTreeMap<String, usize>,
    /// Σ area of the derived 시도 and of the bundled 읍면동 they are made of (km²).
    pub area_km2: f64,
    /// Largest |union area − Σ source areas| / Σ source areas over the derived units.
    pub max_union_area_change: f64,
    /// Gaps between the bundled 읍면동 inside a 시도 (no 읍면동 covered them), each given to
    /// the 읍면동 sharing most of its outline; their number and area (km²).
    pub gaps_filled: usize,
    pub gaps_filled_km2: f64,
    /// Land of the bundled 시군구 polygons that lies in no 읍면동 (sea, mostly), left out.
    pub sigungu_area_outside_emd_km2: f64,
}

/// Union geometries by level and code, with their relative area change (kept in the cache).
pub type Unions = HashMap<(AdminLevel, String), (MultiPolygon<f64>, f64)>;

/// The derived boundaries and what relates them to the bundled ones.
#[derive(Debug, Clone)]
pub struct Derived {
    pub boundaries: Boundaries,
    /// The unions computed by this derivation (not found in `cached`).
    pub fresh: Unions,
    pub vintage: Vintage,
    /// Bundled 시군구 code → derived 시군구 codes with the share of its 읍면동 area in each.
    pub sigungu_shares: BTreeMap<String, Vec<(String, f64)>>,
}

/// Reads every row of the change table (`date, kind, old_code, old_name, new_code, new_name,
/// status`).
///
/// # Errors
/// The table cannot be read, or a date is not `YYYY-MM-DD` (naming the row).
pub fn read_events(path: &Path) -> Result<Vec<Event>, Error> {
    let rows = crate::read::table(
        path,
        &[
            "date", "kind", "old_code", "old_name", "new_code", "new_name", "status",
        ],
    )?;
    rows.into_iter()
        .enumerate()
        .map(|(i, r)| {
            let date = parse_date(&r[0]).ok_or_else(|| row_error(path, i + 1, "date", &r[0]))?;
            let [_, kind, old_code, old_name, new_code, new_name, status] =
                <[String; 7]>::try_from(r).map_err(|_| row_error(path, i + 1, "row", ""))?;
            Ok(Event {
                row: i + 1,
                date,
                kind,
                old_code,
                old_name,
                new_code,
                new_name,
                status,
            })
        })
        .collect()
}

/// Reads the legal-dong succession table (`date, level, old_code, new_code, new_name,
/// sigungu`).
///
/// # Errors
/// The table cannot be read, or a row has a bad date, level or 시군구 code (naming the row).
pub fn read_successions(path: &Path) -> Result<Vec<Succession>, Error> {
    let rows = crate::read::table(
        path,
        &[
            "date", "level", "old_code", "new_code", "new_name", "sigungu",
        ],
    )?;
    rows.into_iter()
        .enumerate()
        .map(|(i, r)| {
            let date = parse_date(&r[0]).ok_or_else(|| row_error(path, i + 1, "date", &r[0]))?;
            let level = match AdminLevel::parse(&r[1]) {
                Some(l @ (AdminLevel::Emd | AdminLevel::Ri)) => l,
                _ => return Err(row_error(path, i + 1, "level (emd or ri)", &r[1])),
            };
            if r[5].len() != 5 || !r[5].bytes().all(|b| b.is_ascii_digit()) {
                return Err(row_error(path, i + 1, "sigungu (5 digits)", &r[5]));
            }
            let [_, _, old_code, new_code, new_name, sigungu] =
                <[String; 6]>::try_from(r).map_err(|_| row_error(path, i + 1, "row", ""))?;
            Ok(Succession {
                date,
                level,
                old_code,
                new_code,
                new_name,
                sigungu,
            })
        })
        .collect()
}

fn row_error(path: &Path, row: usize, what: &str, found: &str) -> Error {
    Error::Read {
        path: path.to_path_buf(),
        layer: String::new(),
        message: format!("row {row}: expected a valid {what}, found `{found}`"),
    }
}

/// The date `as_of` stands for: the latest effective event's date for [`AsOf::Latest`].
pub fn resolve(as_of: AsOf, events: &[Event]) -> Date {
    match as_of {
        AsOf::Date(d) => d,
        AsOf::Latest => events
            .iter()
            .filter(|e| e.status == "effective")
            .map(|e| e.date)
            .max()
            .unwrap_or(0),
    }
}

/// Kinds of event after which the old code no longer names a unit.
const REPLACING: [&str; 5] = [
    "merge",
    "rename",
    "code_change",
    "upgrade",
    "abolish_district",
];

/// Derives the boundaries in force on `date` from `b` (which must hold the 읍면동 level).
///
/// # Errors
/// No 읍면동 level, an effective event the derived units do not show, or a succession chain
/// that does not end; each names the event's row or the unit.
pub fn derive(
    b: &Boundaries,
    date: Date,
    events: &[Event],
    successions: &[Succession],
    events_path: &Path,
    cached: &Unions,
) -> Result<Derived, Error> {
    let invariant = |m: String| Error::Invariant(format!("as_of {}: {m}", show_date(date)));
    let emd = b
        .level(AdminLevel::Emd)
        .ok_or_else(|| invariant("the boundaries have no emd level to derive from".into()))?;
    let mut by_old: HashMap<(AdminLevel, String), Vec<&Succession>> = HashMap::new();
    for s in successions.iter().filter(|s| s.date <= date) {
        by_old
            .entry((s.level, s.old_code.clone()))
            .or_default()
            .push(s);
    }
    for v in by_old.values_mut() {
        v.sort_by_key(|s| s.date);
    }
    let relabels = Relabels::new(events, date);
    let mut followed = 0usize;

    // 1. Each bundled 읍면동 as of the date.
    let mut emd_now: Vec<Unit> = Vec::with_capacity(emd.regions.len());
    for r in &emd.regions {
        let end = follow(&by_old, AdminLevel::Emd, &r.code, &mut followed)
            .map_err(|m| invariant(format!("emd {}: {m}", r.code)))?;
        let (code, sigungu, name) = match end {
            End::Same => (
                r.code.clone(),
                r.code[..5.min(r.code.len())].to_string(),
                None,
            ),
            End::Code(s) => (s.new_code.clone(), s.new_code[..5].to_string(), Some(s)),
            End::Gone(s) => (r.code.clone(), relabels.carry(&s.sigungu, s.date), None),
        };
        emd_now.push(Unit {
            code,
            parent: sigungu,
            full_name: name.map(|s| s.new_name.clone()),
            source: r,
        });
    }
    let emd_recoded = emd_now.iter().filter(|u| u.code != u.source.code).count();

    // 2. 읍면동, 시군구 and 시도 as unions.
    let emd_level = union_level(&emd_now, |u| u.code.clone());
    let emd_merged = emd_level
        .iter()
        .filter(|(_, members)| members.len() > 1)
        .count();
    let sigungu_level = union_level(&emd_now, |u| u.parent.clone());
    let sido_level = union_level(&emd_now, |u| u.parent[..2].to_string());

    let own = |_: &str, members: &[&Unit]| -> Vec<MultiPolygon<f64>> {
        members.iter().map(|u| u.source.geometry.clone()).collect()
    };
    let mut out = Built::default();
    let no_gaps = Gaps::new();
    // 2a. Gaps: land enclosed by a 시도's 읍면동 that none of them covers (the source simplified
    // each 읍면동 on its own). Each gap goes to the 읍면동 sharing most of its outline.
    let unfilled = out.level(AdminLevel::Emd, &emd_level, &own, &no_gaps, b, cached);
    let gaps = gaps(&unfilled, &sido_level, cached, &mut out);
    let emd_regions = out.level(AdminLevel::Emd, &emd_level, &own, &gaps, b, cached);
    let emd_by_code = LevelRegions::new(AdminLevel::Emd, emd_regions);
    let of_sigungu = |code: &str, _: &[&Unit]| -> Vec<MultiPolygon<f64>> {
        emd_by_code
            .regions
            .iter()
            .filter(|r| r.parent_code.as_deref() == Some(code))
            .map(|r| r.geometry.clone())
            .collect()
    };
    let sigungu_regions = out.level(
        AdminLevel::Sigungu,
        &sigungu_level,
        &of_sigungu,
        &no_gaps,
        b,
        cached,
    );
    // A 시도 is the union of its 시군구 (fewer edges than all its 읍면동).
    let sigungu_by_code = LevelRegions::new(AdminLevel::Sigungu, sigungu_regions);
    let of_sido = |code: &str, _: &[&Unit]| -> Vec<MultiPolygon<f64>> {
        sigungu_by_code
            .regions
            .iter()
            .filter(|r| r.code.starts_with(code))
            .map(|r| r.geometry.clone())
            .collect()
    };
    let sido_regions = out.level(AdminLevel::Sido, &sido_level, &of_sido, &no_gaps, b, cached);
    // Areas add up from the 읍면동 (with their gaps) to the 시군구 and 시도.
    let mut sigungu_regions = sigungu_by_code.regions;
    let mut sido_regions = sido_regions;
    for r in &mut sigungu_regions {
        r.area_km2 = emd_by_code
            .regions
            .iter()
            .filter(|e| e.parent_code.as_deref() == Some(r.code.as_str()))
            .map(|e| e.area_km2)
            .sum();
    }
    for r in &mut sido_regions {
        r.area_km2 = sigungu_regions
            .iter()
            .filter(|s| s.code.starts_with(&r.code))
            .map(|s| s.area_km2)
            .sum();
    }
    let emd_regions = emd_by_code.regions;
    let (gap_count, gap_km2) = gaps.values().flatten().fold((0usize, 0f64), |(n, a), g| {
        (n + 1, a + g.unsigned_area() / 1e6)
    });

    // 3. 리.
    let mut ri_dropped = 0usize;
    let mut levels = vec![
        LevelRegions::new(AdminLevel::Sido, sido_regions),
        LevelRegions::new(AdminLevel::Sigungu, sigungu_regions),
        LevelRegions::new(AdminLevel::Emd, emd_regions),
    ];
    if let Some(ri) = b.level(AdminLevel::Ri) {
        let bundled_to_now: HashMap<&str, &str> = emd_now
            .iter()
            .map(|u| (u.source.code.as_str(), u.code.as_str()))
            .collect();
        let mut ri_now: Vec<Unit> = Vec::new();
        for r in &ri.regions {
            let end = follow(&by_old, AdminLevel::Ri, &r.code, &mut followed)
                .map_err(|m| invariant(format!("ri {}: {m}", r.code)))?;
            let (code, name) = match end {
                End::Same => (r.code.clone(), None),
                End::Code(s) => (s.new_code.clone(), Some(s)),
                End::Gone(_) => {
                    ri_dropped += 1;
                    continue;
                }
            };
            let emd_code = &code[..8];
            let parent = if levels[2].get(emd_code).is_some() {
                emd_code.to_string()
            } else {
                let old_parent = r.parent_code.as_deref().unwrap_or_default();
                bundled_to_now
                    .get(old_parent)
                    .map_or_else(|| old_parent.to_string(), |c| c.to_string())
            };
            ri_now.push(Unit {
                code,
                parent,
                full_name: name.map(|s| s.new_name.clone()),
                source: r,
            });
        }
        let ri_level = union_level(&ri_now, |u| u.code.clone());
        let ri_regions = out.level(AdminLevel::Ri, &ri_level, &own, &no_gaps, b, cached);
        levels.push(LevelRegions::new(AdminLevel::Ri, ri_regions));
    }

    // Names of units the bundle does not have: the 시도 from the change table's events.
    let sido_names: BTreeMap<&str, &str> = events
        .iter()
        .filter(|e| e.date <= date && e.new_code.len() == 2 && e.status == "effective")
        .map(|e| (e.new_code.as_str(), e.new_name.as_str()))
        .collect();
    for r in &mut levels[0].regions {
        if let Some(n) = sido_names.get(r.code.as_str()) {
            r.name = n.to_string();
            r.full_name = n.to_string();
        }
    }
    // A unit that kept its bundled name under a parent whose chain changed (a 읍면동 abolished
    // without a successor, a 리 of a renamed 면) takes its parent's chain.
    for li in 1..levels.len() {
        let (up, down) = levels.split_at_mut(li);
        let parents = &up[li - 1];
        for r in &mut down[0].regions {
            let Some(p) = r.parent_code.as_deref().and_then(|c| parents.get(c)) else {
                continue;
            };
            if !r.full_name.starts_with(&format!("{} ", p.full_name)) {
                r.full_name = format!("{} {}", p.full_name, r.name);
            }
        }
    }
    let keep: Vec<AdminLevel> = b.levels.iter().map(|l| l.level).collect();
    levels.retain(|l| keep.contains(&l.level));
    let derived = Boundaries { levels };

    check_events(&derived, events, date, events_path)?;
    let skipped: Vec<String> = events
        .iter()
        .filter(|e| e.date <= date && e.status != "effective")
        .map(|e| {
            let s = format!(
                "row {}: {} {} {} {} → {} {} ({})",
                e.row,
                show_date(e.date),
                e.kind,
                e.old_code,
                e.old_name,
                e.new_code,
                e.new_name,
                e.status
            );
            warn!(event = %s, "change not applied: its status says it is not in force");
            s
        })
        .collect();
    let applied = events
        .iter()
        .filter(|e| e.date <= date && e.status == "effective")
        .count();

    let mut shares: BTreeMap<String, BTreeMap<String, f64>> = BTreeMap::new();
    for u in &emd_now {
        if let Some(p) = &u.source.parent_code {
            *shares
                .entry(p.clone())
                .or_default()
                .entry(u.parent.clone())
                .or_default() += u.source.area_km2;
        }
    }
    let sigungu_shares = shares
        .into_iter()
        .map(|(old, to)| {
            let total: f64 = to.values().sum();
            let v = to
                .into_iter()
                .map(|(c, a)| (c, if total > 0.0 { a / total } else { 0.0 }))
                .collect();
            (old, v)
        })
        .collect();
    let outside = match b.level(AdminLevel::Sigungu) {
        Some(s) => {
            let polygons: f64 = s.regions.iter().map(|r| r.area_km2).sum();
            (polygons - emd.regions.iter().map(|r| r.area_km2).sum::<f64>()).max(0.0)
        }
        None => 0.0,
    };
    let vintage = Vintage {
        as_of: show_date(date),
        source: "읍면동 and 리 of 2012-07-01 – 2013-09-23 (data/boundaries.md)".into(),
        area_basis: "sum of the areas of the unit's legal dongs (읍면동): land, not the sea a \
                     시군구 polygon of the source takes in"
            .into(),
        events_applied: applied,
        events_skipped: skipped,
        successions_followed: followed,
        emd_recoded,
        emd_merged,
        ri_dropped,
        units: derived
            .levels
            .iter()
            .map(|l| (l.level.to_string(), l.regions.len()))
            .collect(),
        area_km2: derived
            .level(AdminLevel::Sido)
            .map_or(0.0, |l| l.regions.iter().map(|r| r.area_km2).sum()),
        max_union_area_change: out.max_change,
        gaps_filled: gap_count,
        gaps_filled_km2: gap_km2,
        sigungu_area_outside_emd_km2: outside,
    };
    Ok(Derived {
        fresh: out.fresh,
        boundaries: derived,
        vintage,
        sigungu_shares,
    })
}

/// A bundled unit as of the date.
struct Unit<'a> {
    code: String,
    /// The code of the unit one level up on the date.
    parent: String,
    /// The full chain of names on the date, when a succession gave one.
    full_name: Option<String>,
    source: &'a Region,
}

enum End<'a> {
    /// No succession up to the date.
    Same,
    /// The last succession's new code.
    Code(&'a Succession),
    /// Abolished without a successor.
    Gone(&'a Succession),
}

fn follow<'a>(
    by_old: &HashMap<(AdminLevel, String), Vec<&'a Succession>>,
    level: AdminLevel,
    code: &str,
    followed: &mut usize,
) -> Result<End<'a>, String> {
    let mut end = End::Same;
    let (mut cur, mut since) = (code.to_string(), 0);
    for _ in 0..32 {
        let Some(s) = by_old
            .get(&(level, cur.clone()))
            .and_then(|v| v.iter().find(|s| s.date >= since))
        else {
            return Ok(end);
        };
        *followed += 1;
        if s.new_code.is_empty() {
            return Ok(End::Gone(s));
        }
        end = End::Code(s);
        if s.new_code == cur {
            return Ok(end);
        }
        cur.clone_from(&s.new_code);
        since = s.date;
    }
    Err("the succession chain does not end".into())
}

/// The units of one derived level, by code, with their members (in bundled code order).
fn union_level<'a, 'b>(
    units: &'b [Unit<'a>],
    code: impl Fn(&Unit) -> String,
) -> BTreeMap<String, Vec<&'b Unit<'a>>> {
    let mut out: BTreeMap<String, Vec<&Unit>> = BTreeMap::new();
    for u in units {
        out.entry(code(u)).or_default().push(u);
    }
    out
}

/// One derived region with `geometry`: the sum of its members' areas, its parent, its names.
fn merged_region(
    level: AdminLevel,
    code: &str,
    members: &[&Unit],
    b: &Boundaries,
    geometry: MultiPolygon<f64>,
    gap_km2: f64,
) -> Region {
    let first = members[0];
    let area_km2: f64 = members.iter().map(|u| u.source.area_km2).sum::<f64>() + gap_km2;
    let same_level = first.source.level == level;
    let parent_code = match level {
        AdminLevel::Sido => None,
        AdminLevel::Sigungu => Some(code[..2].to_string()),
        _ => Some(first.parent.clone()),
    };
    // Names: the bundle's for a code it has at this level, else the succession's chain (the
    // 시군구's is its 읍면동's chain without the last name).
    let bundled = b.level(level).and_then(|l| l.get(code));
    // The first member a succession named (a unit abolished without a successor has no name
    // of the date).
    let named = members
        .iter()
        .find(|u| u.full_name.is_some())
        .copied()
        .unwrap_or(first);
    let (name, full_name) = match (bundled, same_level) {
        (Some(r), _) if named.full_name.is_none() || !same_level => {
            (r.name.clone(), r.full_name.clone())
        }
        _ => {
            let first = named;
            let chain = match (&first.full_name, same_level) {
                (Some(f), true) => f.clone(),
                (Some(f), false) => chain_up(f, level),
                (None, true) => first.source.full_name.clone(),
                (None, false) => chain_up(&first.source.full_name, level),
            };
            let name = chain.rsplit(' ').next().unwrap_or_default().to_string();
            (name, chain)
        }
    };
    Region {
        level,
        code: code.to_string(),
        name,
        full_name,
        parent_code,
        geometry,
        area_km2,
    }
}

/// The chain of names of the unit at `level` containing a 읍면동 of chain `emd_chain`.
fn chain_up(emd_chain: &str, level: AdminLevel) -> String {
    let parts: Vec<&str> = emd_chain.split(' ').collect();
    let keep = match level {
        AdminLevel::Sido => 1,
        _ => parts.len().saturating_sub(1),
    };
    parts[..keep.max(1).min(parts.len())].join(" ")
}

/// Twice 1 m² in mm²: holes smaller than 1 m² are left out of a union.
const MICRO_HOLE_TWICE_MM2: i128 = 2_000_000;

/// The union of `geometries` on a 1 mm grid without holes under 1 m², and its relative area
/// change.
fn union<'a>(geometries: impl Iterator<Item = &'a MultiPolygon<f64>>) -> (MultiPolygon<f64>, f64) {
    let polygons: Vec<Vec<Vec<Coord<f64>>>> = geometries
        .flat_map(|mp| mp.0.iter())
        .map(|p| {
            std::iter::once(p.exterior())
                .chain(p.interiors())
                .map(|r| r.0.clone())
                .collect()
        })
        .collect();
    let before: f64 = polygons
        .iter()
        .map(|rings| {
            rings
                .iter()
                .enumerate()
                .map(|(k, r)| {
                    let a = Polygon::new(LineString(r.clone()), vec![]).unsigned_area();
                    if k == 0 { a } else { -a }
                })
                .sum::<f64>()
        })
        .sum();
    let snapped = match crate::snap::snap(&polygons, 3) {
        Ok(s) => s,
        // Wider than the integer grid takes (over 1,000 km): keep the parts as they are.
        Err(_) => {
            let parts = polygons
                .into_iter()
                .map(|rings| {
                    let mut it = rings.into_iter().map(LineString);
                    let ext = it.next().unwrap_or_else(|| LineString(vec![]));
                    Polygon::new(ext, it.collect())
                })
                .collect();
            return (MultiPolygon(parts), 0.0);
        }
    };
    // Holes under 1 m² are crossings of two 읍면동 outlines rounded to the grid in different
    // unions, not land: dropped, with any part lying inside one (which would else be a shell
    // nested in a shell).
    let micro = |r: &Vec<[i64; 2]>| crate::snap::twice_area(r).abs() < MICRO_HOLE_TWICE_MM2;
    let bbox = |r: &Vec<[i64; 2]>| {
        r.iter()
            .fold([i64::MAX, i64::MAX, i64::MIN, i64::MIN], |b, p| {
                [
                    b[0].min(p[0]),
                    b[1].min(p[1]),
                    b[2].max(p[0]),
                    b[3].max(p[1]),
                ]
            })
    };
    let dropped: Vec<[i64; 4]> = snapped
        .polygons
        .iter()
        .flat_map(|rings| rings.iter().skip(1))
        .filter(|r| micro(r))
        .map(|r| bbox(r))
        .collect();
    let ring = |r: &Vec<[i64; 2]>| {
        LineString(
            r.iter()
                .map(|p| Coord {
                    x: p[0] as f64 / 1000.0,
                    y: p[1] as f64 / 1000.0,
                })
                .collect(),
        )
    };
    let mp = MultiPolygon(
        snapped
            .polygons
            .iter()
            .filter(|rings| {
                let Some(ext) = rings.first() else {
                    return false;
                };
                if !micro(ext) {
                    return true;
                }
                let b = bbox(ext);
                !dropped
                    .iter()
                    .any(|h| h[0] <= b[0] && h[1] <= b[1] && b[2] <= h[2] && b[3] <= h[3])
            })
            .map(|rings| {
                let mut it = rings
                    .iter()
                    .enumerate()
                    .filter(|(k, r)| *k == 0 || !micro(r))
                    .map(|(_, r)| ring(r));
                let ext = it.next().unwrap_or_else(|| LineString(vec![]));
                Polygon::new(ext, it.collect())
            })
            .collect(),
    );
    let after = mp.unsigned_area();
    let change = if before > 0.0 {
        (after - before).abs() / before
    } else {
        0.0
    };
    (mp, change)
}

/// Later 1:1 relabels of 시군구 codes (rename, code change, upgrade, merge, abolished district)
/// up to the date, to carry the 시군구 of a unit abolished without a successor.
struct Relabels<'a> {
    by_old: BTreeMap<&'a str, Vec<&'a Event>>,
}

impl<'a> Relabels<'a> {
    fn new(events: &'a [Event], date: Date) -> Relabels<'a> {
        let mut by_old: BTreeMap<&str, Vec<&Event>> = BTreeMap::new();
        for e in events.iter().filter(|e| {
            e.date <= date
                && e.status == "effective"
                && e.old_code.len() == 5
                && e.new_code.len() == 5
                && REPLACING.contains(&e.kind.as_str())
        }) {
            by_old.entry(e.old_code.as_str()).or_default().push(e);
        }
        Relabels { by_old }
    }

    fn carry(&self, sigungu: &str, since: Date) -> String {
        let mut cur = sigungu.to_string();
        let mut since = since;
        for _ in 0..32 {
            let Some(e) = self
                .by_old
                .get(cur.as_str())
                .and_then(|v| v.iter().find(|e| e.date > since))
            else {
                break;
            };
            if e.new_code == cur {
                break;
            }
            cur.clone_from(&e.new_code);
            since = e.date;
        }
        cur
    }
}

/// Every effective event up to the date must show in the derived units: its new 시군구/시도
/// code exists (unless a later event replaced it), and for the kinds that replace a unit the
/// old code is gone (unless a later event made it again).
fn check_events(d: &Boundaries, events: &[Event], date: Date, path: &Path) -> Result<(), Error> {
    let level_of = |code: &str| match code.len() {
        2 => d.level(AdminLevel::Sido),
        5 => d.level(AdminLevel::Sigungu),
        _ => None,
    };
    // A city of a 도 divided into 일반구 (창원시 48120, 청주시 43110) has no unit of its own:
    // it exists as its 구 (48121 …), the codes one to nine above it. (A 광역시's 구 are units
    // of their own: 28177 is no 구 of a 28170.)
    let exists = |code: &str| {
        level_of(code).is_some_and(|l| {
            l.get(code).is_some()
                || (code.len() == 5
                    && code.ends_with('0')
                    && code[..2] >= *"41"
                    && l.regions
                        .iter()
                        .any(|r| r.code.len() == 5 && r.code[..4] == code[..4] && r.code != code))
        })
    };
    let checkable = |code: &str| level_of(code).is_some();
    let mut problems = Vec::new();
    for e in events
        .iter()
        .filter(|e| e.date <= date && e.status == "effective")
    {
        let later = |code: &str| {
            events.iter().any(|l| {
                l.date > e.date
                    && l.date <= date
                    && l.status == "effective"
                    && (l.old_code == code || l.new_code == code)
            })
        };
        if e.new_code.is_empty() {
            problems.push(format!(
                "row {}: {} {} {} has no new code",
                e.row,
                show_date(e.date),
                e.kind,
                e.old_code
            ));
            continue;
        }
        if checkable(&e.new_code) && !exists(&e.new_code) && !later(&e.new_code) {
            problems.push(format!(
                "row {}: {} {} {} → {} {}: no unit {} on {}",
                e.row,
                show_date(e.date),
                e.kind,
                e.old_code,
                e.new_code,
                e.new_name,
                e.new_code,
                show_date(date)
            ));
        }
        if REPLACING.contains(&e.kind.as_str())
            && e.old_code != e.new_code
            && checkable(&e.old_code)
            && exists(&e.old_code)
            && !later(&e.old_code)
        {
            problems.push(format!(
                "row {}: {} {} {} {} → {}: the old unit {} still exists on {}",
                e.row,
                show_date(e.date),
                e.kind,
                e.old_code,
                e.old_name,
                e.new_code,
                e.old_code,
                show_date(date)
            ));
        }
    }
    if problems.is_empty() {
        return Ok(());
    }
    Err(Error::Read {
        path: path.to_path_buf(),
        layer: String::new(),
        message: format!(
            "{} change(s) could not be applied for as_of {} (a legal-dong list is missing from \
             the succession table?): {}",
            problems.len(),
            show_date(date),
            problems.join("; ")
        ),
    })
}

/// What a run keeps of a derived geography besides the boundaries.
#[derive(Debug, Clone)]
pub struct Geography {
    pub vintage: Vintage,
    /// Bundled 시군구 code → derived 시군구 codes with the share of its 읍면동 area in each.
    pub sigungu_shares: BTreeMap<String, Vec<(String, f64)>>,
}

impl Geography {
    /// A table keyed by bundled 시군구 codes (population) moved onto the derived 시군구: a code
    /// split over several units is shared by the area of its 읍면동 in each, in whole persons by
    /// largest remainder, so every total is kept exactly. Other codes are kept.
    pub fn remap_counts(&self, given: &HashMap<String, i64>) -> HashMap<String, i64> {
        let mut out: HashMap<String, i64> = HashMap::new();
        let mut codes: Vec<&String> = given.keys().collect();
        codes.sort();
        for code in codes {
            let v = given[code];
            match self.sigungu_shares.get(code) {
                Some(to) => {
                    let weights: Vec<f64> = to.iter().map(|(_, w)| *w).collect();
                    let parts = crate::crosswalk::largest_remainder(v, &weights);
                    for ((c, _), part) in to.iter().zip(parts) {
                        *out.entry(c.clone()).or_default() += part;
                    }
                }
                None => *out.entry(code.clone()).or_default() += v,
            }
        }
        out
    }

    /// Weighted codes (bundled 시군구) carried onto the derived 시군구.
    pub fn remap_weights(&self, parts: &[(String, f64)]) -> Vec<(String, f64)> {
        let mut out: BTreeMap<String, f64> = BTreeMap::new();
        for (code, w) in parts {
            match self.sigungu_shares.get(code) {
                Some(to) => {
                    for (c, s) in to {
                        *out.entry(c.clone()).or_default() += w * s;
                    }
                }
                None => *out.entry(code.clone()).or_default() += w,
            }
        }
        out.into_iter().filter(|(_, w)| *w > 0.0).collect()
    }
}

/// The key of everything built from the boundaries (caches): the boundary file's sha256, and
/// with `as_of` also the date and the two change tables'.
///
/// # Errors
/// A file that cannot be hashed.
pub fn key(p: &crate::config::Pipeline) -> Result<String, Error> {
    let file = crate::read::checksum(&p.boundaries.path)?;
    let Some(as_of) = p.boundaries.as_of else {
        return Ok(file);
    };
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(file.as_bytes());
    h.update(format!("{as_of:?}").as_bytes());
    for f in p.boundaries.successions.iter().chain(&p.crosswalk) {
        h.update(crate::read::checksum(f)?.as_bytes());
    }
    Ok(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// The run's boundaries: as read, or derived for `as_of`.
///
/// # Errors
/// The boundaries or a change table cannot be read, or the derivation fails.
pub fn load(p: &crate::config::Pipeline) -> Result<(Boundaries, Option<Geography>), Error> {
    let b = crate::read::boundaries(&p.boundaries)?;
    let Some(as_of) = p.boundaries.as_of else {
        return Ok((b, None));
    };
    let (Some(events_path), Some(succ_path)) = (&p.crosswalk, &p.boundaries.successions) else {
        return Err(Error::Invariant(
            "as_of without a crosswalk or a succession table (config validation lets none through)"
                .into(),
        ));
    };
    let events = read_events(events_path)?;
    let successions = read_successions(succ_path)?;
    let date = resolve(as_of, &events);
    let t0 = std::time::Instant::now();
    let entry = crate::cache::Cache::new(&p.output_dir.join("cache")).entry(
        "geography",
        &show_date(date),
        &[key(p)?.as_bytes()],
    );
    let cached = entry.load().and_then(|c| decode(&c)).unwrap_or_default();
    let d = derive(&b, date, &events, &successions, events_path, &cached)?;
    if !d.fresh.is_empty() {
        let mut all = cached;
        all.extend(d.fresh.clone());
        entry.store(&encode(&all));
    }
    tracing::info!(
        as_of = %d.vintage.as_of,
        ms = t0.elapsed().as_millis() as u64,
        units = ?d.vintage.units,
        "geography derived"
    );
    Ok((
        d.boundaries,
        Some(Geography {
            vintage: d.vintage,
            sigungu_shares: d.sigungu_shares,
        }),
    ))
}

/// The cache content: per union its level, code, area change and polygons (rings of f64
/// pairs), little-endian, in (level, code) order.
fn encode(unions: &Unions) -> Vec<u8> {
    let mut keys: Vec<&(AdminLevel, String)> = unions.keys().collect();
    keys.sort();
    let mut out = Vec::new();
    let put = |out: &mut Vec<u8>, n: usize| out.extend((n as u64).to_le_bytes());
    put(&mut out, keys.len());
    for k in keys {
        let (mp, change) = &unions[k];
        out.push(k.0 as u8);
        put(&mut out, k.1.len());
        out.extend(k.1.as_bytes());
        out.extend(change.to_le_bytes());
        put(&mut out, mp.0.len());
        for p in &mp.0 {
            put(&mut out, 1 + p.interiors().len());
            for r in std::iter::once(p.exterior()).chain(p.interiors()) {
                put(&mut out, r.0.len());
                for c in &r.0 {
                    out.extend(c.x.to_le_bytes());
                    out.extend(c.y.to_le_bytes());
                }
            }
        }
    }
    out
}

/// [`encode`]'s inverse; `None` for content it did not write (a refused entry is rebuilt).
fn decode(bytes: &[u8]) -> Option<Unions> {
    let mut c = Cursor { bytes, at: 0 };
    let count = c.word()?;
    let mut out = Unions::new();
    for _ in 0..count {
        let level = *AdminLevel::ALL.get(usize::from(*c.take(1)?.first()?))?;
        let len = c.len()?;
        let code = String::from_utf8(c.take(len)?.to_vec()).ok()?;
        let change = f64::from_bits(c.word()?);
        let mut mp = Vec::new();
        for _ in 0..c.word()? {
            let mut rings = Vec::new();
            for _ in 0..c.word()? {
                let n = c.len()?;
                let coords = c
                    .take(n.checked_mul(16)?)?
                    .chunks_exact(16)
                    .map(|p| {
                        let (x, y) = p.split_at(8);
                        Some(Coord {
                            x: f64::from_le_bytes(x.try_into().ok()?),
                            y: f64::from_le_bytes(y.try_into().ok()?),
                        })
                    })
                    .collect::<Option<Vec<_>>>()?;
                rings.push(LineString(coords));
            }
            let mut it = rings.into_iter();
            let ext = it.next()?;
            mp.push(Polygon::new(ext, it.collect()));
        }
        out.insert((level, code), (MultiPolygon(mp), change));
    }
    (c.at == bytes.len()).then_some(out)
}

struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let s = self.bytes.get(self.at..self.at.checked_add(n)?)?;
        self.at += n;
        Some(s)
    }

    fn word(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }

    fn len(&mut self) -> Option<usize> {
        usize::try_from(self.word()?).ok()
    }
}

/// Whether a derived 읍면동 lies in the 시도 `sido`: by its parent (a 읍면동 abolished without a
/// successor keeps its old code under a renumbered 시군구).
fn in_sido(emd: &Region, sido: &str) -> bool {
    emd.parent_code
        .as_deref()
        .is_some_and(|p| p.starts_with(sido))
}

/// Cache keys: a 읍면동's gaps (`<code>~gaps`), and the mark that gaps were found.
const GAPS_OF: &str = "~gaps";
const GAPS_DONE: &str = "~gaps-found";

/// Gap polygons by the derived 읍면동 code they are given to.
type Gaps = BTreeMap<String, Vec<Polygon<f64>>>;

/// The regions a derivation builds, the unions it computed and their largest area change.
#[derive(Default)]
struct Built {
    fresh: Unions,
    max_change: f64,
}

impl Built {
    /// The derived regions of `level`, one per group: the cached union, the one member's own
    /// geometry, or the union of `parts` (and the group's gaps).
    fn level(
        &mut self,
        level: AdminLevel,
        groups: &BTreeMap<String, Vec<&Unit>>,
        parts: &(dyn Fn(&str, &[&Unit]) -> Vec<MultiPolygon<f64>> + Sync),
        gaps: &Gaps,
        b: &Boundaries,
        cached: &Unions,
    ) -> Vec<Region> {
        let tag = if gaps.is_empty() { "" } else { "+gaps" };
        let made: Vec<(Region, f64, bool)> = groups
            .par_iter()
            .map(|(code, members)| {
                let own_gaps = gaps.get(code).map_or(&[][..], Vec::as_slice);
                let gap_km2: f64 = own_gaps.iter().map(|g| g.unsigned_area() / 1e6).sum();
                let key = (level, format!("{code}{tag}"));
                let (geometry, change, new) = match cached.get(&key) {
                    Some((g, c)) => (g.clone(), *c, false),
                    None if members.len() == 1
                        && members[0].source.level == level
                        && own_gaps.is_empty() =>
                    {
                        (members[0].source.geometry.clone(), 0.0, false)
                    }
                    None => {
                        let mut all = parts(code, members);
                        all.extend(own_gaps.iter().map(|g| MultiPolygon(vec![g.clone()])));
                        let (g, c) = union(all.iter());
                        (g, c, true)
                    }
                };
                let region = merged_region(level, code, members, b, geometry, gap_km2);
                (region, change, new)
            })
            .collect();
        made.into_iter()
            .map(|(r, change, new)| {
                self.max_change = self.max_change.max(change);
                if new {
                    self.fresh.insert(
                        (level, format!("{}{tag}", r.code)),
                        (r.geometry.clone(), change),
                    );
                }
                r
            })
            .collect()
    }
}

/// The holes of each 시도's union of 읍면동 that no other 시도 fills, each given to the 읍면동
/// of that 시도 with the most vertices on the hole's outline (ties: the smaller code).
fn gaps(
    emd: &[Region],
    sido_level: &BTreeMap<String, Vec<&Unit>>,
    cached: &Unions,
    out: &mut Built,
) -> Gaps {
    use geo::{BoundingRect, Contains, InteriorPoint};
    if cached.contains_key(&(AdminLevel::Sido, GAPS_DONE.to_string())) {
        let mut gaps = Gaps::new();
        for ((level, key), (g, _)) in cached {
            if let (AdminLevel::Emd, Some(code)) = (level, key.strip_suffix(GAPS_OF)) {
                gaps.insert(code.to_string(), g.0.clone());
            }
        }
        return gaps;
    }
    let unions: Vec<(String, MultiPolygon<f64>)> = sido_level
        .keys()
        .collect::<Vec<_>>()
        .par_iter()
        .map(|code| {
            let key = (AdminLevel::Sido, format!("{code}-unfilled"));
            let g = match cached.get(&key) {
                Some((g, _)) => g.clone(),
                None => union(emd.iter().filter(|r| in_sido(r, code)).map(|r| &r.geometry)).0,
            };
            (code.to_string(), g)
        })
        .collect();
    for (code, g) in &unions {
        let key = (AdminLevel::Sido, format!("{code}-unfilled"));
        if !cached.contains_key(&key) {
            out.fresh.insert(key, (g.clone(), 0.0));
        }
    }
    // Vertices of every 읍면동 on the 1 mm grid → the 읍면동.
    let mm = |c: &Coord<f64>| ((c.x * 1000.0).round() as i64, (c.y * 1000.0).round() as i64);
    let mut at: HashMap<(i64, i64), Vec<usize>> = HashMap::new();
    for (i, r) in emd.iter().enumerate() {
        for p in &r.geometry.0 {
            for ring in std::iter::once(p.exterior()).chain(p.interiors()) {
                for c in &ring.0 {
                    at.entry(mm(c)).or_default().push(i);
                }
            }
        }
    }
    // Every 읍면동's box, to find the one under a point.
    let boxes: Vec<geo::Rect<f64>> = emd
        .iter()
        .map(|r| {
            r.geometry.bounding_rect().unwrap_or_else(|| {
                geo::Rect::new(Coord { x: 0.0, y: 0.0 }, Coord { x: 0.0, y: 0.0 })
            })
        })
        .collect();
    let tree = rstar::RTree::bulk_load(
        boxes
            .iter()
            .enumerate()
            .map(|(i, r)| {
                rstar::primitives::GeomWithData::new(
                    rstar::primitives::Rectangle::from_corners(
                        [r.min().x, r.min().y],
                        [r.max().x, r.max().y],
                    ),
                    i,
                )
            })
            .collect(),
    );
    let under = |p: &geo::Point<f64>| -> Vec<usize> {
        tree.locate_all_at_point([p.x(), p.y()])
            .map(|e| e.data)
            .filter(|&i| emd[i].geometry.contains(p))
            .collect()
    };
    let mut gaps = Gaps::new();
    for (code, g) in &unions {
        for (pi, hole) in
            g.0.iter()
                .enumerate()
                .flat_map(|(pi, p)| p.interiors().iter().map(move |h| (pi, h)))
        {
            let outline = Polygon::new(hole.clone(), vec![]);
            // Parts of the union inside the hole (islands in a lake) are not part of the gap.
            let islands: Vec<LineString<f64>> =
                g.0.iter()
                    .enumerate()
                    .filter(|(qi, q)| {
                        *qi != pi && q.exterior().0.first().is_some_and(|c| outline.contains(c))
                    })
                    .map(|(_, q)| q.exterior().clone())
                    .collect();
            let gap = Polygon::new(hole.clone(), islands);
            let Some(inside) = gap.interior_point() else {
                continue;
            };
            // A hole another 시도 fills is an enclave, not a gap.
            let here = under(&inside);
            if here.iter().any(|&i| !in_sido(&emd[i], code)) {
                continue;
            }
            let mut votes: BTreeMap<&str, usize> = BTreeMap::new();
            for c in &hole.0 {
                for &i in at.get(&mm(c)).into_iter().flatten() {
                    if in_sido(&emd[i], code) {
                        *votes.entry(emd[i].code.as_str()).or_default() += 1;
                    }
                }
            }
            if votes.is_empty() {
                // A sliver whose corners are all crossings of two outlines: the 읍면동 whose
                // box holds it and whose outline is nearest.
                use geo::Distance;
                let nearest = tree
                    .locate_all_at_point([inside.x(), inside.y()])
                    .map(|e| e.data)
                    .filter(|&i| in_sido(&emd[i], code))
                    .map(|i| {
                        let d = emd[i]
                            .geometry
                            .0
                            .iter()
                            .map(|p| geo::Euclidean.distance(&inside, p.exterior()))
                            .fold(f64::INFINITY, f64::min);
                        (d, i)
                    })
                    .min_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
                if let Some((_, i)) = nearest {
                    votes.insert(emd[i].code.as_str(), 1);
                }
            }
            // The most votes; the smaller code wins a tie.
            let Some(best) = votes
                .iter()
                .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))
                .map(|(c, _)| c.to_string())
            else {
                continue;
            };
            gaps.entry(best).or_default().push(gap);
        }
    }
    for (code, g) in &gaps {
        out.fresh.insert(
            (AdminLevel::Emd, format!("{code}{GAPS_OF}")),
            (MultiPolygon(g.clone()), 0.0),
        );
    }
    out.fresh.insert(
        (AdminLevel::Sido, GAPS_DONE.to_string()),
        (MultiPolygon(vec![]), 0.0),
    );
    gaps
}
