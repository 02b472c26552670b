//! Per-region indicators computed from the aggregates: cost per km², share of the national
//! total, rank and percentile, the report's tier, the deficit to a target per km² and legend
//! classes; `summary` holds the inequality across regions, `legend` the classes' breaks.
//!
//! # No data is not a value
//! A region *has data* when at least one record was assigned to it or below it
//! (`record_count > 0`). A region without data keeps `amount_krw = 0` (money is exact) but has
//! no ratio, share, rank, percentile, tier, deficit or class: those are `None`, its
//! `tier_label` is `NO_DATA`, and ranks, percentiles and classes are computed among the
//! regions with data only.

mod classify;
mod inequality;
pub(crate) mod legend;
pub(crate) mod levels;
pub(crate) mod population;
pub mod spatial;
pub(crate) mod summary;

use serde::Serialize;

use crate::aggregate::LevelTotals;
use crate::config::{IndicatorSpec, Target, Tier};

/// The `tier_label` of a region without data (the column stays non-null, so a categorised
/// style can show it).
pub(crate) const NO_DATA: &str = "자료 없음";

/// Indicators of one region.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct RegionIndicators {
    /// The region's total (what the ratios below divide); 0 without data.
    amount_krw: i128,
    /// At least one record was assigned to the region or below it. Without data every
    /// `Option` below is `None` (but `population`, `population_year` and the local
    /// statistics, which are not about the region's own records).
    has_data: bool,
    /// Census population and its year, when a population input is configured.
    pub(crate) population: Option<i64>,
    pub(crate) population_year: Option<i64>,
    /// # Units
    /// KRW per person of `population_year`.
    pub(crate) amount_per_capita_krw: Option<f64>,
    /// # Units
    /// KRW per km², planar area in EPSG:5179; `None` for a region of zero area.
    pub(crate) amount_per_km2_krw: Option<f64>,
    /// Share of the national assigned total (0–1); `None` when nothing was assigned.
    pub(crate) share_of_national: Option<f64>,
    /// 1 = largest amount among the level's regions with data; equal amounts share the lowest
    /// rank (standard competition ranking, "1224").
    pub(crate) rank: Option<u32>,
    /// How many regions with data share `rank` (1 when no other region ties).
    pub(crate) rank_ties: Option<u32>,
    /// Percent of the level's regions with data whose amount is ≤ this one (scipy's "weak"
    /// percentile).
    pub(crate) percentile: Option<f64>,
    /// 1-based index into the configured tiers.
    pub(crate) tier: Option<u32>,
    /// The tier's label, or [`NO_DATA`].
    pub(crate) tier_label: String,
    /// # Units
    /// KRW per km²: the level's target (mean, median or a fixed value).
    pub(crate) target_per_km2_krw: f64,
    /// `max(0, target × area − amount)`, rounded to whole KRW.
    pub(crate) deficit_krw: Option<i64>,
    /// 1-based legend classes of `amount_per_km2_krw` across the level's regions with data.
    pub(crate) class_quantile: Option<u32>,
    pub(crate) class_equal_interval: Option<u32>,
    pub(crate) class_fisher_jenks: Option<u32>,
    /// Contiguous neighbours under the level's weights.
    pub(crate) neighbor_count: Option<u32>,
    /// Local Moran and Gi* of `amount_per_km2_krw`.
    pub(crate) local: Option<spatial::Local>,
    /// Why the local statistics are withheld (`lisa_note`).
    pub(crate) lisa_note: Option<spatial::LocalNote>,
}

/// The class upper bounds (mapclassify's `bins`) each `class_*` column was computed with,
/// over the amount per km² of the level's regions with data.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
struct ClassBins {
    quantile: classify::Bins,
    equal_interval: classify::Bins,
    fisher_jenks: classify::Bins,
    /// The smallest classified value: the lower bound of class 1.
    min: Option<f64>,
}

