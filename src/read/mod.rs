//! Reading: every vector source goes through GDAL/OGR (GPKG, Shapefile, GeoJSON, CSV, XLSX).
//!
//! Attribute values are read as text and parsed here, so a CSV's `1,234` or a GPKG integer give
//! the same exact amount, and a bad value becomes a reject naming its row and column.

pub mod amount;
pub mod checksum;
pub mod encoding;
mod tables;

pub use checksum::checksum;
pub use tables::{crosswalk, kostat_codes, population, region_groups, table};

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use gdal::vector::{Geometry, LayerAccess};
use gdal::{Dataset, DatasetOptions, GdalOpenFlags};
use geo::{Area, Coord, MultiPolygon, Point};

use crate::config::{BoundariesSpec, FundingSpec, InputKind, InputSpec, Locate, ValueSpec};
use crate::crs::{Transformer, WORK_CRS};
use crate::error::Error;
use crate::model::{
    AdminLevel, Boundaries, FundingSource, Investment, LevelRegions, Location, Region, Reject,
    RejectReason,
};

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
pub fn open(path: &Path) -> Result<Dataset, Error> {
    open_with(path, &[])
}

/// Opens a local vector file read-only with GDAL open options (e.g. `ENCODING=CP949`).
pub fn open_with(path: &Path, open_options: &[String]) -> Result<Dataset, Error> {
    let opts: Vec<&str> = open_options.iter().map(String::as_str).collect();
    let options = DatasetOptions {
        open_flags: GdalOpenFlags::GDAL_OF_VECTOR | GdalOpenFlags::GDAL_OF_READONLY,
        allowed_drivers: Some(&DRIVERS),
        open_options: (!opts.is_empty()).then_some(opts.as_slice()),
        sibling_files: None,
    };
    Dataset::open_ex(path, options).map_err(|e| Error::Open {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
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
            message: format!("no such layer; the file has: {}", names.join(", ")),
        }
    })
}

/// The attribute column names of a layer (the first layer when `layer` is `None`).
pub fn field_names(path: &Path, layer_name: Option<&str>) -> Result<Vec<String>, String> {
    field_names_encoded(path, layer_name, encoding::Encoding::Auto)
}

/// [`field_names`] for a file read in `enc`.
pub fn field_names_encoded(
    path: &Path,
    layer_name: Option<&str>,
    enc: encoding::Encoding,
) -> Result<Vec<String>, String> {
    field_names_at(path, layer_name, enc, 1)
}

