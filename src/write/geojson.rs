//! RFC 7946 GeoJSON: CRS84 longitude/latitude (no `crs` member), a fixed number of decimals,
//! polygons valid on that grid with exterior rings counter-clockwise and holes clockwise
//! (right-hand rule, [`super::snap`]), each feature's `id` its region code, and the same bytes
//! for the same inputs.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;

use geo::{Coord, Geometry, Polygon};
use thiserror::Error;

use super::text_cache::{self, Shape};
use super::{GeomKind, OutFeature, OutLayer, Value, snap};
use crate::cache::Cache;
#[cfg(test)]
use crate::crs::Transformer;
use crate::crs::{CrsError, GEOJSON_CRS, WORK_CRS};
use crate::report::GeoJsonReport;
use rayon::prelude::*;

/// Why a GeoJSON file cannot be written.
#[derive(Debug, Error)]
pub enum GeoJsonError {
    /// The file cannot be created or written ("disk full" first when the disk is, see
    /// [`crate::error::io_message`]).
    #[error("{}", crate::error::io_message(.0))]
    Io(#[from] std::io::Error),
    /// A coordinate cannot be reprojected to CRS84.
    #[error("{0}")]
    Crs(#[from] CrsError),
    /// A geometry other than a point, polygon or multipolygon.
    #[error("only points and polygons are written")]
    Unsupported,
    /// A polygon too wide for the integer grid at this precision.
    #[error("feature {id}: {source}")]
    TooWide {
        id: String,
        #[source]
        source: snap::TooWide,
    },
    /// The cached geometry texts failed part-way; [`write()`] then writes the layer again
    /// without them.
    #[error("cached geometry: {0}")]
    Cache(#[source] text_cache::TextCacheError),
}

/// Writes `layer` (EPSG:5179) to `path` as a GeoJSON FeatureCollection in CRS84, its polygons
/// snap-rounded to valid polygons at `decimals` ([`super::snap`]), and says what that did.
///
/// With a `cache`, a polygon layer's geometry texts are taken from it when they were
/// saved for exactly these coordinates, or saved there for the next run ([`super::text_cache`]);
/// the bytes written are the same either way.
///
/// # Errors
/// The file cannot be written, or a geometry cannot be reprojected or is of another kind.
pub fn write(
    path: &Path,
    layer: &OutLayer,
    decimals: u32,
    cache: Option<&Cache>,
) -> Result<GeoJsonReport, GeoJsonError> {
    let Some(cache) = cache.filter(|_| layer.geom == GeomKind::MultiPolygon) else {
        return write_from(path, layer, decimals, Geometries::Compute(None));
    };
    let key = text_cache::key(layer, decimals);
    let entry = text_cache::entry(cache, &layer.name, &key);
    let file = entry.path();
    let n = layer.features.len();
    match text_cache::Reader::open(file, &key, n) {
        Ok(Some(reader)) => match write_from(path, layer, decimals, Geometries::Cached(reader)) {
            Err(GeoJsonError::Cache(e)) => {
                tracing::warn!(path = %file.display(), error = %e, "cached GeoJSON geometry not used; writing it again")
            }
            written => return written,
        },
        Ok(None) => {}
        Err(e) => {
            tracing::warn!(path = %file.display(), error = %e, "cached GeoJSON geometry not readable")
        }
    }
    let saver = text_cache::Writer::create(&entry, &key, n)
        .map_err(
            |e| tracing::warn!(path = %file.display(), error = %e, "GeoJSON geometry not cached"),
        )
        .ok();
    write_from(path, layer, decimals, Geometries::Compute(saver))
}

/// Where a layer's geometry texts come from.
enum Geometries {
    /// Reprojected and formatted now, and saved when there is a writer.
    Compute(Option<text_cache::Writer>),
    Cached(text_cache::Reader),
}

/// Writes the file; with [`Geometries::Cached`], a failure of the cache is
/// [`GeoJsonError::Cache`] and the output is to be written again without it.
fn write_from(
    path: &Path,
    layer: &OutLayer,
    decimals: u32,
    mut geometries: Geometries,
) -> Result<GeoJsonReport, GeoJsonError> {
    let f = std::fs::File::create(path)?;
    let mut w = std::io::BufWriter::with_capacity(1 << 20, f);
    // Features are reprojected and formatted in parallel (one PROJ object per thread), a
    // thousand at a time, and written in order: the bytes are those of `render`.
    let conv = |cs: &mut [Coord<f64>]| crate::crs::reproject(WORK_CRS, GEOJSON_CRS, cs);
    let mut report = GeoJsonReport {
        layer: layer.name.clone(),
        decimals,
        features: layer.features.len(),
        ..GeoJsonReport::default()
    };
    w.write_all(HEADER.as_bytes())?;
    for (ci, chunk) in layer.features.chunks(1024).enumerate() {
        let shapes: Vec<Shape> = match &mut geometries {
            Geometries::Cached(r) => r.take(chunk.len()).map_err(GeoJsonError::Cache)?,
            Geometries::Compute(saver) => {
                let shapes = chunk
                    .par_iter()
                    .map(|f| shape(layer, f, &conv, decimals))
                    .collect::<Result<Vec<Shape>, GeoJsonError>>()?;
                if let Some(s) = saver
                    && let Err(e) = s.add(&shapes)
                {
                    tracing::warn!(error = %e, "GeoJSON geometry not cached");
                    *saver = None;
                }
                shapes
            }
        };
        let texts: Vec<String> = chunk
            .par_iter()
            .zip(&shapes)
            .map(|(f, s)| feature_text(layer, f, &s.text))
            .collect();
        for (k, t) in texts.iter().enumerate() {
            if ci > 0 || k > 0 {
                w.write_all(b",\n")?;
            }
            w.write_all(t.as_bytes())?;
        }
        for (f, s) in chunk.iter().zip(&shapes) {
            tally(&mut report, layer, f, s.area_change);
        }
    }
    match geometries {
        Geometries::Cached(r) => r.finish().map_err(GeoJsonError::Cache)?,
        Geometries::Compute(Some(s)) => {
            if let Err(e) = s.finish() {
                tracing::warn!(error = %e, "GeoJSON geometry not cached");
            }
        }
        Geometries::Compute(None) => {}
    }
    w.write_all(FOOTER.as_bytes())?;
    let f = w.into_inner().map_err(|e| e.into_error())?;
    f.sync_all()?;
    Ok(report)
}

/// Adds one feature's area change to the layer's report; a collapsed polygon is also a warning.
fn tally(report: &mut GeoJsonReport, layer: &OutLayer, f: &OutFeature, change: f64) {
    if change.is_nan() {
        let id = feature_id(layer, f).unwrap_or_default();
        tracing::warn!(layer = %layer.name, id = %id, decimals = report.decimals, "the polygon collapses to no area at the GeoJSON precision; written without geometry");
        report.collapsed.push(id);
    } else if change > 0.0 {
        report.features_changed += 1;
        if change > report.largest_area_change {
            report.largest_area_change = change;
            report.largest_area_change_id = feature_id(layer, f);
        }
    }
}

const HEADER: &str = "{\"type\":\"FeatureCollection\",\"features\":[\n";
const FOOTER: &str = "\n]}\n";

/// Renders the collection, one feature per line.
///
/// # Errors
/// A geometry cannot be transformed or is of another kind.
// Only the tests call it: the plain, uncached rendering the cached writer must equal.
#[cfg(test)]
pub fn render(layer: &OutLayer, t: &Transformer, decimals: u32) -> Result<String, GeoJsonError> {
    let conv = |cs: &mut [Coord<f64>]| t.convert(cs);
    let mut out = String::from(HEADER);
    for (i, f) in layer.features.iter().enumerate() {
        if i > 0 {
            out.push_str(",\n");
        }
        out.push_str(&feature_text(
            layer,
            f,
            &shape(layer, f, &conv, decimals)?.text,
        ));
    }
    out.push_str(FOOTER);
    Ok(out)
}

fn shape<F: Fn(&mut [Coord<f64>]) -> Result<(), CrsError>>(
    layer: &OutLayer,
    f: &OutFeature,
    t: &F,
    decimals: u32,
) -> Result<Shape, GeoJsonError> {
    let mut text = String::new();
    let area_change = match &f.geometry {
        None => {
            text.push_str("null");
            0.0
        }
        Some(g) => geometry(&mut text, g, t, decimals).map_err(|e| match e {
            GeoJsonError::TooWide { source, .. } => GeoJsonError::TooWide {
                id: feature_id(layer, f).unwrap_or_default(),
                source,
            },
            e => e,
        })?,
    };
    Ok(Shape { text, area_change })
}

/// A feature's stable `id`: its region code (the `code` column), or for a layer of records
/// (the rejects) `<input>:<row>`.
fn feature_id(layer: &OutLayer, f: &OutFeature) -> Option<String> {
    let col = |name: &str| layer.fields.iter().position(|(n, _)| n == name);
    if let Some(Value::Text(code)) = col("code").and_then(|i| f.values.get(i)) {
        return Some(code.clone());
    }
    match (
        col("input").and_then(|i| f.values.get(i)),
        col("row").and_then(|i| f.values.get(i)),
    ) {
        (Some(Value::Text(input)), Some(Value::Int(row))) => Some(format!("{input}:{row}")),
        _ => None,
    }
}

/// One feature's text around its geometry's.
fn feature_text(layer: &OutLayer, f: &OutFeature, geometry: &str) -> String {
    let mut out = String::with_capacity(geometry.len() + 64 * layer.fields.len());
    out.push_str("{\"type\":\"Feature\",");
    if let Some(id) = feature_id(layer, f) {
        out.push_str("\"id\":");
        out.push_str(&json_string(&id));
        out.push(',');
    }
    out.push_str("\"properties\":{");
    for (j, ((name, _), v)) in layer.fields.iter().zip(&f.values).enumerate() {
        if j > 0 {
            out.push(',');
        }
        out.push_str(&json_string(name));
        out.push(':');
        match v {
            Value::Null => out.push_str("null"),
            Value::Text(s) => out.push_str(&json_string(s)),
            Value::Int(n) => {
                let _ = write!(out, "{n}");
            }
            Value::Real(x) if x.is_finite() => out.push_str(
                &serde_json::Number::from_f64(*x).map_or("null".into(), |n| n.to_string()),
            ),
            Value::Real(_) => out.push_str("null"),
        }
    }
    out.push_str("},\"geometry\":");
    out.push_str(geometry);
    out.push('}');
    out
}

fn json_string(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

/// Writes `g`'s text; returns a polygon's relative area change (NaN: collapsed, `null`
/// written) or 0.
fn geometry<F: Fn(&mut [Coord<f64>]) -> Result<(), CrsError>>(
    out: &mut String,
    g: &Geometry<f64>,
    t: &F,
    decimals: u32,
) -> Result<f64, GeoJsonError> {
    let polygons: Vec<&Polygon<f64>> = match g {
        Geometry::Point(p) => {
            let mut c = [p.0];
            t(&mut c)?;
            out.push_str("{\"type\":\"Point\",\"coordinates\":");
            coord(out, round(c[0], decimals), decimals);
            out.push('}');
            return Ok(0.0);
        }
        Geometry::MultiPolygon(mp) => mp.0.iter().collect(),
        Geometry::Polygon(p) => vec![p],
        _ => return Err(GeoJsonError::Unsupported),
    };
    let mut projected: Vec<Vec<Vec<Coord<f64>>>> = Vec::with_capacity(polygons.len());
    for p in polygons {
        let mut rings = Vec::with_capacity(1 + p.interiors().len());
        for ring in std::iter::once(p.exterior()).chain(p.interiors()) {
            let mut cs = ring.0.clone();
            t(&mut cs)?;
            rings.push(cs);
        }
        projected.push(rings);
    }
    let snapped = snap::snap(&projected, decimals).map_err(|source| GeoJsonError::TooWide {
        id: String::new(),
        source,
    })?;
    if snapped.polygons.is_empty() {
        out.push_str("null");
        return Ok(f64::NAN);
    }
    multipolygon_text(out, &snapped.polygons, decimals);
    Ok(snapped.area_change)
}

fn multipolygon_text(out: &mut String, polygons: &[snap::GridPolygon], decimals: u32) {
    out.push_str("{\"type\":\"MultiPolygon\",\"coordinates\":[");
    for (i, rings) in polygons.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push('[');
        for (k, ring) in rings.iter().enumerate() {
            if k > 0 {
                out.push(',');
            }
            out.push('[');
            for (m, p) in ring.iter().enumerate() {
                if m > 0 {
                    out.push(',');
                }
                out.push('[');
                grid_number(out, p[0], decimals);
                out.push(',');
                grid_number(out, p[1], decimals);
                out.push(']');
            }
            out.push(']');
        }
        out.push(']');
    }
    out.push_str("]}");
}

fn round(c: Coord<f64>, decimals: u32) -> Coord<f64> {
    let f = 10f64.powi(decimals as i32);
    Coord {
        x: (c.x * f).round() / f,
        y: (c.y * f).round() / f,
    }
}

fn coord(out: &mut String, c: Coord<f64>, decimals: u32) {
    out.push('[');
    number(out, c.x, decimals);
    out.push(',');
    number(out, c.y, decimals);
    out.push(']');
}

/// Fixed decimals with trailing zeros trimmed: 127.500000 → 127.5. `x` is already rounded to
/// `decimals` (see [`round`]), so its decimal digits are those of the integer `x·10^decimals`:
/// written with integer arithmetic while that integer is exact (below 2⁵³, far above
/// 360·10⁹); the test checks the two ways agree.
fn number(out: &mut String, x: f64, decimals: u32) {
    let scaled = (x * 10f64.powi(decimals as i32)).round();
    if scaled.abs() < 9.0e15 && decimals <= 9 {
        grid_number(out, scaled as i64, decimals);
        return;
    }
    number_by_format(out, x, decimals);
}

/// The number `n · 10^-decimals` in decimal, the fraction's trailing zeros dropped.
fn grid_number(out: &mut String, n: i64, decimals: u32) {
    if n == 0 {
        out.push('0');
        return;
    }
    if n < 0 {
        out.push('-');
    }
    // The digits of |n|, least significant first; a point goes in after `decimals` of
    // them, and the fraction's trailing zeros are dropped.
    let mut digits = [0u8; 24];
    let (mut m, mut len) = (n.unsigned_abs(), 0);
    while m > 0 || len <= decimals as usize {
        digits[len] = b'0' + (m % 10) as u8;
        m /= 10;
        len += 1;
    }
    let point = decimals as usize;
    let lowest = digits[..point]
        .iter()
        .position(|&d| d != b'0')
        .unwrap_or(point);
    for k in (point..len).rev() {
        out.push(digits[k] as char);
    }
    if lowest < point {
        out.push('.');
        for k in (lowest..point).rev() {
            out.push(digits[k] as char);
        }
    }
}

fn number_by_format(out: &mut String, x: f64, decimals: u32) {
    let s = format!("{x:.prec$}", prec = decimals as usize);
    let s = if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        &s
    };
    out.push_str(if s == "-0" { "0" } else { s });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::write::{FieldType, GeomKind, OutFeature};
    use geo::LineString;

    #[test]
    fn integer_formatting_equals_the_formatter_on_rounded_coordinates() {
        let mut rng = crate::indicators::spatial::Rng::new(1);
        for decimals in 5..=9 {
            for k in 0..200_000 {
                let x = match k % 4 {
                    0 => (rng.below(1 << 40) as f64 / (1u64 << 40) as f64 - 0.5) * 720.0,
                    1 => 124.0 + rng.below(1 << 30) as f64 / (1u64 << 30) as f64 * 8.0,
                    2 => (rng.below(2000) as f64 - 1000.0) / 10f64.powi(rng.below(10) as i32),
                    _ => -(rng.below(1 << 20) as f64) * 1e-9,
                };
                let c = round(Coord { x, y: 0.0 }, decimals);
                let (mut a, mut b) = (String::new(), String::new());
                number(&mut a, c.x, decimals);
                number_by_format(&mut b, c.x, decimals);
                assert_eq!(a, b, "{x} at {decimals} decimals");
            }
        }
    }

    #[test]
    fn numbers_are_trimmed_and_fixed() {
        let mut s = String::new();
        number(&mut s, 127.5, 6);
        s.push(' ');
        number(&mut s, 37.1234564, 6);
        s.push(' ');
        number(&mut s, -0.0000001, 6);
        assert_eq!(s, "127.5 37.123456 0");
    }

    #[test]
    fn features_have_their_code_or_record_key_as_id() {
        let l = square_layer(950_000.0);
        let t = Transformer::new(WORK_CRS, GEOJSON_CRS).unwrap();
        let v: serde_json::Value = serde_json::from_str(&render(&l, &t, 6).unwrap()).unwrap();
        assert_eq!(v["features"][7]["id"], "00007");
        let rejects = crate::write::rejects_layer(
            &[crate::model::Reject {
                input: 0,
                row: 12,
                record_id: "r".into(),
                reason: crate::model::RejectReason::GeometryInvalid,
                detail: String::new(),
                amount_krw: None,
                point: None,
            }],
            &["projects".into()],
            &["p.csv".into()],
        );
        let v: serde_json::Value = serde_json::from_str(&render(&rejects, &t, 6).unwrap()).unwrap();
        assert_eq!(v["features"][0]["id"], "projects:12");
    }

    #[test]
    fn a_layer_renders_as_a_feature_collection() {
        let t = Transformer::new(WORK_CRS, WORK_CRS).unwrap();
        let l = OutLayer {
            name: "x".into(),
            geom: GeomKind::Point,
            fields: vec![
                ("code".into(), FieldType::Text),
                ("n".into(), FieldType::Int64),
            ],
            features: vec![OutFeature {
                geometry: Some(Geometry::Point(geo::Point::new(1.0, 2.0))),
                values: vec![Value::Text("11".into()), Value::Int(3)],
            }],
        };
        let s = render(&l, &t, 6).unwrap();
        let v: serde_json::Value = serde_json::from_str(&s).unwrap();
        assert_eq!(v["features"][0]["properties"]["code"], "11");
        assert_eq!(v["features"][0]["geometry"]["coordinates"][0], 1);
    }

    fn square_layer(x0: f64) -> OutLayer {
        let sq = |x: f64, y: f64| {
            geo::Polygon::new(
                LineString::from(vec![
                    (x, y),
                    (x + 1000.0, y),
                    (x + 1000.0, y + 1000.0),
                    (x, y + 1000.0),
                    (x, y),
                ]),
                vec![],
            )
        };
        OutLayer {
            name: "sigungu".into(),
            geom: GeomKind::MultiPolygon,
            fields: vec![("code".into(), FieldType::Text)],
            features: (0..1500)
                .map(|k| OutFeature {
                    geometry: (k % 7 != 3).then(|| {
                        Geometry::MultiPolygon(geo::MultiPolygon::new(vec![sq(
                            x0 + 1500.0 * (k % 40) as f64,
                            1_900_000.0 + 1500.0 * (k / 40) as f64,
                        )]))
                    }),
                    values: vec![Value::Text(format!("{k:05}"))],
                })
                .collect(),
        }
    }

    #[test]
    fn cached_geometry_gives_the_same_bytes_and_is_never_trusted_blindly() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(&dir.path().join("cache"));
        let out = |name: &str| dir.path().join(name);
        let layer = square_layer(950_000.0);
        let t = Transformer::new(WORK_CRS, GEOJSON_CRS).unwrap();
        let expected = render(&layer, &t, 7).unwrap();
        let read = |p: &Path| std::fs::read_to_string(p).unwrap();

        write(&out("plain.geojson"), &layer, 7, None).unwrap();
        assert_eq!(read(&out("plain.geojson")), expected);
        // Miss: written and saved; hit: read back.
        write(&out("miss.geojson"), &layer, 7, Some(&cache)).unwrap();
        let entry = text_cache::entry(&cache, "sigungu", &text_cache::key(&layer, 7));
        let file = entry.path().to_path_buf();
        assert!(file.exists());
        write(&out("hit.geojson"), &layer, 7, Some(&cache)).unwrap();
        assert_eq!(read(&out("miss.geojson")), expected);
        assert_eq!(read(&out("hit.geojson")), expected);

        // A damaged byte anywhere (here in a text, then in a length) is caught by the checksum
        // or the file size, the layer written again without it, and the cache replaced.
        for at in [40_000u64, 56] {
            let mut bytes = std::fs::read(&file).unwrap();
            bytes[at as usize] ^= 0x5a;
            std::fs::write(&file, &bytes).unwrap();
            write(&out("damaged.geojson"), &layer, 7, Some(&cache)).unwrap();
            assert_eq!(read(&out("damaged.geojson")), expected, "damage at {at}");
            let key = text_cache::key(&layer, 7);
            let mut r = text_cache::Reader::open(&file, &key, layer.features.len())
                .unwrap()
                .unwrap();
            r.take(layer.features.len()).unwrap();
            r.finish().unwrap();
        }
        // Truncated: the same.
        let bytes = std::fs::read(&file).unwrap();
        std::fs::write(&file, &bytes[..bytes.len() / 2]).unwrap();
        write(&out("short.geojson"), &layer, 7, Some(&cache)).unwrap();
        assert_eq!(read(&out("short.geojson")), expected);

        // Moved coordinates or other decimals: another key, so the new geometry is written.
        let moved = square_layer(951_000.0);
        write(&out("moved.geojson"), &moved, 7, Some(&cache)).unwrap();
        assert_eq!(read(&out("moved.geojson")), render(&moved, &t, 7).unwrap());
        assert_ne!(read(&out("moved.geojson")), expected);
        write(&out("six.geojson"), &moved, 6, Some(&cache)).unwrap();
        assert_eq!(read(&out("six.geojson")), render(&moved, &t, 6).unwrap());
        assert_ne!(text_cache::key(&moved, 6), text_cache::key(&moved, 7));
    }
}
