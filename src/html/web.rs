//! Web-map layers: each region level generalised, in longitude/latitude, with only what a map
//! needs, as FlatGeobuf (with its packed R-tree, for MapLibre/OpenLayers or a tile server) and
//! inside `map.html`, a page that draws them offline with the report's classes and colours.

use std::fmt::Write as _;
use std::path::Path;

use gdal::DriverManager;
use gdal::spatial_ref::{AxisMappingStrategy, SpatialRef};
use gdal::vector::{
    Feature, FieldValue, LayerAccess, LayerOptions, OGRFieldType, OGRwkbGeometryType,
};
use geo::{Coord, Geometry, Simplify};
use rayon::prelude::*;

use super::{NO_DATA, Table, class_colour, esc};
use crate::cache::Cache;
use crate::crs::{GEOJSON_CRS, WORK_CRS};
use crate::error::Error;
use crate::write::OutLayer;
use crate::write::snap::{self, GridPolygon};

/// Generalisation tolerance in EPSG:5179 metres, and the decimals of the web coordinates
/// (4 decimals ≈ 10 m, below the generalisation).
const TOLERANCE_M: f64 = 100.0;
const DECIMALS: u32 = 4;

/// The properties a web map needs, in this order.
const PROPERTIES: [&str; 6] = [
    "code",
    "name",
    "amount_krw",
    "amount_per_km2_krw",
    "tier_label",
    "class_quantile",
];

/// One level, generalised: per feature its polygons on the 10⁻⁴° grid (valid: snap-rounded).
pub struct WebLayer<'a> {
    pub layer: &'a OutLayer,
    pub polygons: Vec<Vec<GridPolygon>>,
}

/// Generalises `layer`: each polygon simplified to [`TOLERANCE_M`] in EPSG:5179, reprojected
/// to CRS84 and snap-rounded to [`DECIMALS`] decimals (so still valid).
///
/// # Errors
/// A coordinate cannot be reprojected, or a polygon is too wide for the grid.
pub fn generalise<'a>(layer: &'a OutLayer, cache: Option<&Cache>) -> Result<WebLayer<'a>, Error> {
    // The boundaries are the same night after night: the generalised polygons are kept in the
    // cache under the sha256 of every coordinate of the layer and the settings.
    let entry = cache.map(|c| {
        let key = crate::write::text_cache::key(layer, DECIMALS);
        let settings = format!("web {TOLERANCE_M} {DECIMALS}");
        c.entry("web", &layer.name, &[&key, settings.as_bytes()])
    });
    if let Some(polygons) = entry
        .as_ref()
        .and_then(|e| e.load())
        .and_then(|b| serde_json::from_slice::<Vec<Vec<GridPolygon>>>(&b).ok())
        .filter(|p| p.len() == layer.features.len())
    {
        return Ok(WebLayer { layer, polygons });
    }
    let polygons = compute(layer)?;
    if let (Some(e), Ok(json)) = (entry, serde_json::to_vec(&polygons)) {
        e.store(&json);
    }
    Ok(WebLayer { layer, polygons })
}

fn compute(layer: &OutLayer) -> Result<Vec<Vec<GridPolygon>>, Error> {
    layer
        .features
        .par_iter()
        .map(|f| {
            let Some(Geometry::MultiPolygon(mp)) = &f.geometry else {
                return Ok(Vec::new());
            };
            let simple = mp.simplify(TOLERANCE_M);
            let mut rings: Vec<Vec<Vec<Coord<f64>>>> = Vec::with_capacity(simple.0.len());
            let polys = if simple.0.is_empty() {
                &mp.0
            } else {
                &simple.0
            };
            for p in polys {
                let mut r = Vec::with_capacity(1 + p.interiors().len());
                for ring in std::iter::once(p.exterior()).chain(p.interiors()) {
                    let mut cs = ring.0.clone();
                    crate::crs::reproject(WORK_CRS, GEOJSON_CRS, &mut cs)
                        .map_err(|e| Error::Invariant(format!("web layer {}: {e}", layer.name)))?;
                    r.push(cs);
                }
                rings.push(r);
            }
            let s = snap::snap(&rings, DECIMALS)
                .map_err(|e| Error::Invariant(format!("web layer {}: {e}", layer.name)))?;
            Ok(s.polygons)
        })
        .collect::<Result<Vec<_>, Error>>()
}

