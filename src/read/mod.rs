//! Reading: every vector source goes through GDAL/OGR (GPKG, Shapefile, GeoJSON, CSV, XLSX).
//!
//! Attribute values are read as text and parsed here, so a CSV's `1,234` or a GPKG integer give
//! the same exact amount, and a bad value becomes a reject naming its row and column.
//!
//! - [`boundaries`](fn@boundaries): the administrative layers as EPSG:5179 regions;
//! - [`records`](fn@records): a materialised input's rows as records and rejects;
//! - `row`: the checks of one row's values, shared with the streaming reader (`stream`);
//! - [`amount`], [`encoding`], `checksum`: exact amounts, text encodings, file
//!   hashes; tables (crosswalk, KOSTAT codes, population, region groups);
//! - `watch`: inputs changed while they are read are refused, and the checksum published is
//!   that of the bytes read.

pub mod amount;
mod boundaries;
pub(crate) mod checksum;
pub mod encoding;
pub(crate) mod footer;
mod records;
pub(crate) mod row;
mod tables;
pub(crate) mod watch;
mod xlsx;

pub(crate) use checksum::checksum;
pub use records::records;
pub use tables::{change_events, crosswalk, successions};
pub(crate) use tables::{kostat_codes, population, region_groups};

use std::path::{Path, PathBuf};

use gdal::vector::LayerAccess;
use gdal::{Dataset, DatasetOptions, GdalOpenFlags};

use crate::config::BoundariesSpec;
use crate::error::Error;
use crate::model::{AdminLevel, Boundaries};

/// The administrative layers of `spec` as EPSG:5179 regions; the city level, when listed, is
/// derived from the 시군구 codes (`crate::city`), not read.
///
/// # Errors
/// An unreadable layer, a region without code or geometry, broken nesting, or a city whose
/// polygon is also a 시군구.
pub fn boundaries(spec: &BoundariesSpec) -> Result<Boundaries, Error> {
    if !spec.levels.contains(&AdminLevel::City) {
        return boundaries::boundaries(spec);
    }
    let read = BoundariesSpec {
        levels: spec
            .levels
            .iter()
            .copied()
            .filter(|l| *l != AdminLevel::City)
            .collect(),
        ..spec.clone()
    };
    let b = boundaries::boundaries(&read)?;
    let started = std::time::Instant::now();
    let b = crate::city::with_cities(b).map_err(|e| Error::Boundary {
        path: spec.path.clone(),
        layer: AdminLevel::Sigungu.as_str().to_string(),
        feature: 0,
        message: e.to_string(),
    })?;
    tracing::debug!(
        cities = b.level(AdminLevel::City).map_or(0, |l| l.regions.len()),
        ms = started.elapsed().as_millis() as u64,
        "city level derived"
    );
    Ok(b)
}

/// Drivers smartgap opens; anything else (network, virtual, raster) is refused.
const DRIVERS: [&str; 7] = [
    "GPKG",
    "ESRI Shapefile",
    "GeoJSON",
    "CSV",
    "XLSX",
    "FlatGeobuf",
    "OpenFileGDB",
];

/// Opens a local vector file read-only.
fn open(path: &Path) -> Result<Dataset, Error> {
    open_with(path, &[])
}

/// Opens a local vector file read-only with GDAL open options (e.g. `ENCODING=CP949`).
fn open_with(path: &Path, open_options: &[String]) -> Result<Dataset, Error> {
    let opts: Vec<&str> = open_options.iter().map(String::as_str).collect();
    let options = DatasetOptions {
        open_flags: GdalOpenFlags::GDAL_OF_VECTOR | GdalOpenFlags::GDAL_OF_READONLY,
        allowed_drivers: Some(&DRIVERS),
        open_options: (!opts.is_empty()).then_some(opts.as_slice()),
        sibling_files: None,
    };
    allow_large_geojson_objects();
    Dataset::open_ex(path, options).map_err(|e| Error::Open {
        path: path.to_path_buf(),
        message: not_a_workbook(path).unwrap_or_else(|| e.to_string()),
    })
}

/// Why a `.xlsx` GDAL cannot open is not a workbook, when its bytes say so: GDAL's own error
/// for these is empty.
fn not_a_workbook(path: &Path) -> Option<String> {
    let ext = path.extension()?.to_str()?.to_ascii_lowercase();
    if ext != "xlsx" {
        return None;
    }
    let bytes = std::fs::read(path).ok()?;
    if !bytes.starts_with(b"PK\x03\x04") {
        return Some(
            "not an Excel workbook (.xlsx files are zip archives; this is not one: an old .xls \
             or another file renamed? save it as .xlsx or CSV)"
                .into(),
        );
    }
    let has = |name: &[u8]| bytes.windows(name.len()).any(|w| w == name);
    (!has(b"xl/workbook.xml")).then(|| {
        "a zip archive but not an Excel workbook (it has no xl/workbook.xml): a .zip renamed \
         .xlsx? unzip it and point the input at the file inside"
            .into()
    })
}

