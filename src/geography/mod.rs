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
//! Unions are computed exactly on a 1 mm grid (`crate::snap`); the area of a derived
//! unit is the sum of its sources' areas, and the union's own area is reported beside it.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use geo::{Area, MultiPolygon};
use serde::Serialize;
use tracing::warn;

use crate::error::Error;

mod cache;
mod union;

pub use crate::config::AsOf;
pub use crate::crosswalk::{Event, Succession};
use crate::model::{AdminLevel, Boundaries, Date, LevelRegions, Region, show_date};
use cache::{decode, encode};
use union::{Built, Gaps};

/// The geography a run publishes, for `run.json`, the GeoPackage metadata and the report.
#[derive(Debug, Clone, Serialize)]
pub struct Vintage {
    /// `yyyy-mm-dd`: the date the units, codes, names and parents are in force.
    pub as_of: String,
    /// The vintage of the bundled source units.
    pub(crate) source: String,
    /// How each derived unit's area is measured.
    pub(crate) area_basis: String,
    /// Events of the change table dated on or before `as_of` and applied.
    pub(crate) events_applied: usize,
    /// Events on or before `as_of` whose status says they are not in force, skipped.
    pub events_skipped: Vec<String>,
    /// Legal-dong successions followed (읍면동, 리).
    successions_followed: usize,
    /// Bundled 읍면동 that took another code, and derived 읍면동 made of several bundled ones.
    emd_recoded: usize,
    emd_merged: usize,
    /// Bundled 리 that are no 리 on the date (became a 동, or were merged).
    ri_dropped: usize,
    /// Units per level.
    units: BTreeMap<String, usize>,
    /// Σ area of the derived 시도 and of the bundled 읍면동 they are made of (km²).
    area_km2: f64,
    /// Largest |union area − Σ source areas| / Σ source areas over the derived units.
    max_union_area_change: f64,
    /// Gaps between the bundled 읍면동 inside a 시도 (no 읍면동 covered them), each given to
    /// the 읍면동 sharing most of its outline; their number and area (km²).
    pub gaps_filled: usize,
    pub gaps_filled_km2: f64,
    /// Land of the bundled 시군구 polygons that lies in no 읍면동 (sea, mostly), left out.
    sigungu_area_outside_emd_km2: f64,
}

/// Union geometries by level and code, with their relative area change (kept in the cache).
pub type Unions = HashMap<(AdminLevel, String), (MultiPolygon<f64>, f64)>;

/// The derived boundaries and what relates them to the bundled ones.
#[derive(Debug, Clone)]
pub struct Derived {
    pub boundaries: Boundaries,
    /// The unions computed by this derivation (not found in `cached`).
    fresh: Unions,
    pub vintage: Vintage,
    /// Bundled 시군구 code → derived 시군구 codes with the share of its 읍면동 area in each.
    pub sigungu_shares: BTreeMap<String, Vec<(String, f64)>>,
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
    let mut walk = Walk::new(successions, events, date);

    // 1. Each bundled 읍면동 as of the date.
    let emd_now = walk.emd(emd).map_err(|e| invariant(e.to_string()))?;
    // 2. 읍면동 (with the gaps between them), 시군구 and 시도 as unions.
    let mut out = Built::default();
    let (mut levels, gap_list) = out.nested(&emd_now, b, cached);
    // 3. 리.
    let mut ri_dropped = 0usize;
    if let Some(ri) = b.level(AdminLevel::Ri) {
        let (ri_now, dropped) = walk
            .ri(ri, &emd_now, &levels[2])
            .map_err(|e| invariant(e.to_string()))?;
        ri_dropped = dropped;
        let ri_level = union_level(&ri_now, |u| u.code.clone());
        let ri_regions = out.level(AdminLevel::Ri, &ri_level, &own, &Gaps::new(), b, cached);
        levels.push(LevelRegions::new(AdminLevel::Ri, ri_regions));
    }
    name_chains(&mut levels, events, date);
    let keep: Vec<AdminLevel> = b.levels.iter().map(|l| l.level).collect();
    levels.retain(|l| keep.contains(&l.level));
    let derived = Boundaries { levels };

