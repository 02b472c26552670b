//! Raw TOML → validated [`Pipeline`], collecting every problem with its span.
//!
//! [`load`] parses the file and hands the raw mirror to a `Validator`, which walks the config
//! section by section: `[pipeline]` and `[output]` here, the path rules in `paths`, the
//! region tables (`[boundaries]`, `[region_groups]`, `[crosswalk]`, `[population]`) in
//! `regions`, each `[[inputs]]` in `inputs` and `[indicators]` in `indicators`.

mod indicators;
mod inputs;
mod paths;
mod regions;

use std::ops::Range;
use std::path::{Path, PathBuf};

use miette::NamedSource;

use super::Headers;
use super::raw::{RawMeta, RawOutput, RawPipeline, RawPostgis, S};
use super::{ConfigError, OutputSpec, Pipeline, PostgisSpec, Problem, did_you_mean};

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
        attribute_columns: std::collections::BTreeMap::new(),
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
    /// The attribute output columns of the inputs so far, by their lower-case spelling: SQLite
    /// compares column names without case, so two spellings of one name are one column.
    attribute_columns: std::collections::BTreeMap<String, String>,
    headers: &'h dyn Headers,
}

/// Default largest input: 16 GiB.
const DEFAULT_MAX_INPUT_MIB: u64 = 16 * 1024;

fn span<T>(s: &S<T>) -> Range<usize> {
    s.span()
}

/// The `[pipeline]` settings other than its paths and roots.
struct Meta {
    max_reject_share: f64,
    keep_runs: usize,
}