/// A level's indicators: one per region, in code order, and the classes' bins.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct LevelIndicators {
    pub(crate) regions: Vec<RegionIndicators>,
    bins: ClassBins,
}

/// A region's place among the regions with data.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Standing {
    /// Standard competition rank, descending (1 = largest).
    rank: u32,
    /// Regions sharing the rank (≥ 1).
    ties: u32,
    /// Percent of the regions with data whose value is ≤ this one.
    percentile: f64,
}

/// The [`Standing`] of every value among the `Some` values (`None`: no data, no standing):
/// `[5, –, 9, 9, 1]` → ranks `[3, –, 1, 1, 4]`, ties `[1, –, 2, 2, 1]`.
fn standings(values: &[Option<i128>]) -> Vec<Option<Standing>> {
    let mut sorted: Vec<i128> = values.iter().flatten().copied().collect();
    sorted.sort_unstable();
    let n = sorted.len();
    values
        .iter()
        .map(|v| {
            v.map(|v| {
                let at_or_below = sorted.partition_point(|w| *w <= v);
                let below = sorted.partition_point(|w| *w < v);
                Standing {
                    // 1 + the number of strictly larger values.
                    rank: 1 + (n - at_or_below) as u32,
                    ties: (at_or_below - below) as u32,
                    percentile: 100.0 * at_or_below as f64 / n as f64,
                }
            })
        })
        .collect()
}

/// Computes every region's indicators for one level, in the level's code order.
///
/// `areas_km2` gives each region's area in the same order as `totals.regions`.
pub(crate) fn compute(
    totals: &LevelTotals,
    areas_km2: &[f64],
    national_krw: i128,
    spec: &IndicatorSpec,
) -> LevelIndicators {
    let amounts: Vec<i128> = totals.regions.values().map(|t| t.amount_krw).collect();
    let has_data: Vec<bool> = totals
        .regions
        .values()
        .map(|t| t.record_count > 0)
        .collect();
    let with_data: Vec<Option<i128>> = amounts
        .iter()
        .zip(&has_data)
        .map(|(&a, &d)| d.then_some(a))
        .collect();
    let standing = standings(&with_data);
    let density: Vec<Option<f64>> = with_data
        .iter()
        .zip(areas_km2)
        .map(|(a, &area)| a.filter(|_| area > 0.0).map(|a| a as f64 / area))
        .collect();
    let dense: Vec<f64> = density.iter().flatten().copied().collect();
    let target = match spec.target_per_km2 {
        Target::Mean => {
            let area: f64 = areas_km2.iter().sum();
            if area > 0.0 {
                amounts.iter().sum::<i128>() as f64 / area
            } else {
                0.0
            }
        }
        Target::Median => median(&dense),
        Target::Krw(v) => v,
    };
    let bins = ClassBins {
        quantile: classify::quantiles(&dense, spec.classes),
        equal_interval: classify::equal_interval(&dense, spec.classes),
        fisher_jenks: classify::fisher_jenks(&dense, spec.classes),
        min: dense.iter().copied().reduce(f64::min),
    };
    let class_of = |bins: &[f64]| -> Vec<Option<u32>> {
        let mut it = classify::classes(&dense, bins).into_iter();
        density
            .iter()
            .map(|d| d.and_then(|_| it.next().map(|c| c + 1)))
            .collect()
    };
    let q = class_of(&bins.quantile);
    let e = class_of(&bins.equal_interval);
    let f = class_of(&bins.fisher_jenks);
    let regions = amounts
        .iter()
        .zip(areas_km2)
        .zip(standing)
        .enumerate()
        .map(|(i, ((&amount, &area), standing))| {
            let data = has_data[i];
            let (tier, tier_label) = if data {
                let (t, label) = tier_of(amount, &spec.tiers);
                (Some(t), label)
            } else {
                (None, NO_DATA.to_string())
            };
            let deficit = (target * area - amount as f64).round().max(0.0);
            RegionIndicators {
                amount_krw: amount,
                has_data: data,
                population: None,
                population_year: None,
                amount_per_capita_krw: None,
                amount_per_km2_krw: density[i],
                share_of_national: (data && national_krw != 0)
                    .then(|| amount as f64 / national_krw as f64),
                rank: standing.map(|s| s.rank),
                rank_ties: standing.map(|s| s.ties),
                percentile: standing.map(|s| s.percentile),
                tier,
                tier_label,
                target_per_km2_krw: target,
                deficit_krw: data.then_some(if deficit >= i64::MAX as f64 {
                    i64::MAX
                } else {
                    deficit as i64
                }),
                class_quantile: q[i],
                class_equal_interval: e[i],
                class_fisher_jenks: f[i],
                neighbor_count: None,
                local: None,
                lisa_note: None,
            }
        })
        .collect();
    LevelIndicators { regions, bins }
}