/// GDAL refuses a GeoJSON object (a feature, or a whole collection it cannot stream) above
/// `OGR_GEOJSON_MAX_OBJ_SIZE`, 200 MB by default, with an error that names no limit of ours.
/// Every input is already bounded by `max_input_mib` (checked before it is opened) and every
/// geometry by `max_vertices`, so GDAL's limit is lifted (0 = none) and those two apply.
fn allow_large_geojson_objects() {
    static SET: std::sync::Once = std::sync::Once::new();
    SET.call_once(|| {
        if gdal::config::get_config_option("OGR_GEOJSON_MAX_OBJ_SIZE", "")
            .unwrap_or_default()
            .is_empty()
        {
            let _ = gdal::config::set_config_option("OGR_GEOJSON_MAX_OBJ_SIZE", "0");
        }
    });
}

pub(crate) fn layer<'a>(
    ds: &'a Dataset,
    path: &Path,
    name: Option<&str>,
) -> Result<gdal::vector::Layer<'a>, Error> {
    let result = match name {
        Some(n) => ds.layer_by_name(n),
        None => ds.layer(0),
    };
    result.map_err(|_| {
        let names: Vec<String> = ds.layers().map(|l| l.name()).collect();
        Error::Read {
            path: path.to_path_buf(),
            layer: name.unwrap_or("(first)").to_string(),
            message: format!(
                "no such layer; the file has: {}",
                crate::model::name_list(&names)
            ),
        }
    })
}

/// The attribute column names of a layer (the first layer when `layer` is `None`).
///
/// # Errors
/// The file cannot be opened or has no such layer.
pub(crate) fn field_names(path: &Path, layer_name: Option<&str>) -> Result<Vec<String>, Error> {
    field_names_encoded(path, layer_name, encoding::Encoding::Auto)
}

/// [`field_names`] for a file read in `enc`.
fn field_names_encoded(
    path: &Path,
    layer_name: Option<&str>,
    enc: encoding::Encoding,
) -> Result<Vec<String>, Error> {
    field_names_at(path, layer_name, enc, 1)
}

/// [`field_names_encoded`] with the column names in spreadsheet/CSV row `header_row` (1-based),
/// clipped to [`MAX_NAME_CHARS`].
pub(crate) fn field_names_at(
    path: &Path,
    layer_name: Option<&str>,
    enc: encoding::Encoding,
    header_row: usize,
) -> Result<Vec<String>, Error> {
    let (_prep, ds) = open_input(path, enc, header_row)?;
    let mut l = layer(&ds, path, layer_name)?;
    Ok(header_names(header(&mut l, header_row)))
}

/// The longest column name a configuration can name, in characters: the names a header gives
/// for validating the configuration ([`field_names`], `stream::field_names`) are clipped to it,
/// so that a header line of megabytes costs neither the spelling suggestions nor the messages.
const MAX_NAME_CHARS: usize = 256;

/// `names` clipped to [`MAX_NAME_CHARS`].
pub(crate) fn header_names(names: Vec<String>) -> Vec<String> {
    names
        .into_iter()
        .map(|n| {
            if n.len() > MAX_NAME_CHARS {
                crate::model::clip(&n, MAX_NAME_CHARS)
            } else {
                n
            }
        })
        .collect()
}

fn is_sheet_or_csv(path: &Path) -> (bool, bool) {
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    (
        matches!(ext.as_str(), "xlsx" | "ods"),
        matches!(ext.as_str(), "csv" | "tsv" | "txt"),
    )
}

/// Opens an input under its encoding; spreadsheets are read as text (no guessed number types),
/// and with a header below row 1 the rows are read raw so `header` can take the names.
pub(crate) fn open_input(
    path: &Path,
    enc: encoding::Encoding,
    header_row: usize,
) -> Result<(encoding::Prepared, Dataset), Error> {
    let mut prep = encoding::prepare(path, enc)?;
    let (sheet, csv) = is_sheet_or_csv(path);
    if sheet {
        prep.open_options.push("FIELD_TYPES=STRING".into());
        prep.open_options.push(
            if header_row > 1 {
                "HEADERS=DISABLE"
            } else {
                "HEADERS=FORCE"
            }
            .into(),
        );
    } else if csv {
        // Empty values read as null, so that the fields a short row lacks, which GDAL leaves
        // unset, can be told apart (`records`: `row_malformed`).
        prep.open_options.push("EMPTY_STRING_AS_NULL=YES".into());
        if header_row > 1 {
            prep.open_options.push("HEADERS=NO".into());
        }
    }
    let ds = open_with(&prep.path, &prep.open_options)?;
    Ok((prep, ds))
}

