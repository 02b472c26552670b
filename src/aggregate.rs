//! Aggregation: exact integer sums per region at every level, rolled up by the code hierarchy,
//! and per regional group (a level defined in data as a set of 시도).

use std::collections::BTreeMap;

use serde::Serialize;
use thiserror::Error;

use crate::assign::Assigned;
use crate::config::Period;
use crate::model::RegionGroup;
use crate::model::{AdminLevel, Boundaries, FundingSource, Investment};

/// Sums for one region. Money is `i128` while summing; the writers check it fits `i64`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RegionTotals {
    pub amount_krw: i128,
    pub record_count: u64,
    /// Money of records resolved to this region itself, not to one of its sub-regions.
    pub held_here_krw: i128,
    pub by_funding: BTreeMap<FundingSource, i128>,
    pub by_program: BTreeMap<String, i128>,
    /// By configured period label (dated records only).
    pub by_period: BTreeMap<String, i128>,
    /// National-programme money (funding `national_program`) by period label.
    pub program_by_period: BTreeMap<String, i128>,
}

impl RegionTotals {
    fn add(&mut self, amount: i128, r: &Investment, count: bool, period: Option<&str>) {
        self.amount_krw += amount;
        self.record_count += u64::from(count);
        *self.by_funding.entry(r.funding).or_default() += amount;
        if !r.program.is_empty() {
            *self.by_program.entry(r.program.clone()).or_default() += amount;
        }
        if let Some(p) = period {
            *self.by_period.entry(p.to_string()).or_default() += amount;
            if r.funding == FundingSource::NationalProgram {
                *self.program_by_period.entry(p.to_string()).or_default() += amount;
            }
        }
    }
}

/// Totals of one level: every region of the level (zero when nothing landed there).
#[derive(Debug, Clone, Serialize)]
pub struct LevelTotals {
    pub level: String,
    pub regions: BTreeMap<String, RegionTotals>,
    /// Money resolved only to a coarser level (e.g. a 시도-wide programme), so not in any
    /// region of this level.
    pub held_above_krw: i128,
    pub held_above_count: u64,
    /// Money of records resolved to a finer region that this level does not cover: the city
    /// level covers only the cities with 일반구, so the money of every other 시군구 (and of 세종)
    /// is here, neither in a city nor held above the level.
    pub uncovered_krw: i128,
    pub uncovered_count: u64,
    /// Money of polygon records lying outside every region (sea, abroad).
    pub outside_krw: i128,
}

impl LevelTotals {
    /// A level with these regions and nothing in them yet.
    fn empty<'c>(level: String, codes: impl Iterator<Item = &'c String>) -> LevelTotals {
        LevelTotals {
            level,
            regions: codes
                .map(|c| (c.clone(), RegionTotals::default()))
                .collect(),
            held_above_krw: 0,
            held_above_count: 0,
            uncovered_krw: 0,
            uncovered_count: 0,
            outside_krw: 0,
        }
    }

    pub fn sum_krw(&self) -> i128 {
        self.regions.values().map(|t| t.amount_krw).sum()
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Aggregates {
    /// One entry per boundary level, coarsest first, then `region_group` when configured.
    pub levels: Vec<LevelTotals>,
    pub assigned_krw: i128,
    pub assigned_count: u64,
    /// The programmes with a column of their own, sorted (for stable output columns): every
    /// distinct programme id, or, beyond [`MAX_PROGRAM_COLUMNS`], the largest ones and
    /// [`OTHER_PROGRAM`] (see [`cap_programs`]).
    pub programs: Vec<String>,
}

/// The points of one streamed input, already summed per region of the level each was located
/// in (the streaming fold's result, borrowed).
#[derive(Debug, Clone, Copy)]
pub struct Folded<'a> {
    /// (index of the level in `Boundaries::levels`, index of the region in it, totals).
    pub located: &'a [(usize, usize, RegionTotals)],
    pub assigned_count: u64,
    pub assigned_krw: i128,
    /// Distinct programme ids seen.
    pub programs: &'a [String],
}

