//! `[indicators]`: the investment tiers, the number of map classes, the target per km², the
//! spatial statistics' settings and the reporting periods.

use crate::config::raw::{
    RawIncumbents, RawIndicators, RawPeriod, RawSpatial, RawTarget, RawTier, S,
};
use crate::config::{
    Contiguity, Incumbents, IndicatorSpec, Period, Problem, SpatialSpec, Target, Tier,
};

use super::{Validator, span};

/// Default tiers of the report's Figure 1: ≥ 50억, 10–50억, < 10억 원.
fn default_tiers() -> Vec<Tier> {
    vec![
        Tier {
            label: "50억 이상".into(),
            min_krw: 5_000_000_000,
        },
        Tier {
            label: "10억 이상 50억 미만".into(),
            min_krw: 1_000_000_000,
        },
        Tier {
            label: "10억 미만".into(),
            min_krw: 0,
        },
    ]
}

impl Validator<'_> {
    /// `[indicators]`, or its defaults when the section is absent: 5 classes, the mean as
    /// target, the report's tiers, default spatial settings and no periods.
    pub(super) fn indicators(&mut self, raw: Option<S<RawIndicators>>) -> IndicatorSpec {
        let mut tiers = Vec::new();
        let mut classes = 5;
        let mut target_per_km2 = Target::Mean;
        let mut spatial = SpatialSpec::default();
        let mut periods = Vec::new();
        let mut incumbents = None;
        if let Some(ind) = raw {
            let ind = ind.into_inner();
            periods = self.periods(&ind.periods);
            incumbents = ind.incumbents.as_ref().and_then(|i| self.incumbents(i));
            if let Some(sp) = &ind.spatial {
                spatial = self.spatial(sp.get_ref());
            }
            if let Some(c) = &ind.classes {
                match usize::try_from(*c.get_ref()) {
                    Ok(n) if (2..=12).contains(&n) => classes = n,
                    _ => self.push(Problem::new(span(c), "classes must be between 2 and 12")),
                }
            }
            if let Some(t) = &ind.target_per_km2 {
                target_per_km2 = self.target_per_km2(t);
            }
            tiers = self.tiers(&ind.tiers);
        }
        if tiers.is_empty() {
            tiers = default_tiers();
        }
        IndicatorSpec {
            tiers,
            classes,
            target_per_km2,
            spatial,
            periods,
            incumbents,
        }
    }

    /// `incumbents = { attribute = "...", values = [...] }`: a column name and at least one value.
    fn incumbents(&mut self, raw: &S<RawIncumbents>) -> Option<Incumbents> {
        let r = raw.get_ref();
        let attribute = r.attribute.get_ref().trim().to_string();
        if attribute.is_empty() {
            self.push(
                Problem::new(span(&r.attribute), "incumbents.attribute is empty")
                    .help("the output column of an `attributes` input, e.g. \"report_tier\""),
            );
            return None;
        }
        let values: Vec<String> = r
            .values
            .iter()
            .map(|v| v.get_ref().trim().to_string())
            .collect();
        if values.is_empty() || values.iter().any(String::is_empty) {
            self.push(
                Problem::new(
                    span(raw),
                    "incumbents.values must list at least one non-empty value",
                )
                .help("values = [\"1\"]"),
            );
            return None;
        }
        Some(Incumbents { attribute, values })
    }

    /// `periods`: each from a year to a later one, each with its own column name.
    fn periods(&mut self, raw: &[S<RawPeriod>]) -> Vec<Period> {
        let mut periods = Vec::new();
        for rp in raw {
            let r = rp.get_ref();
            let (a, z) = (*r.from_year.get_ref(), *r.to_year.get_ref());
            if a > z {
                self.push(Problem::new(
                    span(rp),
                    format!("period from_year {a} is after to_year {z}"),
                ));
            }
            let period = Period {
                label: r.label.get_ref().clone(),
                from_year: a,
                to_year: z,
            };
            if periods
                .iter()
                .any(|p: &Period| p.column() == period.column())
            {
                self.push(Problem::new(
                    span(&r.label),
                    "two periods give the same column name",
                ));
            }
            periods.push(period);
        }
        periods
    }

    /// `[indicators.spatial]`: each setting given replaces its default when in range.
    fn spatial(&mut self, sp: &RawSpatial) -> SpatialSpec {
        let mut spatial = SpatialSpec::default();
        if let Some(c) = &sp.contiguity {
            match c.get_ref().as_str() {
                "queen" => spatial.contiguity = Contiguity::Queen,
                "rook" => spatial.contiguity = Contiguity::Rook,
                _ => self.bad_choice(c, "contiguity", ["queen", "rook"]),
            }
        }
        if let Some(t) = &sp.tolerance_m {
            let v = *t.get_ref();
            if (0.0..=1000.0).contains(&v) {
                spatial.tolerance_m = v;
            } else {
                self.push(Problem::new(
                    span(t),
                    "tolerance_m must be between 0 and 1000 metres",
                ));
            }
        }
        for (field, target, max) in [
            (&sp.island_knn, &mut spatial.island_knn, 50usize),
            (&sp.permutations, &mut spatial.permutations, 99_999),
        ] {
            if let Some(v) = field {
                match usize::try_from(*v.get_ref()) {
                    Ok(n) if n <= max => *target = n,
                    _ => self.push(Problem::new(
                        span(v),
                        format!("expected an integer from 0 to {max}"),
                    )),
                }
            }
        }
        if let Some(v) = &sp.seed {
            spatial.seed = *v.get_ref() as u64;
        }
        spatial
    }

    /// `target_per_km2`: `"mean"`, `"median"` or a finite KRW per km² ≥ 0 (the mean when not).
    fn target_per_km2(&mut self, t: &S<RawTarget>) -> Target {
        match t.get_ref() {
            RawTarget::Named(n) if n == "mean" => Target::Mean,
            RawTarget::Named(n) if n == "median" => Target::Median,
            RawTarget::Krw(v) if *v >= 0.0 && v.is_finite() => Target::Krw(*v),
            _ => {
                self.push(
                    Problem::new(
                        span(t),
                        "target_per_km2 must be \"mean\", \"median\" or KRW per km² ≥ 0",
                    )
                    .help("the report's new-town unit cost is 5_000_000_000 (150억 per 3 km²)"),
                );
                Target::Mean
            }
        }
    }

    /// `tiers`: strictly decreasing `min_krw`, the last at 0 so that it catches the rest.
    fn tiers(&mut self, raw: &[S<RawTier>]) -> Vec<Tier> {
        let tiers: Vec<Tier> = raw
            .iter()
            .map(|t| {
                let t = t.get_ref();
                Tier {
                    label: t.label.get_ref().clone(),
                    min_krw: *t.min_krw.get_ref(),
                }
            })
            .collect();
        let ok = tiers.windows(2).all(|w| w[0].min_krw > w[1].min_krw);
        if !ok || tiers.last().is_some_and(|t| t.min_krw != 0) {
            let sp = raw.first().map(span).unwrap_or(0..0);
            self.push(
                Problem::new(
                    sp,
                    "tiers must have strictly decreasing min_krw ending at 0",
                )
                .help("the last tier catches everything below the others: min_krw = 0"),
            );
        }
        tiers
    }
}
