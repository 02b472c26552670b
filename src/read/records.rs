//! Materialised inputs: every row of an input read into an [`Investment`] or a [`Reject`],
//! its values checked by the [`RowChecker`] the streaming reader also uses; then points are
//! reprojected into EPSG:5179 and polygons repaired, all at once.

use std::collections::BTreeMap;

use gdal::vector::{Feature, Geometry, Layer, LayerAccess, OGRFieldType};
use geo::{Coord, CoordsIter, MultiPolygon, Point};

use super::footer::Footers;
use super::row::{
    Bad, Columns, Reader, Rejected, RowChecker, Val, Values, amount_text, coordinates, parse_f64,
    short_row,
};
use super::watch::Watch;
use super::{InputFile, checksum, geometry_kind, header, layer, open_input, text};
use crate::config::{InputKind, InputSpec, Locate};
use crate::crs::{CrsError, Transformer, WORK_CRS};
use crate::error::Error;
use crate::model::{Investment, Location, Reject, RejectReason};
use crate::progress::checkpoint;

/// Records read from one input: the readable ones, the rejects, and what the manifest needs.
#[derive(Debug)]
pub struct ReadRecords {
    pub records: Vec<Investment>,
    pub rejects: Vec<Reject>,
    pub file: InputFile,
}

/// How a record's location is read from a feature.
enum Loc {
    /// The column, and whether it holds KOSTAT codes.
    Code(usize, bool),
    /// The 시도, 시군구 and 읍면동 name columns.
    Names(usize, Option<usize>, Option<usize>),
    Xy(usize, usize),
    Geometry,
}

/// An input layer's columns and location, resolved once.
struct Layout {
    layer_name: String,
    columns: Columns,
    /// Output column and source column of an attribute input's values.
    attributes: Vec<(String, usize)>,
    /// `locate` and its fallbacks, in order (`InputSpec::locates`).
    loc: Vec<Loc>,
    /// What a record whose code and names disagree becomes.
    mismatch: crate::model::Mismatch,
    /// The CRS of points and geometries (`None` for codes and names).
    source_crs: Option<String>,
    /// A CSV's number of columns, when its last is text: a row that leaves that one unset (GDAL
    /// reads empty values as null, see [`open_input`]) has fewer fields than the header.
    csv_fields: Option<usize>,
}

/// What the rows gave, before reprojection and repair.
#[derive(Default)]
struct Rows {
    records: Vec<Investment>,
    rejects: Vec<Reject>,
    /// Records located by a point (their index), and the point in the input's CRS.
    points: Vec<(usize, Coord<f64>)>,
    /// Records located by a polygon (their index).
    areas: Vec<usize>,
    /// Subtotal and footer rows, skipped.
    footers: Footers,
    /// Geometries read with Z or M coordinates, which were dropped.
    flattened: u64,
}

