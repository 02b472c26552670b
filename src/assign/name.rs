//! Records located by name: 시도, 시군구 and 읍면동 names matched within their parent, and
//! 시군구 names that no longer exist found through the crosswalk.

use std::collections::{BTreeSet, HashMap};

use crate::crosswalk::{Crosswalk, Date};
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
pub(super) fn key(name: &str) -> String {
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
    pub(super) sido: HashMap<String, Vec<&'a Region>>,
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
        sido_spellings(&sk, Some(key(&sido.name)))
            .iter()
            .find_map(|sp| {
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

enum Found<'a> {
    One(&'a Region),
    City(String, Vec<&'a Region>),
}

/// The ways a 시도 with the key `sk` is spelled at the start of a 시군구 name (its key with each
/// 시도 suffix, and `extra`), longest first.
pub(super) fn sido_spellings(sk: &str, extra: Option<String>) -> Vec<String> {
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
    .chain(extra)
    .collect();
    spellings.sort_by_key(|s| std::cmp::Reverse(s.len()));
    spellings
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