    check_events(&derived, events, date, events_path)?;
    let outside = match b.level(AdminLevel::Sigungu) {
        Some(s) => {
            let polygons: f64 = s.regions.iter().map(|r| r.area_km2).sum();
            (polygons - emd.regions.iter().map(|r| r.area_km2).sum::<f64>()).max(0.0)
        }
        None => 0.0,
    };
    let (gap_count, gap_km2) = gap_list
        .values()
        .flatten()
        .fold((0usize, 0f64), |(n, a), g| {
            (n + 1, a + g.unsigned_area() / 1e6)
        });
    let vintage = Vintage {
        as_of: show_date(date),
        source: "읍면동 and 리 of 2012-07-01 – 2013-09-23 (data/boundaries.md)".into(),
        area_basis: "sum of the areas of the unit's legal dongs (읍면동): land, not the sea a \
                     시군구 polygon of the source takes in"
            .into(),
        events_applied: events
            .iter()
            .filter(|e| e.date <= date && e.status == "effective")
            .count(),
        events_skipped: skipped_events(events, date),
        successions_followed: walk.followed,
        emd_recoded: emd_now.iter().filter(|u| u.code != u.source.code).count(),
        emd_merged: union_level(&emd_now, |u| u.code.clone())
            .values()
            .filter(|members| members.len() > 1)
            .count(),
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
        sigungu_shares: sigungu_shares(&emd_now),
    })
}

/// A unit's own polygons as the parts of its union.
fn own(_: &str, members: &[&Unit]) -> Vec<MultiPolygon<f64>> {
    members.iter().map(|u| u.source.geometry.clone()).collect()
}

/// The successions up to the date, walked for each bundled unit.
struct Walk<'a> {
    by_old: HashMap<(AdminLevel, String), Vec<&'a Succession>>,
    relabels: Relabels<'a>,
    /// Successions followed so far.
    followed: usize,
}

impl<'a> Walk<'a> {
    fn new(successions: &'a [Succession], events: &'a [Event], date: Date) -> Walk<'a> {
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
        Walk {
            by_old,
            relabels: Relabels::new(events, date),
            followed: 0,
        }
    }

    /// Each bundled 읍면동 with its code, 시군구 and name on the date.
    fn emd<'r>(&mut self, emd: &'r LevelRegions) -> Result<Vec<Unit<'r>>, EndlessChain>
    where
        'a: 'r,
    {
        let mut out = Vec::with_capacity(emd.regions.len());
        for r in &emd.regions {
            let end = follow(&self.by_old, AdminLevel::Emd, &r.code, &mut self.followed)?;
            let (code, parent, named) = match end {
                End::Same => (
                    r.code.clone(),
                    r.code[..5.min(r.code.len())].to_string(),
                    None,
                ),
                End::Code(s) => (s.new_code.clone(), s.new_code[..5].to_string(), Some(s)),
                End::Gone(s) => (
                    r.code.clone(),
                    self.relabels.carry(&s.sigungu, s.date),
                    None,
                ),
            };
            out.push(Unit {
                code,
                parent,
                full_name: named.map(|s| s.new_name.clone()),
                source: r,
            });
        }
        Ok(out)
    }

    /// Each bundled 리 on the date under its derived 읍면동, and the number that are no 리 then.
    fn ri<'r>(
        &mut self,
        ri: &'r LevelRegions,
        emd_now: &[Unit],
        emd_derived: &LevelRegions,
    ) -> Result<(Vec<Unit<'r>>, usize), EndlessChain>
    where
        'a: 'r,
    {
        let bundled_to_now: HashMap<&str, &str> = emd_now
            .iter()
            .map(|u| (u.source.code.as_str(), u.code.as_str()))
            .collect();
        let (mut out, mut dropped) = (Vec::new(), 0usize);
        for r in &ri.regions {
            let end = follow(&self.by_old, AdminLevel::Ri, &r.code, &mut self.followed)?;
            let (code, named) = match end {
                End::Same => (r.code.clone(), None),
                End::Code(s) => (s.new_code.clone(), Some(s)),
                End::Gone(_) => {
                    dropped += 1;
                    continue;
                }
            };
            let emd_code = &code[..8.min(code.len())];
            let parent = if emd_derived.get(emd_code).is_some() {
                emd_code.to_string()
            } else {
                let old_parent = r.parent_code.as_deref().unwrap_or_default();
                bundled_to_now
                    .get(old_parent)
                    .map_or_else(|| old_parent.to_string(), |c| c.to_string())
            };
            out.push(Unit {
                code,
                parent,
                full_name: named.map(|s| s.new_name.clone()),
                source: r,
            });
        }
        Ok((out, dropped))
    }
}