/// Reads one input's rows into records, rejecting rows whose amount, funding or location can't
/// be read, and repeated record ids (the first occurrence is kept).
///
/// # Errors
/// A file or layer that cannot be opened, a configured column it lacks, a CRS PROJ cannot use.
/// Bad rows are rejects, not errors.
pub fn records(index: usize, spec: &InputSpec) -> Result<ReadRecords, Error> {
    // GDAL reads the file itself: it is hashed just before (see `read::watch`).
    let watch = Watch::start(&spec.path)?;
    let sha256 = checksum(&spec.path)?;
    let (prep, ds) = open_input(&spec.path, spec.encoding, spec.header_row)?;
    for w in &prep.warnings {
        tracing::warn!(input = %spec.name, "{w}");
    }
    let mut l = layer(&ds, &spec.path, spec.layer.as_deref())?;
    let layout = layout(spec, &mut l)?;
    let err = |message: String| Error::Read {
        path: spec.path.clone(),
        layer: layout.layer_name.clone(),
        message,
    };
    let transformer = match &layout.source_crs {
        Some(c) => Some(Transformer::new(c, WORK_CRS).map_err(|m| err(format!("CRS {c}: {m}")))?),
        None => None,
    };
    let mut checker = RowChecker::new(spec, Reader::Materialised);
    if let Some(crs) = &layout.source_crs {
        checker.set_crs(crs.clone());
    }
    let mut read = Rows {
        footers: Footers::new(&spec.skip_rows),
        ..Rows::default()
    };
    let mut rows = 0u64;
    let skip = if spec.header_row > 1 {
        spec.header_row
    } else {
        0
    };
    crate::gdal_log::install();
    crate::gdal_log::take();
    for f in l.features().skip(skip) {
        rows += 1;
        read_row(index, rows, &f, spec, &layout, &mut checker, &mut read);
        if rows == 1 {
            // A test can act here, mid-read (see `progress::checkpoint`).
            checkpoint("read.first_chunk");
        }
    }
    watch.check(&layout.layer_name, None)?;
    // A driver that stops early (a CSV line beyond GDAL's limit) says so only here.
    super::gdal_raised(&spec.path, &layout.layer_name, rows)?;
    let Rows {
        mut records,
        mut rejects,
        points,
        areas,
        footers,
        flattened,
    } = read;
    if let Some(t) = &transformer {
        reproject_points(t, &points, &mut records)
            .map_err(|m| err(format!("reprojecting points: {m}")))?;
    }
    let Checked { repaired, unusable } = repair_areas(transformer.as_ref(), &areas, &mut records);
    let mut warnings = prep.warnings.clone();
    for w in checker
        .warnings()
        .into_iter()
        .chain(footers.note())
        .chain(super::flattened_note(flattened))
    {
        tracing::warn!(input = %spec.name, "{w}");
        warnings.push(w);
    }
    let records = reject_unusable(
        index,
        records,
        unusable,
        &mut rejects,
        layout.source_crs.as_deref(),
    );
    if super::is_sheet_or_csv(&spec.path).0
        && let Some(col) = layout.columns.amount
    {
        formula_rejects(spec, &layout.layer_name, col, &mut rejects);
    }
    rejects.sort_by_key(|r| r.row);
    Ok(ReadRecords {
        records,
        rejects,
        file: InputFile {
            path: spec.path.clone(),
            sha256,
            rows,
            skipped_rows: footers.count,
            encoding: Some(prep.encoding),
            warnings,
            repaired_rows: repaired,
        },
    })
}

/// An empty amount that is a formula without a cached value in the workbook says so: GDAL
/// reads such a cell as empty (see `read::xlsx`). Data row `r` is sheet row `r + header_row`.
fn formula_rejects(spec: &InputSpec, sheet: &str, column: usize, rejects: &mut [Reject]) {
    if !rejects
        .iter()
        .any(|r| r.reason == RejectReason::AmountMissing)
    {
        return;
    }
    let cells = match super::xlsx::uncached_formulas(&spec.path, sheet) {
        Ok(c) => c,
        Err(e) => {
            tracing::debug!(input = %spec.name, "formula cells not looked up: {e}");
            return;
        }
    };
    let header = spec.header_row as u64;
    for r in rejects
        .iter_mut()
        .filter(|r| r.reason == RejectReason::AmountMissing)
    {
        let cell = (r.row + header, column as u64);
        if let Some(f) = cells.get(&cell) {
            let name = format!("{}{}", super::xlsx::column_name(cell.1), cell.0);
            let formula = if f.is_empty() {
                "a shared formula".to_string()
            } else {
                format!("`={}`", crate::model::clip(f, 100))
            };
            let field = spec.amount.as_ref().map_or("", |a| a.field.as_str());
            r.detail = format!(
                "column `{field}`: amount is a formula without a cached value (cell {name}: {formula}): the workbook was saved without calculating it; open and save it in Excel or LibreOffice, or export it as CSV"
            );
        }
    }
}

