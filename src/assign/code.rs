//! Records located by code: a region code of the boundaries, else the crosswalk's mapping of
//! an old or changed code; KOSTAT statistical codes through the population table's units.

use crate::crosswalk::{Crosswalk, Date, KostatCodes};
use crate::model::{AdminLevel, Boundaries, RejectReason};

use super::{Outcome, Resolution};

/// A region code of any level, else through the crosswalk (as of the record's `date`).
pub(super) fn resolve_code(
    b: &Boundaries,
    cw: &Crosswalk,
    code: &str,
    date: Option<Date>,
) -> Outcome {
    if let Some(r) = b.find(code) {
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
    let parts: Vec<(AdminLevel, String, f64)> = m
        .targets
        .iter()
        .filter_map(|t| b.find(&t.code).map(|r| (r.level, r.code.clone(), t.weight)))
        .collect();
    let res = Resolution::of_parts(parts);
    Ok((res, m.rule))
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