/// Sums every assigned investment record into its region and all of that region's ancestors.
///
/// # Assumptions
/// `assigned` holds investment records only (attribute inputs are applied elsewhere).
pub fn aggregate(
    b: &Boundaries,
    groups: &[RegionGroup],
    records: &[Investment],
    assigned: &[Assigned],
    streamed: &[Folded<'_>],
    periods: &[Period],
) -> Aggregates {
    let mut levels: Vec<LevelTotals> = b
        .levels
        .iter()
        .map(|l| LevelTotals::empty(l.level.to_string(), l.regions.iter().map(|r| &r.code)))
        .collect();
    let mut assigned_krw = 0i128;
    let mut assigned_count = 0u64;
    let mut programs = std::collections::BTreeSet::new();
    for a in assigned {
        let r = &records[a.record];
        assigned_krw += i128::from(r.amount_krw.unwrap_or(0));
        assigned_count += 1;
        if !r.program.is_empty() {
            programs.insert(r.program.clone());
        }
        // A record split over several regions counts once in each region it reaches.
        let mut counted: std::collections::HashSet<(usize, String)> =
            std::collections::HashSet::new();
        let period = r
            .date
            .and_then(|d| periods.iter().find(|p| p.contains(d)))
            .map(|p| p.label.as_str());
        for h in a.resolution.holders(r.amount_krw.unwrap_or(0)) {
            let amount = i128::from(h.amount);
            let Some((level, code)) = h.target else {
                // Outside every region: reported per level, never lost.
                for lt in levels.iter_mut() {
                    lt.outside_krw += amount;
                }
                continue;
            };
            let lineage = b.lineage(level, code);
            for (li, (lr, lt)) in b.levels.iter().zip(levels.iter_mut()).enumerate() {
                match lineage.iter().find(|(l, _)| *l == lr.level) {
                    Some((_, c)) => {
                        if let Some(t) = lt.regions.get_mut(c) {
                            t.add(amount, r, counted.insert((li, c.clone())), period);
                            if lr.level == level {
                                t.held_here_krw += amount;
                            }
                        }
                    }
                    None if lr.level < level => {
                        lt.uncovered_krw += amount;
                        if counted.insert((li, String::new())) {
                            lt.uncovered_count += 1;
                        }
                    }
                    None => {
                        lt.held_above_krw += amount;
                        if counted.insert((li, String::new())) {
                            lt.held_above_count += 1;
                        }
                    }
                }
            }
        }
    }
    // Streamed points arrive already summed per region of the level they were located in.
    for s in streamed {
        assigned_krw += s.assigned_krw;
        assigned_count += s.assigned_count;
        programs.extend(s.programs.iter().cloned());
        for (li, ri, t) in s.located {
            let level = &b.levels[*li];
            let code = &level.regions[*ri].code;
            let lineage = b.lineage(level.level, code);
            for (lr, lt) in b.levels.iter().zip(levels.iter_mut()) {
                match lineage.iter().find(|(l, _)| *l == lr.level) {
                    Some((_, c)) => {
                        if let Some(into) = lt.regions.get_mut(c) {
                            add_totals(into, t);
                            if lr.level == level.level {
                                into.held_here_krw += t.amount_krw;
                            }
                        }
                    }
                    None if lr.level < level.level => {
                        lt.uncovered_krw += t.amount_krw;
                        lt.uncovered_count += t.record_count;
                    }
                    None => {
                        lt.held_above_krw += t.amount_krw;
                        lt.held_above_count += t.record_count;
                    }
                }
            }
        }
    }
    if let Some(gt) = group_totals(b, groups, &levels) {
        levels.push(gt);
    }
    let programs = cap_programs(&mut levels, programs.into_iter().collect());
    Aggregates {
        levels,
        assigned_krw,
        assigned_count,
        programs,
    }
}

/// The regional groups' totals from the 시도 level's (`None` without groups).
fn group_totals(
    b: &Boundaries,
    groups: &[RegionGroup],
    levels: &[LevelTotals],
) -> Option<LevelTotals> {
    if groups.is_empty() {
        return None;
    }
    let sido_pos = b.levels.iter().position(|l| l.level == AdminLevel::Sido);
    let mut gt = LevelTotals::empty("region_group".into(), groups.iter().map(|g| &g.id));
    if let Some(sp) = sido_pos {
        for (code, t) in &levels[sp].regions {
            match groups.iter().find(|g| g.sido_codes.contains(code)) {
                Some(g) => {
                    if let Some(target) = gt.regions.get_mut(&g.id) {
                        merge(target, t);
                    }
                }
                None => {
                    gt.held_above_krw += t.amount_krw;
                    gt.held_above_count += t.record_count;
                }
            }
        }
        gt.held_above_krw += levels[sp].held_above_krw;
        gt.outside_krw += levels[sp].outside_krw;
        gt.held_above_count += levels[sp].held_above_count;
        gt.uncovered_krw += levels[sp].uncovered_krw;
        gt.uncovered_count += levels[sp].uncovered_count;
    }
    Some(gt)
}

fn merge(into: &mut RegionTotals, t: &RegionTotals) {
    into.held_here_krw += t.amount_krw;
    add_totals(into, t);
}

/// Adds amounts, counts and breakdowns (not `held_here_krw`).
fn add_totals(into: &mut RegionTotals, t: &RegionTotals) {
    into.amount_krw += t.amount_krw;
    into.record_count += t.record_count;
    for (k, v) in &t.by_funding {
        *into.by_funding.entry(*k).or_default() += v;
    }
    for (k, v) in &t.by_program {
        *into.by_program.entry(k.clone()).or_default() += v;
    }
    for (k, v) in &t.by_period {
        *into.by_period.entry(k.clone()).or_default() += v;
    }
}

/// Money lost or doubled between the assigned records and the aggregates: a bug, never the
/// data's fault.
#[derive(Debug, Error)]
pub enum InvariantError {
    /// A level's regions, plus what is held above the level and outside every region, are not
    /// the assigned total (`total` counts the outside amount; the message leaves it out).
    #[error(
        "level {level}: regions {regions_krw} + held above {held_above_krw} + uncovered {uncovered_krw} = {total_krw} KRW, but {assigned_krw} KRW were assigned"
    )]
    LevelTotal {
        level: String,
        regions_krw: i128,
        held_above_krw: i128,
        uncovered_krw: i128,
        total_krw: i128,
        assigned_krw: i128,
    },
    /// A region is not its children plus what is held at it.
    #[error(
        "{level} {code}: children {children_krw} + held here {held_here_krw} != total {total_krw}"
    )]
    RegionTotal {
        level: AdminLevel,
        code: String,
        children_krw: i128,
        held_here_krw: i128,
        total_krw: i128,
    },
}