fn lonlat(p: [i64; 2]) -> (f64, f64) {
    let f = 10f64.powi(DECIMALS as i32);
    (p[0] as f64 / f, p[1] as f64 / f)
}

/// Writes `web/<level>.fgb`: CRS84 (EPSG:4326 in lon/lat order), the [`PROPERTIES`], and the
/// FlatGeobuf spatial index.
///
/// # Errors
/// The file cannot be created or written.
pub fn flatgeobuf(dir: &Path, w: &WebLayer<'_>) -> Result<(), Error> {
    let path = dir.join(format!("{}.fgb", w.layer.name));
    let fail = |e: gdal::errors::GdalError| Error::Write {
        path: path.clone(),
        message: e.to_string(),
    };
    let _ = std::fs::remove_file(&path);
    let driver = DriverManager::get_driver_by_name("FlatGeobuf").map_err(fail)?;
    let mut ds = driver.create_vector_only(&path).map_err(fail)?;
    let mut srs = SpatialRef::from_epsg(4326).map_err(fail)?;
    srs.set_axis_mapping_strategy(AxisMappingStrategy::TraditionalGisOrder);
    let layer = ds
        .create_layer(LayerOptions {
            name: &w.layer.name,
            srs: Some(&srs),
            ty: OGRwkbGeometryType::wkbMultiPolygon,
            options: Some(&["SPATIAL_INDEX=YES"]),
        })
        .map_err(fail)?;
    let tab = Table::new(w.layer);
    let fields: Vec<(&str, OGRFieldType::Type)> = PROPERTIES
        .iter()
        .map(|&n| {
            let ty = match n {
                "amount_krw" | "class_quantile" => OGRFieldType::OFTInteger64,
                "amount_per_km2_krw" => OGRFieldType::OFTReal,
                _ => OGRFieldType::OFTString,
            };
            (n, ty)
        })
        .collect();
    layer.create_defn_fields(&fields).map_err(fail)?;
    for (f, polys) in w.layer.features.iter().zip(&w.polygons) {
        let mut feature = Feature::new(layer.defn()).map_err(fail)?;
        for (i, name) in PROPERTIES.iter().enumerate() {
            match *name {
                "amount_krw" | "class_quantile" => match tab.int(f, name) {
                    Some(n) => feature.set_field_integer64(i, n),
                    None => feature.set_field_null(i),
                },
                "amount_per_km2_krw" => match tab.num(f, name) {
                    Some(x) => feature.set_field_double(i, x),
                    None => feature.set_field_null(i),
                },
                _ => match tab.text(f, name) {
                    Some(s) => feature.set_field(i, &FieldValue::StringValue(s.to_string())),
                    None => feature.set_field_null(i),
                },
            }
            .map_err(fail)?;
        }
        if !polys.is_empty() {
            let mp = geo::MultiPolygon::new(
                polys
                    .iter()
                    .map(|rings| {
                        let mut it = rings.iter().map(|r| {
                            geo::LineString::from(r.iter().map(|p| lonlat(*p)).collect::<Vec<_>>())
                        });
                        let ext = it
                            .next()
                            .unwrap_or_else(|| geo::LineString::new(Vec::new()));
                        geo::Polygon::new(ext, it.collect())
                    })
                    .collect(),
            );
            let wkb = crate::write::geopackage::wkb(&Geometry::MultiPolygon(mp)).map_err(|e| {
                Error::Write {
                    path: path.clone(),
                    message: e.to_string(),
                }
            })?;
            let g = gdal::vector::Geometry::from_wkb(&wkb).map_err(fail)?;
            feature.set_geometry(g).map_err(fail)?;
        }
        feature.create(&layer).map_err(fail)?;
    }
    ds.close().map(|_| ()).map_err(fail)
}