/// Median (mean of the two middle values for an even count); 0 for no values.
fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    match s.len() {
        0 => 0.0,
        n if n % 2 == 1 => s[n / 2],
        n => (s[n / 2 - 1] + s[n / 2]) / 2.0,
    }
}

/// The first tier (highest first) whose minimum `amount` reaches.
fn tier_of(amount: i128, tiers: &[Tier]) -> (u32, String) {
    for (i, t) in tiers.iter().enumerate() {
        if amount >= i128::from(t.min_krw) {
            return (i as u32 + 1, t.label.clone());
        }
    }
    (
        tiers.len() as u32,
        tiers.last().map(|t| t.label.clone()).unwrap_or_default(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report_tiers() -> Vec<Tier> {
        [
            ("≥50억", 5_000_000_000),
            ("10–50억", 1_000_000_000),
            ("<10억", 0),
        ]
        .map(|(l, m)| Tier {
            label: l.into(),
            min_krw: m,
        })
        .to_vec()
    }

    #[test]
    fn tiers_follow_the_report_thresholds_at_their_edges() {
        let t = report_tiers();
        assert_eq!(tier_of(5_000_000_000, &t).0, 1);
        assert_eq!(tier_of(4_999_999_999, &t).0, 2);
        assert_eq!(tier_of(1_000_000_000, &t).0, 2);
        assert_eq!(tier_of(999_999_999, &t).0, 3);
        assert_eq!(tier_of(0, &t).0, 3);
    }

    #[test]
    fn ties_share_the_lowest_rank_and_say_how_many_share_it() {
        let s = standings(&[Some(5), None, Some(9), Some(9), Some(1)]);
        let ranks: Vec<Option<u32>> = s.iter().map(|s| s.map(|s| s.rank)).collect();
        let ties: Vec<Option<u32>> = s.iter().map(|s| s.map(|s| s.ties)).collect();
        assert_eq!(ranks, vec![Some(3), None, Some(1), Some(1), Some(4)]);
        assert_eq!(ties, vec![Some(1), None, Some(2), Some(2), Some(1)]);
        // Percentiles among the 4 with data: ≤ 5 → 2 of 4, ≤ 9 → 4 of 4, ≤ 1 → 1 of 4.
        let pct: Vec<Option<f64>> = s.iter().map(|s| s.map(|s| s.percentile)).collect();
        assert_eq!(
            pct,
            vec![Some(50.0), None, Some(100.0), Some(100.0), Some(25.0)]
        );
        // "1224" with three equal: 1, 1, 1, 4.
        let s = standings(&[Some(0), Some(7), Some(7), Some(7)]);
        assert_eq!(
            s.iter().map(|s| s.unwrap().rank).collect::<Vec<_>>(),
            vec![4, 1, 1, 1]
        );
        assert_eq!(
            s.iter().map(|s| s.unwrap().ties).collect::<Vec<_>>(),
            vec![1, 3, 3, 3]
        );
        assert!(standings(&[None, None]).iter().all(Option::is_none));
    }

    fn level(regions: &[(&str, i128, u64)]) -> LevelTotals {
        LevelTotals {
            level: "sigungu".into(),
            regions: regions
                .iter()
                .map(|&(code, amount_krw, record_count)| {
                    (
                        code.to_string(),
                        crate::aggregate::RegionTotals {
                            amount_krw,
                            record_count,
                            ..Default::default()
                        },
                    )
                })
                .collect(),
            held_above_krw: 0,
            held_above_count: 0,
            uncovered_krw: 0,
            uncovered_count: 0,
            outside_krw: 0,
        }
    }

    fn spec(classes: usize) -> IndicatorSpec {
        IndicatorSpec {
            tiers: report_tiers(),
            classes,
            target_per_km2: Target::Mean,
            spatial: crate::config::SpatialSpec::default(),
            periods: Vec::new(),
            incumbents: None,
        }
    }

    #[test]
    fn a_region_without_data_has_no_tier_rank_class_or_ratio_and_is_left_out_of_the_others() {
        // a: 60억 on 2 km²; b: 60억 on 3 km²; c: a record without money (listed only);
        // d and e: no record at all. Five regions of 1–3 km², national total 120억.
        let t = level(&[
            ("a", 6_000_000_000, 2),
            ("b", 6_000_000_000, 1),
            ("c", 0, 1),
            ("d", 0, 0),
            ("e", 0, 0),
        ]);
        let areas = [2.0, 3.0, 1.0, 1.0, 3.0];
        let l = compute(&t, &areas, 12_000_000_000, &spec(2));
        let r = &l.regions;
        for d in &r[3..] {
            assert!(!d.has_data);
            assert_eq!(d.amount_krw, 0);
            assert_eq!((d.tier, d.tier_label.as_str()), (None, NO_DATA));
            assert_eq!((d.rank, d.rank_ties, d.percentile), (None, None, None));
            assert_eq!(d.amount_per_km2_krw, None);
            assert_eq!(d.share_of_national, None);
            assert_eq!(d.deficit_krw, None);
            assert_eq!(
                (
                    d.class_quantile,
                    d.class_equal_interval,
                    d.class_fisher_jenks
                ),
                (None, None, None)
            );
        }
        // c has data: an honest 0, the lowest of three, in the lowest tier and class.
        assert_eq!((r[2].rank, r[2].rank_ties), (Some(3), Some(1)));
        assert_eq!(r[2].percentile, Some(100.0 / 3.0));
        assert_eq!(r[2].tier, Some(3));
        assert_eq!(r[2].amount_per_km2_krw, Some(0.0));
        assert_eq!(r[2].share_of_national, Some(0.0));
        assert_eq!(r[2].class_quantile, Some(1));
        // a and b tie on money: rank 1, two of them, both at the 100th percentile.
        assert_eq!((r[0].rank, r[0].rank_ties), (Some(1), Some(2)));
        assert_eq!((r[1].rank, r[1].rank_ties), (Some(1), Some(2)));
        assert_eq!(r[0].percentile, Some(100.0));
        assert_eq!(r[0].tier, Some(1));
        // Classes among the three with data only: y = 30억, 20억, 0 per km².
        assert_eq!(
            l.bins.equal_interval,
            vec![1_500_000_000.0, 3_000_000_000.0]
        );
        assert_eq!(l.bins.min, Some(0.0));
        assert_eq!(r[0].class_equal_interval, Some(2));
        assert_eq!(r[1].class_equal_interval, Some(2));
        assert_eq!(r[2].class_equal_interval, Some(1));
        // The mean target is still the level's total over the level's area (10 km²).
        assert_eq!(r[3].target_per_km2_krw, 1_200_000_000.0);
        // c lacks 12억 × 1 km² − 0.
        assert_eq!(r[2].deficit_krw, Some(1_200_000_000));
    }
}
