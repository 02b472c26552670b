//! The tables that describe regions: `[boundaries]` (one layer per level), `[region_groups]`
//! and `[population]`, each checked against the columns its file really has. (`[crosswalk]`
//! is a path only.)

use crate::config::raw::{RawBoundaries, RawPopulation, RawRegionGroups, S};
use crate::config::{AsOf, BoundariesSpec, PopulationSpec, Problem, RegionGroupsSpec};
use crate::model::{AdminLevel, parse_date};

use super::{Validator, opt_string, span};

impl Validator<'_> {
    /// `[boundaries]`: the levels, and the code, name and parent columns of each level's layer.
    /// `None` when the boundary file is unusable (its problem is recorded).
    pub(super) fn boundaries(&mut self, b: RawBoundaries) -> Option<BoundariesSpec> {
        let b_path = self.path(&b.path, true);
        let levels = self.levels(&b.levels);
        let code_field = opt_string(&b.code_field, "code");
        let name_field = opt_string(&b.name_field, "name");
        let parent_field = opt_string(&b.parent_field, "parent_code");
        let full_name_field = b.full_name_field.as_ref().map(|s| s.get_ref().clone());
        if levels.contains(&AdminLevel::City) && !levels.contains(&AdminLevel::Sigungu) {
            self.push(
                Problem::new(
                    span(&b.levels),
                    "the `city` level is derived from the 시군구 codes",
                )
                .help("list \"sigungu\" too, e.g. [\"sido\", \"city\", \"sigungu\", \"emd\"]"),
            );
        }
        if let Some(p) = &b_path {
            // The city level has no layer: it is derived from the 시군구 (`crate::city`).
            for level in levels.iter().filter(|l| **l != AdminLevel::City) {
                let fields = match self.headers.fields(p, Some(level.as_str())) {
                    Ok(f) => f,
                    Err(e) => {
                        self.push(
                            Problem::new(span(&b.path), format!("layer `{level}`: {e}"))
                                .label("this boundary file"),
                        );
                        continue;
                    }
                };
                for (key, want) in [
                    (&b.code_field, &code_field),
                    (&b.name_field, &name_field),
                    (&b.parent_field, &parent_field),
                ] {
                    self.check_field(
                        &fields,
                        want,
                        key.as_ref().map(span),
                        &b.path,
                        level.as_str(),
                    );
                }
                if let (Some(raw), Some(f)) = (&b.full_name_field, &full_name_field) {
                    self.check_field(&fields, f, Some(span(raw)), &b.path, level.as_str());
                }
            }
        }
        let as_of = b.as_of.as_ref().and_then(|raw| {
            let text = raw.get_ref().trim();
            if text == "latest" {
                return Some(AsOf::Latest);
            }
            match parse_date(text) {
                Some(d) if text.len() == 10 => Some(AsOf::Date(d)),
                _ => {
                    self.push(
                        Problem::new(span(raw), format!("as_of `{text}` is not a date"))
                            .help("write YYYY-MM-DD, or `latest` for the latest effective change"),
                    );
                    None
                }
            }
        });
        let successions = b.successions.as_ref().and_then(|s| self.path(s, true));
        if let Some(raw) = &b.as_of {
            if b.successions.is_none() {
                self.push(
                    Problem::new(span(raw), "as_of needs `successions`")
                        .help("name the legal-dong succession table, e.g. `data/emd_changes.csv`"),
                );
            }
            if !levels.contains(&AdminLevel::Emd) {
                self.push(
                    Problem::new(span(raw), "as_of derives the units from the 읍면동")
                        .help("add \"emd\" to `levels`"),
                );
            }
        }
        Some(BoundariesSpec {
            as_of,
            successions,
            path: b_path?,
            levels,
            code_field,
            name_field,
            full_name_field,
            parent_field,
        })
    }

    /// `boundaries.levels`: known level names, coarsest first, each once.
    fn levels(&mut self, raw: &S<Vec<S<String>>>) -> Vec<AdminLevel> {
        let mut levels = Vec::new();
        for l in raw.get_ref() {
            match AdminLevel::parse(l.get_ref()) {
                Some(level) => levels.push(level),
                None => self.bad_choice(l, "level", AdminLevel::ALL.map(|l| l.as_str())),
            }
        }
        if levels.is_empty() {
            self.push(Problem::new(span(raw), "boundaries.levels is empty"));
        }
        let mut sorted = levels.clone();
        sorted.sort();
        sorted.dedup();
        if sorted != levels {
            self.push(
                Problem::new(span(raw), "levels must be listed coarsest first, once each")
                    .help("e.g. [\"sido\", \"sigungu\", \"emd\"]"),
            );
        }
        levels
    }

    /// `[region_groups]`: the group, name and sido-code columns of the groups table.
    pub(super) fn region_groups(&mut self, rg: RawRegionGroups) -> RegionGroupsSpec {
        let path = self.path(&rg.path, true);
        if let Some(p) = &path {
            match self.headers.fields(p, None) {
                Ok(fields) => {
                    for f in [&rg.group_field, &rg.name_field, &rg.sido_code_field] {
                        self.check_field(&fields, f.get_ref(), Some(span(f)), &rg.path, "");
                    }
                }
                Err(e) => self.push(Problem::new(span(&rg.path), e.to_string())),
            }
        }
        RegionGroupsSpec {
            path: path.unwrap_or_default(),
            group_field: rg.group_field.into_inner(),
            name_field: rg.name_field.into_inner(),
            sido_code_field: rg.sido_code_field.into_inner(),
        }
    }

    /// `[population]`: the code, year and population columns, and the KOSTAT units column when
    /// configured or present (`source_units`). `None` when the table is unusable.
    pub(super) fn population(&mut self, pop: RawPopulation) -> Option<PopulationSpec> {
        let path = self.path(&pop.path, true)?;
        let code_field = opt_string(&pop.code_field, "code");
        let year_field = opt_string(&pop.year_field, "year");
        let population_field = opt_string(&pop.population_field, "population");
        let mut kostat_field = None;
        match self.headers.fields(&path, None) {
            Ok(fields) => {
                let k = opt_string(&pop.kostat_field, "source_units");
                if pop.kostat_field.is_some() || fields.contains(&k) {
                    self.check_field(
                        &fields,
                        &k,
                        pop.kostat_field.as_ref().map(span),
                        &pop.path,
                        "",
                    );
                    kostat_field = Some(k);
                }
                for (raw_f, want) in [
                    (&pop.code_field, &code_field),
                    (&pop.year_field, &year_field),
                    (&pop.population_field, &population_field),
                ] {
                    self.check_field(&fields, want, raw_f.as_ref().map(span), &pop.path, "");
                }
            }
            Err(e) => self.push(Problem::new(span(&pop.path), e.to_string())),
        }
        Some(PopulationSpec {
            path,
            year: *pop.year.get_ref(),
            code_field,
            year_field,
            population_field,
            kostat_field,
        })
    }
}
