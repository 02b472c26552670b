//! Raw TOML → validated [`Pipeline`], collecting every problem with its span.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;
use std::path::{Path, PathBuf};

use miette::NamedSource;

use super::Headers;
use super::raw::{RawInput, RawLocate, RawPipeline, RawTarget, RawValue, S};
use super::{
    AmountSpec, AmountUnit, BoundariesSpec, ConfigError, FundingSpec, IndicatorSpec, InputKind,
    InputSpec, Locate, OutputSpec, Period, Pipeline, PopulationSpec, Problem, RegionGroupsSpec,
    SpatialSpec, Target, Tier, ValueSpec, did_you_mean, resolve_path,
};
use super::{Contiguity, Encoding};
use crate::crs;
use crate::model::{AdminLevel, FundingSource};

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

/// Reads, parses and validates a pipeline file; the column names of the files it names come
/// from `headers` (the read stage's `read::Headers`), so every configured field is checked.
pub fn load(path: &Path, headers: &dyn Headers) -> Result<Pipeline, Box<ConfigError>> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            return Err(Box::new(ConfigError {
                path: path.to_path_buf(),
                src: NamedSource::new(path.display().to_string(), String::new()),
                problems: vec![Problem {
                    message: format!("cannot read {}: {e}", path.display()),
                    span: None,
                    label: String::new(),
                    help: None,
                }],
            }));
        }
    };
    let fail = |problems: Vec<Problem>| {
        Box::new(ConfigError {
            path: path.to_path_buf(),
            src: NamedSource::new(path.display().to_string(), text.clone()).with_language("toml"),
            problems,
        })
    };
    let raw: RawPipeline = match toml::from_str(&text) {
        Ok(r) => r,
        Err(e) => {
            let span = e.span().unwrap_or(0..0);
            let message = e.message().trim().to_string();
            let mut p = Problem::new(span, message.clone());
            if let Some(h) = unknown_key_help(&message) {
                p = p.help(h);
            }
            return Err(fail(vec![p]));
        }
    };
    let mut v = Validator {
        config_path: path.to_path_buf(),
        problems: Vec::new(),
        max_input_mib: DEFAULT_MAX_INPUT_MIB,
        roots: Vec::new(),
        kostat: false,
        headers,
    };
    let pipeline = v.pipeline(raw);
    v.problems.sort_by_key(|p| p.span.map(|s| s.offset()));
    match pipeline {
        Some(p) if v.problems.is_empty() => Ok(p),
        _ => Err(fail(v.problems)),
    }
}

/// toml says "unknown field `x`, expected one of `a`, `b`": turn that into a suggestion.
fn unknown_key_help(message: &str) -> Option<String> {
    let rest = message.strip_prefix("unknown field `")?;
    let (key, tail) = rest.split_once('`')?;
    let expected: Vec<&str> = tail.split('`').skip(1).step_by(2).collect();
    match did_you_mean(key, expected.iter().copied()) {
        Some(s) => Some(format!("did you mean `{s}`?")),
        None => Some(format!("valid keys here: {}", expected.join(", "))),
    }
}

struct Validator<'h> {
    config_path: PathBuf,
    problems: Vec<Problem>,
    max_input_mib: u64,
    /// Folders (canonical) that every configured path must resolve into.
    roots: Vec<PathBuf>,
    /// Whether the population table maps KOSTAT codes (for `by = "kostat_code"`).
    kostat: bool,
    headers: &'h dyn Headers,
}

/// Default largest input: 16 GiB.
const DEFAULT_MAX_INPUT_MIB: u64 = 16 * 1024;

fn span<T>(s: &S<T>) -> Range<usize> {
    s.span()
}