/// Most programmes with a column of their own on the region layers (one column per programme,
/// on every region of every layer).
pub const MAX_PROGRAM_COLUMNS: usize = 50;
/// Where the other programmes' money goes beyond [`MAX_PROGRAM_COLUMNS`]: the column
/// `amount_program_other_krw`.
pub const OTHER_PROGRAM: &str = "other";

/// With more than [`MAX_PROGRAM_COLUMNS`] programmes, keeps the largest by money assigned to
/// the regions (ties: the lower id first) and folds the others, and a programme named
/// [`OTHER_PROGRAM`] itself, into [`OTHER_PROGRAM`] in every region's totals: the programmes
/// that get a column, the kept ones sorted and then [`OTHER_PROGRAM`]. Up to the limit, every
/// programme (`other` too) is its own column.
pub fn cap_programs(levels: &mut [LevelTotals], programs: Vec<String>) -> Vec<String> {
    if programs.len() <= MAX_PROGRAM_COLUMNS {
        return programs;
    }
    let mut money: BTreeMap<&str, i128> = programs
        .iter()
        .filter(|p| *p != OTHER_PROGRAM)
        .map(|p| (p.as_str(), 0))
        .collect();
    // Every level holds all the money assigned to regions: the first is enough.
    for t in levels.iter().take(1).flat_map(|l| l.regions.values()) {
        for (p, a) in &t.by_program {
            if let Some(m) = money.get_mut(p.as_str()) {
                *m += a;
            }
        }
    }
    let mut ranked: Vec<(&str, i128)> = money.into_iter().collect();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let kept: std::collections::BTreeSet<String> = ranked
        .iter()
        .take(MAX_PROGRAM_COLUMNS)
        .map(|(p, _)| p.to_string())
        .collect();
    for t in levels.iter_mut().flat_map(|l| l.regions.values_mut()) {
        let mut other = 0i128;
        let mut folded = false;
        t.by_program.retain(|p, a| {
            let keep = kept.contains(p);
            if !keep {
                other += *a;
                folded = true;
            }
            keep
        });
        if folded {
            t.by_program.insert(OTHER_PROGRAM.to_string(), other);
        }
    }
    kept.into_iter()
        .chain([OTHER_PROGRAM.to_string()])
        .collect()
}

