//! Records located by code: a region code of the boundaries, else the crosswalk's mapping of
//! an old or changed code; KOSTAT statistical codes through the population table's units.

use crate::crosswalk::{Crosswalk, Date, KostatCodes};
use crate::model::{AdminLevel, Boundaries, Region, RejectReason};

use super::{Outcome, Resolution};

/// A region code of any level, else through the crosswalk (as of the record's `date`).
pub(super) fn resolve_code(
    b: &Boundaries,
    cw: &Crosswalk,
    code: &str,
    date: Option<Date>,
) -> Outcome {
    if let Some(r) = b.find(code) {
        if let Some(only) = single_tier(b, r) {
            let res = Resolution::Region {
                level: only.level,
                code: only.code.clone(),
            };
            return Ok((
                res,
                format!("{code} = its only {}: {}", only.level, only.code),
            ));
        }
        let res = Resolution::Region {
            level: r.level,
            code: r.code.clone(),
        };
        return Ok((res, code.to_string()));
    }
    if cw.is_empty() {
        return Err((
            RejectReason::UnknownCode,
            format!(
                "code `{code}` is not a region code of the boundaries (no crosswalk configured)"
            ),
        ));
    }
    let exists = |c: &str| b.find(c).is_some();
    let area = |c: &str| b.find(c).map(|r| r.area_km2);
    let m = cw.map(code, date, &exists, &area)?;
    let mut parts: Vec<(AdminLevel, String, f64)> = m
        .targets
        .iter()
        .filter_map(|t| b.find(&t.code).map(|r| (r.level, r.code.clone(), t.weight)))
        .collect();
    // A merge into a city and into one of its 구 on the same day (진해시 → 창원시 and 진해구,
    // 2010-07-01) says where the territory went: the 구. The city, which holds the 구, is
    // dropped and the rest keep their area weights, renormalised.
    let targets: Vec<String> = parts.iter().map(|p| p.1.clone()).collect();
    let mut rule = m.rule;
    parts.retain(|(_, c, _)| {
        let inner = targets
            .iter()
            .find(|t| *t != c && b.find(t).is_some_and(|r| is_within(b, r, c)));
        if let Some(t) = inner {
            rule.push_str(&format!(" ({c} dropped: it holds {t})"));
        }
        inner.is_none()
    });
    let total: f64 = parts.iter().map(|p| p.2).sum();
    if total > 0.0 {
        for p in &mut parts {
            p.2 /= total;
        }
    }
    let res = Resolution::of_parts(parts);
    Ok((res, rule))
}

/// The only region inside a single-tier 시도 (세종특별자치시 36 = 36110): a record naming the
/// 시도 names it, so it is held there, not above it.
pub(super) fn single_tier<'a>(b: &'a Boundaries, r: &Region) -> Option<&'a Region> {
    if r.level != AdminLevel::Sido {
        return None;
    }
    let mut kids = b
        .levels
        .iter()
        .filter(|l| l.level > AdminLevel::Sido)
        .flat_map(|l| l.regions.iter())
        .filter(|k| k.parent_code.as_deref() == Some(r.code.as_str()));
    let only = kids.next()?;
    kids.next().is_none().then_some(only)
}

/// Whether `ancestor` is a coarser region on `r`'s chain of parents.
fn is_within(b: &Boundaries, r: &Region, ancestor: &str) -> bool {
    b.lineage(r.level, &r.code)
        .iter()
        .skip(1)
        .any(|(_, c)| c == ancestor)
}

/// A KOSTAT code through the population table's KOSTAT units.
pub(super) fn resolve_kostat(b: &Boundaries, kostat: Option<&KostatCodes>, code: &str) -> Outcome {
    let Some(k) = kostat else {
        return Err((
            RejectReason::UnknownCode,
            "no KOSTAT code table is configured".to_string(),
        ));
    };
    let Some(targets) = k.map(code) else {
        return Err((
            RejectReason::UnknownCode,
            format!(
                "`{}` is not a KOSTAT unit of the {} census in {}",
                code.trim(),
                k.year,
                k.path.display()
            ),
        ));
    };
    let mut parts = Vec::new();
    for (c, w) in &targets {
        match b.find(c) {
            Some(r) => parts.push((r.level, r.code.clone(), *w)),
            None => {
                return Err((
                    RejectReason::UnknownCode,
                    format!(
                        "KOSTAT unit `{}` maps to `{c}`, which is not a region of the boundaries",
                        code.trim()
                    ),
                ));
            }
        }
    }
    let rule = format!(
        "kostat {}: {} -> {}",
        k.year,
        code.trim(),
        targets
            .iter()
            .map(|(c, w)| format!("{c}*{w:.4}"))
            .collect::<Vec<_>>()
            .join("+")
    );
    let res = Resolution::of_parts(parts);
    Ok((res, rule))
}
