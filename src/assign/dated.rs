//! Names as of the record's date: a 시도 or 시군구 name that `data/admin_changes.csv` knows is
//! taken as the code it named that day and resolved as that code would be, so a name can
//! never silently mean today's unit of the same name (창원시 in 2009 is the old 창원시 48110,
//! not the 2010 city 48120).

use std::collections::BTreeMap;

use crate::crosswalk::{Crosswalk, Date};
use crate::model::show_date as show;
use crate::model::{Boundaries, RejectReason};

use super::code::resolve_code;
use super::name::{NameIndex, key, sido_key};
use super::{Outcome, Resolution};

/// What names meant over time, from the crosswalk's dated changes: a 시군구 (or 시도) name
/// whose code or territory changed is resolved as of the record's date, never as today's
/// unit of the same name (창원시 in 2009 is the old 창원시 48110, not the 2010 city 48120).
pub(super) struct NameHistory {
    claims: Vec<Claim>,
}

/// One code a name denoted, and when.
#[derive(Debug)]
struct Claim {
    sido: String,
    /// The 시군구 part as matched (`key`, a trailing `(…)` dropped); empty for a 시도.
    rest: String,
    code: String,
    /// The name as the table writes it.
    label: String,
    /// From this date on (`None`: since before the table).
    from: Option<Date>,
    /// Until the day before this date (`None`: still).
    until: Option<Date>,
}

/// Kinds whose new side is a unit that starts that day.
const STARTS: [&str; 5] = ["upgrade", "code_change", "rename", "merge", "split"];
/// Kinds whose old side ends that day (a split's old unit goes on unless merged the same day;
/// an abolished 구's city goes on).
const ENDS: [&str; 5] = [
    "merge",
    "upgrade",
    "code_change",
    "rename",
    "abolish_district",
];

impl NameHistory {
    /// Claims from every effective change but partial transfers, which neither create nor end
    /// a unit or a name.
    pub(super) fn new(cw: &Crosswalk) -> NameHistory {
        #[derive(Default)]
        struct Seen {
            label: String,
            starts: Vec<Date>,
            ends: Vec<Date>,
            old: Vec<Date>,
        }
        let mut by: BTreeMap<(String, String, String), Seen> = BTreeMap::new();
        for c in cw.changes().filter(|c| c.kind != "transfer") {
            for (old, name, code) in [
                (true, &c.old_name, &c.old_code),
                (false, &c.new_name, &c.new_code),
            ] {
                let Some((sido, rest)) = split_full(name) else {
                    continue;
                };
                if code.trim().is_empty() {
                    continue;
                }
                let e = by.entry((sido, rest, code.clone())).or_default();
                if e.label.is_empty() {
                    e.label = name.clone();
                }
                let kind = c.kind.as_str();
                if old {
                    e.old.push(c.date);
                    if ENDS.contains(&kind) {
                        e.ends.push(c.date);
                    }
                } else if STARTS.contains(&kind) {
                    e.starts.push(c.date);
                }
            }
        }
        let claims = by
            .into_iter()
            .map(|((sido, rest, code), e)| {
                let first_start = e.starts.iter().min().copied();
                let from = first_start.filter(|s| e.old.iter().all(|o| o > s));
                let last_start = e.starts.iter().max().copied();
                let until = e
                    .ends
                    .iter()
                    .max()
                    .copied()
                    .filter(|end| last_start.is_none_or(|s| *end > s));
                Claim {
                    sido,
                    rest,
                    code,
                    label: e.label,
                    from,
                    until,
                }
            })
            .collect();
        NameHistory { claims }
    }

    /// The claims whose name is this 시도 and 시군구 (blank: the 시도 itself).
    fn matching(&self, sido: &str, sigungu: &str) -> Vec<&Claim> {
        let want = key(sigungu);
        self.claims
            .iter()
            .filter(|c| c.sido == sido && rest_matches(&c.rest, &want))
            .collect()
    }

    /// The 시도 keys the table knows (제주도, 강원도, … as well as today's).
    fn sido_keys(&self) -> impl Iterator<Item = &str> {
        self.claims.iter().map(|c| c.sido.as_str())
    }
}

/// `경상남도 창원시(2010년 이전)` → (`경남`, `창원시`); `세종특별자치시` → (`세종`, ``).
fn split_full(full: &str) -> Option<(String, String)> {
    let full = full.trim();
    if full.is_empty() {
        return None;
    }
    let (sido, rest) = full.split_once(' ').unwrap_or((full, ""));
    let rest = match rest
        .trim_end()
        .strip_suffix(')')
        .and_then(|r| r.rfind('(').map(|i| &r[..i]))
    {
        Some(r) if !r.trim().is_empty() => r,
        _ => rest,
    };
    Some((sido_key(sido), key(rest)))
}

/// Whether a claim's 시군구 part is the record's: equal, the record without the suffix
/// 시/군/구 (`창원`), or a 구 without its city (`의창구` for `창원시의창구`).
fn rest_matches(claim: &str, want: &str) -> bool {
    claim == want
        || (!want.is_empty()
            && (["시", "군", "구"]
                .iter()
                .any(|s| claim == format!("{want}{s}"))
                || (want.ends_with('구')
                    && claim.len() > want.len()
                    && claim.ends_with(want)
                    && claim[..claim.len() - want.len()].ends_with('시'))))
}

