//! Admin-code crosswalk: a record's code (or name) *as of its date* is carried through the
//! dated changes of `data/admin_changes.csv` (renames, code changes, upgrades, merges, splits)
//! until it reaches a code of the target boundaries.
//!
//! Rules, in order, for a code that is not a region of the boundaries:
//! 1. **Forward**: the first change event of that code on or after the record's date (or, for a
//!    record without a date, its first change). Where one event has both a merge into a city
//!    and splits into the city's 구 (마산시 → 창원시, → 마산합포구 + 마산회원구), the splits win:
//!    they say where the territory went. Several targets are weighted by their area in the
//!    boundaries. Targets are followed recursively.
//! 2. **Backward** (a code newer than the boundaries, e.g. 미추홀구 28177 against 2013 data):
//!    a rename, code change or upgrade whose new code is the record's code maps back 1:1.
//! 3. Anything else is a reject (`crosswalk_unmapped`) naming the code and the events seen.
//!
//! Partial territory transfers (`transfer`) are not followed: the old unit still exists and the
//! record cannot say whether it lay in the moved part.

use std::collections::BTreeMap;

use serde::Serialize;

pub(crate) use crate::model::Date;
use crate::model::show_date as show;
use crate::model::{AdminLevel, RejectReason};

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Change {
    pub date: Date,
    pub kind: String,
    pub old_code: String,
    pub old_name: String,
    pub new_code: String,
    pub new_name: String,
}

/// One row of the admin-code change table (`data/admin_changes.csv`), whatever its status:
/// the crosswalk keeps the effective ones, `as_of` reads them all.
#[derive(Debug, Clone)]
pub struct Event {
    /// 1-based data row of the table (for messages).
    pub row: usize,
    pub date: Date,
    pub kind: String,
    pub old_code: String,
    pub old_name: String,
    pub new_code: String,
    pub new_name: String,
    pub status: String,
}

/// One row of the legal-dong succession table.
#[derive(Debug, Clone)]
pub struct Succession {
    pub date: Date,
    pub level: AdminLevel,
    pub old_code: String,
    /// Empty: abolished without a successor of its level.
    pub new_code: String,
    /// Full chain of names, e.g. `경기도 부천시 원미구 심곡동`.
    pub new_name: String,
    /// The 시군구 whose territory the unit is in after the change.
    pub sigungu: String,
}

/// One target of a mapping with its weight (weights of one mapping sum to 1).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Target {
    pub code: String,
    pub weight: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Mapping {
    pub targets: Vec<Target>,
    /// e.g. `48160@2009 → split 2010-07-01 → 48125 (0.43) + 48127 (0.57)`.
    pub rule: String,
}

#[derive(Debug, Clone, Default)]
pub struct Crosswalk {
    /// Effective changes, by old code, in date order.
    by_old: BTreeMap<String, Vec<Change>>,
    /// Effective changes, by new code.
    by_new: BTreeMap<String, Vec<Change>>,
}

impl Crosswalk {
    /// The crosswalk of the effective rows of `events` that have both codes.
    pub(crate) fn from_events(events: &[Event]) -> Crosswalk {
        Crosswalk::new(
            events
                .iter()
                .filter(|e| {
                    e.status == "effective" && !e.old_code.is_empty() && !e.new_code.is_empty()
                })
                .map(|e| Change {
                    date: e.date,
                    kind: e.kind.clone(),
                    old_code: e.old_code.clone(),
                    old_name: e.old_name.clone(),
                    new_code: e.new_code.clone(),
                    new_name: e.new_name.clone(),
                })
                .collect(),
        )
    }

    pub(crate) fn new(mut changes: Vec<Change>) -> Crosswalk {
        changes.sort_by(|a, b| {
            (a.date, &a.old_code, &a.new_code).cmp(&(b.date, &b.old_code, &b.new_code))
        });
        let mut by_old: BTreeMap<String, Vec<Change>> = BTreeMap::new();
        let mut by_new: BTreeMap<String, Vec<Change>> = BTreeMap::new();
        for c in changes {
            by_new
                .entry(c.new_code.clone())
                .or_default()
                .push(c.clone());
            by_old.entry(c.old_code.clone()).or_default().push(c);
        }
        Crosswalk { by_old, by_new }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.by_old.is_empty()
    }

    /// Every effective change, by old code and then date.
    pub(crate) fn changes(&self) -> impl Iterator<Item = &Change> {
        self.by_old.values().flatten()
    }

