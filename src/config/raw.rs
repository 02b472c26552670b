//! The TOML mirror of a pipeline file: every table denies unknown keys and every value keeps
//! its span, so validation can point at the exact line and column.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

pub type S<T> = Spanned<T>;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPipeline {
    pub pipeline: S<RawMeta>,
    pub boundaries: S<RawBoundaries>,
    pub region_groups: Option<S<RawRegionGroups>>,
    pub crosswalk: Option<S<RawCrosswalk>>,
    pub population: Option<S<RawPopulation>>,
    #[serde(default)]
    pub inputs: Vec<S<RawInput>>,
    pub indicators: Option<S<RawIndicators>>,
    pub output: Option<S<RawOutput>>,
    pub publish: Option<S<RawPublish>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPublish {
    pub postgis: Option<S<RawPostgis>>,
}

/// `[publish.postgis]`: no connection setting here but the libpq service name; the rest comes
/// from the environment (PGHOST, PGPASSFILE, …), so no password is ever in a pipeline file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPostgis {
    pub schema: S<String>,
    pub reader_role: Option<S<String>>,
    pub keep: Option<S<i64>>,
    pub service: Option<S<String>>,
    pub lock_wait_s: Option<S<i64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMeta {
    pub name: S<String>,
    pub output_dir: S<String>,
    pub max_reject_share: Option<S<f64>>,
    pub keep_runs: Option<S<i64>>,
    pub max_input_mib: Option<S<i64>>,
    pub roots: Option<S<Vec<S<String>>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBoundaries {
    pub path: S<String>,
    pub levels: S<Vec<S<String>>>,
    pub code_field: Option<S<String>>,
    pub name_field: Option<S<String>>,
    pub full_name_field: Option<S<String>>,
    pub parent_field: Option<S<String>>,
    /// `YYYY-MM-DD` or `latest`: publish the units in force on that date.
    pub as_of: Option<S<String>>,
    /// The legal-dong succession table `as_of` derives the units with.
    pub successions: Option<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRegionGroups {
    pub path: S<String>,
    pub group_field: S<String>,
    pub name_field: S<String>,
    pub sido_code_field: S<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPopulation {
    pub path: S<String>,
    pub year: S<i64>,
    pub code_field: Option<S<String>>,
    pub year_field: Option<S<String>>,
    pub population_field: Option<S<String>>,
    pub kostat_field: Option<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCrosswalk {
    pub path: S<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawInput {
    pub name: S<String>,
    pub path: S<String>,
    pub layer: Option<S<String>>,
    pub header_row: Option<S<i64>>,
    pub max_vertices: Option<S<i64>>,
    pub stream: Option<S<bool>>,
    pub encoding: Option<S<String>>,
    pub kind: Option<S<String>>,
    pub id: Option<S<String>>,
    pub amount: Option<S<RawAmount>>,
    pub program: Option<S<RawValue>>,
    pub funding: Option<S<RawValue>>,
    pub date: Option<S<RawValue>>,
    pub locate: S<RawLocate>,
    pub code_name_mismatch: Option<S<String>>,
    pub attributes: Option<S<BTreeMap<String, S<String>>>>,
    pub skip_rows: Option<S<Vec<S<String>>>>,
    pub funding_labels: Option<S<BTreeMap<String, S<String>>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAmount {
    pub field: S<String>,
    pub unit: Option<S<String>>,
}

/// A value taken from a column (`field`) or fixed for the whole input (`value`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawValue {
    pub field: Option<S<String>>,
    pub value: Option<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLocate {
    pub by: S<String>,
    pub field: Option<S<String>>,
    pub sido: Option<S<String>>,
    pub sigungu: Option<S<String>>,
    pub emd: Option<S<String>>,
    pub x: Option<S<String>>,
    pub y: Option<S<String>>,
    pub crs: Option<S<String>>,
    /// Where to look next when this step's columns are blank in a row.
    pub then: Option<Box<S<RawLocate>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawIndicators {
    #[serde(default)]
    pub tiers: Vec<S<RawTier>>,
    pub classes: Option<S<i64>>,
    pub target_per_km2: Option<S<RawTarget>>,
    pub spatial: Option<S<RawSpatial>>,
    #[serde(default)]
    pub periods: Vec<S<RawPeriod>>,
    pub incumbents: Option<S<RawIncumbents>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawIncumbents {
    pub attribute: S<String>,
    pub values: Vec<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPeriod {
    pub label: S<String>,
    pub from_year: S<i64>,
    pub to_year: S<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSpatial {
    pub contiguity: Option<S<String>>,
    pub tolerance_m: Option<S<f64>>,
    pub island_knn: Option<S<i64>>,
    pub permutations: Option<S<i64>>,
    pub seed: Option<S<i64>>,
}

/// `"mean"`, `"median"` or a number of KRW per km².
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum RawTarget {
    Named(String),
    Krw(f64),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTier {
    pub label: S<String>,
    pub min_krw: S<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOutput {
    pub geojson_decimals: Option<S<i64>>,
    pub report: Option<S<bool>>,
    pub web: Option<S<bool>>,
}
