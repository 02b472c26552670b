//! The `summary` table: inequality across the regions of each level, one row per (level,
//! variable, indicator, weighting, partition) with its value, plus Lorenz curve points.

use serde::Serialize;

use super::inequality as ineq;
use crate::config::Incumbents;

/// One region's inputs to the summary.
#[derive(Debug, Clone)]
pub struct RegionValue {
    pub amount_krw: f64,
    /// Census population when a population input is configured.
    pub population: Option<f64>,
    /// Money funded by development fees (기반시설 조성비).
    pub fee_krw: f64,
    /// Money of national (mostly competitive) programmes.
    pub program_krw: f64,
    /// The same by configured period, in the order of the periods (dated records only).
    pub program_by_period: Vec<f64>,
    /// Named an incumbent by the config's `[indicators] incumbents` (the report's top tier).
    pub incumbent: bool,
    pub area_km2: f64,
    /// Group keys of the partitions used for decomposition, in the order of `partitions`.
    pub groups: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SummaryRow {
    pub level: String,
    /// The distributed quantity, e.g. `amount_per_km2_krw`.
    pub variable: String,
    pub indicator: String,
    /// `none` (each region counts once) or `area` (each region weighted by its km²).
    pub weighting: String,
    /// The partition of a decomposition (`sido`, `region_group`), empty for national figures.
    pub partition: String,
    /// The period of record dates the row is about (a configured period's label), empty for
    /// figures over every record.
    pub period: String,
    pub n_regions: usize,
    /// `None` when the indicator is undefined for the data (see `note`).
    pub value: Option<f64>,
    pub note: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LorenzPoint {
    pub level: String,
    pub variable: String,
    pub weighting: String,
    pub index: usize,
    pub cumulative_weight_share: f64,
    pub cumulative_amount_share: f64,
}

pub const VARIABLE: &str = "amount_per_km2_krw";

/// "The rich get richer": did regions with fee-funded infrastructure win the national
/// programmes? The share of programme money won by regions in the top fee-funded tier
/// (fee money ≥ `top_tier_min_krw`), and Spearman's rank correlation between fee-funded and
/// programme money across the level's regions, with the counts behind them. With fewer than
/// three regions holding either kind of money the correlation is withheld (null, with a note).
pub fn rich_get_richer(
    level: &str,
    regions: &[RegionValue],
    top_tier_min_krw: f64,
) -> Vec<SummaryRow> {
    let fee: Vec<f64> = regions.iter().map(|r| r.fee_krw).collect();
    let program: Vec<f64> = regions.iter().map(|r| r.program_krw).collect();
    let in_top = |r: &RegionValue| r.fee_krw > 0.0 && r.fee_krw >= top_tier_min_krw;
    let n_fee = fee.iter().filter(|v| **v > 0.0).count();
    let n_program = program.iter().filter(|v| **v > 0.0).count();
    let n_top = regions.iter().filter(|r| in_top(r)).count();
    let program_total: f64 = program.iter().sum();
    let program_in_top: f64 = regions
        .iter()
        .filter(|r| in_top(r))
        .map(|r| r.program_krw)
        .sum();
    let counts = format!(
        "{n_fee} region(s) with fee-funded money, {n_program} with programme money, {n_top} in the top fee tier"
    );
    let too_few = n_fee < 3 || n_program < 3;
    let row = |indicator: &str, value: Option<f64>, note: String| SummaryRow {
        level: level.into(),
        variable: "amount_krw".into(),
        indicator: indicator.into(),
        weighting: "none".into(),
        partition: String::new(),
        period: String::new(),
        n_regions: regions.len(),
        value,
        note,
    };
    vec![
        row("regions_with_fee_money", Some(n_fee as f64), String::new()),
        row(
            "regions_with_program_money",
            Some(n_program as f64),
            String::new(),
        ),
        row(
            "program_share_in_top_fee_tier",
            (program_total > 0.0).then(|| program_in_top / program_total),
            if program_total > 0.0 {
                counts.clone()
            } else {
                format!("undefined: no programme money; {counts}")
            },
        ),
        row(
            "spearman_fee_vs_program",
            if too_few {
                None
            } else {
                super::inequality::spearman(&fee, &program)
            },
            if too_few {
                format!("too few regions to say anything: {counts}")
            } else {
                counts.clone()
            },
        ),
    ]
}

/// Whether a region belongs to a group of [`competitive`].
type Holds<'a> = dyn Fn(&RegionValue) -> bool + 'a;

/// The report's question by period: how much of the national (competitive) programme money
/// went to regions that already had fee-funded new-town infrastructure, and how unequal that
/// money is per km² and per person. For each configured period (`periods`, labels in the
/// order of [`RegionValue::program_by_period`]) and over every record (period empty):
///
/// - `program_share_in_top_fee_tier`: the share won by regions whose fee-funded money reaches
///   the top tier (`top_tier_min_krw`, the report's 50억 이상);
/// - `program_share_in_fee_regions`: the share won by regions with any fee-funded money (the
///   new towns);
/// - `program_share_in_incumbents`: the share won by regions in the top fee tier or named by
///   `incumbents` (e.g. the report's own Figure 1 tier of 50억 이상, which places the 2003–2018
///   investment of 69 governments that the records themselves cannot);
/// - `gini` of programme money per km² (variable `program_per_km2_krw`) and, with a
///   population, per person (`program_per_capita_krw`), every region counted once.
///
/// Incumbency is judged on fee-funded money over all dates (the report's 2003–2018 new
/// towns). Each note gives the counts behind the figure; a figure without programme money in
/// the period is null and says so.
pub fn competitive(
    level: &str,
    regions: &[RegionValue],
    periods: &[String],
    top_tier_min_krw: f64,
    incumbents: Option<&Incumbents>,
) -> Vec<SummaryRow> {
    let in_top = |r: &RegionValue| r.fee_krw > 0.0 && r.fee_krw >= top_tier_min_krw;
    let with_fee = |r: &RegionValue| r.fee_krw > 0.0;
    let incumbent = |r: &RegionValue| r.incumbent || in_top(r);
    let incumbent_rule = match incumbents {
        Some(i) => format!(
            "in the top fee tier or with {} = {}",
            i.attribute,
            i.values.join("/")
        ),
        None => "in the top fee tier".to_string(),
    };
    let groups: [(&str, &Holds<'_>, String); 3] = [
        (
            "program_share_in_top_fee_tier",
            &in_top,
            "in the top fee tier".into(),
        ),
        (
            "program_share_in_fee_regions",
            &with_fee,
            "with fee-funded money".into(),
        ),
        ("program_share_in_incumbents", &incumbent, incumbent_rule),
    ];
    let mut rows = Vec::new();
    let all = std::iter::once((String::new(), None));
    for (period, k) in all.chain(
        periods
            .iter()
            .enumerate()
            .map(|(k, p)| (p.clone(), Some(k))),
    ) {
        let program = |r: &RegionValue| match k {
            None => r.program_krw,
            Some(k) => r.program_by_period.get(k).copied().unwrap_or(0.0),
        };
        let total: f64 = regions.iter().map(program).sum();
        let n_program = regions.iter().filter(|r| program(r) > 0.0).count();
        let row = |variable: &str, indicator: &str, value: Option<f64>, note: String| SummaryRow {
            level: level.into(),
            variable: variable.into(),
            indicator: indicator.into(),
            weighting: "none".into(),
            partition: String::new(),
            period: period.clone(),
            n_regions: regions.len(),
            value,
            note,
        };
        for (indicator, holds, what) in &groups {
            let n_in = regions.iter().filter(|r| holds(r)).count();
            let won: f64 = regions.iter().filter(|r| holds(r)).map(program).sum();
            let winners = regions
                .iter()
                .filter(|r| holds(r) && program(r) > 0.0)
                .count();
            let note = format!(
                "{won:.0} of {total:.0} KRW; {winners} of the {n_in} region(s) {what} won programme money, of {n_program} region(s) that did"
            );
            let indicator: &str = indicator;
            rows.push(if total > 0.0 {
                row("program_krw", indicator, Some(won / total), note)
            } else {
                row(
                    "program_krw",
                    indicator,
                    None,
                    "undefined: no programme money".into(),
                )
            });
        }
        let bases = [
            ("program_per_km2_krw", Base::Area),
            ("program_per_capita_krw", Base::Population),
        ];
        for (variable, base) in bases {
            let kept: Vec<&RegionValue> = regions.iter().filter(|r| base.of(r) > 0.0).collect();
            if base == Base::Population && kept.is_empty() {
                continue;
            }
            let y: Vec<f64> = kept.iter().map(|r| program(r) / base.of(r)).collect();
            let ones = vec![1.0; y.len()];
            let left_out = regions.len() - kept.len();
            let mut note = format!(
                "{n_program} of {} region(s) with programme money",
                kept.len()
            );
            if left_out > 0 {
                note.push_str(&format!(
                    "; {left_out} without {} left out",
                    base.weighting()
                ));
            }
            let value = ineq::gini_weighted(&y, &ones);
            if value.is_none() {
                note = format!("undefined: no programme money; {note}");
            }
            let mut r = row(variable, "gini", value, note);
            r.n_regions = kept.len();
            rows.push(r);
        }
    }
    rows
}

/// The note of inequality indicators withheld because no record reaches the level.
pub const NO_RECORD: &str = "no record reaches this level";

/// What a level's figures describe, as two summary rows (variable `amount_krw`):
/// `regions_with_data`, the regions that at least one record reached (at or below them), and
/// `money_share_described`, the level's regions' sum over the national assigned total: the
/// rest is held above the level (records resolved only to a coarser region) or, for polygon
/// records, outside every region. `None` when nothing was assigned.
pub fn described(
    level: &str,
    totals: &crate::aggregate::LevelTotals,
    national_krw: i128,
    n_regions: usize,
) -> Vec<SummaryRow> {
    let sum = totals.sum_krw();
    let with_data = totals
        .regions
        .values()
        .filter(|t| t.record_count > 0)
        .count();
    let mut note = format!(
        "{sum} of {national_krw} KRW assigned; {} KRW held above this level",
        totals.held_above_krw
    );
    if totals.uncovered_krw != 0 {
        note.push_str(&format!(
            ", {} KRW in regions this level does not cover",
            totals.uncovered_krw
        ));
    }
    if totals.outside_krw != 0 {
        note.push_str(&format!(
            ", {} KRW outside every region",
            totals.outside_krw
        ));
    }
    let row = |indicator: &str, value: Option<f64>, note: String| SummaryRow {
        level: level.into(),
        variable: "amount_krw".into(),
        indicator: indicator.into(),
        weighting: "none".into(),
        partition: String::new(),
        period: String::new(),
        n_regions,
        value,
        note,
    };
    vec![
        row(
            "regions_with_data",
            Some(with_data as f64),
            format!("{with_data} of {n_regions} region(s) reached by at least one record"),
        ),
        row(
            "money_share_described",
            (national_krw != 0).then(|| sum as f64 / national_krw as f64),
            if national_krw == 0 {
                "undefined: nothing was assigned".into()
            } else {
                note
            },
        ),
    ]
}

/// Withholds the inequality `rows` of a level whose regions received no money at all: every
/// value becomes `None`, with the note [`NO_RECORD`] (or, when records without amounts reach
/// `with_data` regions, that no money does), instead of zeros or "the total is zero".
pub fn withhold(rows: &mut [SummaryRow], with_data: usize) {
    let note = if with_data == 0 {
        NO_RECORD.to_string()
    } else {
        format!(
            "no money reaches this level: {with_data} region(s) have only records without amounts"
        )
    };
    for r in rows {
        r.value = None;
        r.note.clone_from(&note);
    }
}

/// What the amount is divided by: the region's area (KRW per km²) or its population (KRW per
/// person). The same base weights the weighted variants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Base {
    Area,
    Population,
}

impl Base {
    pub fn variable(self) -> &'static str {
        match self {
            Base::Area => VARIABLE,
            Base::Population => "amount_per_capita_krw",
        }
    }

    fn weighting(self) -> &'static str {
        match self {
            Base::Area => "area",
            Base::Population => "population",
        }
    }