impl Validator<'_> {
    fn push(&mut self, p: Problem) {
        self.problems.push(p);
    }

    fn pipeline(&mut self, raw: RawPipeline) -> Option<Pipeline> {
        let meta = raw.pipeline.into_inner();
        self.roots(meta.roots.as_ref());
        let name = meta.name.into_inner();
        let output_dir = self.path(&meta.output_dir, false);
        let max_reject_share = match meta.max_reject_share {
            None => 0.0,
            Some(s) => {
                let v = *s.get_ref();
                if !(0.0..=1.0).contains(&v) {
                    self.push(
                        Problem::new(span(&s), format!("max_reject_share is {v}"))
                            .label("expected a share between 0 and 1")
                            .help("0.05 tolerates up to 5 % of records in the rejects layer"),
                    );
                }
                v
            }
        };
        if let Some(m) = &meta.max_input_mib {
            match u64::try_from(*m.get_ref()) {
                Ok(n) if n >= 1 => self.max_input_mib = n,
                _ => self.push(Problem::new(span(m), "max_input_mib must be at least 1")),
            }
        }
        let max_input_mib = self.max_input_mib;
        let keep_runs = match meta.keep_runs {
            None => 7,
            Some(s) => match usize::try_from(*s.get_ref()) {
                Ok(n) if n >= 1 => n,
                _ => {
                    self.push(Problem::new(span(&s), "keep_runs must be at least 1"));
                    1
                }
            },
        };

        let b = raw.boundaries.into_inner();
        let b_path = self.path(&b.path, true);
        let mut levels = Vec::new();
        for l in b.levels.get_ref() {
            match AdminLevel::parse(l.get_ref()) {
                Some(level) => levels.push(level),
                None => self.bad_choice(l, "level", AdminLevel::ALL.map(|l| l.as_str())),
            }
        }
        if levels.is_empty() {
            self.push(Problem::new(span(&b.levels), "boundaries.levels is empty"));
        }
        let mut sorted = levels.clone();
        sorted.sort();
        sorted.dedup();
        if sorted != levels {
            self.push(
                Problem::new(
                    span(&b.levels),
                    "levels must be listed coarsest first, once each",
                )
                .help("e.g. [\"sido\", \"sigungu\", \"emd\"]"),
            );
        }
        let code_field = opt_string(&b.code_field, "code");
        let name_field = opt_string(&b.name_field, "name");
        let parent_field = opt_string(&b.parent_field, "parent_code");
        let full_name_field = b.full_name_field.as_ref().map(|s| s.get_ref().clone());
        if let Some(p) = &b_path {
            for level in &levels {
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

        let region_groups = raw.region_groups.map(|rg| {
            let rg = rg.into_inner();
            let path = self.path(&rg.path, true);
            if let Some(p) = &path {
                match self.headers.fields(p, None) {
                    Ok(fields) => {
                        for f in [&rg.group_field, &rg.name_field, &rg.sido_code_field] {
                            self.check_field(&fields, f.get_ref(), Some(span(f)), &rg.path, "");
                        }
                    }
                    Err(e) => self.push(Problem::new(span(&rg.path), e)),
                }
            }
            RegionGroupsSpec {
                path: path.unwrap_or_default(),
                group_field: rg.group_field.into_inner(),
                name_field: rg.name_field.into_inner(),
                sido_code_field: rg.sido_code_field.into_inner(),
            }
        });

        let crosswalk = raw
            .crosswalk
            .and_then(|c| self.path(&c.get_ref().path, true));
        let population = raw.population.and_then(|pop| {
            let pop = pop.into_inner();
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
                Err(e) => self.push(Problem::new(span(&pop.path), e)),
            }
            Some(PopulationSpec {
                path,
                year: *pop.year.get_ref(),
                code_field,
                year_field,
                population_field,
                kostat_field,
            })
        });
        self.kostat = population
            .as_ref()
            .is_some_and(|p| p.kostat_field.is_some());

        let mut names = BTreeSet::new();
        let mut inputs = Vec::new();
        for input in raw.inputs {
            let sp = span(&input);
            let input = input.into_inner();
            if !names.insert(input.name.get_ref().clone()) {
                self.push(Problem::new(span(&input.name), "duplicate input name"));
            }
            if let Some(i) = self.input(input) {
                inputs.push(i);
            } else if self.problems.is_empty() {
                self.push(Problem::new(sp, "invalid input"));
            }
        }

        let mut tiers = Vec::new();
        let mut classes = 5;
        let mut target_per_km2 = Target::Mean;
        let mut spatial = SpatialSpec::default();
        let mut periods = Vec::new();
        if let Some(ind) = raw.indicators {
            let ind = ind.into_inner();
            for rp in &ind.periods {
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
            if let Some(sp) = &ind.spatial {
                let sp = sp.get_ref();
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
            }
            if let Some(c) = &ind.classes {
                match usize::try_from(*c.get_ref()) {
                    Ok(n) if (2..=12).contains(&n) => classes = n,
                    _ => self.push(Problem::new(span(c), "classes must be between 2 and 12")),
                }
            }
            if let Some(t) = &ind.target_per_km2 {
                target_per_km2 = match t.get_ref() {
                    RawTarget::Named(n) if n == "mean" => Target::Mean,
                    RawTarget::Named(n) if n == "median" => Target::Median,
                    RawTarget::Krw(v) if *v >= 0.0 && v.is_finite() => Target::Krw(*v),
                    _ => {
                        self.push(
                            Problem::new(span(t), "target_per_km2 must be \"mean\", \"median\" or KRW per km² ≥ 0")
                                .help("the report's new-town unit cost is 5_000_000_000 (150억 per 3 km²)"),
                        );
                        Target::Mean
                    }
                };
            }
            for t in &ind.tiers {
                let t = t.get_ref();
                tiers.push(Tier {
                    label: t.label.get_ref().clone(),
                    min_krw: *t.min_krw.get_ref(),
                });
            }
            let ok = tiers.windows(2).all(|w| w[0].min_krw > w[1].min_krw);
            if !ok || tiers.last().is_some_and(|t| t.min_krw != 0) {
                let sp = ind.tiers.first().map(span).unwrap_or(0..0);
                self.push(
                    Problem::new(
                        sp,
                        "tiers must have strictly decreasing min_krw ending at 0",
                    )
                    .help("the last tier catches everything below the others: min_krw = 0"),
                );
            }
        }
        if tiers.is_empty() {
            tiers = default_tiers();
        }
        let mut geojson_decimals = 6;
        if let Some(o) = raw.output
            && let Some(d) = &o.get_ref().geojson_decimals
        {
            match u32::try_from(*d.get_ref()) {
                Ok(n) if (5..=9).contains(&n) => geojson_decimals = n,
                _ => self.push(
                    Problem::new(span(d), "geojson_decimals must be between 5 and 9")
                        .help("6 decimals of a degree is about 0.1 m"),
                ),
            }
        }

        Some(Pipeline {
            name,
            config_path: self.config_path.clone(),
            output_dir: output_dir?,
            max_reject_share,
            keep_runs,
            max_input_mib,
            boundaries: BoundariesSpec {
                path: b_path?,
                levels,
                code_field,
                name_field,
                full_name_field,
                parent_field,
            },
            region_groups,
            crosswalk,
            population,
            inputs,
            indicators: IndicatorSpec {
                tiers,
                classes,
                target_per_km2,
                spatial,
                periods,
            },
            output: OutputSpec { geojson_decimals },
        })
    }

    fn input(&mut self, raw: RawInput) -> Option<InputSpec> {
        let path = self.path(&raw.path, true);
        let layer = raw.layer.as_ref().map(|l| l.get_ref().clone());
        let encoding = match &raw.encoding {
            None => Encoding::Auto,
            Some(e) => match Encoding::NAMES
                .iter()
                .find(|(n, _)| *n == e.get_ref().to_ascii_lowercase())
            {
                Some((_, enc)) => *enc,
                None => {
                    self.bad_choice(e, "encoding", ["auto", "utf-8", "cp949", "euc-kr"]);
                    Encoding::Auto
                }
            },
        };
        let header_row = match &raw.header_row {
            None => 1,
            Some(h) => match usize::try_from(*h.get_ref()) {
                Ok(n) if (1..=1000).contains(&n) => n,
                _ => {
                    self.push(Problem::new(
                        span(h),
                        "header_row must be a row number from 1 to 1000",
                    ));
                    1
                }
            },
        };
        let max_vertices = match &raw.max_vertices {
            None => 1_000_000,
            Some(m) => match usize::try_from(*m.get_ref()) {
                Ok(n) if n >= 4 => n,
                _ => {
                    self.push(Problem::new(span(m), "max_vertices must be at least 4"));
                    1_000_000
                }
            },
        };
        let stream_only = path.as_deref().is_some_and(super::stream_only);
        let stream = match &raw.stream {
            None => stream_only,
            Some(s) => {
                if stream_only && !*s.get_ref() {
                    self.push(
                        Problem::new(span(s), "GeoParquet is only read by streaming")
                            .help("remove `stream = false`"),
                    );
                }
                *s.get_ref() || stream_only
            }
        };
        let fields = match &path {
            Some(p) => {
                match self
                    .headers
                    .input_fields(p, layer.as_deref(), encoding, header_row, stream)
                {
                    Ok(f) => Some(f),
                    Err(e) => {
                        self.push(Problem::new(span(&raw.path), e).label("this input"));
                        None
                    }
                }
            }
            None => None,
        };
        let fields = fields.unwrap_or_default();
        let ctx = raw.name.get_ref().clone();
        let mut field = |v: &mut Validator, s: &S<String>| {
            if !fields.is_empty() {
                v.check_field(&fields, s.get_ref(), Some(span(s)), &raw.path, &ctx);
            }
            s.get_ref().clone()
        };

        let kind = match raw.kind.as_ref().map(|k| k.get_ref().as_str()) {
            None | Some("investments") => {
                if let Some(a) = &raw.attributes {
                    self.push(Problem::new(
                        span(a),
                        "attributes are only read by kind = \"attributes\"",
                    ));
                }
                InputKind::Investments
            }
            Some("attributes") => {
                let mut map = BTreeMap::new();
                match &raw.attributes {
                    Some(a) => {
                        for (col, f) in a.get_ref() {
                            map.insert(col.clone(), field(self, f));
                        }
                    }
                    None => {
                        let sp = raw.kind.as_ref().map(span).unwrap_or(0..0);
                        self.push(
                            Problem::new(sp, "kind = \"attributes\" needs an `attributes` table")
                                .help("attributes = { report_tier = \"tier\" }"),
                        );
                    }
                }
                if let Some(a) = &raw.amount {
                    self.push(Problem::new(span(a), "attribute inputs carry no amount"));
                }
                InputKind::Attributes(map)
            }
            Some(_) => {
                if let Some(k) = &raw.kind {
                    self.bad_choice(k, "input kind", ["investments", "attributes"]);
                }
                InputKind::Investments
            }
        };
        let id_field = raw.id.as_ref().map(|s| field(self, s));
        let amount = raw.amount.as_ref().map(|a| {
            let a = a.get_ref();
            let unit = match &a.unit {
                None => AmountUnit::Krw,
                Some(u) if u.get_ref() == "from_header" => match AmountUnit::from_header(a.field.get_ref()) {
                    Some(unit) => unit,
                    None => {
                        self.push(
                            Problem::new(span(u), format!("column `{}` names no unit", a.field.get_ref()))
                                .help("a header like `사업비(억원)` names its unit; otherwise set unit = \"hundred_million_krw\" etc."),
                        );
                        AmountUnit::Krw
                    }
                },
                Some(u) => match AmountUnit::NAMES.iter().find(|(n, _)| n == u.get_ref()) {
                    Some((_, unit)) => *unit,
                    None => {
                        self.bad_choice(u, "amount unit", AmountUnit::NAMES.map(|(n, _)| n));
                        AmountUnit::Krw
                    }
                },
            };
            AmountSpec {
                field: field(self, &a.field),
                unit,
            }
        });
        let program = match &raw.program {
            None => ValueSpec::None,
            Some(p) => match self.value(p) {
                Some(Ok(f)) => ValueSpec::Field(field(self, f)),
                Some(Err(v)) => ValueSpec::Const(v),
                None => ValueSpec::None,
            },
        };
        let funding = match &raw.funding {
            None => FundingSpec::Const(FundingSource::Unspecified),
            Some(p) => match self.value(p) {
                Some(Ok(f)) => FundingSpec::Field(field(self, f)),
                Some(Err(v)) => match FundingSource::parse(&v) {
                    Some(fs) => FundingSpec::Const(fs),
                    None => {
                        let vs = p.get_ref().value.as_ref()?;
                        self.bad_choice(
                            vs,
                            "funding source",
                            FundingSource::ALL.map(|f| f.as_str()),
                        );
                        FundingSpec::Const(FundingSource::Unspecified)
                    }
                },
                None => FundingSpec::Const(FundingSource::Unspecified),
            },
        };
        let date = match &raw.date {
            None => ValueSpec::None,
            Some(d) => match self.value(d) {
                Some(Ok(f)) => ValueSpec::Field(field(self, f)),
                Some(Err(v)) => {
                    if crate::model::parse_date(&v).is_none() {
                        let sp = d
                            .get_ref()
                            .value
                            .as_ref()
                            .map(span)
                            .unwrap_or_else(|| span(d));
                        self.push(
                            Problem::new(sp, format!("`{v}` is not a date"))
                                .help("YYYY, YYYY-MM or YYYY-MM-DD"),
                        );
                    }
                    ValueSpec::Const(v)
                }
                None => ValueSpec::None,
            },
        };
        let locate = self.locate(&raw.locate, &mut field)?;
        if stream {
            let sp = raw
                .stream
                .as_ref()
                .map(span)
                .unwrap_or_else(|| span(&raw.path));
            if !matches!(kind, InputKind::Investments) {
                self.push(Problem::new(
                    sp.clone(),
                    "only investment inputs are streamed (attribute inputs are small tables)",
                ));
            }
            if !matches!(locate, Locate::Point { .. } | Locate::Geometry { .. }) {
                self.push(
                    Problem::new(sp, "a streamed input is located by point or geometry")
                        .help("locate = { by = \"point\", x = \"lon\", y = \"lat\", crs = \"EPSG:4326\" }"),
                );
            }
        }
        Some(InputSpec {
            name: raw.name.get_ref().clone(),
            path: path?,
            layer,
            max_vertices,
            header_row,
            encoding,
            kind,
            id_field,
            amount,
            program,
            funding,
            date,
            locate,
            stream,
        })
    }

    /// `Ok(field)` or `Err(constant)`; exactly one of the two must be given.
    fn value<'a>(&mut self, v: &'a S<RawValue>) -> Option<Result<&'a S<String>, String>> {
        match (&v.get_ref().field, &v.get_ref().value) {
            (Some(f), None) => Some(Ok(f)),
            (None, Some(c)) => Some(Err(c.get_ref().clone())),
            _ => {
                self.push(
                    Problem::new(span(v), "give exactly one of `field` or `value`")
                        .help("{ field = \"column\" } reads each row; { value = \"x\" } fixes it for the input"),
                );
                None
            }
        }
    }

    fn locate(
        &mut self,
        l: &S<RawLocate>,
        field: &mut impl FnMut(&mut Validator, &S<String>) -> String,
    ) -> Option<Locate> {
        let r = l.get_ref();
        let allowed: &[&str] = match r.by.get_ref().as_str() {
            "code" | "kostat_code" => &["field"],
            "name" => &["sido", "sigungu", "emd"],
            "point" => &["x", "y", "crs"],
            "geometry" => &["crs"],
            _ => {
                self.bad_choice(
                    &r.by,
                    "locate.by",
                    ["code", "kostat_code", "name", "point", "geometry"],
                );
                return None;
            }
        };
        let given = [
            ("field", &r.field),
            ("sido", &r.sido),
            ("sigungu", &r.sigungu),
            ("emd", &r.emd),
            ("x", &r.x),
            ("y", &r.y),
            ("crs", &r.crs),
        ];
        for (k, v) in given {
            if let Some(v) = v
                && !allowed.contains(&k)
            {
                self.push(
                    Problem::new(
                        span(v),
                        format!("`{k}` is not used with by = \"{}\"", r.by.get_ref()),
                    )
                    .help(format!("keys for this mode: by, {}", allowed.join(", "))),
                );
            }
        }
        let mut need = |v: &mut Validator, k: &str, s: &Option<S<String>>| match s {
            Some(s) => Some(field(v, s)),
            None => {
                v.push(Problem::new(
                    span(l),
                    format!("locate needs `{k}` with by = \"{}\"", r.by.get_ref()),
                ));
                None
            }
        };
        let crs_ok = |v: &mut Validator, c: &S<String>| {
            if let Err(e) = crs::check(c.get_ref()) {
                v.push(
                    Problem::new(span(c), format!("unusable CRS `{}`", c.get_ref()))
                        .label(format!("PROJ cannot transform it to EPSG:5179 ({e})"))
                        .help("use an authority code such as \"EPSG:4326\" or \"EPSG:5179\""),
                );
            }
            c.get_ref().clone()
        };
        Some(match r.by.get_ref().as_str() {
            "code" => Locate::Code {
                field: need(self, "field", &r.field)?,
            },
            "kostat_code" => {
                if !self.kostat {
                    self.push(
                        Problem::new(span(&r.by), "KOSTAT codes are mapped through the population table's KOSTAT units")
                            .help("configure [population] with a table that has a `source_units` column (data/population.csv), or set [population] kostat_field"),
                    );
                }
                Locate::KostatCode {
                    field: need(self, "field", &r.field)?,
                }
            }
            "name" => {
                let sido = need(self, "sido", &r.sido)?;
                let sigungu = r.sigungu.as_ref().map(|s| field(self, s));
                let emd = r.emd.as_ref().map(|s| field(self, s));
                if emd.is_some() && sigungu.is_none() {
                    self.push(Problem::new(
                        span(l),
                        "an `emd` name needs a `sigungu` name to resolve within",
                    ));
                }
                Locate::Name { sido, sigungu, emd }
            }
            "point" => {
                let x = need(self, "x", &r.x);
                let y = need(self, "y", &r.y);
                let crs = match &r.crs {
                    Some(c) => crs_ok(self, c),
                    None => {
                        self.push(
                            Problem::new(span(l), "point coordinates need a declared `crs`")
                                .help("e.g. crs = \"EPSG:4326\" for longitude/latitude"),
                        );
                        return None;
                    }
                };
                Locate::Point { x: x?, y: y?, crs }
            }
            _ => Locate::Geometry {
                crs: r.crs.as_ref().map(|c| crs_ok(self, c)),
            },
        })
    }

    fn check_field(
        &mut self,
        fields: &[String],
        want: &str,
        sp: Option<Range<usize>>,
        file: &S<String>,
        ctx: &str,
    ) {
        if fields.iter().any(|f| f == want) {
            return;
        }
        let sp = sp.unwrap_or_else(|| span(file));
        let mut p = Problem::new(
            sp,
            format!("column `{want}` not found in {} {ctx}", file.get_ref()),
        )
        .label("no such column");
        p = match did_you_mean(want, fields.iter().map(String::as_str)) {
            Some(s) => p.help(format!("did you mean `{s}`?")),
            None => p.help(format!("columns: {}", crate::model::name_list(fields))),
        };
        self.push(p);
    }

    fn bad_choice<const N: usize>(&mut self, s: &S<String>, what: &str, choices: [&str; N]) {
        let mut p = Problem::new(span(s), format!("unknown {what} `{}`", s.get_ref()))
            .label(format!("expected one of: {}", choices.join(", ")));
        if let Some(d) = did_you_mean(s.get_ref(), choices) {
            p = p.help(format!("did you mean `{d}`?"));
        }
        self.push(p);
    }

    /// Resolves a config path; `must_exist` for inputs. GDAL virtual paths are refused: a
    /// nightly job reads local files only.
    /// The folders paths may resolve into: `[pipeline] roots` (relative to the pipeline file),
    /// or by default the pipeline file's folder and its parent.
    fn roots(&mut self, configured: Option<&S<Vec<S<String>>>>) {
        let base = self
            .config_path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default();
        let base = if base.as_os_str().is_empty() {
            PathBuf::from(".")
        } else {
            base
        };
        let wanted: Vec<(PathBuf, Option<Range<usize>>)> = match configured {
            Some(list) => list
                .get_ref()
                .iter()
                .map(|r| (base.join(r.get_ref()), Some(span(r))))
                .collect(),
            None => vec![(base.join("."), None), (base.join(".."), None)],
        };
        for (dir, sp) in wanted {
            match dir.canonicalize() {
                Ok(c) => self.roots.push(c),
                Err(e) => {
                    if let Some(sp) = sp {
                        self.push(Problem::new(sp, format!("root {}: {e}", dir.display())));
                    }
                }
            }
        }
    }

    fn path(&mut self, s: &S<String>, must_exist: bool) -> Option<PathBuf> {
        let raw = s.get_ref();
        if raw.starts_with("/vsi") || raw.contains("://") {
            self.push(
                Problem::new(span(s), format!("`{raw}` is a virtual or network path"))
                    .help("smartgap reads local files only; download or unpack the file first"),
            );
            return None;
        }
        let lower = raw.to_ascii_lowercase();
        if raw == "-"
            || [".zip", ".gz", ".tgz", ".tar", ".7z", ".rar", ".bz2", ".xz"]
                .iter()
                .any(|e| lower.ends_with(e))
        {
            self.push(
                Problem::new(span(s), format!("`{raw}` is standard input or an archive"))
                    .help("smartgap reads plain local files only (no archive can expand without bound); unpack it first"),
            );
            return None;
        }
        if raw.contains('\0') {
            self.push(Problem::new(span(s), "the path contains a NUL character"));
            return None;
        }
        let p = resolve_path(&self.config_path, raw);
        if !self.roots.is_empty() {
            let real = real_path(&p);
            if !self.roots.iter().any(|r| real.starts_with(r)) {
                let roots: Vec<String> =
                    self.roots.iter().map(|r| r.display().to_string()).collect();
                self.push(
                    Problem::new(
                        span(s),
                        format!(
                            "`{raw}` resolves to {}, outside the folders this pipeline may use ({})",
                            real.display(),
                            roots.join(", ")
                        ),
                    )
                    .help("paths may reach only the pipeline file's folder and its parent (symbolic links followed); list other folders in [pipeline] roots"),
                );
                return None;
            }
        }
        if must_exist && !p.exists() {
            self.push(
                Problem::new(span(s), format!("file not found: {}", p.display()))
                    .help("paths are relative to the pipeline file's directory"),
            );
            return None;
        }
        if must_exist {
            let mut files = vec![p.clone()];
            if p.extension().is_some_and(|e| e.eq_ignore_ascii_case("shp")) {
                files.push(p.with_extension("dbf"));
            }
            for f in files {
                let mib = std::fs::metadata(&f).map_or(0, |m| m.len()) / (1024 * 1024);
                if mib > self.max_input_mib {
                    self.push(
                        Problem::new(span(s), format!("{} is {mib} MiB, above max_input_mib {}", f.display(), self.max_input_mib))
                            .help("raise [pipeline] max_input_mib if the file is expected to be this large"),
                    );
                    return None;
                }
            }
        }
        Some(p)
    }
}

fn opt_string(s: &Option<S<String>>, default: &str) -> String {
    s.as_ref()
        .map_or_else(|| default.to_string(), |s| s.get_ref().clone())
}

/// Where `p` really is: symbolic links and `..` resolved. A path that does not exist yet (an
/// output folder) is resolved through its nearest existing ancestor.
fn real_path(p: &Path) -> PathBuf {
    if let Ok(c) = p.canonicalize() {
        return c;
    }
    let mut rest = Vec::new();
    let mut cur = p.to_path_buf();
    loop {
        match cur.file_name() {
            Some(name) => rest.push(name.to_os_string()),
            None => return p.to_path_buf(),
        }
        if !cur.pop() {
            return p.to_path_buf();
        }
        let base = if cur.as_os_str().is_empty() {
            PathBuf::from(".")
        } else {
            cur.clone()
        };
        if let Ok(c) = base.canonicalize() {
            let mut out = c;
            for n in rest.iter().rev() {
                if n == ".." {
                    out.pop();
                } else if n != "." {
                    out.push(n);
                }
            }
            return out;
        }
    }
}