    /// Codes whose recorded full name (e.g. `경상남도 마산시`, or `경기도 여주시` for a name newer
    /// than the boundaries) matches, for names not in the boundaries: the old code of a change
    /// whose old name matches, and the new code of one whose new name does (mapped back to the
    /// boundaries' unit by [`Crosswalk::map`] when the change is one-to-one).
    pub(crate) fn codes_named(&self, matches: impl Fn(&str) -> bool) -> Vec<String> {
        let old = self
            .by_old
            .iter()
            .filter(|(_, cs)| cs.iter().any(|c| matches(&c.old_name)))
            .map(|(code, _)| code.clone());
        let new = self
            .by_new
            .iter()
            .filter(|(_, cs)| cs.iter().any(|c| matches(&c.new_name)))
            .map(|(code, _)| code.clone());
        let mut out: Vec<String> = old.chain(new).collect();
        out.sort();
        out.dedup();
        out
    }

    /// Maps `code` as of `date` to codes for which `exists` holds; `area` weights splits.
    pub(crate) fn map(
        &self,
        code: &str,
        date: Option<Date>,
        exists: &dyn Fn(&str) -> bool,
        area: &dyn Fn(&str) -> Option<f64>,
    ) -> Result<Mapping, (RejectReason, String)> {
        self.forward(code, date, exists, area, 0)
            .or_else(|e| self.backward(code, exists).ok_or(e))
    }

    fn forward(
        &self,
        code: &str,
        date: Option<Date>,
        exists: &dyn Fn(&str) -> bool,
        area: &dyn Fn(&str) -> Option<f64>,
        depth: usize,
    ) -> Result<Mapping, (RejectReason, String)> {
        if exists(code) {
            return Ok(Mapping {
                targets: vec![Target {
                    code: code.to_string(),
                    weight: 1.0,
                }],
                rule: code.to_string(),
            });
        }
        let unmapped = |why: String| (RejectReason::CrosswalkUnmapped, why);
        if depth > 16 {
            return Err(unmapped(format!("code {code}: change chain too long")));
        }
        let events: Vec<&Change> = self
            .by_old
            .get(code)
            .map(|cs| cs.iter().filter(|c| c.kind != "transfer").collect())
            .unwrap_or_default();
        let event_date = events
            .iter()
            .map(|c| c.date)
            .find(|d| date.is_none_or(|r| *d >= r))
            .ok_or_else(|| {
                unmapped(match (events.is_empty(), date) {
                    (true, _) => {
                        format!("code {code} is not in the boundaries and has no recorded change")
                    }
                    (false, Some(d)) => format!("code {code}: no change on or after {}", show(d)),
                    (false, None) => format!("code {code}: no change"),
                })
            })?;
        let at: Vec<&Change> = events
            .iter()
            .copied()
            .filter(|c| c.date == event_date)
            .collect();
        let splits: Vec<&Change> = at.iter().copied().filter(|c| c.kind == "split").collect();
        let chosen = if splits.is_empty() { at } else { splits };
        let mut parts: Vec<(Mapping, f64, &Change)> = Vec::new();
        let mut failures = Vec::new();
        for c in &chosen {
            match self.forward(&c.new_code, Some(c.date), exists, area, depth + 1) {
                Ok(m) => {
                    let a: f64 = m.targets.iter().filter_map(|t| area(&t.code)).sum();
                    parts.push((m, a, c));
                }
                Err((_, why)) => failures.push(why),
            }
        }
        if parts.is_empty() {
            return Err(unmapped(format!(
                "code {code}: {} on {} leads nowhere in the boundaries ({})",
                chosen
                    .iter()
                    .map(|c| c.kind.as_str())
                    .collect::<Vec<_>>()
                    .join("/"),
                show(event_date),
                failures.join("; ")
            )));
        }
        let total: f64 = parts.iter().map(|(_, a, _)| a).sum();
        let n = parts.len() as f64;
        let mut targets: BTreeMap<String, f64> = BTreeMap::new();
        let mut rules = Vec::new();
        for (m, a, c) in &parts {
            let share = if total > 0.0 { a / total } else { 1.0 / n };
            for t in &m.targets {
                *targets.entry(t.code.clone()).or_default() += share * t.weight;
            }
            rules.push(if parts.len() > 1 {
                format!("{} ({share:.4})", m.rule)
            } else {
                m.rule.clone()
            });
            let _ = c;
        }
        let kinds: Vec<&str> = parts.iter().map(|(_, _, c)| c.kind.as_str()).collect();
        Ok(Mapping {
            targets: targets
                .into_iter()
                .map(|(code, weight)| Target { code, weight })
                .collect(),
            rule: format!(
                "{code} → {} {} → {}",
                kinds[0],
                show(event_date),
                rules.join(" + ")
            ),
        })
    }