    fn of(self, r: &RegionValue) -> f64 {
        match self {
            Base::Area => r.area_km2,
            Base::Population => r.population.unwrap_or(0.0),
        }
    }
}

/// Inequality of amount per km² (or per person) across the regions of one level, unweighted
/// and weighted by the base, with Theil decompositions by each named partition.
pub fn summarize(
    level: &str,
    regions: &[RegionValue],
    partitions: &[&str],
    base: Base,
) -> (Vec<SummaryRow>, Vec<LorenzPoint>) {
    // Regions with no area (or no population) have no ratio; they are left out and counted.
    let kept: Vec<&RegionValue> = regions.iter().filter(|r| base.of(r) > 0.0).collect();
    let dropped = regions.len() - kept.len();
    let y: Vec<f64> = kept.iter().map(|r| r.amount_krw / base.of(r)).collect();
    let area: Vec<f64> = kept.iter().map(|r| base.of(r)).collect();
    let ones = vec![1.0; y.len()];
    let zeros = y.iter().filter(|v| **v == 0.0).count();
    let base_note = if dropped > 0 {
        format!("{dropped} region(s) without {} left out", base.weighting())
    } else {
        String::new()
    };
    let mut rows = Vec::new();
    let mut lorenz = Vec::new();
    for (weighting, w) in [("none", &ones), (base.weighting(), &area)] {
        let mut push = |indicator: &str, partition: &str, value: Option<f64>, why_none: &str| {
            let note = match (value, base_note.is_empty()) {
                (None, true) => why_none.to_string(),
                (None, false) => format!("{why_none}; {base_note}"),
                (Some(_), _) => base_note.clone(),
            };
            rows.push(SummaryRow {
                level: level.into(),
                variable: base.variable().into(),
                indicator: indicator.into(),
                weighting: weighting.into(),
                partition: partition.into(),
                period: String::new(),
                n_regions: y.len(),
                value,
                note,
            });
        };
        let zero_total = "undefined: the total is zero";
        let with_zeros = format!("undefined: {zeros} region(s) have zero amount");
        push("gini", "", ineq::gini_weighted(&y, w), zero_total);
        push("theil_t", "", ineq::theil_t_weighted(&y, w), zero_total);
        push("theil_l", "", ineq::theil_l_weighted(&y, w), &with_zeros);
        push(
            "cv_population",
            "",
            ineq::cv(&y, w, false),
            "undefined: fewer than 2 regions or zero mean",
        );
        if weighting == "none" {
            push(
                "cv_sample",
                "",
                ineq::cv(&y, w, true),
                "undefined: fewer than 2 regions or zero mean",
            );
        }
        for (name, e) in [
            ("atkinson_0.5", 0.5),
            ("atkinson_1", 1.0),
            ("atkinson_2", 2.0),
        ] {
            let why = if e >= 1.0 {
                with_zeros.as_str()
            } else {
                zero_total
            };
            push(name, "", ineq::atkinson(&y, w, e), why);
        }
        push(
            "palma",
            "",
            ineq::palma(&y, w),
            "undefined: the bottom 40 % hold nothing",
        );
        push("top10_share", "", ineq::top_share(&y, w, 0.1), zero_total);
        for (pi, partition) in partitions.iter().enumerate() {
            let mut keys: Vec<&str> = kept
                .iter()
                .map(|r| r.groups[pi].as_str())
                .collect::<Vec<_>>();
            keys.sort_unstable();
            keys.dedup();
            let g: Vec<usize> = kept
                .iter()
                .map(|r| keys.binary_search(&r.groups[pi].as_str()).unwrap_or(0))
                .collect();
            let d = ineq::theil_t_decomposed(&y, w, &g);
            push(
                "theil_t_between",
                partition,
                d.map(|d| d.between),
                zero_total,
            );
            push("theil_t_within", partition, d.map(|d| d.within), zero_total);
        }
        for (index, (x, v)) in ineq::lorenz(&y, w).into_iter().enumerate() {
            lorenz.push(LorenzPoint {
                level: level.into(),
                variable: base.variable().into(),
                weighting: weighting.into(),
                index,
                cumulative_weight_share: x,
                cumulative_amount_share: v,
            });
        }
    }
    // Hoover: how much of the money would have to move for it to follow area.
    let amounts: Vec<f64> = kept.iter().map(|r| r.amount_krw).collect();
    rows.push(SummaryRow {
        level: level.into(),
        variable: "amount_krw".into(),
        indicator: format!("hoover_vs_{}", base.weighting()),
        weighting: "none".into(),
        partition: String::new(),
        period: String::new(),
        n_regions: y.len(),
        value: ineq::hoover(&amounts, &area),
        note: base_note,
    });
    (rows, lorenz)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(amount: f64, area: f64, g: &str) -> RegionValue {
        RegionValue {
            amount_krw: amount,
            fee_krw: 0.0,
            program_krw: 0.0,
            program_by_period: Vec::new(),
            incumbent: false,
            area_km2: area,
            population: None,
            groups: vec![g.into()],
        }
    }

    #[test]
    fn one_region_holding_everything_has_gini_n_minus_1_over_n_and_decomposition_adds_up() {
        let regions = vec![
            r(0.0, 1.0, "a"),
            r(0.0, 1.0, "a"),
            r(0.0, 1.0, "b"),
            r(100.0, 1.0, "b"),
        ];
        let (rows, lorenz) = summarize("sigungu", &regions, &["sido"], Base::Area);
        let get = |ind: &str, w: &str| {
            rows.iter()
                .find(|x| x.indicator == ind && x.weighting == w)
                .unwrap()
                .value
        };
        assert!((get("gini", "none").unwrap() - 0.75).abs() < 1e-12);
        assert!((get("theil_t", "none").unwrap() - 4f64.ln()).abs() < 1e-12);
        assert_eq!(get("theil_l", "none"), None);
        let b = get("theil_t_between", "none").unwrap();
        let w = get("theil_t_within", "none").unwrap();
        assert!((b + w - 4f64.ln()).abs() < 1e-12);
        // Hoover: all money in one of four equal areas → 3/4 must move.
        assert!((get("hoover_vs_area", "none").unwrap() - 0.75).abs() < 1e-12);
        assert_eq!(lorenz.len(), 2 * 5);
    }

    #[test]
    fn competitive_money_is_split_by_incumbency_and_period() {
        // A: 60억 fee-funded (top tier), 10 of programme money in the first period; B: named
        // incumbent by attribute, 30 in the second; C: 60 in the second; D: nothing.
        let region = |fee: f64, incumbent: bool, by_period: [f64; 2]| RegionValue {
            program_krw: by_period.iter().sum(),
            program_by_period: by_period.to_vec(),
            fee_krw: fee,
            incumbent,
            population: Some(10.0),
            ..r(0.0, 1.0, "a")
        };
        let regions = vec![
            region(6e9, false, [10.0, 0.0]),
            region(0.0, true, [0.0, 30.0]),
            region(0.0, false, [0.0, 60.0]),
            region(0.0, false, [0.0, 0.0]),
        ];
        let inc = Incumbents {
            attribute: "report_tier".into(),
            values: vec!["1".into()],
        };
        let periods = ["p1".to_string(), "p2".to_string()];
        let rows = competitive("sigungu", &regions, &periods, 5e9, Some(&inc));
        let get = |ind: &str, var: &str, period: &str| {
            rows.iter()
                .find(|x| x.indicator == ind && x.variable == var && x.period == period)
                .unwrap_or_else(|| panic!("{ind} {var} {period}"))
        };
        let share = |ind: &str, period: &str| get(ind, "program_krw", period).value;
        assert_eq!(share("program_share_in_top_fee_tier", ""), Some(0.1));
        assert_eq!(share("program_share_in_fee_regions", ""), Some(0.1));
        assert_eq!(share("program_share_in_incumbents", ""), Some(0.4));
        assert_eq!(share("program_share_in_incumbents", "p1"), Some(1.0));
        assert_eq!(
            share("program_share_in_incumbents", "p2"),
            Some(30.0 / 90.0)
        );
        assert_eq!(share("program_share_in_top_fee_tier", "p2"), Some(0.0));
        assert_eq!(
            get("program_share_in_incumbents", "program_krw", "").note,
            "40 of 100 KRW; 2 of the 2 region(s) in the top fee tier or with report_tier = 1 won programme money, of 3 region(s) that did"
        );
        // Gini per km² over every record, areas 1: Σ|yi − yj| over ordered pairs 400, n 4,
        // mean 25: 400 / (2 · 16 · 25) = 0.5. Per person (10 each) the same.
        let gini = |var: &str, period: &str| get("gini", var, period).value.unwrap();
        assert!((gini("program_per_km2_krw", "") - 0.5).abs() < 1e-12);
        assert!((gini("program_per_capita_krw", "") - 0.5).abs() < 1e-12);
        // First period: one region holds everything: (n − 1) / n.
        assert!((gini("program_per_km2_krw", "p1") - 0.75).abs() < 1e-12);
        // No programme money at all: null with the reason.
        let none = competitive("emd", &regions[3..], &periods, 5e9, None);
        assert!(
            none.iter()
                .all(|r| r.value.is_none() && r.note.starts_with("undefined"))
        );
    }

    #[test]
    fn a_level_says_what_it_describes_and_withholds_inequality_without_money() {
        use crate::aggregate::{LevelTotals, RegionTotals};
        let region = |amount_krw, record_count| RegionTotals {
            amount_krw,
            record_count,
            ..Default::default()
        };
        let t = LevelTotals {
            level: "emd".into(),
            regions: [("a", region(0, 2)), ("b", region(0, 0))]
                .into_iter()
                .map(|(c, r)| (c.to_string(), r))
                .collect(),
            held_above_krw: 900,
            held_above_count: 3,
            uncovered_krw: 0,
            uncovered_count: 0,
            outside_krw: 100,
        };
        let d = described("emd", &t, 1000, 2);
        assert_eq!(d[0].indicator, "regions_with_data");
        assert_eq!(d[0].value, Some(1.0));
        assert_eq!(d[1].indicator, "money_share_described");
        assert_eq!(d[1].value, Some(0.0));
        assert_eq!(
            d[1].note,
            "0 of 1000 KRW assigned; 900 KRW held above this level, 100 KRW outside every region"
        );
        let regions = vec![r(0.0, 1.0, "a"), r(0.0, 1.0, "a")];
        let (mut rows, _) = summarize("emd", &regions, &[], Base::Area);
        withhold(&mut rows, 1);
        assert!(rows.iter().all(|r| r.value.is_none()
            && r.note
                == "no money reaches this level: 1 region(s) have only records without amounts"));
        withhold(&mut rows, 0);
        assert!(rows.iter().all(|r| r.note == NO_RECORD));
        assert_eq!(described("emd", &t, 0, 0)[1].value, None);
    }
}
