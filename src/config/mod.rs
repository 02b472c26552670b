//! Pipeline configuration: a TOML file under `pipelines/` is parsed into a span-keeping mirror
//! (`raw`) and then validated into a [`Pipeline`] (`validate`), which collects every
//! problem with its line and column instead of stopping at the first.

mod raw;
mod validate;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use miette::{Diagnostic, NamedSource, SourceSpan};
use serde::Serialize;
use thiserror::Error;

use crate::model::{AdminLevel, FundingSource};

pub(crate) use validate::load;

/// A validated pipeline: every path resolved, every field checked against its input's header.
#[derive(Debug, Clone, Serialize)]
pub struct Pipeline {
    pub(crate) name: String,
    /// The TOML file this pipeline was read from.
    pub(crate) config_path: PathBuf,
    pub output_dir: PathBuf,
    /// Largest tolerated share of rejected records (0–1) before the run fails.
    pub(crate) max_reject_share: f64,
    /// How many run directories (with their manifests) to keep under `output_dir/runs`.
    pub(crate) keep_runs: usize,
    /// Largest input file accepted, in MiB (a `.shp`'s `.dbf` counts too).
    max_input_mib: u64,
    pub boundaries: BoundariesSpec,
    pub(crate) region_groups: Option<RegionGroupsSpec>,
    /// The dated admin-code change table that maps old codes and names to the boundaries'.
    pub(crate) crosswalk: Option<PathBuf>,
    /// Census population per region, for per-capita indicators.
    pub(crate) population: Option<PopulationSpec>,
    pub inputs: Vec<InputSpec>,
    pub(crate) indicators: IndicatorSpec,
    pub(crate) output: OutputSpec,
    /// `[publish.postgis]`: the night also goes to a PostGIS schema.
    pub(crate) postgis: Option<PostgisSpec>,
}

/// Where and how a run is published to PostGIS (`[publish.postgis]`). The connection comes
/// from libpq's environment (`PGHOST`, `PGPORT`, `PGUSER`, `PGDATABASE`, `PGPASSFILE`, …) or
/// the named service; a password is never part of the pipeline.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct PostgisSpec {
    /// The published schema: a plain lower-case identifier of at most 30 bytes.
    pub(crate) schema: String,
    /// A role granted USAGE on the schema and SELECT on its tables (quoted, any name).
    pub(crate) reader_role: Option<String>,
    /// Previous nights kept as `<schema>_prev_<run id>` for rollback.
    pub(crate) keep: usize,
    /// A libpq service name (`pg_service.conf`).
    pub(crate) service: Option<String>,
    /// Seconds a publish waits for another one to the same schema before failing.
    pub(crate) lock_wait_s: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct BoundariesSpec {
    pub path: PathBuf,
    /// Levels to read, coarsest first; each is a layer named after the level.
    pub levels: Vec<AdminLevel>,
    pub code_field: String,
    pub name_field: String,
    pub full_name_field: Option<String>,
    pub parent_field: String,
    /// `as_of`: the units in force on a date, derived from the 읍면동.
    pub as_of: Option<AsOf>,
    /// The legal-dong succession table (`successions`), required with `as_of`.
    pub successions: Option<PathBuf>,
}

/// What `[boundaries] as_of` says: a date (`yyyymmdd`), or the date of the latest effective
/// event of the change table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum AsOf {
    Date(crate::model::Date),
    Latest,
}