/// The layer as a compact JSON array for `map.html`: per feature its code, name, a label of
/// its value, its fill colour and its rings as flat `[lon, lat, …]` arrays of grid integers.
pub fn map_json(w: &WebLayer<'_>, k: usize) -> String {
    let tab = Table::new(w.layer);
    let mut out = String::from("[");
    for (i, (f, polys)) in w.layer.features.iter().zip(&w.polygons).enumerate() {
        if i > 0 {
            out.push(',');
        }
        let fill = tab
            .int(f, "class_quantile")
            .map_or(NO_DATA.to_string(), |c| class_colour(c, k));
        let value = match tab.num(f, "amount_per_km2_krw") {
            Some(v) => format!(
                "{:.0} KRW/km², {}",
                v,
                tab.text(f, "tier_label").unwrap_or_default()
            ),
            None => tab.text(f, "tier_label").unwrap_or("자료 없음").to_string(),
        };
        let _ = write!(
            out,
            "{{\"code\":{},\"name\":{},\"value\":{},\"fill\":\"{fill}\",\"rings\":[",
            json(tab.text(f, "code").unwrap_or_default()),
            json(
                tab.text(f, "full_name")
                    .or(tab.text(f, "name"))
                    .unwrap_or_default()
            ),
            json(&value)
        );
        let mut first = true;
        for rings in polys {
            for ring in rings {
                if !first {
                    out.push(',');
                }
                first = false;
                out.push('[');
                for (m, p) in ring.iter().enumerate() {
                    let _ = write!(out, "{}{},{}", if m > 0 { "," } else { "" }, p[0], p[1]);
                }
                out.push(']');
            }
        }
        out.push_str("]}");
    }
    out.push(']');
    out
}

fn json(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

/// `map.html`: every level drawn from the embedded generalised layers, one at a time (buttons),
/// with wheel zoom, drag and the region's name and value on hover. Self-contained like
/// `report.html`: its only script is inline.
pub fn map_html(title: &str, layers: &[(String, String, usize)]) -> String {
    let mut data = String::new();
    for (name, json, _) in layers {
        let _ = writeln!(
            data,
            "<script type=\"application/json\" id=\"layer-{}\">{}</script>",
            esc(name),
            json.replace("</", "<\\/")
        );
    }
    let buttons: String = layers
        .iter()
        .map(|(name, _, n)| {
            format!(
                "<button data-layer=\"{}\">{} ({n})</button>",
                esc(name),
                esc(super::level_ko(name))
            )
        })
        .collect();
    format!(
        "<!DOCTYPE html>\n<html lang=\"ko\">\n<head>\n<meta charset=\"utf-8\">\n<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'\">\n<title>{t}</title>\n<style>body{{margin:0;font-family:NanumGothic,'Noto Sans CJK KR',sans-serif}}header{{padding:8px 12px;background:#fafafa;border-bottom:1px solid #ddd}}#map{{width:100vw;height:calc(100vh - 48px);display:block;background:#eef3f7}}#tip{{position:fixed;pointer-events:none;background:#fff;border:1px solid #999;padding:2px 6px;font-size:12px;display:none}}button{{margin-right:4px}}</style>\n</head>\n<body>\n<header><b>{t}</b> {buttons} <span id=\"status\"></span></header>\n<svg id=\"map\" xmlns=\"http://www.w3.org/2000/svg\"></svg>\n<div id=\"tip\"></div>\n{data}<script>\n{MAP_JS}\n</script>\n</body>\n</html>\n",
        t = esc(title),
    )
}

/// Draws each level into its own group (hidden but the shown one), projects lon/lat with the
/// cosine of the mean latitude, and marks the body with the regions drawn per level.
///
/// Kept in `map.js` beside this file (no trailing newline: the page embeds it verbatim).
const MAP_JS: &str = include_str!("map.js");
