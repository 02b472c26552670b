//! Statistics over all the regions of a level, computed once per run: the spatial statistics
//! of amount per km² (contiguity weights, LISA and Gi*, global Moran's I) and the inequality
//! summary and Lorenz curves of every level.

use std::collections::BTreeSet;

use tracing::info;

use crate::aggregate::{Aggregates, LevelTotals};
use crate::assign::RegionAttributes;
use crate::cache::{Cache, Entry};
use crate::config::{Incumbents, IndicatorSpec, SpatialSpec};
use crate::indicators::population::Populations;
use crate::indicators::spatial;
use crate::indicators::summary::{self, Base, LorenzPoint, RegionValue, SummaryRow};
use crate::model::{AdminLevel, Boundaries, FundingSource, LevelRegions, RegionCode, RegionGroup};

/// Weights, global Moran and local statistics of one level's amount per km².
pub struct LevelSpatial {
    pub level: AdminLevel,
    pub codes: Vec<String>,
    pub weights: spatial::Weights,
    /// Amount per km² of each region, the variable of the spatial statistics.
    pub y: Vec<f64>,
    /// Global Moran's I, computed while the region layers are written.
    pub moran: Option<spatial::Moran>,
    pub local: Vec<spatial::Local>,
    /// Why a region's local statistics are withheld, for every region (also when `local` is
    /// empty because the values have no variance).
    pub notes: Vec<Option<spatial::LocalNote>>,
}

impl LevelSpatial {
    /// The local statistics of a level's amount per km² over `weights` (built or loaded in
    /// `weights_ms`); global Moran is left to [`LevelSpatial::moran`], which the run computes while
    /// the region layers are written.
    pub fn new(
        l: &LevelRegions,
        totals: &LevelTotals,
        spec: &SpatialSpec,
        weights: spatial::Weights,
        weights_ms: u64,
    ) -> LevelSpatial {
        let y: Vec<f64> = l
            .regions
            .iter()
            .map(|r| {
                let a = totals
                    .regions
                    .get(&r.code)
                    .map_or(0.0, |t| t.amount_krw as f64);
                if r.area_km2 > 0.0 {
                    a / r.area_km2
                } else {
                    0.0
                }
            })
            .collect();
        let t2 = std::time::Instant::now();
        let local = spatial::local(&y, &weights, spec.permutations, spec.seed);
        let notes = spatial::local_notes(&y, &weights);
        let local_ms = t2.elapsed().as_millis() as u64;
        let islands = weights.islands.len();
        info!(level = %l.level, regions = l.regions.len(), islands, weights_ms, local_ms, "spatial");
        LevelSpatial {
            level: l.level,
            codes: l.regions.iter().map(|r| r.code.clone()).collect(),
            weights,
            y,
            moran: None,
            local,
            notes,
        }
    }

    /// Global Moran's I of the level, with `spec`'s permutations and seed.
    pub fn moran(&mut self, spec: &SpatialSpec) {
        self.moran = spatial::moran(&self.y, &self.weights, spec.permutations, spec.seed);
    }
}

/// Summary rows of each level's global Moran's I and its islands.
pub fn spatial_summary(
    b: &Boundaries,
    spatial: &[LevelSpatial],
    spec: &SpatialSpec,
) -> Vec<SummaryRow> {
    let mut rows = Vec::new();
    for (l, sp) in b.levels.iter().zip(spatial) {
        let note = format!(
            "{:?} contiguity, tolerance {} m, {} island(s), {} permutations, seed {}",
            spec.contiguity,
            spec.tolerance_m,
            sp.weights.islands.len(),
            spec.permutations,
            spec.seed
        )
        .to_lowercase();
        let m = sp.moran.as_ref();
        for (indicator, value) in [
            ("moran_i", m.map(|m| m.i)),
            ("moran_ei", m.map(|m| m.ei)),
            ("moran_z_norm", m.map(|m| m.z_norm)),
            ("moran_p_norm", m.map(|m| m.p_norm)),
            ("moran_p_sim", m.and_then(|m| m.p_sim)),
            ("islands", Some(sp.weights.islands.len() as f64)),
        ] {
            rows.push(SummaryRow {
                level: l.level.to_string(),
                variable: summary::VARIABLE.into(),
                indicator: indicator.into(),
                weighting: "none".into(),
                partition: String::new(),
                period: String::new(),
                n_regions: l.regions.len(),
                value,
                note: if value.is_none() {
                    format!("undefined (no variance or too few regions); {note}")
                } else {
                    note.clone()
                },
            });
        }
    }
    rows
}