/// The layer's value, attribute and location columns, and the CRS of its points or geometries.
fn layout(spec: &InputSpec, l: &mut Layer<'_>) -> Result<Layout, Error> {
    let names = header(l, spec.header_row);
    let layer_name = l.name();
    let read_err = |message: String| Error::Read {
        path: spec.path.clone(),
        layer: layer_name.clone(),
        message,
    };
    let idx = |name: &str| {
        names.iter().position(|n| n == name).ok_or_else(|| {
            read_err(format!(
                "column `{name}` not found (columns: {})",
                crate::model::name_list(&names)
            ))
        })
    };
    let columns = Columns::of(spec, idx)?;
    let attributes: Vec<(String, usize)> = match &spec.kind {
        InputKind::Attributes(map) => map
            .iter()
            .map(|(col, f)| Ok((col.clone(), idx(f)?)))
            .collect::<Result<_, Error>>()?,
        InputKind::Investments => Vec::new(),
    };
    let mut loc = Vec::new();
    let mut source_crs = None;
    for step in spec.locates() {
        loc.push(match step {
            Locate::Code { field } => Loc::Code(idx(field)?, false),
            Locate::KostatCode { field } => Loc::Code(idx(field)?, true),
            Locate::Name { sido, sigungu, emd } => Loc::Names(
                idx(sido)?,
                sigungu.as_deref().map(idx).transpose()?,
                emd.as_deref().map(idx).transpose()?,
            ),
            Locate::Point { x, y, crs } => {
                source_crs = Some(crs.clone());
                Loc::Xy(idx(x)?, idx(y)?)
            }
            Locate::Geometry { crs } => {
                let layer_crs = l
                    .spatial_ref()
                    .and_then(|s| s.authority().ok())
                    .filter(|a| !a.is_empty());
                source_crs = Some(crs.clone().or(layer_crs).ok_or_else(|| {
                    read_err("the layer has no CRS; declare one with locate.crs".into())
                })?);
                Loc::Geometry
            }
        });
    }
    let csv_fields = l
        .defn()
        .fields()
        .last()
        .filter(|f| {
            super::is_sheet_or_csv(&spec.path).1 && f.field_type() == OGRFieldType::OFTString
        })
        .map(|_| l.defn().fields().count());
    Ok(Layout {
        layer_name,
        columns,
        attributes,
        loc,
        mismatch: spec.code_name_mismatch,
        source_crs,
        csv_fields,
    })
}

/// Reads data row `row` (feature `f`) into a record, or into a reject naming the first check
/// it fails: its values, then its location.
fn read_row(
    index: usize,
    row: u64,
    f: &Feature<'_>,
    spec: &InputSpec,
    layout: &Layout,
    checker: &mut RowChecker,
    out: &mut Rows,
) {
    let cells: Vec<String> = (0..f.field_count()).map(|i| text(f, i)).collect();
    if let Some(label) = out.footers.label(cells.iter().map(String::as_str)) {
        out.footers.skip(row, label);
        return;
    }
    let cols = &layout.columns;
    let cell = |i: Option<usize>| i.map(|i| text(f, i));
    let (id, funding, date) = (cell(cols.id), cell(cols.funding), cell(cols.date));
    let record_id = id
        .as_deref()
        .map_or_else(|| row.to_string(), |t| t.trim().to_string());
    if let Some(fields) = layout.csv_fields.and_then(|n| short_fields(f, n)) {
        let r = short_row(fields, layout.csv_fields.unwrap_or(0));
        out.rejects.push(rejected(index, row, record_id, r));
        return;
    }
    let amount = match (cols.amount, &spec.amount) {
        (Some(i), Some(a)) => Some(amount_text(&text(f, i), a.unit)),
        _ => None,
    };
    let values = Values {
        id: Val::text(id.as_deref()),
        amount,
        funding: funding.as_deref(),
        date: Val::text(date.as_deref()),
    };
    if layout.loc.iter().any(|l| matches!(l, Loc::Geometry))
        && super::feature_geometry(f).is_some_and(super::has_z_or_m)
    {
        out.flattened += 1;
    }
    let checked = checker.values(row, values).and_then(|v| {
        let location = location(f, layout, spec.max_vertices, checker);
        location
            .map(|l| (v, l))
            .map_err(|(reason, detail)| Rejected {
                reason,
                detail,
                amount_krw: v.amount_krw,
            })
    });
    let (v, (location, check)) = match checked {
        Ok(c) => c,
        Err(r) => {
            out.rejects.push(rejected(index, row, record_id, r));
            return;
        }
    };
    match &location {
        Location::Point(p) => out.points.push((out.records.len(), p.0)),
        Location::Area(_) => out.areas.push(out.records.len()),
        _ => {}
    }
    let attributes: BTreeMap<String, String> = layout
        .attributes
        .iter()
        .map(|(col, i)| (col.clone(), text(f, *i).trim().to_string()))
        .collect();
    out.records.push(Investment {
        input: index,
        row,
        record_id,
        amount_krw: v.amount_krw,
        program: checker
            .program(row, cell(cols.program).as_deref())
            .to_string(),
        funding: v.funding,
        location,
        attributes,
        date: v.date,
        check: check.map(|location| crate::model::Check {
            location,
            policy: layout.mismatch,
        }),
    });
}