/// A population table: one row per (region code, census year).
#[derive(Debug, Clone, Serialize)]
pub(crate) struct PopulationSpec {
    pub(crate) path: PathBuf,
    /// The census year used; every per-capita figure names it (`population_year`).
    pub(crate) year: i64,
    pub(crate) code_field: String,
    pub(crate) year_field: String,
    pub(crate) population_field: String,
    /// The column mapping each row to the KOSTAT statistical units it was built from
    /// (`11010:1.0000 11120:0.0064`), when the table has it: inputs located by KOSTAT code
    /// are mapped through it.
    pub(crate) kostat_field: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct RegionGroupsSpec {
    pub(crate) path: PathBuf,
    pub(crate) group_field: String,
    pub(crate) name_field: String,
    pub(crate) sido_code_field: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct InputSpec {
    pub name: String,
    pub path: PathBuf,
    pub layer: Option<String>,
    /// Largest number of vertices of one input geometry; more is a `geometry_too_complex` reject.
    pub max_vertices: usize,
    /// 1-based row of the column names in a spreadsheet or CSV (titles above it are skipped).
    pub header_row: usize,
    /// Text encoding of CSV and Shapefile inputs (`auto` decides from the bytes).
    pub encoding: Encoding,
    pub kind: InputKind,
    pub id_field: Option<String>,
    /// `None`: a count-only input (records are counted, no money).
    pub amount: Option<AmountSpec>,
    pub program: ValueSpec,
    pub funding: FundingSpec,
    /// The record's date (codes and names are as of it): a column, or one date for the input.
    pub date: ValueSpec,
    pub locate: Locate,
    /// Where to look when the row leaves `locate`'s columns blank, in order (`locate.then`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fallback: Vec<Locate>,
    /// What a row whose code and names both resolve, to different regions, becomes.
    pub code_name_mismatch: crate::model::Mismatch,
    /// Read in chunks and fold into per-region totals (points only; see `stream.rs`).
    pub stream: bool,
    /// Labels of rows to skip besides the built-in subtotal and note rows (`read::footer`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub skip_rows: Vec<String>,
    /// Funding labels of the data mapped to categories, before the built-in Korean labels
    /// (`model::FUNDING_LABELS`).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub funding_labels: BTreeMap<String, FundingSource>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum InputKind {
    /// Money (or count-only) records, aggregated per region.
    Investments,
    /// Values copied onto the region each record resolves to: output column → input field.
    Attributes(BTreeMap<String, String>),
}

#[derive(Debug, Clone, Serialize)]
pub struct AmountSpec {
    pub field: String,
    pub unit: AmountUnit,
}

/// The unit an amount column is written in. Amounts are converted exactly to integer KRW.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AmountUnit {
    /// 원
    Krw,
    /// 천원 (10³)
    ThousandKrw,
    /// 백만원 (10⁶)
    MillionKrw,
    /// 억원 (10⁸)
    HundredMillionKrw,
    /// 조원 (10¹²)
    TrillionKrw,
}

impl AmountUnit {
    /// The unit named in a column header such as `사업비(억원)` or `금액 (백만원)`.
    fn from_header(name: &str) -> Option<AmountUnit> {
        // Longest names first: 백만원 and 천원 contain 원.
        [
            ("조원", AmountUnit::TrillionKrw),
            ("억원", AmountUnit::HundredMillionKrw),
            ("백만원", AmountUnit::MillionKrw),
            ("천원", AmountUnit::ThousandKrw),
            ("원", AmountUnit::Krw),
        ]
        .into_iter()
        .find(|(n, _)| name.contains(n))
        .map(|(_, u)| u)
    }