/// The day before `d` (`yyyymmdd`).
fn day_before(d: Date) -> Date {
    let (y, m, day) = (d / 10_000, d / 100 % 100, d % 100);
    if day > 1 {
        return d - 1;
    }
    let (y, m) = if m == 1 { (y - 1, 12) } else { (y, m - 1) };
    let leap = y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
    let last = match m {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    y * 10_000 + m * 100 + last
}

impl Claim {
    fn holds_on(&self, d: Date) -> bool {
        self.from.is_none_or(|f| d >= f) && self.until.is_none_or(|u| d < u)
    }

    /// A date on which the claim holds (its first day, or its last), `None` when always.
    fn some_day(&self) -> Option<Date> {
        self.from.or(self.until.map(day_before))
    }

    fn describe(&self) -> String {
        let when = match (self.from, self.until) {
            (None, None) => String::new(),
            (Some(f), None) => format!(" since {}", show(f)),
            (None, Some(u)) => format!(" until {}", show(day_before(u))),
            (Some(f), Some(u)) => format!(" {} – {}", show(f), show(day_before(u))),
        };
        format!("{} ({}{when})", self.code, self.label)
    }
}

/// A name resolved as of the record's date, when the change table knows the name: the code it
/// denoted that day, through the crosswalk (or the boundaries' unit when that is the same
/// code). `None` when the table does not know the name (the boundaries decide alone).
///
/// - A name not in force on the date (부천시 원미구 in 2018) is resolved only when every
///   meaning it ever had gives the same region (a rename: 강원도 춘천시 in 2024), else it is a
///   `name_not_in_force` reject.
/// - An undated record is resolved only when every meaning gives the same region, else it is
///   a `name_needs_date` reject naming them.
/// - With an 읍면동, the 읍면동 decides, but it must lie in what the name meant.
#[expect(clippy::too_many_arguments, reason = "the parts of one name record")]
pub(super) fn resolve_dated(
    names: &NameIndex<'_>,
    history: &NameHistory,
    b: &Boundaries,
    cw: &Crosswalk,
    sido: &str,
    sigungu: &str,
    emd: &str,
    date: Option<Date>,
) -> Option<Outcome> {
    let (sk, rest) = split_record(names, history, sido, sigungu)?;
    let claims = history.matching(&sk, &rest);
    if claims.is_empty() {
        return None;
    }
    let shown = if rest.is_empty() { sido } else { sigungu }.trim();
    let boundary = names.resolve(sido, sigungu, "");
    let meaning = |c: &Claim, d: Option<Date>| -> Outcome {
        if let Ok(res) = &boundary
            && let Some(own) = code_of(res)
        {
            if own == c.code {
                return Ok((res.clone(), format!("{}: the boundaries' unit", c.code)));
            }
            // Without the city level a city is no region of the boundaries: a code the
            // crosswalk carries onto the city's own code (전주시 52110 → 45110) is that city.
            if matches!(res, Resolution::City { .. }) {
                let exists = |x: &str| x == own || b.find(x).is_some();
                if let Ok(m) = cw.map(&c.code, d, &exists, &|_| None)
                    && let [t] = m.targets.as_slice()
                    && t.code == own
                {
                    return Ok((res.clone(), format!("{}: the boundaries' city", m.rule)));
                }
            }
        }
        resolve_code(b, cw, &c.code, d)
    };
    let all: Vec<(&Claim, Outcome)> = claims
        .iter()
        .map(|c| (*c, meaning(c, c.some_day())))
        .collect();
    let agreed = || -> Option<Resolution> {
        let first = all.first()?.1.as_ref().ok()?.0.clone();
        all.iter()
            .all(|(_, o)| o.as_ref().is_ok_and(|(r, _)| *r == first))
            .then_some(first)
    };
    let listed = || {
        all.iter()
            .map(|(c, o)| match o {
                Ok((r, _)) => format!("{} → {}", c.describe(), r.describe()),
                Err((reason, _)) => format!("{} → {reason}", c.describe()),
            })
            .collect::<Vec<_>>()
            .join("; ")
    };
    let outcome: Outcome = match date {
        Some(d) => {
            let now: Vec<&Claim> = claims.iter().copied().filter(|c| c.holds_on(d)).collect();
            match now.as_slice() {
                [] => match agreed() {
                    Some(res) => Ok((
                        res,
                        format!(
                            "name {shown} not in force on {}, every meaning agrees ({})",
                            show(d),
                            listed()
                        ),
                    )),
                    None => Err((
                        RejectReason::NameNotInForce,
                        format!(
                            "`{shown}` did not name a unit on {}; it named {}",
                            show(d),
                            listed()
                        ),
                    )),
                },
                several => {
                    let outs: Vec<Outcome> = several.iter().map(|c| meaning(c, Some(d))).collect();
                    in_force(shown, d, several, &outs)
                }
            }
        }
        None => match agreed() {
            Some(res) => Ok((
                res,
                format!("name {shown}, undated: every meaning agrees ({})", listed()),
            )),
            None => Err((
                RejectReason::NameNeedsDate,
                format!(
                    "`{shown}` named different territories over time, and the record has no date: {}",
                    listed()
                ),
            )),
        },
    };
    if emd.trim().is_empty() {
        return Some(outcome);
    }
    Some(within_meaning(
        names,
        b,
        (sido, sigungu, emd),
        shown,
        date,
        &outcome,
        &all,
    ))
}

/// The meaning of `shown` on `d` when the claims in force then (`several`, with their
/// outcomes `outs`) all agree; else the first one's reject, or `name_ambiguous`.
fn in_force(shown: &str, d: Date, several: &[&Claim], outs: &[Outcome]) -> Outcome {
    let described = || {
        several
            .iter()
            .map(|c| c.describe())
            .collect::<Vec<_>>()
            .join(", ")
    };
    match outs {
        [Err(e), ..] => Err((
            e.0.clone(),
            format!(
                "`{shown}` on {} = {}: {}",
                show(d),
                several[0].describe(),
                e.1
            ),
        )),
        [Ok((first, rule)), rest @ ..]
            if rest
                .iter()
                .all(|o| o.as_ref().is_ok_and(|(r, _)| r == first)) =>
        {
            Ok((
                first.clone(),
                format!("name {shown} on {} = {}: {rule}", show(d), described()),
            ))
        }
        _ => Err((
            RejectReason::NameAmbiguous,
            format!(
                "`{shown}` on {} named several units: {}",
                show(d),
                described()
            ),
        )),
    }
}

/// The 읍면동 decides where the record is, but it must lie in what the name meant
/// (`outcome`; undated and without one agreed meaning, in any of `all`).
fn within_meaning(
    names: &NameIndex<'_>,
    b: &Boundaries,
    (sido, sigungu, emd): (&str, &str, &str),
    shown: &str,
    date: Option<Date>,
    outcome: &Outcome,
    all: &[(&Claim, Outcome)],
) -> Outcome {
    match names.resolve(sido, sigungu, emd) {
        Ok(Resolution::Region { level, code }) => {
            let lineage = b.lineage(level, &code);
            let inside = |res: &Resolution| {
                codes_in(res)
                    .iter()
                    .any(|c| lineage.iter().any(|(_, l)| l == c))
            };
            let ok = match (outcome, date) {
                (Ok((res, _)), _) => inside(res),
                (Err(_), None) => all
                    .iter()
                    .any(|(_, o)| o.as_ref().is_ok_and(|(r, _)| inside(r))),
                (Err(_), Some(_)) => false,
            };
            if ok {
                Ok((Resolution::Region { level, code }, "name".to_string()))
            } else {
                Err((
                    RejectReason::NameNotInForce,
                    format!(
                        "읍면동 `{emd}` ({code}) is not in what `{shown}` named{}: {}",
                        date.map(|d| format!(" on {}", show(d))).unwrap_or_default(),
                        match outcome {
                            Ok((res, _)) => res.describe(),
                            Err((_, why)) => why.clone(),
                        }
                    ),
                ))
            }
        }
        other => other.map(|res| (res, "name".to_string())),
    }
}

/// The record's 시도 key and 시군구 part, the 시도 taken from the front of the 시군구 column
/// when the 시도 column is blank (`서울특별시 성북구`).
fn split_record(
    names: &NameIndex<'_>,
    history: &NameHistory,
    sido: &str,
    sigungu: &str,
) -> Option<(String, String)> {
    if !sido.trim().is_empty() {
        return Some((sido_key(sido), sigungu.to_string()));
    }
    let k = key(sigungu);
    let mut keys: Vec<&str> = names
        .sido
        .keys()
        .map(String::as_str)
        .chain(history.sido_keys())
        .collect();
    keys.sort();
    keys.dedup();
    let mut found = keys.into_iter().filter_map(|sk| {
        super::name::sido_spellings(sk, None).iter().find_map(|sp| {
            let rest = k.strip_prefix(sp.as_str()).filter(|r| !r.is_empty())?;
            Some((sk.to_string(), rest.to_string()))
        })
    });
    let first = found.next()?;
    found.next().is_none().then_some(first)
}

/// The code a resolution stands for: its region, or the city `NNNN0` of a city's 구.
fn code_of(res: &Resolution) -> Option<String> {
    match res {
        Resolution::Region { code, .. } => Some(code.clone()),
        Resolution::City { gu_codes, .. } => gu_codes
            .first()
            .map(|g| format!("{}0", &g[..g.len().saturating_sub(1)])),
        Resolution::Split { .. } => None,
    }
}

/// Every code a resolution holds money at.
fn codes_in(res: &Resolution) -> Vec<String> {
    match res {
        Resolution::Region { code, .. } => vec![code.clone()],
        Resolution::City { gu_codes, .. } => gu_codes.clone(),
        Resolution::Split { parts, .. } => parts.iter().map(|p| p.1.clone()).collect(),
    }
}