/// The number of fields of a CSV row shorter than the header's `n`: GDAL leaves the fields
/// after the row's last unset, which (empty values being null) read as `Some("")`.
fn short_fields(f: &Feature<'_>, n: usize) -> Option<usize> {
    let unset = |i: usize| matches!(f.field_as_string(i), Ok(Some(s)) if s.is_empty());
    if n == 0 || !unset(n - 1) {
        return None;
    }
    Some((0..n).find(|&i| unset(i)).unwrap_or(n))
}

/// Where feature `f` says it is, by the first step of the input's `locate` chain whose
/// columns the row fills (a step left blank hands over to the next; a filled one that is bad
/// is a reject, never skipped), and the row's other location to check it against: its names
/// when it is located by a code, its code when by names (when the chain has both and the row
/// gives both).
fn location(
    f: &Feature<'_>,
    layout: &Layout,
    max_vertices: usize,
    checker: &RowChecker,
) -> Result<(Location, Option<Location>), Bad> {
    let mut blank = Vec::new();
    let mut found = None;
    for (i, step) in layout.loc.iter().enumerate() {
        if layout.loc.len() > 1
            && let Some(why) = blank_step(f, step)
        {
            blank.push(why);
            continue;
        }
        found = Some((i, step_location(f, step, max_vertices, checker)?));
        break;
    }
    let Some((i, loc)) = found else {
        return Err((
            RejectReason::LocationMissing,
            format!("no location: {}", blank.join("; ")),
        ));
    };
    let other = match layout.loc[i] {
        Loc::Code(..) => layout.loc.iter().find(|s| matches!(s, Loc::Names(..))),
        Loc::Names(..) => layout.loc.iter().find(|s| matches!(s, Loc::Code(..))),
        _ => None,
    };
    let check = other
        .filter(|s| blank_step(f, s).is_none())
        .and_then(|s| step_location(f, s, max_vertices, checker).ok());
    Ok((loc, check))
}

/// Why a step of the chain finds nothing in the row (its columns blank), or `None`.
fn blank_step(f: &Feature<'_>, step: &Loc) -> Option<String> {
    let empty = |i: usize| text(f, i).trim().is_empty();
    match *step {
        Loc::Code(i, _) => empty(i).then(|| "code is empty".to_string()),
        Loc::Names(s, g, _) => {
            (empty(s) && g.is_none_or(empty)).then(|| "no 시도 or 시군구 name".to_string())
        }
        Loc::Xy(x, y) => (empty(x) && empty(y)).then(|| "x and y are empty".to_string()),
        Loc::Geometry => super::feature_geometry(f)
            .filter(|g| !g.is_empty())
            .is_none()
            .then(|| "no geometry".to_string()),
    }
}

/// Where one step of the chain says feature `f` is: a code, names, or a point or polygon in
/// the input's CRS.
fn step_location(
    f: &Feature<'_>,
    step: &Loc,
    max_vertices: usize,
    checker: &RowChecker,
) -> Result<Location, Bad> {
    let cell = |i: usize| text(f, i).trim().to_string();
    match *step {
        Loc::Code(i, kostat) => {
            let c = cell(i);
            if c.is_empty() {
                Err((RejectReason::LocationMissing, "code is empty".into()))
            } else if kostat {
                Ok(Location::KostatCode(c))
            } else {
                Ok(Location::Code(c))
            }
        }
        Loc::Names(s, g, e) => {
            // Names as people write them: decomposed jamo composed (NFC), runs of spaces one.
            let cell = |i: usize| {
                let t = crate::model::compose_hangul(&text(f, i));
                t.split_whitespace().collect::<Vec<_>>().join(" ")
            };
            let (sido, sigungu) = (cell(s), g.map(cell).unwrap_or_default());
            if sido.is_empty() && sigungu.is_empty() {
                return Err((
                    RejectReason::LocationMissing,
                    "no 시도 or 시군구 name".into(),
                ));
            }
            let emd = e.map(cell).unwrap_or_default();
            Ok(Location::Names { sido, sigungu, emd })
        }
        Loc::Xy(xi, yi) => {
            let (xs, ys) = (text(f, xi), text(f, yi));
            let (x, y) = (parse_f64(xs.as_bytes()), parse_f64(ys.as_bytes()));
            coordinates(x, y, || (xs, ys))
                .and_then(|c| checker.point(c))
                .map(|c| Location::Point(Point(c)))
        }
        // A null geometry is `None` (see `feature_geometry`).
        Loc::Geometry => geometry(super::feature_geometry(f), max_vertices, checker),
    }
}