    const NAMES: [(&'static str, AmountUnit); 5] = [
        ("krw", AmountUnit::Krw),
        ("thousand_krw", AmountUnit::ThousandKrw),
        ("million_krw", AmountUnit::MillionKrw),
        ("hundred_million_krw", AmountUnit::HundredMillionKrw),
        ("trillion_krw", AmountUnit::TrillionKrw),
    ];

    /// Power of ten that converts one unit into KRW.
    pub(crate) fn exponent(self) -> u32 {
        match self {
            AmountUnit::Krw => 0,
            AmountUnit::ThousandKrw => 3,
            AmountUnit::MillionKrw => 6,
            AmountUnit::HundredMillionKrw => 8,
            AmountUnit::TrillionKrw => 12,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ValueSpec {
    None,
    Field(String),
    Const(String),
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FundingSpec {
    Field(String),
    Const(FundingSource),
}

impl InputSpec {
    /// `locate` and its fallbacks, in the order they are tried.
    pub(crate) fn locates(&self) -> impl Iterator<Item = &Locate> {
        std::iter::once(&self.locate).chain(&self.fallback)
    }
}

/// How a record's location is found.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "snake_case", tag = "by")]
pub enum Locate {
    /// An admin code column, matched against every level.
    Code { field: String },
    /// A KOSTAT statistical code column (e.g. 11010 = 종로구), mapped to regions through the
    /// population table's KOSTAT units for its census year.
    KostatCode { field: String },
    /// Names, each resolved only within its parent.
    Name {
        sido: String,
        sigungu: Option<String>,
        emd: Option<String>,
    },
    /// Coordinates in two columns, in `crs`, reprojected to EPSG:5179.
    Point { x: String, y: String, crs: String },
    /// The layer's own point geometry, in its CRS (or `crs` when the file has none).
    Geometry { crs: Option<String> },
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct IndicatorSpec {
    /// Tiers, highest first; a region gets the first tier whose `min_krw` it reaches.
    pub(crate) tiers: Vec<Tier>,
    /// Number of legend classes (quantile, equal interval, Fisher–Jenks).
    pub(crate) classes: usize,
    /// The per-km² level each region is compared with for `deficit_krw`.
    pub(crate) target_per_km2: Target,
    pub(crate) spatial: SpatialSpec,
    /// Periods of record dates (e.g. 2003–2012 and 2013–2018) with their own amount columns.
    pub(crate) periods: Vec<Period>,
    /// Regions counted as already equipped when the summary asks who won the programme money
    /// (`program_share_in_incumbents`), besides those in the top tier of fee-funded money.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) incumbents: Option<Incumbents>,
}

/// Regions whose attribute `attribute` (from an `attributes` input) is one of `values`, on the
/// region itself or on a region above it (a whole 광역시 in the report's top tier makes its
/// 구 incumbents).
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Incumbents {
    pub(crate) attribute: String,
    pub(crate) values: Vec<String>,
}

/// A period of record dates, inclusive years.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Period {
    pub(crate) label: String,
    from_year: i64,
    to_year: i64,
}

impl Period {
    /// Output column for this period's amount: `amount_period_2003_2012_krw`.
    pub(crate) fn column(&self) -> String {
        super::model::amount_column("period", &self.label)
    }

    pub(crate) fn contains(&self, date: u32) -> bool {
        (self.from_year..=self.to_year).contains(&i64::from(date / 10_000))
    }
}

/// Why a file's column names cannot be read: the reader's own error, whatever its type (the
/// readers sit above `config`), kept as the source.
pub(crate) type HeaderError = Box<dyn std::error::Error + Send + Sync>;

/// The column names of the files a pipeline names, as validation needs them. The read stage
/// implements it (`read::Headers`), so validating a pipeline opens no data file itself.
pub(crate) trait Headers {
    /// Column names of `layer` (the first layer when `None`) of a table or vector file.
    fn fields(&self, path: &Path, layer: Option<&str>) -> Result<Vec<String>, HeaderError>;
    /// Column names of an input as it will be read: in `encoding`, with the names in
    /// `header_row` (1-based), by the streaming reader when `stream`.
    fn input_fields(
        &self,
        path: &Path,
        layer: Option<&str>,
        encoding: Encoding,
        header_row: usize,
        stream: bool,
    ) -> Result<Vec<String>, HeaderError>;
}

/// File name extensions of GeoParquet, which only the streaming reader reads.
pub(crate) const PARQUET_EXTENSIONS: [&str; 2] = ["parquet", "geoparquet"];

/// Whether `path` can only be streamed (GeoParquet: Debian's GDAL has no Parquet driver).
fn stream_only(path: &Path) -> bool {
    path.extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .is_some_and(|e| PARQUET_EXTENSIONS.contains(&e.as_str()))
}

/// Queen (any touching point) or rook (a shared stretch of boundary).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Contiguity {
    Queen,
    Rook,
}

/// How an input's text is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Encoding {
    /// Decide from the bytes.
    Auto,
    Utf8,
    /// Windows code page 949 (a superset of EUC-KR), as Korean Windows writes it.
    Cp949,
}

impl Encoding {
    const NAMES: [(&'static str, Encoding); 5] = [
        ("auto", Encoding::Auto),
        ("utf-8", Encoding::Utf8),
        ("utf8", Encoding::Utf8),
        ("cp949", Encoding::Cp949),
        ("euc-kr", Encoding::Cp949),
    ];
}

/// Contiguity weights and the permutation tests of Moran's I and LISA.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct SpatialSpec {
    pub(crate) contiguity: Contiguity,
    /// Distance within which two boundaries count as touching (metres, EPSG:5179).
    pub(crate) tolerance_m: f64,
    /// Join each island to its k nearest regions by centroid (0: leave islands alone).
    pub(crate) island_knn: usize,
    pub(crate) permutations: usize,
    pub(crate) seed: u64,
}

impl Default for SpatialSpec {
    fn default() -> SpatialSpec {
        SpatialSpec {
            contiguity: Contiguity::Queen,
            tolerance_m: 10.0,
            island_knn: 0,
            permutations: 999,
            seed: 20_260_101,
        }
    }
}

/// A target level of investment per km².
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Target {
    /// The level's area-weighted mean: total amount / total area.
    Mean,
    /// The median of the regions' amount per km².
    Median,
    /// A fixed KRW per km² (e.g. the report's 5,000,000,000 new-town unit cost).
    Krw(f64),
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct Tier {
    pub(crate) label: String,
    pub(crate) min_krw: i64,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct OutputSpec {
    pub(crate) geojson_decimals: u32,
    /// `report.html`, `maps/*.svg` and `state.json`.
    pub(crate) report: bool,
    /// `map.html` and `web/<level>.fgb`.
    pub(crate) web: bool,
}

/// All problems found in one pipeline file, rendered together.
#[derive(Debug, Error, Diagnostic)]
#[error("{} problem(s) in pipeline config {}", problems.len(), path.display())]
#[diagnostic(code(smartgap::config))]
pub struct ConfigError {
    path: PathBuf,
    #[source_code]
    src: NamedSource<String>,
    #[related]
    pub problems: Vec<Problem>,
}

/// One config problem, pointing at its place in the file.
#[derive(Debug, Error, Diagnostic)]
#[error("{message}")]
pub struct Problem {
    pub message: String,
    #[label("{label}")]
    span: Option<SourceSpan>,
    label: String,
    #[help]
    help: Option<String>,
}

impl Problem {
    fn new(span: std::ops::Range<usize>, message: impl Into<String>) -> Problem {
        Problem {
            message: message.into(),
            span: Some(span.into()),
            label: "here".into(),
            help: None,
        }
    }

    fn help(mut self, help: impl Into<String>) -> Problem {
        self.help = Some(help.into());
        self
    }

    fn label(mut self, label: impl Into<String>) -> Problem {
        self.label = label.into();
        self
    }
}

/// Resolves `p` against the directory of the config file.
fn resolve_path(config_path: &Path, p: &str) -> PathBuf {
    let base = config_path.parent().unwrap_or(Path::new("."));
    base.join(p)
}

/// The candidate closest to `word` by edit distance, when it is close enough to be a typo.
fn did_you_mean<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (levenshtein(word, c), c))
        .filter(|(d, c)| *d <= 2.max(c.chars().count() / 3))
        .min()
        .map(|(_, c)| c)
}

fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn did_you_mean_finds_a_one_letter_typo() {
        assert_eq!(
            did_you_mean("amout_krw", ["amount_krw", "sido"]),
            Some("amount_krw")
        );
        assert_eq!(did_you_mean("zzz", ["amount_krw", "sido"]), None);
    }
}