/// Column names: the layer's own, or the values of row `header_row` when it is below row 1.
pub(crate) fn header(l: &mut gdal::vector::Layer<'_>, header_row: usize) -> Vec<String> {
    if header_row <= 1 {
        return l.defn().fields().map(|f| f.name()).collect();
    }
    let n = l.defn().fields().count();
    let names = l
        .features()
        .nth(header_row - 1)
        .map(|f| (0..n).map(|i| text(&f, i).trim().to_string()).collect())
        .unwrap_or_default();
    l.reset_feature_reading();
    names
}

/// Fails the read of `path`'s `layer` when GDAL raised a warning or an error on this thread
/// since the last [`gdal_log::take`](crate::gdal_log::take) (call it before the features are
/// read): a driver can stop early, or skip what it cannot read, with only a warning, and a
/// short input must not pass for a whole one. `rows` is how many features were read.
pub(crate) fn gdal_raised(path: &Path, layer: &str, rows: u64) -> Result<(), Error> {
    let raised = crate::gdal_log::take();
    let Some(first) = raised.first() else {
        return Ok(());
    };
    let more = match raised.len() {
        1 => String::new(),
        n => format!(" (and {} more)", n - 1),
    };
    Err(Error::Read {
        path: path.to_path_buf(),
        layer: layer.to_string(),
        message: format!(
            "GDAL raised while reading the features, after {rows} of them: {}{more}",
            crate::gdal_log::clip(first)
        ),
    })
}

/// What the run manifest records about one input file.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct InputFile {
    pub path: PathBuf,
    pub sha256: String,
    /// Data rows read, footers included.
    pub rows: u64,
    /// Subtotal and footer rows skipped (`read::footer`): not records, their amounts not counted.
    pub skipped_rows: u64,
    /// The encoding the text was read as (CSV and Shapefile).
    pub encoding: Option<encoding::Encoding>,
    /// Encoding contradictions and the like, also logged as WARN.
    pub warnings: Vec<String>,
    /// Rows whose polygon was repaired with MakeValid: their warning is written once the run
    /// knows which of them were rejected after all (`pipeline`'s assign stage).
    #[serde(skip)]
    pub(crate) repaired_rows: Vec<u64>,
}

impl InputFile {
    /// The warning about the polygons repaired with MakeValid, naming the rows (the first ten)
    /// and saying which of them were rejected after all, and why (`rejected`: row → reason).
    pub(crate) fn repair_warning(
        &self,
        rejected: &std::collections::BTreeMap<u64, String>,
    ) -> Option<String> {
        let rows = &self.repaired_rows;
        if rows.is_empty() {
            return None;
        }
        let listed: Vec<String> = rows
            .iter()
            .take(10)
            .map(|r| match rejected.get(r) {
                Some(reason) => format!("{r} (then rejected: {reason})"),
                None => r.to_string(),
            })
            .collect();
        let n_rejected = rows.iter().filter(|r| rejected.contains_key(r)).count();
        Some(format!(
            "{}: {} invalid polygon(s) repaired with GEOS MakeValid (structure method), rows {}{}{}",
            self.path.display(),
            rows.len(),
            listed.join(", "),
            if rows.len() > 10 { ", …" } else { "" },
            match n_rejected {
                0 => String::new(),
                n => format!("; {n} of them rejected all the same, not assigned"),
            }
        ))
    }
}

/// The index of column `name` in a layer's own fields.
fn field_index(l: &gdal::vector::Layer<'_>, name: &str, path: &Path) -> Result<usize, Error> {
    l.defn().field_index(name).map_err(|_| Error::Read {
        path: path.to_path_buf(),
        layer: l.name(),
        message: format!("column `{name}` not found"),
    })
}

/// A feature's field as text (empty for null).
pub(crate) fn text(f: &gdal::vector::Feature<'_>, idx: usize) -> String {
    f.field_as_string(idx).ok().flatten().unwrap_or_default()
}