/// A feature's geometry as a point or a polygon; anything else, or one above `max_vertices`,
/// is refused.
fn geometry(
    g: Option<&Geometry>,
    max_vertices: usize,
    checker: &RowChecker,
) -> Result<Location, Bad> {
    if let Some(n) = g.map(vertex_count).filter(|&n| n > max_vertices) {
        return Err((
            RejectReason::GeometryTooComplex,
            format!("geometry has {n} vertices, above max_vertices {max_vertices}"),
        ));
    }
    let area = |mp: MultiPolygon<f64>| {
        if mp.0.is_empty()
            || mp
                .coords_iter()
                .any(|c| !c.x.is_finite() || !c.y.is_finite())
        {
            let d = "polygon is empty or has non-finite coordinates".to_string();
            return Err((RejectReason::GeometryInvalid, d));
        }
        Ok(Location::Area(mp))
    };
    if let Some(g) = g.filter(|g| g.is_empty()) {
        return Err((RejectReason::LocationMissing, super::empty_geometry(g)));
    }
    // Z and M are dropped (counted by the caller for the input's note).
    let flat = g.filter(|g| super::has_z_or_m(g)).map(|g| {
        let mut c = g.clone();
        c.flatten_to_2d();
        c
    });
    match flat.as_ref().or(g).map(|g| g.to_geo()) {
        // A NaN or infinite point says so (`RowChecker::point`).
        Some(Ok(geo::Geometry::Point(p))) => checker.point(p.0).map(|c| Location::Point(Point(c))),
        Some(Ok(geo::Geometry::Polygon(p))) => area(MultiPolygon::new(vec![p])),
        Some(Ok(geo::Geometry::MultiPolygon(mp))) => area(mp),
        Some(Ok(g)) => Err((
            RejectReason::CoordinateInvalid,
            format!(
                "expected a point or polygon geometry, found {}",
                geometry_kind(&g)
            ),
        )),
        _ => Err((RejectReason::LocationMissing, "no geometry".into())),
    }
}

/// Number of points of a GDAL geometry, all parts and rings.
fn vertex_count(g: &Geometry) -> usize {
    match g.geometry_count() {
        0 => g.point_count(),
        n => (0..n).map(|i| vertex_count(&g.get_geometry(i))).sum(),
    }
}

/// Reprojects the points of the records `points` names into EPSG:5179, all in one call.
fn reproject_points(
    t: &Transformer,
    points: &[(usize, Coord<f64>)],
    records: &mut [Investment],
) -> Result<(), CrsError> {
    let mut coords: Vec<Coord<f64>> = points.iter().map(|(_, c)| *c).collect();
    t.convert(&mut coords)?;
    for ((i, _), c) in points.iter().zip(coords) {
        records[*i].location = Location::Point(Point(c));
    }
    Ok(())
}

/// What checking the polygons of an input found: the rows repaired, in order, and the
/// records (by index) that cannot be used, with why.
#[derive(Default)]
struct Checked {
    repaired: Vec<u64>,
    unusable: BTreeMap<usize, (RejectReason, String)>,
}

/// Reprojects the polygons of the records `areas` names into EPSG:5179 (when `t` is given),
/// checks each once with GEOS IsValid (O(n log n): a sweep over monotone chains, where
/// `geo::Validation` compares every pair of edges and took 101 s for 100 k vertices) and
/// repairs invalid ones with MakeValid. A polygon that cannot be reprojected, or has no area
/// even after repair, is unusable: that record alone is rejected, not the run.
fn repair_areas(t: Option<&Transformer>, areas: &[usize], records: &mut [Investment]) -> Checked {
    let mut out = Checked::default();
    for &i in areas {
        let row = records[i].row;
        let Location::Area(mp) = &mut records[i].location else {
            continue;
        };
        if let Some(t) = t
            && let Err(m) = reproject_polygons(t, mp)
        {
            let d = format!("polygon cannot be reprojected: {m}");
            out.unusable.insert(i, (RejectReason::CoordinateInvalid, d));
            continue;
        }
        match check_polygon(mp) {
            Ok(None) => {}
            Ok(Some(fixed)) => {
                out.repaired.push(row);
                *mp = fixed;
            }
            Err(why) => {
                out.unusable
                    .insert(i, (RejectReason::GeometryInvalid, why.to_string()));
            }
        }
    }
    out
}

