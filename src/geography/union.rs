//! Unions on a 1 mm grid, and the gaps between the bundled 읍면동 that they fill.

use std::collections::{BTreeMap, HashMap};

use geo::{Area, Coord, LineString, MultiPolygon, Polygon};
use rayon::prelude::*;

use super::{Unions, Unit, merged_region, own, union_level};
use crate::model::{AdminLevel, Boundaries, LevelRegions, Region};

/// Twice 1 m² in mm²: holes smaller than 1 m² are left out of a union.
pub(super) const MICRO_HOLE_TWICE_MM2: i128 = 2_000_000;

/// The union of `geometries` on a 1 mm grid without holes under 1 m², and its relative area
/// change.
pub(super) fn union<'a>(
    geometries: impl Iterator<Item = &'a MultiPolygon<f64>>,
) -> (MultiPolygon<f64>, f64) {
    let polygons: Vec<Vec<Vec<Coord<f64>>>> = geometries
        .flat_map(|mp| mp.0.iter())
        .map(|p| {
            std::iter::once(p.exterior())
                .chain(p.interiors())
                .map(|r| r.0.clone())
                .collect()
        })
        .collect();
    let before = crate::snap::area(&polygons);
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
        .map(bbox)
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

/// Whether a derived 읍면동 lies in the 시도 `sido`: by its parent (a 읍면동 abolished without a
/// successor keeps its old code under a renumbered 시군구).
pub(super) fn in_sido(emd: &Region, sido: &str) -> bool {
    emd.parent_code
        .as_deref()
        .is_some_and(|p| p.starts_with(sido))
}

/// Cache keys: a 읍면동's gaps (`<code>~gaps`), and the mark that gaps were found.
pub(super) const GAPS_OF: &str = "~gaps";
pub(super) const GAPS_DONE: &str = "~gaps-found";

/// Gap polygons by the derived 읍면동 code they are given to.
pub(super) type Gaps = BTreeMap<String, Vec<Polygon<f64>>>;

/// The regions a derivation builds, the unions it computed and their largest area change.
#[derive(Default)]
pub(super) struct Built {
    pub(super) fresh: Unions,
    pub(super) max_change: f64,
}

/// The parts of a derived unit's union: its code and members → polygons.
pub(super) type Parts<'p> = &'p (dyn Fn(&str, &[&Unit]) -> Vec<MultiPolygon<f64>> + Sync);

impl Built {
    /// The 시도, 시군구 and 읍면동 levels from the 읍면동 as of the date: the gaps between them
    /// given to the 읍면동, each 시군구 the union of its 읍면동, each 시도 of its 시군구, areas
    /// adding up from the 읍면동.
    pub(super) fn nested(
        &mut self,
        emd_now: &[Unit],
        b: &Boundaries,
        cached: &Unions,
    ) -> (Vec<LevelRegions>, Gaps) {
        let emd_level = union_level(emd_now, |u| u.code.clone());
        let sigungu_level = union_level(emd_now, |u| u.parent.clone());
        let sido_level = union_level(emd_now, |u| u.parent[..2].to_string());
        let no_gaps = Gaps::new();
        let unfilled = self.level(AdminLevel::Emd, &emd_level, &own, &no_gaps, b, cached);
        let gaps = gaps(&unfilled, &sido_level, cached, self);
        let emd_regions = self.level(AdminLevel::Emd, &emd_level, &own, &gaps, b, cached);
        let emd_by_code = LevelRegions::new(AdminLevel::Emd, emd_regions);
        let of_sigungu = |code: &str, _: &[&Unit]| -> Vec<MultiPolygon<f64>> {
            emd_by_code
                .regions
                .iter()
                .filter(|r| r.parent_code.as_deref() == Some(code))
                .map(|r| r.geometry.clone())
                .collect()
        };
        let mut sigungu = self.level(
            AdminLevel::Sigungu,
            &sigungu_level,
            &of_sigungu,
            &no_gaps,
            b,
            cached,
        );
        for r in &mut sigungu {
            r.area_km2 = emd_by_code
                .regions
                .iter()
                .filter(|e| e.parent_code.as_deref() == Some(r.code.as_str()))
                .map(|e| e.area_km2)
                .sum();
        }
        // A 시도 is the union of its 시군구 (fewer edges than all its 읍면동).
        let of_sido = |code: &str, _: &[&Unit]| -> Vec<MultiPolygon<f64>> {
            sigungu
                .iter()
                .filter(|r| r.code.starts_with(code))
                .map(|r| r.geometry.clone())
                .collect()
        };
        let mut sido = self.level(AdminLevel::Sido, &sido_level, &of_sido, &no_gaps, b, cached);
        for r in &mut sido {
            r.area_km2 = sigungu
                .iter()
                .filter(|s| s.code.starts_with(&r.code))
                .map(|s| s.area_km2)
                .sum();
        }
        let levels = vec![
            LevelRegions::new(AdminLevel::Sido, sido),
            LevelRegions::new(AdminLevel::Sigungu, sigungu),
            emd_by_code,
        ];
        (levels, gaps)
    }

    /// The derived regions of `level`, one per group: the cached union, the one member's own
    /// geometry, or the union of `parts` (and the group's gaps).
    pub(super) fn level(
        &mut self,
        level: AdminLevel,
        groups: &BTreeMap<String, Vec<&Unit>>,
        parts: Parts<'_>,
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
pub(super) fn gaps(
    emd: &[Region],
    sido_level: &BTreeMap<String, Vec<&Unit>>,
    cached: &Unions,
    out: &mut Built,
) -> Gaps {
    use geo::{Contains, InteriorPoint};
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
    let finder = Owners::new(emd);
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
            if finder.under(&inside).any(|i| !in_sido(&emd[i], code)) {
                continue;
            }
            if let Some(best) = finder.owner(hole, &inside, code) {
                gaps.entry(best).or_default().push(gap);
            }
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

/// Which 읍면동 a gap goes to: its vertices on the 1 mm grid, and their boxes.
struct Owners<'a> {
    emd: &'a [Region],
    /// Every 읍면동 vertex on the 1 mm grid → the 읍면동 having it.
    at: HashMap<(i64, i64), Vec<usize>>,
    tree: rstar::RTree<
        rstar::primitives::GeomWithData<rstar::primitives::Rectangle<[f64; 2]>, usize>,
    >,
}

fn mm(c: &Coord<f64>) -> (i64, i64) {
    ((c.x * 1000.0).round() as i64, (c.y * 1000.0).round() as i64)
}

impl<'a> Owners<'a> {
    fn new(emd: &'a [Region]) -> Owners<'a> {
        use geo::BoundingRect;
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
        let tree = rstar::RTree::bulk_load(
            emd.iter()
                .enumerate()
                .filter_map(|(i, r)| {
                    let b = r.geometry.bounding_rect()?;
                    Some(rstar::primitives::GeomWithData::new(
                        rstar::primitives::Rectangle::from_corners(
                            [b.min().x, b.min().y],
                            [b.max().x, b.max().y],
                        ),
                        i,
                    ))
                })
                .collect(),
        );
        Owners { emd, at, tree }
    }

    /// The 읍면동 whose box holds `p`.
    fn boxed(&self, p: &geo::Point<f64>) -> impl Iterator<Item = usize> + '_ {
        self.tree
            .locate_all_at_point([p.x(), p.y()])
            .map(|e| e.data)
    }

    /// The 읍면동 whose polygon holds `p`.
    fn under<'s>(&'s self, p: &'s geo::Point<f64>) -> impl Iterator<Item = usize> + 's {
        use geo::Contains;
        self.boxed(p)
            .filter(move |&i| self.emd[i].geometry.contains(p))
    }

    /// The 읍면동 of `sido` with the most vertices on the hole's outline (ties: the smaller
    /// code); for a sliver whose corners are all crossings of two outlines, the one whose box
    /// holds `inside` and whose outline is nearest.
    fn owner(
        &self,
        hole: &LineString<f64>,
        inside: &geo::Point<f64>,
        sido: &str,
    ) -> Option<String> {
        let mut votes: BTreeMap<&str, usize> = BTreeMap::new();
        for c in &hole.0 {
            for &i in self.at.get(&mm(c)).into_iter().flatten() {
                if in_sido(&self.emd[i], sido) {
                    *votes.entry(self.emd[i].code.as_str()).or_default() += 1;
                }
            }
        }
        if votes.is_empty() {
            use geo::Distance;
            let nearest = self
                .boxed(inside)
                .filter(|&i| in_sido(&self.emd[i], sido))
                .map(|i| {
                    let d = self.emd[i]
                        .geometry
                        .0
                        .iter()
                        .map(|p| geo::Euclidean.distance(inside, p.exterior()))
                        .fold(f64::INFINITY, f64::min);
                    (d, i)
                })
                .min_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            return nearest.map(|(_, i)| self.emd[i].code.clone());
        }
        votes
            .iter()
            .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))
            .map(|(c, _)| c.to_string())
    }
}