    fn backward(&self, code: &str, exists: &dyn Fn(&str) -> bool) -> Option<Mapping> {
        let one_to_one = ["rename", "code_change", "upgrade"];
        let cs: Vec<&Change> = self
            .by_new
            .get(code)?
            .iter()
            .filter(|c| one_to_one.contains(&c.kind.as_str()))
            .collect();
        match cs.as_slice() {
            [c] if exists(&c.old_code) => Some(Mapping {
                targets: vec![Target {
                    code: c.old_code.clone(),
                    weight: 1.0,
                }],
                rule: format!("{code} ← {} {} ← {}", c.kind, show(c.date), c.old_code),
            }),
            [c] => self.backward(&c.old_code, exists).map(|m| Mapping {
                rule: format!("{code} ← {} {} ← {}", c.kind, show(c.date), m.rule),
                ..m
            }),
            _ => None,
        }
    }
}

/// Splits `amount` over `weights` into whole KRW that sum exactly to `amount`: floors first,
/// then one more won to the largest remainders (ties to the earlier part).
pub fn largest_remainder(amount: i64, weights: &[f64]) -> Vec<i64> {
    let total: f64 = weights.iter().sum();
    if weights.is_empty() || total <= 0.0 {
        return vec![amount; weights.len().min(1)];
    }
    let raw: Vec<f64> = weights.iter().map(|w| amount as f64 * w / total).collect();
    let mut parts: Vec<i64> = raw.iter().map(|r| r.floor() as i64).collect();
    let mut rest = amount - parts.iter().sum::<i64>();
    let mut order: Vec<usize> = (0..parts.len()).collect();
    order.sort_by(|&a, &b| {
        (raw[b] - raw[b].floor())
            .total_cmp(&(raw[a] - raw[a].floor()))
            .then(a.cmp(&b))
    });
    let mut k = 0;
    while rest > 0 {
        parts[order[k % order.len()]] += 1;
        rest -= 1;
        k += 1;
    }
    while rest < 0 {
        let i = order[order.len() - 1 - (k % order.len())];
        parts[i] -= 1;
        rest += 1;
        k += 1;
    }
    parts
}

/// KOSTAT statistical codes (e.g. 11010 = 종로구) mapped onto the boundaries' codes, from the
/// population table's KOSTAT units for its census year: each row of the table lists the KOSTAT
/// units it was built from with the share of each unit it received (`11010:1.0000 11120:0.0064`;
/// a bare code means all of it). A KOSTAT unit maps onto every row that lists it, weighted by
/// those shares (normalised to sum to 1); money is split by largest remainder.
#[derive(Debug, Clone, Default)]
pub struct KostatCodes {
    pub(crate) year: i64,
    pub(crate) path: std::path::PathBuf,
    units: BTreeMap<String, Vec<(String, f64)>>,
}

impl KostatCodes {
    /// `units`: KOSTAT code → (boundary code, share) for the census `year` of the table at `path`.
    pub(crate) fn new(
        year: i64,
        path: std::path::PathBuf,
        units: BTreeMap<String, Vec<(String, f64)>>,
    ) -> KostatCodes {
        KostatCodes { year, path, units }
    }

    /// The same units with every target passed through `f` (a code → weighted codes), e.g.
    /// onto the 시군구 of a derived geography.
    pub(crate) fn remap(&self, f: impl Fn(&[(String, f64)]) -> Vec<(String, f64)>) -> KostatCodes {
        KostatCodes {
            year: self.year,
            path: self.path.clone(),
            units: self.units.iter().map(|(k, v)| (k.clone(), f(v))).collect(),
        }
    }