/// A feature's geometry, `None` when it has none. gdal's `Feature::geometry` gives a null
/// geometry as a `Geometry` whose C pointer is NULL (and `has_gdal_ptr` true once asked), on
/// which every call makes GDAL raise `Pointer 'hGeom' is NULL`, which failed the whole read
/// (a GeoJSON `"coordinates": []`, a Shapefile's null shape, a GeoPackage's NULL geometry).
/// The pointer cannot be read without `unsafe`, so one cheap call is made and what it raised
/// is kept apart from the reader's own messages ([`gdal_log::isolated`](crate::gdal_log::isolated)).
pub(crate) fn feature_geometry<'f>(
    f: &'f gdal::vector::Feature<'_>,
) -> Option<&'f gdal::vector::Geometry> {
    let g = f.geometry().filter(|g| g.has_gdal_ptr())?;
    let (_, raised) = crate::gdal_log::isolated(|| g.geometry_type());
    raised.is_empty().then_some(g)
}

/// Whether a geometry has Z or M coordinates (Point Z, Polygon Z, a Shapefile's PointZ).
/// A null geometry (gdal's `Feature::geometry` gives one without a pointer) is not Z.
pub(crate) fn has_z_or_m(g: &gdal::vector::Geometry) -> bool {
    if !g.has_gdal_ptr() {
        return false;
    }
    let t = g.geometry_type();
    gdal::vector::geometry_type_has_z(t) || gdal::vector::geometry_type_has_m(t)
}

/// The reject detail of an empty geometry, the same on every path: `empty geometry: POINT
/// without coordinates` (a GeoJSON `"coordinates": []`, WKB's NaN point, `POINT EMPTY`).
pub(crate) fn empty_geometry(g: &gdal::vector::Geometry) -> String {
    format!(
        "empty geometry: {} without coordinates",
        g.geometry_name().to_uppercase()
    )
}

/// The note of an input whose geometries had Z or M coordinates, dropped: `n` of them.
pub(crate) fn flattened_note(n: u64) -> Option<String> {
    (n > 0).then(|| {
        format!(
            "{n} geometr(y/ies) with Z or M coordinates: Z and M were dropped, the geometry read in 2D"
        )
    })
}

/// The name of a geometry's kind, for messages.
fn geometry_kind(g: &geo::Geometry<f64>) -> &'static str {
    match g {
        geo::Geometry::Point(_) => "Point",
        geo::Geometry::Line(_) => "Line",
        geo::Geometry::LineString(_) => "LineString",
        geo::Geometry::Polygon(_) => "Polygon",
        geo::Geometry::MultiPoint(_) => "MultiPoint",
        geo::Geometry::MultiLineString(_) => "MultiLineString",
        geo::Geometry::MultiPolygon(_) => "MultiPolygon",
        geo::Geometry::GeometryCollection(_) => "GeometryCollection",
        geo::Geometry::Rect(_) => "Rect",
        geo::Geometry::Triangle(_) => "Triangle",
    }
}

/// Whether `crs` is one of the longitude/latitude CRSs whose coordinates are checked.
fn is_geographic(crs: &str) -> bool {
    matches!(
        crs.to_ascii_uppercase().as_str(),
        "EPSG:4326" | "OGC:CRS84" | "CRS84" | "EPSG:4737" | "EPSG:4166" | "EPSG:4019" | "EPSG:4258"
    )
}

/// Why (x, y) cannot be longitude/latitude in or near Korea, if it cannot: out of range
/// (projected numbers declared as EPSG:4326) or latitude and longitude swapped (x in Korea's
/// latitudes, y in its longitudes). Such records are rejected, never silently swapped.
fn lonlat_doubt(crs: &str, x: f64, y: f64) -> Option<String> {
    if (32.0..=39.5).contains(&x) && (123.0..=132.5).contains(&y) {
        return Some(format!(
            "x={x} y={y} looks like latitude/longitude swapped (x must be longitude in {crs})"
        ));
    }
    if !(-180.0..=180.0).contains(&x) || !(-90.0..=90.0).contains(&y) {
        return Some(format!(
            "x={x} y={y} is not longitude/latitude: projected coordinates declared as {crs}?"
        ));
    }
    None
}

/// The boundaries' level names, for messages.
pub fn level_names(levels: &[AdminLevel]) -> String {
    levels
        .iter()
        .map(|l| l.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::{is_geographic, lonlat_doubt};

    #[test]
    fn swapped_and_projected_coordinates_in_a_geographic_crs_are_caught() {
        assert!(is_geographic("EPSG:4326"));
        assert_eq!(lonlat_doubt("EPSG:4326", 126.978, 37.5665), None);
        assert!(
            lonlat_doubt("EPSG:4326", 37.5665, 126.978)
                .unwrap()
                .contains("swapped")
        );
        assert!(
            lonlat_doubt("EPSG:4326", 953_901.0, 1_952_032.0)
                .unwrap()
                .contains("projected")
        );
        // Projected coordinates in a projected CRS are not checked at all.
        assert!(!is_geographic("EPSG:5179"));
    }
}
