//! Per-region indicators computed from the aggregates: cost per km², share of the national
//! total, rank and percentile, the report's tier, the deficit to a target per km² and legend
//! classes; [`summary`] holds the inequality across regions.

pub mod classify;
pub mod inequality;
pub mod levels;
pub mod population;
pub mod spatial;
pub mod summary;

use serde::Serialize;

use crate::aggregate::LevelTotals;
use crate::config::{IndicatorSpec, Target, Tier};

/// Indicators of one region.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RegionIndicators {
    /// The region's total (what the ratios below divide).
    pub amount_krw: i128,
    /// Census population and its year, when a population input is configured.
    pub population: Option<i64>,
    pub population_year: Option<i64>,
    /// # Units
    /// KRW per person of `population_year`.
    pub amount_per_capita_krw: Option<f64>,
    /// # Units
    /// KRW per km², planar area in EPSG:5179; `None` for a region of zero area.
    pub amount_per_km2_krw: Option<f64>,
    /// Share of the national assigned total (0–1); `None` when nothing was assigned.
    pub share_of_national: Option<f64>,
    /// 1 = largest amount; equal amounts share the lowest rank ("1224" ranking).
    pub rank: u32,
    /// Percent of the level's regions whose amount is ≤ this one (scipy's "weak" percentile).
    pub percentile: f64,
    /// 1-based index into the configured tiers.
    pub tier: u32,
    pub tier_label: String,
    /// # Units
    /// KRW per km²: the level's target (mean, median or a fixed value).
    pub target_per_km2_krw: f64,
    /// `max(0, target × area − amount)`, rounded to whole KRW.
    pub deficit_krw: i64,
    /// 1-based legend classes of `amount_per_km2_krw` across the level.
    pub class_quantile: Option<u32>,
    pub class_equal_interval: Option<u32>,
    pub class_fisher_jenks: Option<u32>,
    /// Contiguous neighbours under the level's weights.
    pub neighbor_count: Option<u32>,
    /// Local Moran and Gi* of `amount_per_km2_krw`.
    pub local: Option<spatial::Local>,
    /// Why the local statistics are withheld (`lisa_note`).
    pub lisa_note: Option<spatial::LocalNote>,
}

/// Computes every region's indicators for one level, in the level's code order.
///
/// `areas_km2` gives each region's area in the same order as `totals.regions`.
pub fn compute(
    totals: &LevelTotals,
    areas_km2: &[f64],
    national_krw: i128,
    spec: &IndicatorSpec,
) -> Vec<RegionIndicators> {
    let amounts: Vec<i128> = totals.regions.values().map(|t| t.amount_krw).collect();
    let ranks = competition_ranks(&amounts);
    let n = amounts.len().max(1) as f64;
    let mut sorted = amounts.clone();
    sorted.sort_unstable();
    let density: Vec<Option<f64>> = amounts
        .iter()
        .zip(areas_km2)
        .map(|(&a, &area)| (area > 0.0).then(|| a as f64 / area))
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
    let class_of = |bins: &[f64]| -> Vec<Option<u32>> {
        let mut it = classify::classes(&dense, bins).into_iter();
        density
            .iter()
            .map(|d| d.and_then(|_| it.next().map(|c| c + 1)))
            .collect()
    };
    let q = class_of(&classify::quantiles(&dense, spec.classes));
    let e = class_of(&classify::equal_interval(&dense, spec.classes));
    let f = class_of(&classify::fisher_jenks(&dense, spec.classes));
    amounts
        .iter()
        .zip(areas_km2)
        .zip(ranks)
        .enumerate()
        .map(|(i, ((&amount, &area), rank))| {
            let (tier, tier_label) = tier_of(amount, &spec.tiers);
            let at_or_below = sorted.partition_point(|v| *v <= amount) as f64;
            let deficit = (target * area - amount as f64).round().max(0.0);
            RegionIndicators {
                amount_krw: amount,
                population: None,
                population_year: None,
                amount_per_capita_krw: None,
                amount_per_km2_krw: density[i],
                share_of_national: (national_krw != 0).then(|| amount as f64 / national_krw as f64),
                rank,
                percentile: 100.0 * at_or_below / n,
                tier,
                tier_label,
                target_per_km2_krw: target,
                deficit_krw: if deficit >= i64::MAX as f64 {
                    i64::MAX
                } else {
                    deficit as i64
                },
                class_quantile: q[i],
                class_equal_interval: e[i],
                class_fisher_jenks: f[i],
                neighbor_count: None,
                local: None,
                lisa_note: None,
            }
        })
        .collect()
}

/// Median (mean of the two middle values for an even count); 0 for no values.
pub fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    match s.len() {
        0 => 0.0,
        n if n % 2 == 1 => s[n / 2],
        n => (s[n / 2 - 1] + s[n / 2]) / 2.0,
    }
}

/// Standard competition ranking, descending: [5, 9, 9, 1] → [3, 1, 1, 4].
pub fn competition_ranks(values: &[i128]) -> Vec<u32> {
    let mut sorted = values.to_vec();
    sorted.sort_unstable();
    // Rank = 1 + number of strictly larger values.
    values
        .iter()
        .map(|v| 1 + (sorted.len() - sorted.partition_point(|w| w <= v)) as u32)
        .collect()
}

/// The first tier (highest first) whose minimum `amount` reaches.
pub fn tier_of(amount: i128, tiers: &[Tier]) -> (u32, String) {
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
    fn ties_share_a_rank() {
        assert_eq!(competition_ranks(&[5, 9, 9, 1]), vec![3, 1, 1, 4]);
        assert_eq!(competition_ranks(&[0, 0]), vec![1, 1]);
    }
}