/// Inequality of amount per km² across the regions of every boundary level, decomposed by
/// 시도 (below the 시도 level) and by regional group, after what the level describes (its
/// regions with data and its share of the money, [`summary::described`]). A level whose regions
/// received no money at all has its inequality withheld ([`summary::withhold`]).
pub fn summarize(
    b: &Boundaries,
    incumbents: &[BTreeSet<RegionCode>],
    groups: &[RegionGroup],
    agg: &Aggregates,
    population: &Populations,
    spec: &IndicatorSpec,
) -> (Vec<SummaryRow>, Vec<LorenzPoint>) {
    let top_tier_min_krw = spec.tiers.first().map_or(0.0, |t| t.min_krw as f64);
    let periods: Vec<String> = spec.periods.iter().map(|p| p.label.clone()).collect();
    let mut rows = Vec::new();
    let mut points = Vec::new();
    for (li, (l, totals)) in b.levels.iter().zip(&agg.levels).enumerate() {
        let mut partitions = Vec::new();
        if l.level != AdminLevel::Sido && b.level(AdminLevel::Sido).is_some() {
            partitions.push("sido");
        }
        if !groups.is_empty() {
            partitions.push("region_group");
        }
        let values: Vec<RegionValue> = l
            .regions
            .iter()
            .map(|r| {
                let sido = b
                    .lineage(l.level, &r.code)
                    .into_iter()
                    .find(|(lv, _)| *lv == AdminLevel::Sido)
                    .map(|(_, c)| c)
                    .unwrap_or_default();
                let group = groups
                    .iter()
                    .find(|g| g.sido_codes.contains(&sido))
                    .map(|g| g.id.clone())
                    .unwrap_or_default();
                let keys = partitions
                    .iter()
                    .map(|p| {
                        if *p == "sido" {
                            sido.clone()
                        } else {
                            group.clone()
                        }
                    })
                    .collect();
                let t = totals.regions.get(&r.code);
                let by = |f: FundingSource| {
                    t.and_then(|t| t.by_funding.get(&f))
                        .map_or(0.0, |v| *v as f64)
                };
                RegionValue {
                    population: population
                        .levels
                        .get(li)
                        .and_then(|m| m.get(&r.code))
                        .map(|v| *v as f64),
                    fee_krw: by(FundingSource::DevelopmentFee),
                    program_krw: by(FundingSource::NationalProgram),
                    incumbent: incumbents.get(li).is_some_and(|set| set.contains(&r.code)),
                    program_by_period: periods
                        .iter()
                        .map(|p| {
                            t.and_then(|t| t.program_by_period.get(p))
                                .map_or(0.0, |v| *v as f64)
                        })
                        .collect(),
                    amount_krw: t.map_or(0.0, |t| t.amount_krw as f64),
                    area_km2: r.area_km2,
                    groups: keys,
                }
            })
            .collect();
        let mut bases = vec![Base::Area];
        if population.levels.get(li).is_some_and(|m| !m.is_empty()) {
            bases.push(Base::Population);
        }
        let described =
            summary::described(l.level.as_str(), totals, agg.assigned_krw, l.regions.len());
        let no_money = totals.sum_krw() == 0;
        let with_data = totals
            .regions
            .values()
            .filter(|t| t.record_count > 0)
            .count();
        rows.extend(described);
        for base in bases {
            let (mut r, p) = summary::summarize(l.level.as_str(), &values, &partitions, base);
            if no_money {
                summary::withhold(&mut r, with_data);
            }
            rows.extend(r);
            points.extend(p);
        }
        rows.extend(summary::rich_get_richer(
            l.level.as_str(),
            &values,
            top_tier_min_krw,
        ));
        let mut competitive = summary::competitive(
            l.level.as_str(),
            &values,
            &periods,
            top_tier_min_krw,
            spec.incumbents.as_ref(),
        );
        if no_money {
            summary::withhold(&mut competitive, with_data);
        }
        rows.extend(competitive);
    }
    (rows, points)
}

/// The regions of each level that `spec` names incumbents: those whose configured attribute
/// (from an `attributes` input) holds one of the values, on the region itself or on a region
/// above it. Empty sets without `incumbents` in the config.
pub fn incumbents(
    b: &Boundaries,
    attributes: &RegionAttributes,
    spec: Option<&Incumbents>,
) -> Vec<BTreeSet<RegionCode>> {
    let Some(spec) = spec else {
        return vec![BTreeSet::new(); b.levels.len()];
    };
    let marked = |level: AdminLevel, code: &str| {
        attributes
            .get(&(level, code.to_string()))
            .and_then(|cols| cols.get(&spec.attribute))
            .is_some_and(|v| spec.values.iter().any(|w| w == v.trim()))
    };
    b.levels
        .iter()
        .map(|l| {
            l.regions
                .iter()
                .filter(|r| {
                    b.lineage(l.level, &r.code)
                        .iter()
                        .any(|(lv, c)| marked(*lv, c))
                })
                .map(|r| r.code.clone())
                .collect()
        })
        .collect()
}

/// Contiguity weights of a level, from `cache` when the boundaries (`boundaries_sha256`) and
/// the spatial settings are those they were built from (they rarely change between nights).
pub fn weights(
    l: &LevelRegions,
    spec: &SpatialSpec,
    cache: Option<&Cache>,
    boundaries_sha256: &str,
) -> spatial::Weights {
    let settings = format!(
        "{:?} {} {}",
        spec.contiguity, spec.tolerance_m, spec.island_knn
    );
    let entry = cache.map(|c| {
        c.entry(
            "weights",
            l.level.as_str(),
            &[boundaries_sha256.as_bytes(), settings.as_bytes()],
        )
    });
    let n = l.regions.len();
    let cached = entry
        .as_ref()
        .and_then(Entry::load)
        .and_then(|b| serde_json::from_slice::<(Vec<Vec<usize>>, Vec<usize>)>(&b).ok())
        .filter(|(nb, islands)| {
            // Weights that do not fit this level exactly are rebuilt, never trusted.
            nb.len() == n
                && nb
                    .iter()
                    .enumerate()
                    .all(|(i, row)| row.iter().all(|&j| j < n && j != i))
                && islands.iter().all(|&i| i < n)
        });
    if let Some((neighbors, islands)) = cached {
        return spatial::Weights { neighbors, islands };
    }
    let polys: Vec<&geo::MultiPolygon<f64>> = l.regions.iter().map(|r| &r.geometry).collect();
    let w = spatial::contiguity(&polys, spec.tolerance_m, spec.contiguity, spec.island_knn);
    if let (Some(entry), Ok(json)) = (entry, serde_json::to_vec(&(&w.neighbors, &w.islands))) {
        entry.store(&json);
    }
    w
}
