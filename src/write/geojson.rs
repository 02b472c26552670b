//! RFC 7946 GeoJSON: CRS84 longitude/latitude (no `crs` member), exterior rings
//! counter-clockwise and holes clockwise (right-hand rule), a fixed number of decimals, and the
//! same bytes for the same inputs.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;

use geo::{Coord, Geometry, LineString, Polygon};
use thiserror::Error;

use super::{GeomKind, OutLayer, Value, text_cache};
use crate::cache::Cache;
use crate::crs::{CrsError, GEOJSON_CRS, Transformer, WORK_CRS};
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
    /// The cached geometry texts failed part-way; [`write()`] then writes the layer again
    /// without them.
    #[error("cached geometry: {0}")]
    Cache(#[source] text_cache::TextCacheError),
}

/// Writes `layer` (EPSG:5179) to `path` as a GeoJSON FeatureCollection in CRS84.
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
) -> Result<(), GeoJsonError> {
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
) -> Result<(), GeoJsonError> {
    let f = std::fs::File::create(path)?;
    let mut w = std::io::BufWriter::with_capacity(1 << 20, f);
    // Features are reprojected and formatted in parallel (one PROJ object per thread), a
    // thousand at a time, and written in order: the bytes are those of `render`.
    let conv = |cs: &mut [Coord<f64>]| crate::crs::reproject(WORK_CRS, GEOJSON_CRS, cs);
    w.write_all(HEADER.as_bytes())?;
    for (ci, chunk) in layer.features.chunks(1024).enumerate() {
        let shapes: Vec<String> = match &mut geometries {
            Geometries::Cached(r) => r.take(chunk.len()).map_err(GeoJsonError::Cache)?,
            Geometries::Compute(saver) => {
                let shapes = chunk
                    .par_iter()
                    .map(|f| geometry_text(f, &conv, decimals))
                    .collect::<Result<Vec<String>, GeoJsonError>>()?;
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
            .map(|(f, g)| feature_text(layer, f, g))
            .collect();
        for (k, t) in texts.iter().enumerate() {
            if ci > 0 || k > 0 {
                w.write_all(b",\n")?;
            }
            w.write_all(t.as_bytes())?;
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
    Ok(f.sync_all()?)
}

const HEADER: &str = "{\"type\":\"FeatureCollection\",\"features\":[\n";
const FOOTER: &str = "\n]}\n";

/// Renders the collection, one feature per line.
///
/// # Errors
/// A geometry cannot be transformed or is of another kind.
pub fn render(layer: &OutLayer, t: &Transformer, decimals: u32) -> Result<String, GeoJsonError> {
    let conv = |cs: &mut [Coord<f64>]| t.convert(cs);
    let mut out = String::from(HEADER);
    for (i, f) in layer.features.iter().enumerate() {
        if i > 0 {
            out.push_str(",\n");
        }
        out.push_str(&feature_text(layer, f, &geometry_text(f, &conv, decimals)?));
    }
    out.push_str(FOOTER);
    Ok(out)
}

/// A feature's geometry member: its text, or `null`.
fn geometry_text<F: Fn(&mut [Coord<f64>]) -> Result<(), CrsError>>(
    f: &super::OutFeature,
    t: &F,
    decimals: u32,
) -> Result<String, GeoJsonError> {
    let mut out = String::new();
    match &f.geometry {
        None => out.push_str("null"),
        Some(g) => geometry(&mut out, g, t, decimals)?,
    }
    Ok(out)
}

/// One feature's text around its geometry's.
fn feature_text(layer: &OutLayer, f: &super::OutFeature, geometry: &str) -> String {
    let mut out = String::with_capacity(geometry.len() + 64 * layer.fields.len());
    out.push_str("{\"type\":\"Feature\",\"properties\":{");
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

fn geometry<F: Fn(&mut [Coord<f64>]) -> Result<(), CrsError>>(
    out: &mut String,
    g: &Geometry<f64>,
    t: &F,
    decimals: u32,
) -> Result<(), GeoJsonError> {
    match g {
        Geometry::Point(p) => {
            let mut c = [p.0];
            t(&mut c)?;
            out.push_str("{\"type\":\"Point\",\"coordinates\":");
            coord(out, round(c[0], decimals), decimals);
            out.push('}');
        }
        Geometry::MultiPolygon(mp) => {
            out.push_str("{\"type\":\"MultiPolygon\",\"coordinates\":[");
            let mut first = true;
            for p in &mp.0 {
                let Some(rings) = polygon_rings(p, t, decimals)? else {
                    continue;
                };
                if !first {
                    out.push(',');
                }
                first = false;
                out.push('[');
                for (k, ring) in rings.iter().enumerate() {
                    if k > 0 {
                        out.push(',');
                    }
                    out.push('[');
                    for (m, c) in ring.iter().enumerate() {
                        if m > 0 {
                            out.push(',');
                        }
                        coord(out, *c, decimals);
                    }
                    out.push(']');
                }
                out.push(']');
            }
            out.push_str("]}");
        }
        Geometry::Polygon(p) => {
            geometry(
                out,
                &Geometry::MultiPolygon(geo::MultiPolygon::new(vec![p.clone()])),
                t,
                decimals,
            )?;
        }
        _ => return Err(GeoJsonError::Unsupported),
    }
    Ok(())
}

/// Transforms, rounds, drops repeated points and orients the rings of one polygon.
/// `None` when the exterior collapses at this precision.
fn polygon_rings<F: Fn(&mut [Coord<f64>]) -> Result<(), CrsError>>(
    p: &Polygon<f64>,
    t: &F,
    decimals: u32,
) -> Result<Option<Vec<Vec<Coord<f64>>>>, CrsError> {
    let mut rings = Vec::with_capacity(1 + p.interiors().len());
    for (k, ring) in std::iter::once(p.exterior())
        .chain(p.interiors())
        .enumerate()
    {
        let Some(r) = ring_out(ring, t, decimals, k == 0)? else {
            if k == 0 {
                return Ok(None);
            }
            continue;
        };
        rings.push(r);
    }
    Ok(Some(rings))
}

fn ring_out<F: Fn(&mut [Coord<f64>]) -> Result<(), CrsError>>(
    ring: &LineString<f64>,
    t: &F,
    decimals: u32,
    exterior: bool,
) -> Result<Option<Vec<Coord<f64>>>, CrsError> {
    let mut cs: Vec<Coord<f64>> = ring.0.clone();
    t(&mut cs)?;
    let mut out: Vec<Coord<f64>> = Vec::with_capacity(cs.len());
    for c in cs {
        let c = round(c, decimals);
        if out.last() != Some(&c) {
            out.push(c);
        }
    }
    if out.first() != out.last()
        && let Some(&f) = out.first()
    {
        out.push(f);
    }
    if out.len() < 4 {
        return Ok(None);
    }
    // Shoelace on the rounded coordinates: positive = counter-clockwise.
    let twice_area: f64 = out
        .windows(2)
        .map(|w| w[0].x * w[1].y - w[1].x * w[0].y)
        .sum();
    if twice_area == 0.0 {
        return Ok(None);
    }
    if (twice_area > 0.0) != exterior {
        out.reverse();
    }
    Ok(Some(out))
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
        let n = scaled as i64;
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
        return;
    }
    number_by_format(out, x, decimals);
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
    fn rings_follow_the_right_hand_rule() {
        let tr = Transformer::new(WORK_CRS, WORK_CRS).unwrap();
        let t = |cs: &mut [Coord<f64>]| tr.convert(cs);
        // A clockwise square: must come out counter-clockwise as an exterior.
        let cw = LineString::from(vec![
            (0.0, 0.0),
            (0.0, 1.0),
            (1.0, 1.0),
            (1.0, 0.0),
            (0.0, 0.0),
        ]);
        let r = ring_out(&cw, &t, 6, true).unwrap().unwrap();
        let twice: f64 = r
            .windows(2)
            .map(|w| w[0].x * w[1].y - w[1].x * w[0].y)
            .sum();
        assert!(twice > 0.0);
        let h = ring_out(&cw, &t, 6, false).unwrap().unwrap();
        let twice: f64 = h
            .windows(2)
            .map(|w| w[0].x * w[1].y - w[1].x * w[0].y)
            .sum();
        assert!(twice < 0.0);
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
