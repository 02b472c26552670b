//! The `legend` table: for every region layer, the classes its `class_*` and `tier` columns
//! were computed with, with their bounds, a label and how many regions fall in each, plus one
//! row per method for the regions without data. The bounds are the very bins of
//! [`super::ClassBins`], so a map styled from this table shows what the columns say.

use serde::Serialize;

use super::{LevelIndicators, NO_DATA, RegionIndicators};
use crate::config::Tier;

/// The `tier_label`-like label of the regions that have data but no area, so no amount per
/// km² and no class (none in the bundled boundaries; listed only when there are some).
pub const NO_AREA: &str = "면적 없음";

/// A region's class under one method.
type ClassOf = fn(&RegionIndicators) -> Option<u32>;

/// One row of the `legend` table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LegendRow {
    /// The region layer (`sido`, `sigungu`, `emd`, `region_group`).
    pub layer: String,
    /// The classified column: `amount_per_km2_krw` (classes) or `amount_krw` (tiers).
    pub variable: &'static str,
    /// `quantile`, `equal_interval`, `fisher_jenks` or `tier`.
    pub method: &'static str,
    /// 1-based, as in the layer's column; `None` for the no-data (and no-area) row.
    pub class: Option<u32>,
    /// Classes: the class holds values above `lower` (class 1: from `lower`, the smallest
    /// value) up to and including `upper` (mapclassify's bins). Tiers: from the tier's minimum
    /// (inclusive) to the next higher tier's minimum (exclusive; `None` for the top tier).
    /// KRW per km² for classes, KRW for tiers.
    pub lower: Option<f64>,
    pub upper: Option<f64>,
    pub label: String,
    /// Regions of the layer in the class.
    pub count: usize,
}

/// The legend rows of one region layer: per classification method its classes and the
/// no-data row, then the tiers and their no-data row.
pub fn rows(layer: &str, level: &LevelIndicators, tiers: &[Tier]) -> Vec<LegendRow> {
    let r = &level.regions;
    let no_data = r.iter().filter(|x| !x.has_data).count();
    let no_area = r
        .iter()
        .filter(|x| x.has_data && x.amount_per_km2_krw.is_none())
        .count();
    let row = |variable, method, class, lower, upper, label: String, count| LegendRow {
        layer: layer.to_string(),
        variable,
        method,
        class,
        lower,
        upper,
        label,
        count,
    };
    let mut out = Vec::new();
    let methods: [(&str, &[f64], ClassOf); 3] = [
        ("quantile", &level.bins.quantile, |x| x.class_quantile),
        ("equal_interval", &level.bins.equal_interval, |x| {
            x.class_equal_interval
        }),
        ("fisher_jenks", &level.bins.fisher_jenks, |x| {
            x.class_fisher_jenks
        }),
    ];
    for (method, bins, class_of) in methods {
        for (c, &upper) in bins.iter().enumerate() {
            let class = c as u32 + 1;
            let lower = if c == 0 {
                level.bins.min
            } else {
                Some(bins[c - 1])
            };
            let label = match lower.map(krw_short) {
                // A class of one repeated value (e.g. the regions whose records hold no money).
                Some(lo) if lo == krw_short(upper) => format!("{lo}/km²"),
                lo => format!("{} – {}/km²", lo.unwrap_or_default(), krw_short(upper)),
            };
            let count = r.iter().filter(|x| class_of(x) == Some(class)).count();
            out.push(row(
                "amount_per_km2_krw",
                method,
                Some(class),
                lower,
                Some(upper),
                label,
                count,
            ));
        }
        out.push(row(
            "amount_per_km2_krw",
            method,
            None,
            None,
            None,
            NO_DATA.into(),
            no_data,
        ));
        if no_area > 0 {
            out.push(row(
                "amount_per_km2_krw",
                method,
                None,
                None,
                None,
                NO_AREA.into(),
                no_area,
            ));
        }
    }
    for (i, t) in tiers.iter().enumerate() {
        let class = i as u32 + 1;
        let upper = i.checked_sub(1).map(|h| tiers[h].min_krw as f64);
        let count = r.iter().filter(|x| x.tier == Some(class)).count();
        out.push(row(
            "amount_krw",
            "tier",
            Some(class),
            Some(t.min_krw as f64),
            upper,
            t.label.clone(),
            count,
        ));
    }
    out.push(row(
        "amount_krw",
        "tier",
        None,
        None,
        None,
        NO_DATA.into(),
        no_data,
    ));
    out
}