/// Checks, independently of how the sums were built, that no money was lost or doubled:
/// each level plus what is held above it equals the assigned total, and every region equals
/// its children plus what is held at it.
///
/// # Errors
/// The first total that does not add up.
pub fn check_invariants(b: &Boundaries, a: &Aggregates) -> Result<(), InvariantError> {
    for lt in &a.levels {
        let total = lt.sum_krw() + lt.held_above_krw + lt.uncovered_krw + lt.outside_krw;
        if total != a.assigned_krw {
            return Err(InvariantError::LevelTotal {
                level: lt.level.clone(),
                regions_krw: lt.sum_krw(),
                held_above_krw: lt.held_above_krw,
                uncovered_krw: lt.uncovered_krw,
                total_krw: total,
                assigned_krw: a.assigned_krw,
            });
        }
    }
    // A region's children are the regions naming it as parent at any finer level: a 시도's
    // are its cities and the 시군구 outside them, a city's its 구.
    let mut children: BTreeMap<(AdminLevel, &str), i128> = BTreeMap::new();
    for (li, l) in b.levels.iter().enumerate() {
        for r in &l.regions {
            if let Some(p) = b.parent(r) {
                *children.entry((p.level, p.code.as_str())).or_default() +=
                    a.levels[li].regions[&r.code].amount_krw;
            }
        }
    }
    for (l, lt) in b.levels.iter().zip(&a.levels) {
        if b.levels.iter().all(|f| f.level <= l.level) {
            continue; // the finest level has no children
        }
        for (code, t) in &lt.regions {
            let kids = children
                .get(&(l.level, code.as_str()))
                .copied()
                .unwrap_or(0);
            if kids + t.held_here_krw != t.amount_krw {
                return Err(InvariantError::RegionTotal {
                    level: l.level,
                    code: code.clone(),
                    children_krw: kids,
                    held_here_krw: t.held_here_krw,
                    total_krw: t.amount_krw,
                });
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::assign::Resolution;
    use crate::model::{LevelRegions, Location, Region};
    use geo::{MultiPolygon, polygon};

    fn region(code: &str, name: &str, full: &str, parent: Option<&str>, x: f64) -> Region {
        Region {
            level: if code.len() == 2 {
                AdminLevel::Sido
            } else {
                AdminLevel::Sigungu
            },
            code: code.into(),
            name: name.into(),
            full_name: full.into(),
            parent_code: parent.map(str::to_string),
            geometry: MultiPolygon(vec![polygon![
                (x: x, y: 0.0), (x: x + 1.0, y: 0.0), (x: x + 1.0, y: 1.0), (x: x, y: 1.0)
            ]]),
            area_km2: 1e-6,
        }
    }

    fn record(amount: i64) -> Investment {
        Investment {
            input: 0,
            row: 1,
            record_id: String::new(),
            amount_krw: Some(amount),
            program: String::new(),
            funding: FundingSource::Unspecified,
            location: Location::Code(String::new()),
            attributes: BTreeMap::new(),
            date: None,
            check: None,
        }
    }

    /// 경기도 41 with the city 수원시 41110 (장안구 41111 + 권선구 41113) and 시흥시 41390, a
    /// 시군구 without 구. Records: 100 at the city, 20 at 장안구, 3 at 시흥시, 4000 at 경기도.
    #[test]
    fn the_city_level_holds_its_own_money_and_counts_the_others_once() {
        let b = crate::city::with_cities(Boundaries {
            levels: vec![
                LevelRegions::new(
                    AdminLevel::Sido,
                    vec![region("41", "경기도", "경기도", None, 0.0)],
                ),
                LevelRegions::new(
                    AdminLevel::Sigungu,
                    vec![
                        region("41111", "장안구", "경기도 수원시 장안구", Some("41"), 0.0),
                        region("41113", "권선구", "경기도 수원시 권선구", Some("41"), 1.0),
                        region("41390", "시흥시", "경기도 시흥시", Some("41"), 2.0),
                    ],
                ),
            ],
        })
        .unwrap();
        let at = |level, code: &str| Resolution::Region {
            level,
            code: code.into(),
        };
        let resolutions = [
            at(AdminLevel::City, "41110"),
            at(AdminLevel::Sigungu, "41111"),
            at(AdminLevel::Sigungu, "41390"),
            at(AdminLevel::Sido, "41"),
        ];
        let records: Vec<Investment> = [100, 20, 3, 4000].map(record).into();
        let assigned: Vec<Assigned> = resolutions
            .into_iter()
            .enumerate()
            .map(|(record, resolution)| Assigned {
                record,
                resolution,
                rule: String::new(),
            })
            .collect();
        let a = aggregate(&b, &[], &records, &assigned, &[], &[]);
        let (sido, city, sigungu) = (&a.levels[0], &a.levels[1], &a.levels[2]);
        assert_eq!(a.assigned_krw, 4123);
        assert_eq!(
            (
                sido.regions["41"].amount_krw,
                sido.regions["41"].held_here_krw
            ),
            (4123, 4000)
        );
        let suwon = &city.regions["41110"];
        assert_eq!(
            (suwon.amount_krw, suwon.held_here_krw, suwon.record_count),
            (120, 100, 2)
        );
        assert_eq!((city.held_above_krw, city.held_above_count), (4000, 1));
        assert_eq!((city.uncovered_krw, city.uncovered_count), (3, 1));
        assert_eq!(sigungu.regions["41111"].amount_krw, 20);
        assert_eq!(sigungu.regions["41113"].amount_krw, 0);
        assert_eq!(sigungu.regions["41390"].amount_krw, 3);
        assert_eq!((sigungu.held_above_krw, sigungu.uncovered_krw), (4100, 0));
        check_invariants(&b, &a).unwrap();

        // Money lost between a 구 and its city is caught at the city.
        let mut broken = a.clone();
        broken.levels[2]
            .regions
            .get_mut("41111")
            .unwrap()
            .amount_krw -= 1;
        broken.levels[2].held_above_krw += 1;
        match check_invariants(&b, &broken) {
            Err(InvariantError::RegionTotal { level, code, .. }) => {
                assert_eq!((level, code.as_str()), (AdminLevel::City, "41110"));
            }
            other => panic!("{other:?}"),
        }
    }
}
