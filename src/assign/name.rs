//! Records located by name: 시도, 시군구 and 읍면동 names matched within their parent, and
//! 시군구 names that no longer exist found through the crosswalk.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::crosswalk::{Crosswalk, Date};
use crate::model::show_date as show;
use crate::model::{AdminLevel, Boundaries, Region, RejectReason};

use super::code::resolve_code;
use super::{Outcome, Resolution};

/// A 시군구 name that no longer exists (마산시, 연기군): its old code from the crosswalk's
/// recorded names within the same 시도, then the crosswalk.
pub(super) fn old_name(
    b: &Boundaries,
    cw: &Crosswalk,
    sido: &str,
    sigungu: &str,
    date: Option<Date>,
) -> Outcome {
    let want = key(sigungu);
    let sk = sido_key(sido);
    let codes = cw.codes_named(|old| {
        let Some((s, rest)) = old.split_once(' ') else {
            return false;
        };
        let rest = key(rest);
        sido_key(s) == sk
            && ["", "시", "군", "구"]
                .iter()
                .any(|suf| rest == format!("{want}{suf}"))
    });
    match codes.as_slice() {
        [code] => resolve_code(b, cw, code, date)
            .map(|(res, rule)| (res, format!("name {sigungu} = {code}: {rule}"))),
        [] => Err((RejectReason::NameNotFound, String::new())),
        many => Err((
            RejectReason::NameAmbiguous,
            format!("old name `{sigungu}`: codes {}", many.join(", ")),
        )),
    }
}

/// Normalises a name for matching: Hangul composed (NFC), no whitespace, no middle dots.
fn key(name: &str) -> String {
    crate::model::compose_hangul(name)
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '·')
        .collect()
}

/// The short form of a 시도 name that all its spellings share: 서울특별시, 서울시 and 서울
/// give 서울; 충청북도 and 충북 give 충북; 강원도 and 강원특별자치도 give 강원.
pub fn sido_key(name: &str) -> String {
    let k = key(name);
    let mut s = k.as_str();
    for suffix in ["특별자치시", "특별자치도", "특별시", "광역시", "도", "시"] {
        if let Some(t) = s.strip_suffix(suffix)
            && !t.is_empty()
        {
            s = t;
            break;
        }
    }
    match s {
        "충청북" => "충북",
        "충청남" => "충남",
        "전라북" => "전북",
        "전라남" => "전남",
        "경상북" => "경북",
        "경상남" => "경남",
        other => other,
    }
    .to_string()
}

/// Names of regions, indexed for resolution within a parent.
pub(super) struct NameIndex<'a> {
    /// sido key → sido codes
    sido: HashMap<String, Vec<&'a Region>>,
    /// parent code → children with their match keys
    children: HashMap<&'a str, Vec<(&'a Region, Vec<String>)>>,
}

