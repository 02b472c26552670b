//! Per-region indicators computed from the aggregates: cost per km², share of the national
//! total, rank and the report's tier.

pub mod inequality;
pub mod summary;

use serde::Serialize;

use crate::aggregate::LevelTotals;
use crate::config::Tier;

/// Indicators of one region.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RegionIndicators {
    /// # Units
    /// KRW per km², planar area in EPSG:5179; `None` for a region of zero area.
    pub amount_per_km2_krw: Option<f64>,
    /// Share of the national assigned total (0–1); `None` when nothing was assigned.
    pub share_of_national: Option<f64>,
    /// 1 = largest amount; equal amounts share the lowest rank ("1224" ranking).
    pub rank: u32,
    /// 1-based index into the configured tiers.
    pub tier: u32,
    pub tier_label: String,
}

/// Computes every region's indicators for one level, in the level's code order.
///
/// `areas_km2` gives each region's area in the same order as `totals.regions`.
pub fn compute(
    totals: &LevelTotals,
    areas_km2: &[f64],
    national_krw: i128,
    tiers: &[Tier],
) -> Vec<RegionIndicators> {
    let amounts: Vec<i128> = totals.regions.values().map(|t| t.amount_krw).collect();
    let ranks = competition_ranks(&amounts);
    amounts
        .iter()
        .zip(areas_km2)
        .zip(ranks)
        .map(|((&amount, &area), rank)| {
            let (tier, tier_label) = tier_of(amount, tiers);
            RegionIndicators {
                amount_per_km2_krw: (area > 0.0).then(|| amount as f64 / area),
                share_of_national: (national_krw != 0).then(|| amount as f64 / national_krw as f64),
                rank,
                tier,
                tier_label,
            }
        })
        .collect()
}

/// Standard competition ranking, descending: [5, 9, 9, 1] → [3, 1, 1, 4].
pub fn competition_ranks(values: &[i128]) -> Vec<u32> {
    values
        .iter()
        .map(|v| 1 + values.iter().filter(|w| *w > v).count() as u32)
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