/// Names the bundle does not have: the 시도 from the change table's events; and a unit that kept
/// its bundled name under a parent whose chain changed (a 읍면동 abolished without a successor,
/// a 리 of a renamed 면) takes its parent's chain.
fn name_chains(levels: &mut [LevelRegions], events: &[Event], date: Date) {
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
}

/// The events on or before the date whose status says they are not in force (each logged).
fn skipped_events(events: &[Event], date: Date) -> Vec<String> {
    events
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
        .collect()
}

/// Bundled 시군구 → derived 시군구 with the share of its 읍면동 area in each.
fn sigungu_shares(emd_now: &[Unit]) -> BTreeMap<String, Vec<(String, f64)>> {
    let mut shares: BTreeMap<String, BTreeMap<String, f64>> = BTreeMap::new();
    for u in emd_now {
        if let Some(p) = &u.source.parent_code {
            *shares
                .entry(p.clone())
                .or_default()
                .entry(u.parent.clone())
                .or_default() += u.source.area_km2;
        }
    }
    shares
        .into_iter()
        .map(|(old, to)| {
            let total: f64 = to.values().sum();
            let v = to
                .into_iter()
                .map(|(c, a)| (c, if total > 0.0 { a / total } else { 0.0 }))
                .collect();
            (old, v)
        })
        .collect()
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
) -> Result<End<'a>, EndlessChain> {
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
    Err(EndlessChain {
        level,
        code: code.to_string(),
    })
}

/// A succession chain that does not end within 32 steps (a cycle in the successions).
#[derive(Debug, thiserror::Error)]
#[error("{} {code}: the succession chain does not end", level.as_str())]
struct EndlessChain {
    level: AdminLevel,
    code: String,
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
    /// The crosswalk of the change table the units were derived with (read once for both).
    pub crosswalk: crate::crosswalk::Crosswalk,
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
    pub(crate) fn remap_weights(&self, parts: &[(String, f64)]) -> Vec<(String, f64)> {
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
pub(crate) fn key(p: &crate::config::Pipeline) -> Result<String, Error> {
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
pub(crate) fn load(p: &crate::config::Pipeline) -> Result<(Boundaries, Option<Geography>), Error> {
    let Some(as_of) = p.boundaries.as_of else {
        return Ok((crate::read::boundaries(&p.boundaries)?, None));
    };
    // The city level is derived from the 시군구 of the date, after them.
    let mut spec = p.boundaries.clone();
    spec.levels.retain(|l| *l != AdminLevel::City);
    let b = crate::read::boundaries(&spec)?;
    let (Some(events_path), Some(succ_path)) = (&p.crosswalk, &p.boundaries.successions) else {
        return Err(Error::Invariant(
            "as_of without a crosswalk or a succession table (config validation lets none through)"
                .into(),
        ));
    };
    let events = crate::read::change_events(events_path)?;
    let successions = crate::read::successions(succ_path)?;
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
        with_cities(p, d.boundaries)?,
        Some(Geography {
            vintage: d.vintage,
            sigungu_shares: d.sigungu_shares,
            crosswalk: crate::crosswalk::Crosswalk::from_events(&events),
        }),
    ))
}

/// `b` with the city level when the pipeline lists it (`crate::city`).
fn with_cities(p: &crate::config::Pipeline, b: Boundaries) -> Result<Boundaries, Error> {
    if !p.boundaries.levels.contains(&AdminLevel::City) {
        return Ok(b);
    }
    crate::city::with_cities(b).map_err(|e| Error::Boundary {
        path: p.boundaries.path.clone(),
        layer: AdminLevel::Sigungu.as_str().to_string(),
        feature: 0,
        message: e.to_string(),
    })
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