impl<'a> NameIndex<'a> {
    pub(super) fn new(b: &'a Boundaries) -> NameIndex<'a> {
        let mut sido: HashMap<String, Vec<&Region>> = HashMap::new();
        if let Some(l) = b.level(AdminLevel::Sido) {
            for r in &l.regions {
                sido.entry(sido_key(&r.name)).or_default().push(r);
            }
        }
        let mut children: HashMap<&str, Vec<(&Region, Vec<String>)>> = HashMap::new();
        for l in b.levels.iter().skip(1) {
            for r in &l.regions {
                let Some(p) = b.parent(r) else {
                    continue;
                };
                let full = key(&r.full_name);
                // The full name minus its parents' names: "천안시 동남구" from
                // "충청남도 천안시 동남구".
                let keys = |parent: &Region| {
                    let mut keys = vec![key(&r.name)];
                    if let Some(rest) = full.strip_prefix(key(&parent.full_name).as_str())
                        && !rest.is_empty()
                    {
                        keys.push(rest.to_string());
                    }
                    keys.sort();
                    keys.dedup();
                    keys
                };
                // A 구 of the city level is found within its city and, as without that
                // level, within its 시도 (`장안구`, `수원시 장안구`).
                if p.level == AdminLevel::City
                    && let Some(s) = b.parent(p)
                {
                    children.entry(&s.code).or_default().push((r, keys(s)));
                }
                children.entry(&p.code).or_default().push((r, keys(p)));
            }
        }
        NameIndex { sido, children }
    }

    pub(super) fn resolve(
        &self,
        sido: &str,
        sigungu: &str,
        emd: &str,
    ) -> Result<Resolution, (RejectReason, String)> {
        let sido_region = if sido.trim().is_empty() {
            None
        } else {
            match self.sido.get(&sido_key(sido)).map(Vec::as_slice) {
                Some([r]) => Some(*r),
                Some(many) => {
                    let c: Vec<String> = many
                        .iter()
                        .map(|r| format!("{} {}", r.code, r.name))
                        .collect();
                    return Err((
                        RejectReason::NameAmbiguous,
                        format!("시도 `{sido}`: candidates {}", c.join(", ")),
                    ));
                }
                None => {
                    return Err((
                        RejectReason::NameNotFound,
                        format!("시도 `{sido}` is not a 시도 of the boundaries"),
                    ));
                }
            }
        };
        if sigungu.trim().is_empty() {
            return match sido_region {
                // 세종특별자치시 with a blank 시군구 is its only 시군구, 36110.
                Some(r) => Ok(match self.only_child(r) {
                    Some(only) => Resolution::Region {
                        level: only.level,
                        code: only.code.clone(),
                    },
                    None => Resolution::Region {
                        level: r.level,
                        code: r.code.clone(),
                    },
                }),
                None => Err((
                    RejectReason::LocationMissing,
                    "no 시도 or 시군구 name".into(),
                )),
            };
        }
        let (sido_region, sg) = match sido_region {
            Some(r) => match self.child(r, sigungu, "시군구") {
                // `서울특별시` beside `서울특별시 성북구`.
                Err(e) => match self.within_sido(r, sigungu) {
                    Some(found) => (r, found),
                    None => return Err(e),
                },
                Ok(f) => (r, f),
            },
            None => self.sido_in_sigungu(sigungu).ok_or_else(|| {
                (
                    RejectReason::NameAmbiguous,
                    format!(
                        "시군구 `{sigungu}` without a 시도: names repeat across 시도 (e.g. 중구), so a \
                         시도 is required; no 시도 name (서울특별시, 서울시, 서울, …) starts the 시군구 column either"
                    ),
                )
            })?,
        };
        let gu = match sg {
            Found::One(city) if city.level == AdminLevel::City => {
                if !emd.trim().is_empty() {
                    let hits: Vec<Found<'_>> = self
                        .kids(city)
                        .filter_map(|g| self.child(g, emd, "읍면동").ok())
                        .collect();
                    if let [Found::One(e)] = hits.as_slice() {
                        return Ok(Resolution::Region {
                            level: e.level,
                            code: e.code.clone(),
                        });
                    }
                }
                return Ok(Resolution::Region {
                    level: city.level,
                    code: city.code.clone(),
                });
            }
            Found::One(r) => r,
            Found::City(name, gus) => {
                if !emd.trim().is_empty() {
                    // An 읍면동 name can pick the 구 of a city.
                    let hits: Vec<(&Region, Found<'_>)> = gus
                        .iter()
                        .filter_map(|g| self.child(g, emd, "읍면동").ok().map(|f| (*g, f)))
                        .collect();
                    if let [(_, Found::One(e))] = hits.as_slice() {
                        return Ok(Resolution::Region {
                            level: e.level,
                            code: e.code.clone(),
                        });
                    }
                }
                return Ok(Resolution::City {
                    sido_code: sido_region.code.clone(),
                    name,
                    gu_codes: gus.iter().map(|g| g.code.clone()).collect(),
                });
            }
        };
        if emd.trim().is_empty() {
            return Ok(Resolution::Region {
                level: gu.level,
                code: gu.code.clone(),
            });
        }
        match self.child(gu, emd, "읍면동")? {
            Found::One(e) => Ok(Resolution::Region {
                level: e.level,
                code: e.code.clone(),
            }),
            Found::City(..) => Err((
                RejectReason::NameNotFound,
                format!("읍면동 `{emd}` not found in {}", gu.full_name),
            )),
        }
    }

    /// The direct children of `parent` (a city's 구, a 시도's cities and other 시군구).
    fn kids(&self, parent: &'a Region) -> impl Iterator<Item = &'a Region> + '_ {
        self.children
            .get(parent.code.as_str())
            .into_iter()
            .flatten()
            .filter(move |(r, _)| r.parent_code.as_deref() == Some(parent.code.as_str()))
            .map(|(r, _)| *r)
    }

    /// The only child of a single-tier 시도 (세종 36 → 36110).
    fn only_child(&self, sido: &'a Region) -> Option<&'a Region> {
        let mut kids = self.kids(sido);
        let only = kids.next()?;
        kids.next().is_none().then_some(only)
    }

    /// A 시군구 column that starts with its 시도 (`서울특별시 성북구`, `서울시성북구`, `서울  성북구`):
    /// the 시도 and the 시군구 found after it, when exactly one 시도 gives one.
    fn sido_in_sigungu(&self, sigungu: &str) -> Option<(&'a Region, Found<'a>)> {
        let mut found = self.sido.values().filter_map(|rs| match rs.as_slice() {
            [r] => self.within_sido(r, sigungu).map(|f| (*r, f)),
            _ => None,
        });
        let first = found.next()?;
        found.next().is_none().then_some(first)
    }

    /// The 시군구 of `sido` named by `sigungu` after a spelling of that 시도 (longest first).
    fn within_sido(&self, sido: &'a Region, sigungu: &str) -> Option<Found<'a>> {
        let k = key(sigungu);
        let sk = sido_key(&sido.name);
        let mut spellings: Vec<String> = [
            "특별자치시",
            "특별자치도",
            "특별시",
            "광역시",
            "도",
            "시",
            "",
        ]
        .iter()
        .map(|suf| format!("{sk}{suf}"))
        .chain([key(&sido.name)])
        .collect();
        spellings.sort_by_key(|s| std::cmp::Reverse(s.len()));
        spellings.iter().find_map(|sp| {
            let rest = k.strip_prefix(sp.as_str()).filter(|r| !r.is_empty())?;
            self.child(sido, rest, "시군구").ok()
        })
    }

    /// Finds `name` among the children of `parent`, trying suffix variants.
    fn child(
        &self,
        parent: &'a Region,
        name: &str,
        what: &str,
    ) -> Result<Found<'a>, (RejectReason, String)> {
        let k = key(name);
        let kids = self
            .children
            .get(parent.code.as_str())
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        let exact: Vec<&Region> = kids
            .iter()
            .filter(|(_, ks)| ks.contains(&k))
            .map(|(r, _)| *r)
            .collect();
        let mut hits: BTreeSet<&str> = exact.iter().map(|r| r.code.as_str()).collect();
        if hits.is_empty() {
            // "마포" → 마포구; "천안시동남구" ↔ "동남구" under the same city.
            for (r, ks) in kids {
                let m = ks.iter().any(|rk| {
                    ["시", "군", "구", "읍", "면", "동"]
                        .iter()
                        .any(|s| *rk == format!("{k}{s}"))
                        || (k.len() > rk.len()
                            && k.ends_with(rk.as_str())
                            && k[..k.len() - rk.len()].ends_with('시'))
                        || (rk.len() > k.len()
                            && rk.ends_with(k.as_str())
                            && rk[..rk.len() - k.len()].ends_with('시')
                            && k.ends_with('구'))
                });
                if m {
                    hits.insert(&r.code);
                }
            }
        }
        match hits.len() {
            1 => {
                let code = hits.iter().next().copied().unwrap_or_default();
                let r = kids.iter().map(|(r, _)| *r).find(|r| r.code == code);
                r.map(Found::One)
                    .ok_or((RejectReason::NameNotFound, String::new()))
            }
            0 => {
                // A city with 일반구: every child whose key starts with the city's name.
                let city = if k.ends_with('시') {
                    k.clone()
                } else {
                    format!("{k}시")
                };
                let gus: Vec<&Region> = kids
                    .iter()
                    .filter(|(r, ks)| {
                        r.level == AdminLevel::Sigungu
                            && ks.iter().any(|rk| {
                                rk.len() > city.len() && rk.starts_with(&city) && rk.ends_with('구')
                            })
                    })
                    .map(|(r, _)| *r)
                    .collect();
                if !gus.is_empty() {
                    return Ok(Found::City(city, gus));
                }
                Err((
                    RejectReason::NameNotFound,
                    format!("{what} `{name}` not found in {}", parent.full_name),
                ))
            }
            _ => {
                let c: Vec<String> = kids
                    .iter()
                    .filter(|(r, _)| hits.contains(r.code.as_str()))
                    .map(|(r, _)| format!("{} {}", r.code, r.full_name))
                    .collect();
                Err((
                    RejectReason::NameAmbiguous,
                    format!(
                        "{what} `{name}` in {}: candidates {}",
                        parent.full_name,
                        c.join(", ")
                    ),
                ))
            }
        }
    }
}

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
const ENDS: [&str; 5] = ["merge", "upgrade", "code_change", "rename", "abolish_district"];

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
            for (old, name, code) in [(true, &c.old_name, &c.old_code), (false, &c.new_name, &c.new_code)] {
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
    let rest = match rest.trim_end().strip_suffix(')').and_then(|r| r.rfind('(').map(|i| &r[..i])) {
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
            && (["시", "군", "구"].iter().any(|s| claim == format!("{want}{s}"))
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
            && code_of(res).as_deref() == Some(c.code.as_str())
        {
            return Ok((res.clone(), format!("{}: the boundaries' unit", c.code)));
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
                    match outs.as_slice() {
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
                            if rest.iter().all(|o| o.as_ref().is_ok_and(|(r, _)| r == first)) =>
                        {
                            Ok((
                                first.clone(),
                                format!(
                                    "name {shown} on {} = {}: {rule}",
                                    show(d),
                                    several
                                        .iter()
                                        .map(|c| c.describe())
                                        .collect::<Vec<_>>()
                                        .join(", ")
                                ),
                            ))
                        }
                        _ => Err((
                            RejectReason::NameAmbiguous,
                            format!(
                                "`{shown}` on {} named several units: {}",
                                show(d),
                                several
                                    .iter()
                                    .map(|c| c.describe())
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            ),
                        )),
                    }
                }
            }
        }
        None => match agreed() {
            Some(res) => Ok((res, format!("name {shown}, undated: every meaning agrees ({})", listed()))),
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
    // The 읍면동 decides where the record is, but it must lie in what the name meant.
    let found = names.resolve(sido, sigungu, emd);
    Some(match found {
        Ok(Resolution::Region { level, code }) => {
            let lineage = b.lineage(level, &code);
            let inside = |res: &Resolution| {
                codes_in(res)
                    .iter()
                    .any(|c| lineage.iter().any(|(_, l)| l == c))
            };
            let ok = match (&outcome, date) {
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
                        match &outcome {
                            Ok((res, _)) => res.describe(),
                            Err((_, why)) => why.clone(),
                        }
                    ),
                ))
            }
        }
        other => other.map(|res| (res, "name".to_string())),
    })
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
        let mut spellings: Vec<String> = ["특별자치시", "특별자치도", "특별시", "광역시", "도", "시", ""]
            .iter()
            .map(|suf| format!("{sk}{suf}"))
            .collect();
        spellings.sort_by_key(|s| std::cmp::Reverse(s.len()));
        spellings.iter().find_map(|sp| {
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
        Resolution::City { gu_codes, .. } => gu_codes.first().map(|g| format!("{}0", &g[..g.len().saturating_sub(1)])),
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

enum Found<'a> {
    One(&'a Region),
    City(String, Vec<&'a Region>),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sido_spellings_share_one_key() {
        for (a, b) in [
            ("서울특별시", "서울"),
            ("서울시", "서울"),
            ("충청북도", "충북"),
            ("강원특별자치도", "강원"),
            ("강원도", "강원"),
            ("전북특별자치도", "전북"),
            ("제주특별자치도", "제주"),
            ("세종특별자치시", "세종"),
            ("경기도", "경기"),
            ("부산 광역시", "부산"),
        ] {
            assert_eq!(sido_key(a), b, "{a}");
        }
    }

    #[test]
    fn names_without_boundaries_do_not_resolve() {
        let b = Boundaries::default();
        let idx = NameIndex::new(&b);
        assert_eq!(
            idx.resolve("서울", "", "").unwrap_err().0,
            RejectReason::NameNotFound
        );
    }
}