/// A KRW amount for a label, in Korean units: 조 (10¹²), 억 (10⁸) or 만 (10⁴) from one unit
/// up, else the number; two decimals below 10 units, one below 100, none above, trailing
/// zeros dropped (`0`, `950`, `1.2만`, `52.3억`, `1234억`, `1.5조`). Exact values are in the
/// `lower` and `upper` columns.
pub fn krw_short(v: f64) -> String {
    let (x, unit) = [(1e12, "조"), (1e8, "억"), (1e4, "만")]
        .into_iter()
        .find(|(u, _)| v.abs() >= *u)
        .map_or((v, ""), |(u, name)| (v / u, name));
    let decimals = match x.abs() {
        a if a < 10.0 => 2,
        a if a < 100.0 => 1,
        _ => 0,
    };
    let mut s = format!("{x:.decimals$}");
    if s.contains('.') {
        s = s.trim_end_matches('0').trim_end_matches('.').to_string();
    }
    if s == "-0" {
        s = "0".into();
    }
    s + unit
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregate::{LevelTotals, RegionTotals};
    use crate::config::{IndicatorSpec, SpatialSpec, Target};

    #[test]
    fn amounts_read_in_korean_units() {
        assert_eq!(krw_short(0.0), "0");
        assert_eq!(krw_short(950.0), "950");
        assert_eq!(krw_short(8_266.666), "8267");
        assert_eq!(krw_short(12_000.0), "1.2만");
        assert_eq!(krw_short(120_000_000.0), "1.2억");
        assert_eq!(krw_short(5_234_000_000.0), "52.3억");
        assert_eq!(krw_short(123_456_000_000.0), "1235억");
        assert_eq!(krw_short(1_500_000_000_000.0), "1.5조");
    }

    #[test]
    fn legend_rows_carry_the_bins_of_the_columns_and_counts_that_add_up() {
        let tiers = vec![
            Tier {
                label: "high".into(),
                min_krw: 1000,
            },
            Tier {
                label: "low".into(),
                min_krw: 0,
            },
        ];
        let spec = IndicatorSpec {
            tiers: tiers.clone(),
            classes: 2,
            target_per_km2: Target::Mean,
            spatial: SpatialSpec::default(),
            periods: Vec::new(),
            incumbents: None,
        };
        let totals = LevelTotals {
            level: "emd".into(),
            regions: [("a", 3000, 1), ("b", 500, 1), ("c", 0, 1), ("d", 0, 0)]
                .into_iter()
                .map(|(c, amount_krw, record_count)| {
                    (
                        c.to_string(),
                        RegionTotals {
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
        };
        let level = super::super::compute(&totals, &[1.0; 4], 3500, &spec);
        let rows = rows("emd", &level, &tiers);
        // 3 methods × (classes + no data) + 2 tiers + no data.
        let eq: Vec<&LegendRow> = rows
            .iter()
            .filter(|r| r.method == "equal_interval")
            .collect();
        // y = 3000, 500, 0 per km²: bins 1500, 3000; class 1 from 0.
        assert_eq!(
            eq.iter()
                .map(|r| (r.class, r.lower, r.upper, r.count))
                .collect::<Vec<_>>(),
            vec![
                (Some(1), Some(0.0), Some(1500.0), 2),
                (Some(2), Some(1500.0), Some(3000.0), 1),
                (None, None, None, 1),
            ]
        );
        assert_eq!(eq[0].label, "0 – 1500/km²");
        // Quantiles of 0, 500, 3000 in 2: bins 500 and 3000; from 0.
        let q: Vec<&str> = rows
            .iter()
            .filter(|r| r.method == "quantile")
            .map(|r| r.label.as_str())
            .collect();
        assert_eq!(q, ["0 – 500/km²", "500 – 3000/km²", NO_DATA]);
        assert_eq!(eq[2].label, NO_DATA);
        let tier: Vec<String> = rows
            .iter()
            .filter(|r| r.method == "tier")
            .map(|r| {
                format!(
                    "{:?} {:?} {:?} {} {}",
                    r.class, r.lower, r.upper, r.label, r.count
                )
            })
            .collect();
        assert_eq!(
            tier,
            [
                "Some(1) Some(1000.0) None high 1",
                "Some(2) Some(0.0) Some(1000.0) low 2",
                "None None None 자료 없음 1",
            ]
        );
        for method in ["quantile", "equal_interval", "fisher_jenks", "tier"] {
            let n: usize = rows
                .iter()
                .filter(|r| r.method == method)
                .map(|r| r.count)
                .sum();
            assert_eq!(n, 4, "{method}");
        }
    }
}