/// [`field_names_encoded`] with the column names in spreadsheet/CSV row `header_row` (1-based).
pub fn field_names_at(
    path: &Path,
    layer_name: Option<&str>,
    enc: encoding::Encoding,
    header_row: usize,
) -> Result<Vec<String>, String> {
    let (_prep, ds) = open_input(path, enc, header_row).map_err(|e| e.to_string())?;
    let mut l = layer(&ds, path, layer_name).map_err(|e| e.to_string())?;
    Ok(header(&mut l, header_row))
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
pub fn open_input(
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
    } else if csv && header_row > 1 {
        prep.open_options.push("HEADERS=NO".into());
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

/// What the run manifest records about one input file.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct InputFile {
    pub path: PathBuf,
    pub sha256: String,
    pub rows: u64,
    /// The encoding the text was read as (CSV and Shapefile).
    pub encoding: Option<encoding::Encoding>,
    /// Encoding contradictions and the like, also logged as WARN.
    pub warnings: Vec<String>,
}

fn field_index(l: &gdal::vector::Layer<'_>, name: &str, path: &Path) -> Result<usize, Error> {
    l.defn().field_index(name).map_err(|_| Error::Read {
        path: path.to_path_buf(),
        layer: l.name(),
        message: format!("column `{name}` not found"),
    })
}

pub(crate) fn text(f: &gdal::vector::Feature<'_>, idx: usize) -> String {
    f.field_as_string(idx).ok().flatten().unwrap_or_default()
}

/// Reads the boundary layers into EPSG:5179 regions.
///
/// # Assumptions
/// Polygons are expected valid (the bundled data is repaired by `make data`); areas are planar
/// in EPSG:5179. A layer in another CRS is reprojected by GDAL.
pub fn boundaries(spec: &BoundariesSpec) -> Result<Boundaries, Error> {
    let ds = open(&spec.path)?;
    let mut levels = Vec::new();
    for &level in &spec.levels {
        let mut l = layer(&ds, &spec.path, Some(level.as_str()))?;
        let err = |feature: u64, message: String| Error::Boundary {
            path: spec.path.clone(),
            layer: level.as_str().to_string(),
            feature,
            message,
        };
        let code_i = field_index(&l, &spec.code_field, &spec.path)?;
        let name_i = field_index(&l, &spec.name_field, &spec.path)?;
        let parent_i = field_index(&l, &spec.parent_field, &spec.path)?;
        let full_i = match &spec.full_name_field {
            Some(f) => Some(field_index(&l, f, &spec.path)?),
            None => None,
        };
        let reproject = match l.spatial_ref() {
            Some(srs) if srs.auth_code().ok() == Some(5179) => None,
            Some(srs) => Some(gdal_transform(&srs).map_err(|m| err(0, m))?),
            None => return Err(err(0, "layer has no CRS; expected EPSG:5179".into())),
        };
        let mut regions = Vec::new();
        for (i, f) in l.features().enumerate() {
            let fid = f.fid().unwrap_or(i as u64 + 1);
            let code = text(&f, code_i).trim().to_string();
            if code.is_empty() {
                return Err(err(fid, format!("empty `{}`", spec.code_field)));
            }
            let name = text(&f, name_i);
            let parent = text(&f, parent_i).trim().to_string();
            let full_name = full_i.map_or_else(|| name.clone(), |i| text(&f, i));
            let Some(g) = f.geometry() else {
                return Err(err(fid, format!("region {code} has no geometry")));
            };
            let g = match &reproject {
                None => g.clone(),
                Some(t) => g.transform(t).map_err(|e| err(fid, e.to_string()))?,
            };
            let geometry =
                to_multipolygon(&g).map_err(|m| err(fid, format!("region {code}: {m}")))?;
            let area_km2 = geometry.unsigned_area() / 1e6;
            regions.push(Region {
                level,
                code,
                name,
                full_name,
                parent_code: (!parent.is_empty()).then_some(parent),
                geometry,
                area_km2,
            });
        }
        let lr = LevelRegions::new(level, regions);
        if lr.by_code.len() != lr.regions.len() {
            return Err(err(0, "duplicate region codes in layer".into()));
        }
        levels.push(lr);
    }
    let b = Boundaries { levels };
    check_nesting(&b, &spec.path)?;
    Ok(b)
}

/// Every region below the coarsest level must name an existing parent one level up.
fn check_nesting(b: &Boundaries, path: &Path) -> Result<(), Error> {
    for l in b.levels.iter().skip(1) {
        let Some(up) = b.coarser(l.level) else {
            continue;
        };
        let orphans: Vec<String> = l
            .regions
            .iter()
            .filter(|r| r.parent_code.as_deref().and_then(|p| up.get(p)).is_none())
            .map(|r| format!("{} {}", r.code, r.name))
            .collect();
        if !orphans.is_empty() {
            return Err(Error::Read {
                path: path.to_path_buf(),
                layer: l.level.to_string(),
                message: format!(
                    "{} region(s) whose parent_code is not a {} code: {}",
                    orphans.len(),
                    up.level,
                    orphans
                        .iter()
                        .take(5)
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            });
        }
    }
    Ok(())
}

fn gdal_transform(
    srs: &gdal::spatial_ref::SpatialRef,
) -> Result<gdal::spatial_ref::CoordTransform, String> {
    use gdal::spatial_ref::{AxisMappingStrategy, CoordTransform, SpatialRef};
    let mut target = SpatialRef::from_epsg(5179).map_err(|e| e.to_string())?;
    target.set_axis_mapping_strategy(AxisMappingStrategy::TraditionalGisOrder);
    let mut src = srs.clone();
    src.set_axis_mapping_strategy(AxisMappingStrategy::TraditionalGisOrder);
    CoordTransform::new(&src, &target).map_err(|e| e.to_string())
}

fn to_multipolygon(g: &Geometry) -> Result<MultiPolygon<f64>, String> {
    match g.to_geo().map_err(|e| e.to_string())? {
        geo::Geometry::Polygon(p) => Ok(MultiPolygon::new(vec![p])),
        geo::Geometry::MultiPolygon(mp) => Ok(mp),
        other => Err(format!(
            "expected a polygon, found {}",
            geometry_kind(&other)
        )),
    }
}

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

/// Number of points of a GDAL geometry, all parts and rings.
fn vertex_count(g: &Geometry) -> usize {
    match g.geometry_count() {
        0 => g.point_count(),
        n => (0..n).map(|i| vertex_count(&g.get_geometry(i))).sum(),
    }
}

/// GEOS MakeValid (structure method) through GDAL, keeping the polygonal parts.
fn make_valid(mp: &MultiPolygon<f64>) -> Option<MultiPolygon<f64>> {
    use gdal::vector::ToGdal;
    let g = mp.to_gdal().ok()?;
    let opts = gdal::cpl::CslStringList::from_iter(["METHOD=STRUCTURE"]);
    let fixed = g.make_valid(&opts).ok()?.to_geo().ok()?;
    let polys: Vec<geo::Polygon<f64>> = match fixed {
        geo::Geometry::Polygon(p) => vec![p],
        geo::Geometry::MultiPolygon(m) => m.0,
        geo::Geometry::GeometryCollection(gc) => {
            gc.0.into_iter()
                .flat_map(|g| match g {
                    geo::Geometry::Polygon(p) => vec![p],
                    geo::Geometry::MultiPolygon(m) => m.0,
                    _ => vec![],
                })
                .collect()
        }
        _ => vec![],
    };
    Some(MultiPolygon::new(polys))
}

/// Records read from one input: the readable ones, the rejects, and what the manifest needs.
#[derive(Debug)]
pub struct ReadRecords {
    pub records: Vec<Investment>,
    pub rejects: Vec<Reject>,
    pub file: InputFile,
}

/// Reads one input's rows into records, rejecting rows whose amount, funding or location can't
/// be read, and repeated record ids (the first occurrence is kept).
pub fn records(index: usize, spec: &InputSpec) -> Result<ReadRecords, Error> {
    let (prep, ds) = open_input(&spec.path, spec.encoding, spec.header_row)?;
    for w in &prep.warnings {
        tracing::warn!(input = %spec.name, "{w}");
    }
    let mut l = layer(&ds, &spec.path, spec.layer.as_deref())?;
    let names = header(&mut l, spec.header_row);
    let layer_name = l.name();
    let idx = |name: &str| {
        names
            .iter()
            .position(|n| n == name)
            .ok_or_else(|| Error::Read {
                path: spec.path.clone(),
                layer: layer_name.clone(),
                message: format!("column `{name}` not found (columns: {})", names.join(", ")),
            })
    };
    let id_i = spec.id_field.as_deref().map(idx).transpose()?;
    let amount_i = spec.amount.as_ref().map(|a| idx(&a.field)).transpose()?;
    let program_i = match &spec.program {
        ValueSpec::Field(f) => Some(idx(f)?),
        _ => None,
    };
    let date_i = match &spec.date {
        ValueSpec::Field(f) => Some(idx(f)?),
        _ => None,
    };
    let date_const = match &spec.date {
        ValueSpec::Const(c) => crate::model::parse_date(c),
        _ => None,
    };
    let funding_i = match &spec.funding {
        FundingSpec::Field(f) => Some(idx(f)?),
        FundingSpec::Const(_) => None,
    };
    let attr_i: Vec<(String, usize)> = match &spec.kind {
        InputKind::Attributes(map) => map
            .iter()
            .map(|(col, f)| Ok((col.clone(), idx(f)?)))
            .collect::<Result<_, Error>>()?,
        InputKind::Investments => Vec::new(),
    };
    enum Loc {
        /// The column, and whether it holds KOSTAT codes.
        Code(usize, bool),
        Names(usize, Option<usize>, Option<usize>),
        Xy(usize, usize),
        Geometry,
    }
    let (loc, source_crs) = match &spec.locate {
        Locate::Code { field } => (Loc::Code(idx(field)?, false), None),
        Locate::KostatCode { field } => (Loc::Code(idx(field)?, true), None),
        Locate::Name { sido, sigungu, emd } => (
            Loc::Names(
                idx(sido)?,
                sigungu.as_deref().map(idx).transpose()?,
                emd.as_deref().map(idx).transpose()?,
            ),
            None,
        ),
        Locate::Point { x, y, crs } => (Loc::Xy(idx(x)?, idx(y)?), Some(crs.clone())),
        Locate::Geometry { crs } => {
            let layer_crs = l
                .spatial_ref()
                .and_then(|s| s.authority().ok())
                .filter(|a| !a.is_empty());
            let crs = crs.clone().or(layer_crs).ok_or_else(|| Error::Read {
                path: spec.path.clone(),
                layer: l.name(),
                message: "the layer has no CRS; declare one with locate.crs".into(),
            })?;
            (Loc::Geometry, Some(crs))
        }
    };
    let transformer = match &source_crs {
        Some(c) => Some(Transformer::new(c, WORK_CRS).map_err(|m| Error::Read {
            path: spec.path.clone(),
            layer: l.name(),
            message: format!("CRS {c}: {m}"),
        })?),
        None => None,
    };

    let mut records = Vec::new();
    let mut rejects = Vec::new();
    let mut first_row_of_id: HashMap<String, u64> = HashMap::new();
    let mut pending_points: Vec<(usize, Coord<f64>)> = Vec::new();
    let mut pending_areas: Vec<usize> = Vec::new();
    let mut rows = 0u64;
    let skip = if spec.header_row > 1 {
        spec.header_row
    } else {
        0
    };
    for f in l.features().skip(skip) {
        rows += 1;
        let row = rows;
        let record_id = match id_i {
            Some(i) => text(&f, i).trim().to_string(),
            None => row.to_string(),
        };
        let reject = |reason: RejectReason, detail: String, amount_krw: Option<i64>| Reject {
            input: index,
            row,
            record_id: record_id.clone(),
            reason,
            detail,
            amount_krw,
            point: None,
        };
        let amount_krw = match (amount_i, &spec.amount) {
            (Some(i), Some(a)) => match amount::parse_amount(&text(&f, i), a.unit) {
                Ok(v) => Some(v),
                Err((reason, detail)) => {
                    let value = match reason {
                        RejectReason::AmountNegative => {
                            amount::parse_amount(text(&f, i).trim().trim_start_matches('-'), a.unit)
                                .ok()
                                .map(|v| -v)
                        }
                        _ => None,
                    };
                    rejects.push(reject(
                        reason,
                        format!("column `{}`: {detail}", a.field),
                        value,
                    ));
                    continue;
                }
            },
            _ => None,
        };
        if id_i.is_some() {
            if record_id.is_empty() {
                rejects.push(reject(
                    RejectReason::DuplicateId,
                    "record id is empty".into(),
                    amount_krw,
                ));
                continue;
            }
            if let Some(first) = first_row_of_id.get(&record_id) {
                let d = format!("record id `{record_id}` already seen at row {first}");
                rejects.push(reject(RejectReason::DuplicateId, d, amount_krw));
                continue;
            }
            first_row_of_id.insert(record_id.clone(), row);
        }
        let funding = match (funding_i, &spec.funding) {
            (Some(i), _) => {
                let v = text(&f, i);
                match FundingSource::parse(&v) {
                    Some(fs) => fs,
                    None => {
                        let d = format!(
                            "funding `{v}` is not one of national_program, development_fee, local"
                        );
                        rejects.push(reject(RejectReason::FundingInvalid, d, amount_krw));
                        continue;
                    }
                }
            }
            (None, FundingSpec::Const(c)) => *c,
            (None, FundingSpec::Field(_)) => FundingSource::Unspecified,
        };
        let date = match date_i {
            Some(i) => {
                let v = text(&f, i);
                match crate::model::parse_date(&v) {
                    Some(d) => Some(d),
                    None if v.trim().is_empty() => None,
                    None => {
                        let d = format!("date `{v}` is not YYYY, YYYY-MM or YYYY-MM-DD");
                        rejects.push(reject(RejectReason::DateInvalid, d, amount_krw));
                        continue;
                    }
                }
            }
            None => date_const,
        };
        let program = match (&spec.program, program_i) {
            (_, Some(i)) => text(&f, i).trim().to_string(),
            (ValueSpec::Const(c), None) => c.clone(),
            _ => String::new(),
        };
        let location = match loc {
            Loc::Code(i, kostat) => {
                let c = text(&f, i).trim().to_string();
                if c.is_empty() {
                    rejects.push(reject(
                        RejectReason::LocationMissing,
                        "code is empty".into(),
                        amount_krw,
                    ));
                    continue;
                }
                if kostat {
                    Location::KostatCode(c)
                } else {
                    Location::Code(c)
                }
            }
            Loc::Names(s, g, e) => {
                let get = |i: Option<usize>| {
                    i.map(|i| text(&f, i).trim().to_string())
                        .unwrap_or_default()
                };
                let names = Location::Names {
                    sido: get(Some(s)),
                    sigungu: get(g),
                    emd: get(e),
                };
                if matches!(&names, Location::Names { sido, sigungu, .. } if sido.is_empty() && sigungu.is_empty())
                {
                    rejects.push(reject(
                        RejectReason::LocationMissing,
                        "no 시도 or 시군구 name".into(),
                        amount_krw,
                    ));
                    continue;
                }
                names
            }
            Loc::Xy(xi, yi) => {
                let (xs, ys) = (text(&f, xi), text(&f, yi));
                match (xs.trim().parse::<f64>(), ys.trim().parse::<f64>()) {
                    (Ok(x), Ok(y)) if x.is_finite() && y.is_finite() => {
                        if let Some(d) = source_crs
                            .as_deref()
                            .and_then(|c| geographic_doubt(c, x, y))
                        {
                            rejects.push(reject(RejectReason::CoordinateInvalid, d, amount_krw));
                            continue;
                        }
                        pending_points.push((records.len(), Coord { x, y }));
                        Location::Point(Point::new(x, y))
                    }
                    _ => {
                        let d = format!("coordinates x=`{xs}` y=`{ys}` are not finite numbers");
                        rejects.push(reject(RejectReason::CoordinateInvalid, d, amount_krw));
                        continue;
                    }
                }
            }
            Loc::Geometry
                if f.geometry()
                    .is_some_and(|g| vertex_count(g) > spec.max_vertices) =>
            {
                let n = f.geometry().map_or(0, vertex_count);
                let d = format!(
                    "geometry has {n} vertices, above max_vertices {}",
                    spec.max_vertices
                );
                rejects.push(reject(RejectReason::GeometryTooComplex, d, amount_krw));
                continue;
            }
            Loc::Geometry => match f.geometry().map(|g| g.to_geo()) {
                Some(Ok(geo::Geometry::Point(p))) if p.x().is_finite() && p.y().is_finite() => {
                    if let Some(d) = source_crs
                        .as_deref()
                        .and_then(|c| geographic_doubt(c, p.x(), p.y()))
                    {
                        rejects.push(reject(RejectReason::CoordinateInvalid, d, amount_krw));
                        continue;
                    }
                    pending_points.push((records.len(), p.0));
                    Location::Point(p)
                }
                Some(Ok(g @ (geo::Geometry::Polygon(_) | geo::Geometry::MultiPolygon(_)))) => {
                    let mp = match g {
                        geo::Geometry::Polygon(p) => MultiPolygon::new(vec![p]),
                        geo::Geometry::MultiPolygon(mp) => mp,
                        _ => MultiPolygon::new(vec![]),
                    };
                    use geo::CoordsIter;
                    if mp.0.is_empty()
                        || mp
                            .coords_iter()
                            .any(|c| !c.x.is_finite() || !c.y.is_finite())
                    {
                        let d = "polygon is empty or has non-finite coordinates".to_string();
                        rejects.push(reject(RejectReason::GeometryInvalid, d, amount_krw));
                        continue;
                    }
                    pending_areas.push(records.len());
                    Location::Area(mp)
                }
                Some(Ok(g)) => {
                    let d = format!(
                        "expected a point or polygon geometry, found {}",
                        geometry_kind(&g)
                    );
                    rejects.push(reject(RejectReason::CoordinateInvalid, d, amount_krw));
                    continue;
                }
                _ => {
                    rejects.push(reject(
                        RejectReason::LocationMissing,
                        "no geometry".into(),
                        amount_krw,
                    ));
                    continue;
                }
            },
        };
        let attributes = attr_i
            .iter()
            .map(|(col, i)| (col.clone(), text(&f, *i).trim().to_string()))
            .collect();
        records.push(Investment {
            input: index,
            row,
            record_id,
            amount_krw,
            program,
            funding,
            location,
            attributes,
            date,
        });
    }
    if let Some(t) = &transformer {
        let mut coords: Vec<Coord<f64>> = pending_points.iter().map(|(_, c)| *c).collect();
        t.convert(&mut coords).map_err(|m| Error::Read {
            path: spec.path.clone(),
            layer: l.name(),
            message: format!("reprojecting points: {m}"),
        })?;
        for ((i, _), c) in pending_points.iter().zip(coords) {
            records[*i].location = Location::Point(Point(c));
        }
    }
    let mut repaired = Vec::new();
    for &i in &pending_areas {
        let row = records[i].row;
        let Location::Area(mp) = &mut records[i].location else {
            continue;
        };
        if let Some(t) = &transformer {
            let mut failed = None;
            for p in &mut mp.0 {
                p.exterior_mut(|ring| {
                    if let Err(e) = t.convert(&mut ring.0) {
                        failed = Some(e);
                    }
                });
                p.interiors_mut(|rings| {
                    for ring in rings {
                        if let Err(e) = t.convert(&mut ring.0) {
                            failed = Some(e);
                        }
                    }
                });
            }
            if let Some(m) = failed {
                return Err(Error::Read {
                    path: spec.path.clone(),
                    layer: l.name(),
                    message: format!("reprojecting polygons: {m}"),
                });
            }
        }
        if !geo::Validation::is_valid(&*mp)
            && let Some(fixed) = make_valid(mp)
        {
            repaired.push(row);
            *mp = fixed;
        }
    }
    let mut warnings = prep.warnings.clone();
    if !repaired.is_empty() {
        let rows: Vec<String> = repaired.iter().take(10).map(u64::to_string).collect();
        let w = format!(
            "{}: {} invalid polygon(s) repaired with GEOS MakeValid (structure method), rows {}{}",
            spec.path.display(),
            repaired.len(),
            rows.join(", "),
            if repaired.len() > 10 { ", …" } else { "" }
        );
        tracing::warn!(input = %spec.name, "{w}");
        warnings.push(w);
    }
    // Polygons still invalid or without area after repair are rejected.
    let (good_areas, bad_areas): (Vec<Investment>, Vec<Investment>) =
        records.into_iter().partition(|r| match &r.location {
            Location::Area(mp) => {
                geo::Validation::is_valid(mp) && geo::Area::unsigned_area(mp) > 0.0
            }
            _ => true,
        });
    records = good_areas;
    for r in bad_areas {
        rejects.push(Reject {
            input: index,
            row: r.row,
            record_id: r.record_id,
            reason: RejectReason::GeometryInvalid,
            detail: "polygon is invalid or has no area even after MakeValid".into(),
            amount_krw: r.amount_krw,
            point: None,
        });
    }
    // Points PROJ could not transform come back as infinities: reject them, keeping order.
    let (good, bad): (Vec<Investment>, Vec<Investment>) =
        records.into_iter().partition(|r| match &r.location {
            Location::Point(p) => p.x().is_finite() && p.y().is_finite(),
            _ => true,
        });
    for r in bad {
        rejects.push(Reject {
            input: index,
            row: r.row,
            record_id: r.record_id,
            reason: RejectReason::CoordinateInvalid,
            detail: format!(
                "coordinates cannot be transformed from {}",
                source_crs.as_deref().unwrap_or("?")
            ),
            amount_krw: r.amount_krw,
            point: None,
        });
    }
    rejects.sort_by_key(|r| r.row);
    Ok(ReadRecords {
        records: good,
        rejects,
        file: InputFile {
            path: spec.path.clone(),
            sha256: checksum(&spec.path)?,
            rows,
            encoding: Some(prep.encoding),
            warnings,
        },
    })
}

/// Why (x, y) cannot be longitude/latitude in a geographic CRS: out of range (projected numbers
/// declared as EPSG:4326) or latitude and longitude swapped (x in Korea's latitudes, y in its
/// longitudes). Such records are rejected, never silently swapped.
pub fn geographic_doubt(crs: &str, x: f64, y: f64) -> Option<String> {
    if !is_geographic(crs) {
        return None;
    }
    lonlat_doubt(crs, x, y)
}

/// Whether `crs` is one of the longitude/latitude CRSs whose coordinates are checked.
pub fn is_geographic(crs: &str) -> bool {
    matches!(
        crs.to_ascii_uppercase().as_str(),
        "EPSG:4326" | "OGC:CRS84" | "CRS84" | "EPSG:4737" | "EPSG:4166" | "EPSG:4019" | "EPSG:4258"
    )
}

/// Why (x, y) cannot be longitude/latitude in or near Korea, if it cannot.
pub fn lonlat_doubt(crs: &str, x: f64, y: f64) -> Option<String> {
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
    use super::geographic_doubt;

    #[test]
    fn swapped_and_projected_coordinates_in_a_geographic_crs_are_caught() {
        assert_eq!(geographic_doubt("EPSG:4326", 126.978, 37.5665), None);
        assert!(
            geographic_doubt("EPSG:4326", 37.5665, 126.978)
                .unwrap()
                .contains("swapped")
        );
        assert!(
            geographic_doubt("EPSG:4326", 953_901.0, 1_952_032.0)
                .unwrap()
                .contains("projected")
        );
        assert_eq!(geographic_doubt("EPSG:5179", 953_901.0, 1_952_032.0), None);
    }
}