/// Reprojects every ring of `mp` in place.
fn reproject_polygons(t: &Transformer, mp: &mut MultiPolygon<f64>) -> Result<(), CrsError> {
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
    match failed {
        Some(e) => Err(e),
        None if mp.coords_iter().all(|c| c.x.is_finite() && c.y.is_finite()) => Ok(()),
        None => Err(CrsError::NonFinite),
    }
}

/// `Ok(None)` when `mp` is valid with an area, `Ok(Some(repaired))` when MakeValid (structure
/// method) made a valid polygon with an area of it, else why it is unusable. GEOS validates
/// once (and once more the repaired polygon); the reason GEOS gives for an invalid polygon
/// (`Self-intersection at or near point …`) is taken from GDAL's handler
/// ([`gdal_log::isolated`](crate::gdal_log::isolated)) into the reject, not logged per record.
fn check_polygon(mp: &MultiPolygon<f64>) -> Result<Option<MultiPolygon<f64>>, Unusable> {
    use gdal::vector::ToGdal;
    let g = mp.to_gdal().map_err(Unusable::Geos)?;
    let (valid, raised) = crate::gdal_log::isolated(|| g.is_valid());
    let why = raised.first().map(|m| crate::gdal_log::clip(m));
    if valid {
        return if geo::Area::unsigned_area(mp) > 0.0 {
            Ok(None)
        } else {
            Err(Unusable::NoArea)
        };
    }
    let why = why.unwrap_or_else(|| "invalid".into());
    let fixed = make_valid(&g)
        .filter(|f| !f.0.is_empty() && geo::Area::unsigned_area(f) > 0.0)
        .filter(|f| {
            f.to_gdal()
                .is_ok_and(|g| crate::gdal_log::isolated(|| g.is_valid()).0)
        });
    match fixed {
        Some(f) => Ok(Some(f)),
        None => Err(Unusable::Invalid(why)),
    }
}

/// Why a record's polygon cannot be used (the reject's detail).
#[derive(Debug, thiserror::Error)]
enum Unusable {
    #[error("polygon cannot be handed to GEOS: {0}")]
    Geos(gdal::errors::GdalError),
    #[error("polygon has no area")]
    NoArea,
    /// GEOS's reason.
    #[error("polygon is invalid ({0}) and has no valid area even after MakeValid")]
    Invalid(String),
}

/// GEOS MakeValid (structure method) through GDAL, keeping the polygonal parts.
fn make_valid(g: &Geometry) -> Option<MultiPolygon<f64>> {
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

/// The records still usable after reprojection and repair; the others become rejects:
/// the polygons `unusable` names, and points PROJ could not transform (they come back as
/// infinities). Order is kept.
fn reject_unusable(
    index: usize,
    records: Vec<Investment>,
    mut unusable: BTreeMap<usize, (RejectReason, String)>,
    rejects: &mut Vec<Reject>,
    source_crs: Option<&str>,
) -> Vec<Investment> {
    let mut good = Vec::with_capacity(records.len());
    for (i, r) in records.into_iter().enumerate() {
        let bad = match &r.location {
            Location::Area(_) => unusable.remove(&i),
            Location::Point(p) if !(p.x().is_finite() && p.y().is_finite()) => Some((
                RejectReason::CoordinateInvalid,
                format!(
                    "coordinates cannot be transformed from {}",
                    source_crs.unwrap_or("?")
                ),
            )),
            _ => None,
        };
        match bad {
            Some((reason, detail)) => rejects.push(Reject {
                input: index,
                row: r.row,
                record_id: r.record_id,
                reason,
                detail,
                amount_krw: r.amount_krw,
                point: None,
            }),
            None => good.push(r),
        }
    }
    good
}

/// The reject of row `row` of input `index`, without a point.
fn rejected(index: usize, row: u64, record_id: String, r: Rejected) -> Reject {
    Reject {
        input: index,
        row,
        record_id,
        reason: r.reason,
        detail: r.detail,
        amount_krw: r.amount_krw,
        point: None,
    }
}
