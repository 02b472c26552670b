//! Census population of every region for the configured year: the table's value for a code,
//! else the sum over the children when every child has one (a 시도 from its 시군구, a regional
//! group from its 시도); levels finer than the table stay without population.

use std::collections::HashMap;

use crate::config::PopulationSpec;
use crate::error::Error;
use crate::indicators::RegionIndicators;
use crate::model::RegionGroup;
use crate::model::{AdminLevel, Boundaries};

/// Census population of every region, for the configured year.
#[derive(Debug, Default)]
pub struct Populations {
    pub year: Option<i64>,
    /// Per boundary level, code → population (only regions with a known population).
    pub levels: Vec<HashMap<String, i64>>,
    /// Region group id → population.
    pub groups: HashMap<String, i64>,
}

impl Populations {
    /// Regions take the table's value for their code, else the sum of their children when every
    /// child has one (a 시도 from its 시군구); levels finer than the table stay unknown.
    ///
    /// `given` is the table's population per code for `spec.year` (`read::population`).
    ///
    /// # Errors
    /// A code of the table that is not a region of the boundaries.
    pub fn new(
        spec: &PopulationSpec,
        given: &HashMap<String, i64>,
        b: &Boundaries,
        groups: &[RegionGroup],
    ) -> Result<Populations, Error> {
        let unknown: Vec<&String> = given.keys().filter(|c| b.find(c).is_none()).collect();
        if !unknown.is_empty() {
            let mut u: Vec<&str> = unknown.iter().map(|s| s.as_str()).collect();
            u.sort_unstable();
            return Err(Error::Read {
                path: spec.path.clone(),
                layer: String::new(),
                message: format!(
                    "{} code(s) for {} are not regions of the boundaries: {}",
                    u.len(),
                    spec.year,
                    u.iter().take(8).copied().collect::<Vec<_>>().join(", ")
                ),
            });
        }
        let mut levels: Vec<HashMap<String, i64>> = vec![HashMap::new(); b.levels.len()];
        for li in (0..b.levels.len()).rev() {
            let l = &b.levels[li];
            // Children at any finer level (a 시도's are its cities and the 시군구 outside them).
            let mut children: HashMap<&str, (i64, usize, usize)> = HashMap::new();
            for (fi, finer) in b.levels.iter().enumerate().skip(li + 1) {
                for r in &finer.regions {
                    if let Some(parent) = b.parent(r).filter(|p| p.level == l.level) {
                        let e = children.entry(parent.code.as_str()).or_default();
                        e.2 += 1;
                        if let Some(v) = levels[fi].get(&r.code) {
                            e.0 += v;
                            e.1 += 1;
                        }
                    }
                }
            }
            for r in &l.regions {
                let v = given.get(&r.code).copied().or_else(|| {
                    children
                        .get(r.code.as_str())
                        .filter(|(_, known, all)| known == all && *all > 0)
                        .map(|(sum, _, _)| *sum)
                });
                if let Some(v) = v {
                    levels[li].insert(r.code.clone(), v);
                }
            }
        }
        let mut by_group = HashMap::new();
        if let Some(si) = b.levels.iter().position(|l| l.level == AdminLevel::Sido) {
            for g in groups {
                let members: Vec<&String> = g
                    .sido_codes
                    .iter()
                    .filter(|c| b.levels[si].get(c).is_some())
                    .collect();
                let known: Vec<i64> = members
                    .iter()
                    .filter_map(|c| levels[si].get(*c).copied())
                    .collect();
                if !members.is_empty() && known.len() == members.len() {
                    by_group.insert(g.id.clone(), known.iter().sum());
                }
            }
        }
        Ok(Populations {
            year: Some(spec.year),
            levels,
            groups: by_group,
        })
    }

    /// Sets the region's population and year, and its amount per person (`None` without data
    /// or without a positive population).
    pub fn apply(&self, r: &mut RegionIndicators, population: Option<&i64>) {
        r.population_year = self.year;
        r.population = population.copied();
        r.amount_per_capita_krw = population
            .filter(|p| **p > 0 && r.has_data)
            .map(|p| r.amount_krw as f64 / *p as f64);
    }
}