impl Validator<'_> {
    fn push(&mut self, p: Problem) {
        self.problems.push(p);
    }

    /// The whole file, section by section in the order of [`Pipeline`]: the roots come first
    /// (every path is checked against them), the population table before the inputs (whether
    /// it maps KOSTAT codes decides `by = "kostat_code"`).
    fn pipeline(&mut self, raw: RawPipeline) -> Option<Pipeline> {
        let meta = raw.pipeline.into_inner();
        self.roots(meta.roots.as_ref());
        let output_dir = self.path(&meta.output_dir, false).filter(|d| {
            let file = d.exists() && !d.is_dir();
            if file {
                self.push(
                    Problem::new(
                        span(&meta.output_dir),
                        format!("output_dir {} is a file, not a folder", d.display()),
                    )
                    .help("choose a folder (it is created if missing) or move the file away"),
                );
            }
            !file
        });
        let Meta {
            max_reject_share,
            keep_runs,
        } = self.meta(&meta);
        let name = meta.name.into_inner();
        let max_input_mib = self.max_input_mib;
        let as_of_span = raw.boundaries.get_ref().as_of.as_ref().map(span);
        let boundaries = self.boundaries(raw.boundaries.into_inner());
        let region_groups = raw
            .region_groups
            .map(|rg| self.region_groups(rg.into_inner()));
        let crosswalk_given = raw.crosswalk.is_some();
        let crosswalk = raw
            .crosswalk
            .and_then(|c| self.path(&c.get_ref().path, true));
        if let (Some(at), false) = (as_of_span, crosswalk_given) {
            self.push(
                Problem::new(at, "as_of needs a [crosswalk] change table")
                    .help("the 시군구 events it applies, e.g. `data/admin_changes.csv`"),
            );
        }
        let population = raw
            .population
            .and_then(|pop| self.population(pop.into_inner()));
        self.kostat = population
            .as_ref()
            .is_some_and(|p| p.kostat_field.is_some());
        let inputs = self.inputs(raw.inputs);
        let indicators = self.indicators(raw.indicators);
        let output = self.output(raw.output);
        let postgis = raw
            .publish
            .and_then(|p| p.into_inner().postgis)
            .and_then(|pg| self.postgis(pg.into_inner()));

        Some(Pipeline {
            name,
            config_path: self.config_path.clone(),
            output_dir: output_dir?,
            max_reject_share,
            keep_runs,
            max_input_mib,
            boundaries: boundaries?,
            region_groups,
            crosswalk,
            population,
            inputs,
            indicators,
            output,
            postgis,
        })
    }

    /// `[publish.postgis]`: the schema is a plain identifier (it is also part of the rollback
    /// schemas' names, within PostgreSQL's 63 bytes), the role any name without a NUL.
    fn postgis(&mut self, raw: RawPostgis) -> Option<PostgisSpec> {
        let schema = raw.schema.get_ref().clone();
        let plain = |s: &str| {
            let b = s.as_bytes();
            !b.is_empty()
                && (b[0].is_ascii_lowercase() || b[0] == b'_')
                && b.iter()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'_')
        };
        let mut ok = true;
        if !plain(&schema) || schema.len() > 30 || schema.starts_with("pg_") {
            self.push(
                Problem::new(
                    span(&raw.schema),
                    format!("schema {schema:?} is not a plain identifier"),
                )
                .label("expected lower-case letters, digits and _, at most 30 bytes, not pg_…")
                .help("e.g. schema = \"smartgap\""),
            );
            ok = false;
        }
        let reader_role = raw.reader_role.as_ref().map(|r| r.get_ref().clone());
        if let Some(r) = &raw.reader_role {
            let name = r.get_ref();
            if name.is_empty() || name.len() > 63 || name.contains('\0') {
                self.push(Problem::new(
                    span(r),
                    "reader_role must be 1 to 63 bytes without NUL",
                ));
                ok = false;
            }
        }
        let keep = match &raw.keep {
            None => 1,
            Some(k) => match usize::try_from(*k.get_ref()) {
                Ok(n) if n <= 30 => n,
                _ => {
                    self.push(Problem::new(span(k), "keep must be between 0 and 30"));
                    ok = false;
                    0
                }
            },
        };
        let service = raw.service.as_ref().map(|s| s.get_ref().clone());
        if let Some(s) = &raw.service
            && (s.get_ref().is_empty()
                || !s
                    .get_ref()
                    .bytes()
                    .all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'-' || c == b'.'))
        {
            self.push(Problem::new(
                span(s),
                "service must be a pg_service.conf section name (letters, digits, _ - .)",
            ));
            ok = false;
        }
        let lock_wait_s = match &raw.lock_wait_s {
            None => 60,
            Some(w) => match u64::try_from(*w.get_ref()) {
                Ok(n) if (1..=86_400).contains(&n) => n,
                _ => {
                    self.push(Problem::new(
                        span(w),
                        "lock_wait_s must be between 1 and 86400",
                    ));
                    ok = false;
                    60
                }
            },
        };
        ok.then_some(PostgisSpec {
            schema,
            reader_role,
            keep,
            service,
            lock_wait_s,
        })
    }

    /// `[pipeline]`: `max_reject_share`, `max_input_mib` (kept in the validator: input paths
    /// are checked against it) and `keep_runs`.
    fn meta(&mut self, meta: &RawMeta) -> Meta {
        let max_reject_share = match &meta.max_reject_share {
            None => 0.0,
            Some(s) => {
                let v = *s.get_ref();
                if !(0.0..=1.0).contains(&v) {
                    self.push(
                        Problem::new(span(s), format!("max_reject_share is {v}"))
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
        let keep_runs = match &meta.keep_runs {
            None => 7,
            Some(s) => match usize::try_from(*s.get_ref()) {
                Ok(n) if n >= 1 => n,
                _ => {
                    self.push(Problem::new(span(s), "keep_runs must be at least 1"));
                    1
                }
            },
        };
        Meta {
            max_reject_share,
            keep_runs,
        }
    }

    /// `[output]`: the GeoJSON coordinate precision and which artefacts to write.
    fn output(&mut self, raw: Option<S<RawOutput>>) -> OutputSpec {
        let mut geojson_decimals = 6;
        let switch = |b: Option<&S<bool>>| b.is_none_or(|b| *b.get_ref());
        let report = switch(raw.as_ref().and_then(|o| o.get_ref().report.as_ref()));
        let web = switch(raw.as_ref().and_then(|o| o.get_ref().web.as_ref()));
        if let Some(o) = raw
            && let Some(d) = &o.get_ref().geojson_decimals
        {
            match u32::try_from(*d.get_ref()) {
                // 8 at most: snap-rounding works on an i32 grid of 2³⁰ units (write::snap),
                // 10.7° at 8 decimals, wider than any country's region but not at 9.
                Ok(n) if (5..=8).contains(&n) => geojson_decimals = n,
                _ => self.push(
                    Problem::new(span(d), "geojson_decimals must be between 5 and 8")
                        .help("6 decimals of a degree is about 0.1 m"),
                ),
            }
        }
        OutputSpec {
            geojson_decimals,
            report,
            web,
        }
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
}

fn opt_string(s: &Option<S<String>>, default: &str) -> String {
    s.as_ref()
        .map_or_else(|| default.to_string(), |s| s.get_ref().clone())
}
