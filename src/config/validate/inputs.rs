//! `[[inputs]]`: how each input file is read (encoding, header row, streaming), its kind, and
//! every setting that names a column (id, amount, program, funding, date, locate), checked
//! against the columns the input's reader really sees.

use std::collections::{BTreeMap, BTreeSet};

use crate::config::raw::{RawAmount, RawInput, RawLocate, RawValue, S};
use crate::config::{
    AmountSpec, AmountUnit, Encoding, FundingSpec, InputKind, InputSpec, Locate, Problem,
    ValueSpec, stream_only,
};
use crate::crs;
use crate::model::FundingSource;

use super::{Validator, span};

/// An input's column names as its reader sees them, to check the configured fields against.
struct Columns<'a> {
    /// Empty when the input could not be opened (that problem is recorded): nothing is checked.
    fields: Vec<String>,
    /// The input's `path` setting, named in the problems.
    file: &'a S<String>,
    /// The input's name, named in the problems.
    input: String,
}

impl Validator<'_> {
    /// Every `[[inputs]]`, each name once. An input that fails to validate without having
    /// recorded a problem of its own still gets one, so a broken input is never dropped quietly.
    pub(super) fn inputs(&mut self, raw: Vec<S<RawInput>>) -> Vec<InputSpec> {
        let mut names = BTreeSet::new();
        let mut inputs = Vec::new();
        for input in raw {
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
        inputs
    }

    fn input(&mut self, raw: RawInput) -> Option<InputSpec> {
        let path = self.path(&raw.path, true);
        let layer = raw.layer.as_ref().map(|l| l.get_ref().clone());
        let encoding = self.encoding(raw.encoding.as_ref());
        let header_row = self.header_row(raw.header_row.as_ref());
        let max_vertices = self.max_vertices(raw.max_vertices.as_ref());
        let stream_only = path.as_deref().is_some_and(stream_only);
        let stream = self.stream(raw.stream.as_ref(), stream_only);
        let fields = match &path {
            Some(p) => {
                match self
                    .headers
                    .input_fields(p, layer.as_deref(), encoding, header_row, stream)
                {
                    Ok(f) => Some(f),
                    Err(e) => {
                        self.push(Problem::new(span(&raw.path), e.to_string()).label("this input"));
                        None
                    }
                }
            }
            None => None,
        };
        let cols = Columns {
            fields: fields.unwrap_or_default(),
            file: &raw.path,
            input: raw.name.get_ref().clone(),
        };

        let kind = self.kind(&raw, &cols);
        let id_field = raw.id.as_ref().map(|s| self.column(&cols, s));
        let amount = raw.amount.as_ref().map(|a| self.amount(a.get_ref(), &cols));
        let program = self.program(raw.program.as_ref(), &cols);
        let funding = self.funding(raw.funding.as_ref(), &cols)?;
        let date = self.date(raw.date.as_ref(), &cols);
        let chain = self.locate_chain(&raw.locate, &cols);
        let code_name_mismatch = self.mismatch(raw.code_name_mismatch.as_ref(), &raw.locate);
        let (locate, fallback) = chain?;
        if stream {
            self.streamed(&raw, &kind, &locate);
            if let Some(then) = &raw.locate.get_ref().then {
                self.push(
                    Problem::new(
                        span(then),
                        "a streamed input is located by its point alone: a fallback (`then`) to codes or names needs the records read whole",
                    )
                    .help("set stream = false for this input"),
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
            fallback,
            code_name_mismatch,
            stream,
            skip_rows: self.skip_rows(raw.skip_rows.as_ref()),
            funding_labels: self.funding_labels(raw.funding_labels.as_ref()),
        })
    }

    /// `skip_rows`: labels of rows that are not records, each non-blank.
    fn skip_rows(&mut self, raw: Option<&S<Vec<S<String>>>>) -> Vec<String> {
        let mut labels = Vec::new();
        for l in raw.map(|r| r.get_ref().as_slice()).unwrap_or_default() {
            if l.get_ref().trim().is_empty() {
                self.push(Problem::new(
                    span(l),
                    "a blank row label would skip nothing",
                ));
            } else {
                labels.push(l.get_ref().clone());
            }
        }
        labels
    }

    /// `funding_labels`: label = category, each category one of the funding sources.
    fn funding_labels(
        &mut self,
        raw: Option<&S<BTreeMap<String, S<String>>>>,
    ) -> BTreeMap<String, FundingSource> {
        let mut labels = BTreeMap::new();
        for (label, cat) in raw.map(|r| r.get_ref().iter()).into_iter().flatten() {
            match FundingSource::parse(cat.get_ref()) {
                Some(f) => {
                    labels.insert(label.clone(), f);
                }
                None => self.bad_choice(
                    cat,
                    "funding source",
                    FundingSource::ALL.map(|f| f.as_str()),
                ),
            }
        }
        labels
    }

    /// A configured column of the input: checked against its columns, returned as named.
    fn column(&mut self, cols: &Columns, s: &S<String>) -> String {
        if !cols.fields.is_empty() {
            self.check_field(
                &cols.fields,
                s.get_ref(),
                Some(span(s)),
                cols.file,
                &cols.input,
            );
        }
        s.get_ref().clone()
    }

    /// `encoding`: one of [`Encoding::NAMES`], any case; `auto` when absent or unknown.
    fn encoding(&mut self, raw: Option<&S<String>>) -> Encoding {
        match raw {
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
        }
    }

    /// `header_row`: 1 to 1000, 1 when absent or out of range.
    fn header_row(&mut self, raw: Option<&S<i64>>) -> usize {
        match raw {
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
        }
    }

    /// `max_vertices`: at least 4, a million when absent or too small.
    fn max_vertices(&mut self, raw: Option<&S<i64>>) -> usize {
        match raw {
            None => 1_000_000,
            Some(m) => match usize::try_from(*m.get_ref()) {
                Ok(n) if n >= 4 => n,
                _ => {
                    self.push(Problem::new(span(m), "max_vertices must be at least 4"));
                    1_000_000
                }
            },
        }
    }

    /// `stream`: as configured, and always for a file only the streaming reader reads.
    fn stream(&mut self, raw: Option<&S<bool>>, stream_only: bool) -> bool {
        match raw {
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
        }
    }

    /// `kind` (investments by default) and, for attribute inputs, their `attributes` table.
    fn kind(&mut self, raw: &RawInput, cols: &Columns) -> InputKind {
        match raw.kind.as_ref().map(|k| k.get_ref().as_str()) {
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
                            self.attribute_column(col, f);
                            map.insert(col.clone(), self.column(cols, f));
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
        }
    }

    /// An attribute input's output column `col` (read from `f`) must not collide with a column
    /// of the region layers or with another attribute column spelled otherwise: the GeoPackage
    /// (SQLite) compares column names without case, and a layer with two equal columns fails
    /// mid-write (`OGR_L_CreateFeature returned error: '6'`).
    fn attribute_column(&mut self, col: &str, f: &S<String>) {
        if let Some(fixed) = crate::model::fixed_column_clash(col) {
            self.push(
                Problem::new(
                    span(f),
                    format!(
                        "attribute column `{col}` collides with the region layers' own column \
                         `{fixed}` (column names are compared without case)"
                    ),
                )
                .label("this output column")
                .help(format!(
                    "name the output column otherwise, e.g. `src_{col}`"
                )),
            );
            return;
        }
        let lower = col.to_lowercase();
        match self.attribute_columns.get(&lower) {
            Some(other) if other != col => {
                let other = other.clone();
                self.push(
                    Problem::new(
                        span(f),
                        format!(
                            "attribute columns `{col}` and `{other}` differ only in case: in the \
                             GeoPackage they are one column"
                        ),
                    )
                    .label("this output column")
                    .help(format!(
                        "spell both `{other}`, or give them different names"
                    )),
                );
            }
            Some(_) => {}
            None => {
                self.attribute_columns.insert(lower, col.to_string());
            }
        }
    }

    /// `amount`: its column and unit (KRW by default; `from_header` reads it off the column's
    /// name).
    fn amount(&mut self, a: &RawAmount, cols: &Columns) -> AmountSpec {
        let unit = match &a.unit {
            None => AmountUnit::Krw,
            Some(u) if u.get_ref() == "from_header" => {
                match AmountUnit::from_header(a.field.get_ref()) {
                    Some(unit) => unit,
                    None => {
                        self.push(
                        Problem::new(span(u), format!("column `{}` names no unit", a.field.get_ref()))
                            .help("a header like `사업비(억원)` names its unit; otherwise set unit = \"hundred_million_krw\" etc."),
                    );
                        AmountUnit::Krw
                    }
                }
            }
            Some(u) => match AmountUnit::NAMES.iter().find(|(n, _)| n == u.get_ref()) {
                Some((_, unit)) => *unit,
                None => {
                    self.bad_choice(u, "amount unit", AmountUnit::NAMES.map(|(n, _)| n));
                    AmountUnit::Krw
                }
            },
        };
        AmountSpec {
            field: self.column(cols, &a.field),
            unit,
        }
    }

    /// `program`: a column, one value for the input, or none.
    fn program(&mut self, raw: Option<&S<RawValue>>, cols: &Columns) -> ValueSpec {
        match raw {
            None => ValueSpec::None,
            Some(p) => match self.value(p) {
                Some(Given::Field(f)) => ValueSpec::Field(self.column(cols, f)),
                Some(Given::Value(v)) => ValueSpec::Const(v),
                None => ValueSpec::None,
            },
        }
    }

    /// `funding`: a column, or one known funding source for the input (unspecified when
    /// absent).
    fn funding(&mut self, raw: Option<&S<RawValue>>, cols: &Columns) -> Option<FundingSpec> {
        Some(match raw {
            None => FundingSpec::Const(FundingSource::Unspecified),
            Some(p) => match self.value(p) {
                Some(Given::Field(f)) => FundingSpec::Field(self.column(cols, f)),
                Some(Given::Value(v)) => {
                    match FundingSource::parse(&v).or_else(|| FundingSource::from_label(&v)) {
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
                    }
                }
                None => FundingSpec::Const(FundingSource::Unspecified),
            },
        })
    }

    /// `date`: a column, one date for the input (`YYYY`, `YYYY-MM` or `YYYY-MM-DD`), or none.
    fn date(&mut self, raw: Option<&S<RawValue>>, cols: &Columns) -> ValueSpec {
        match raw {
            None => ValueSpec::None,
            Some(d) => match self.value(d) {
                Some(Given::Field(f)) => ValueSpec::Field(self.column(cols, f)),
                Some(Given::Value(v)) => {
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
        }
    }

    /// A streamed input must be an investment input located by point or geometry.
    fn streamed(&mut self, raw: &RawInput, kind: &InputKind, locate: &Locate) {
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
                Problem::new(sp, "a streamed input is located by point or geometry").help(
                    "locate = { by = \"point\", x = \"lon\", y = \"lat\", crs = \"EPSG:4326\" }",
                ),
            );
        }
    }

    /// The column or the constant a value names; exactly one of the two must be given (`None`
    /// after reporting the problem).
    fn value<'a>(&mut self, v: &'a S<RawValue>) -> Option<Given<'a>> {
        match (&v.get_ref().field, &v.get_ref().value) {
            (Some(f), None) => Some(Given::Field(f)),
            (None, Some(c)) => Some(Given::Value(c.get_ref().clone())),
            _ => {
                self.push(
                    Problem::new(span(v), "give exactly one of `field` or `value`")
                        .help("{ field = \"column\" } reads each row; { value = \"x\" } fixes it for the input"),
                );
                None
            }
        }
    }

    /// `locate` and the steps its `then` keys chain after it: the first step and the fallbacks.
    /// Each kind at most once, and one point or geometry at most (the input has one CRS).
    fn locate_chain(
        &mut self,
        first: &S<RawLocate>,
        cols: &Columns,
    ) -> Option<(Locate, Vec<Locate>)> {
        let mut steps = Vec::new();
        let mut kinds: Vec<&str> = Vec::new();
        let mut ok = true;
        let mut step = Some(first);
        while let Some(l) = step {
            let by = l.get_ref().by.get_ref().as_str();
            let spatial = |k: &str| matches!(k, "point" | "geometry");
            if kinds.contains(&by) {
                self.push(Problem::new(
                    span(&l.get_ref().by),
                    format!("`by = \"{by}\"` is already a step of this locate chain"),
                ));
                ok = false;
            } else if spatial(by) && kinds.iter().copied().any(spatial) {
                self.push(Problem::new(
                    span(&l.get_ref().by),
                    "a locate chain takes one point or geometry step (the input has one CRS)",
                ));
                ok = false;
            }
            kinds.push(by);
            match self.locate(l, cols) {
                Some(loc) => steps.push(loc),
                None => ok = false,
            }
            step = l.get_ref().then.as_deref();
        }
        if !ok || steps.is_empty() {
            return None;
        }
        let first = steps.remove(0);
        Some((first, steps))
    }

    /// `code_name_mismatch`: `reject` (default) or `warn`, only where the chain has a code and
    /// names to compare.
    fn mismatch(
        &mut self,
        raw: Option<&S<String>>,
        first: &S<RawLocate>,
    ) -> crate::model::Mismatch {
        use crate::model::Mismatch;
        let Some(m) = raw else {
            return Mismatch::default();
        };
        let mut kinds = Vec::new();
        let mut step = Some(first);
        while let Some(l) = step {
            kinds.push(l.get_ref().by.get_ref().as_str());
            step = l.get_ref().then.as_deref();
        }
        let code = kinds.iter().any(|k| matches!(*k, "code" | "kostat_code"));
        if !(code && kinds.contains(&"name")) {
            self.push(
                Problem::new(span(m), "code_name_mismatch needs a code and names in `locate`")
                    .help("locate = { by = \"code\", field = \"adm_cd\", then = { by = \"name\", sido = \"시도\", sigungu = \"시군구\" } }"),
            );
        }
        match m.get_ref().as_str() {
            "reject" => Mismatch::Reject,
            "warn" => Mismatch::Warn,
            _ => {
                self.bad_choice(m, "code_name_mismatch", ["reject", "warn"]);
                Mismatch::default()
            }
        }
    }

    /// `locate`: how records find their region — by code, KOSTAT code, names, point or
    /// geometry — with exactly the keys that mode uses.
    fn locate(&mut self, l: &S<RawLocate>, cols: &Columns) -> Option<Locate> {
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
        self.unused_locate_keys(r, allowed);
        Some(match r.by.get_ref().as_str() {
            "code" => Locate::Code {
                field: self.locate_key(l, cols, "field", &r.field)?,
            },
            "kostat_code" => {
                if !self.kostat {
                    self.push(
                        Problem::new(span(&r.by), "KOSTAT codes are mapped through the population table's KOSTAT units")
                            .help("configure [population] with a table that has a `source_units` column (data/population.csv), or set [population] kostat_field"),
                    );
                }
                Locate::KostatCode {
                    field: self.locate_key(l, cols, "field", &r.field)?,
                }
            }
            "name" => {
                let sido = self.locate_key(l, cols, "sido", &r.sido)?;
                let sigungu = r.sigungu.as_ref().map(|s| self.column(cols, s));
                let emd = r.emd.as_ref().map(|s| self.column(cols, s));
                if emd.is_some() && sigungu.is_none() {
                    self.push(Problem::new(
                        span(l),
                        "an `emd` name needs a `sigungu` name to resolve within",
                    ));
                }
                Locate::Name { sido, sigungu, emd }
            }
            "point" => {
                let x = self.locate_key(l, cols, "x", &r.x);
                let y = self.locate_key(l, cols, "y", &r.y);
                let crs = match &r.crs {
                    Some(c) => self.crs(c),
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
                crs: r.crs.as_ref().map(|c| self.crs(c)),
            },
        })
    }

    /// Every `locate` key given that the chosen mode does not use (`allowed`) is a problem.
    fn unused_locate_keys(&mut self, r: &RawLocate, allowed: &[&str]) {
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
    }

    /// The column of the `locate` key `k` that the mode needs; a problem when it is missing.
    fn locate_key(
        &mut self,
        l: &S<RawLocate>,
        cols: &Columns,
        k: &str,
        s: &Option<S<String>>,
    ) -> Option<String> {
        match s {
            Some(s) => Some(self.column(cols, s)),
            None => {
                self.push(Problem::new(
                    span(l),
                    format!(
                        "locate needs `{k}` with by = \"{}\"",
                        l.get_ref().by.get_ref()
                    ),
                ));
                None
            }
        }
    }

    /// A declared CRS, which PROJ must be able to transform to EPSG:5179.
    fn crs(&mut self, c: &S<String>) -> String {
        if let Err(e) = crs::check(c.get_ref()) {
            self.push(
                Problem::new(span(c), format!("unusable CRS `{}`", c.get_ref()))
                    .label(format!("PROJ cannot transform it to EPSG:5179 ({e})"))
                    .help("use an authority code such as \"EPSG:4326\" or \"EPSG:5179\""),
            );
        }
        c.get_ref().clone()
    }
}

/// What a `{ field = … }` or `{ value = … }` table gives.
enum Given<'a> {
    /// A column, read on each row.
    Field(&'a S<String>),
    /// One value for the whole input.
    Value(String),
}