    /// The boundary codes a KOSTAT unit maps onto, with weights summing to 1.
    pub(crate) fn map(&self, code: &str) -> Option<Vec<(String, f64)>> {
        let parts = self.units.get(code.trim())?;
        let total: f64 = parts.iter().map(|p| p.1).sum();
        (total > 0.0).then(|| parts.iter().map(|(c, w)| (c.clone(), w / total)).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::parse_date;

    fn change(date: &str, kind: &str, old: &str, new: &str) -> Change {
        Change {
            date: parse_date(date).unwrap(),
            kind: kind.into(),
            old_code: old.into(),
            old_name: String::new(),
            new_code: new.into(),
            new_name: String::new(),
        }
    }

    fn cw() -> Crosswalk {
        Crosswalk::new(vec![
            change("2010-07-01", "merge", "48160", "48120"),
            change("2010-07-01", "split", "48160", "48125"),
            change("2010-07-01", "split", "48160", "48127"),
            change("2012-07-01", "merge", "44730", "36110"),
            change("2018-07-01", "rename", "28170", "28177"),
            change("2023-06-11", "code_change", "42110", "51110"),
        ])
    }

    #[test]
    fn masan_2009_splits_by_area_into_its_two_gu() {
        let exists = |c: &str| ["48125", "48127", "36110", "28170", "42110"].contains(&c);
        let area = |c: &str| match c {
            "48125" => Some(3.0),
            "48127" => Some(1.0),
            _ => Some(1.0),
        };
        let m = cw()
            .map("48160", parse_date("2009"), &exists, &area)
            .unwrap();
        assert_eq!(
            m.targets,
            vec![
                Target {
                    code: "48125".into(),
                    weight: 0.75
                },
                Target {
                    code: "48127".into(),
                    weight: 0.25
                }
            ]
        );
        assert!(m.rule.contains("split 2010-07-01"), "{}", m.rule);
        let y = cw()
            .map("44730", parse_date("2011-03-05"), &exists, &area)
            .unwrap();
        assert_eq!(
            y.targets,
            vec![Target {
                code: "36110".into(),
                weight: 1.0
            }]
        );
    }

    #[test]
    fn newer_codes_map_back_one_to_one() {
        let exists = |c: &str| ["28170", "42110"].contains(&c);
        let area = |_: &str| Some(1.0);
        let m = cw()
            .map("28177", parse_date("2019"), &exists, &area)
            .unwrap();
        assert_eq!(m.targets[0].code, "28170");
        let g = cw().map("51110", None, &exists, &area).unwrap();
        assert_eq!(g.targets[0].code, "42110");
        let e = cw().map("99999", None, &exists, &area).unwrap_err();
        assert_eq!(e.0, RejectReason::CrosswalkUnmapped);
    }

    #[test]
    fn names_old_and_newer_than_the_boundaries_are_found() {
        let named = |date, kind, old: (&str, &str), new: (&str, &str)| Change {
            old_name: old.1.into(),
            new_name: new.1.into(),
            ..change(date, kind, old.0, new.0)
        };
        let cw = Crosswalk::new(vec![
            named(
                "2013-09-23",
                "upgrade",
                ("41730", "경기도 여주군"),
                ("41670", "경기도 여주시"),
            ),
            named(
                "2010-07-01",
                "merge",
                ("48160", "경상남도 마산시"),
                ("48120", "경상남도 창원시"),
            ),
        ]);
        let is = |want: &'static str| move |n: &str| n == want;
        assert_eq!(cw.codes_named(is("경기도 여주시")), vec!["41670"]);
        assert_eq!(cw.codes_named(is("경상남도 마산시")), vec!["48160"]);
        // The newer name maps back, one to one, to the boundaries' unit.
        let exists = |c: &str| c == "41730";
        let m = cw
            .map("41670", parse_date("2020"), &exists, &|_| Some(1.0))
            .unwrap();
        assert_eq!(m.targets[0].code, "41730");
        assert!(m.rule.contains("upgrade 2013-09-23"), "{}", m.rule);
    }

    #[test]
    fn largest_remainder_parts_sum_exactly() {
        assert_eq!(largest_remainder(100, &[1.0, 1.0, 1.0]), vec![34, 33, 33]);
        assert_eq!(largest_remainder(10, &[0.75, 0.25]), vec![8, 2]);
        assert_eq!(largest_remainder(0, &[0.5, 0.5]), vec![0, 0]);
        let p = largest_remainder(999_999_999_999, &[0.3, 0.3, 0.4]);
        assert_eq!(p.iter().sum::<i64>(), 999_999_999_999);
    }

    #[test]
    fn dates_in_the_forms_people_write() {
        assert_eq!(parse_date("2009"), Some(20090101));
        assert_eq!(parse_date("2010-07"), Some(20100701));
        assert_eq!(parse_date("2010.07.01"), Some(20100701));
        assert_eq!(parse_date("20100701"), Some(20100701));
        assert_eq!(parse_date("july"), None);
        assert_eq!(parse_date("2010-13-01"), None);
    }
}
