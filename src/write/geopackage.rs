//! GeoPackage 1.2 output through GDAL: one transaction per layer, EPSG:5179, fixed timestamps
//! so reruns on the same inputs give the same content.

use std::path::Path;

use gdal::spatial_ref::SpatialRef;
use gdal::vector::{
    Feature, FieldValue, Layer, LayerAccess, LayerOptions, OGRFieldType, OGRwkbGeometryType,
};
use gdal::{Dataset, DriverManager};
use geo::{Geometry, Polygon};
use rayon::prelude::*;

use super::{FieldType, GeomKind, OutFeature, OutLayer, Value};

/// GDAL stamps `last_change` in `gpkg_contents`; a fixed date keeps reruns identical.
pub const FIXED_TIMESTAMP: &str = "2000-01-01T00:00:00.000Z";

/// Writes `layers` into a new GeoPackage at `path` (which must not exist), each as soon as the
/// iterator yields it (a channel's receiver lets the caller hand over layers as they are ready).
///
/// # Errors
/// What GDAL said, with "disk full" first when the disk (or SQLite's database on it) is full.
pub fn write<L: std::ops::Deref<Target = OutLayer>>(
    path: &Path,
    layers: impl IntoIterator<Item = L>,
) -> Result<(), String> {
    crate::gdal_log::take();
    write_all(path, layers).map_err(|e| {
        let raised = crate::gdal_log::take();
        match crate::gdal_log::disk_full(&raised) {
            Some(m) => format!("disk full: {e} (GDAL: {m})"),
            None => match raised.first() {
                Some(m) => format!("{e} (GDAL: {})", crate::gdal_log::clip(m)),
                None => e,
            },
        }
    })
}

fn write_all<L: std::ops::Deref<Target = OutLayer>>(
    path: &Path,
    layers: impl IntoIterator<Item = L>,
) -> Result<(), String> {
    gdal::config::set_config_option("OGR_CURRENT_DATE", FIXED_TIMESTAMP)
        .map_err(|e| e.to_string())?;
    let driver = DriverManager::get_driver_by_name("GPKG").map_err(|e| e.to_string())?;
    let options = gdal::raster::RasterCreationOptions::from_iter(["VERSION=1.2"]);
    let mut ds = driver
        .create_with_band_type_with_options::<u8, _>(path, 0, 0, 0, &options)
        .map_err(|e| format!("creating GeoPackage: {e}"))?;
    let srs = SpatialRef::from_epsg(5179).map_err(|e| e.to_string())?;
    for l in layers {
        let t = std::time::Instant::now();
        let l = &*l;
        write_layer(&mut ds, l, &srs).map_err(|e| format!("layer {}: {e}", l.name))?;
        tracing::debug!(layer = %l.name, rows = l.features.len(), fields = l.fields.len(), ms = t.elapsed().as_millis() as u64, "GeoPackage layer");
    }
    // Closing builds the spatial indexes (GDAL defers them to the end).
    let t = std::time::Instant::now();
    let closed = ds.close().map_err(|e| format!("closing GeoPackage: {e}"));
    tracing::debug!(ms = t.elapsed().as_millis() as u64, "GeoPackage closed");
    closed
}

fn write_layer(ds: &mut Dataset, l: &OutLayer, srs: &SpatialRef) -> Result<(), String> {
    let ty = match l.geom {
        GeomKind::MultiPolygon => OGRwkbGeometryType::wkbMultiPolygon,
        GeomKind::Point => OGRwkbGeometryType::wkbPoint,
        GeomKind::None => OGRwkbGeometryType::wkbNone,
    };
    let options: &[&str] = match l.geom {
        GeomKind::None => &["FID=fid"],
        _ => &["FID=fid", "GEOMETRY_NAME=geom", "SPATIAL_INDEX=YES"],
    };
    let mut txn = ds.start_transaction().map_err(|e| e.to_string())?;
    {
        let layer = txn
            .create_layer(LayerOptions {
                name: &l.name,
                srs: (l.geom != GeomKind::None).then_some(srs),
                ty,
                options: Some(options),
            })
            .map_err(|e| e.to_string())?;
        let fields: Vec<(&str, OGRFieldType::Type)> = l
            .fields
            .iter()
            .map(|(n, t)| {
                let ty = match t {
                    FieldType::Text => OGRFieldType::OFTString,
                    FieldType::Int64 => OGRFieldType::OFTInteger64,
                    FieldType::Real => OGRFieldType::OFTReal,
                };
                (n.as_str(), ty)
            })
            .collect();
        layer
            .create_defn_fields(&fields)
            .map_err(|e| e.to_string())?;
        // Geometries are encoded as WKB in parallel, a thousand at a time, and handed to GDAL
        // whole (one parse per feature instead of one call per vertex).
        for chunk in l.features.chunks(1024) {
            let wkbs: Vec<Option<Vec<u8>>> = chunk
                .par_iter()
                .map(|f| f.geometry.as_ref().map(wkb).transpose())
                .collect::<Result<_, String>>()?;
            for (f, wkb) in chunk.iter().zip(wkbs) {
                write_feature(&layer, f, wkb.as_deref())?;
            }
        }
    }
    txn.commit().map_err(|e| e.to_string())
}

fn write_feature(layer: &Layer, f: &OutFeature, wkb: Option<&[u8]>) -> Result<(), String> {
    let mut feature = Feature::new(layer.defn()).map_err(|e| e.to_string())?;
    for (i, v) in f.values.iter().enumerate() {
        let r = match v {
            Value::Null => feature.set_field_null(i),
            Value::Text(s) => feature.set_field(i, &FieldValue::StringValue(s.clone())),
            Value::Int(n) => feature.set_field_integer64(i, *n),
            Value::Real(x) => feature.set_field_double(i, *x),
        };
        r.map_err(|e| e.to_string())?;
    }
    if let Some(wkb) = wkb {
        let g = gdal::vector::Geometry::from_wkb(wkb).map_err(|e| e.to_string())?;
        feature.set_geometry(g).map_err(|e| e.to_string())?;
    }
    feature.create(layer).map_err(|e| e.to_string())
}

/// ISO WKB (little endian, 2D) of a point, polygon or multipolygon.
pub fn wkb(g: &Geometry<f64>) -> Result<Vec<u8>, String> {
    fn header(out: &mut Vec<u8>, ty: u32) {
        out.push(1);
        out.extend_from_slice(&ty.to_le_bytes());
    }
    fn count(out: &mut Vec<u8>, n: usize) -> Result<(), String> {
        let n = u32::try_from(n).map_err(|_| format!("{n} parts do not fit WKB"))?;
        out.extend_from_slice(&n.to_le_bytes());
        Ok(())
    }
    fn polygon(out: &mut Vec<u8>, p: &Polygon<f64>) -> Result<(), String> {
        header(out, 3);
        count(out, 1 + p.interiors().len())?;
        for ring in std::iter::once(p.exterior()).chain(p.interiors()) {
            count(out, ring.0.len())?;
            for c in &ring.0 {
                out.extend_from_slice(&c.x.to_le_bytes());
                out.extend_from_slice(&c.y.to_le_bytes());
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    match g {
        Geometry::Point(p) => {
            header(&mut out, 1);
            out.extend_from_slice(&p.x().to_le_bytes());
            out.extend_from_slice(&p.y().to_le_bytes());
        }
        Geometry::Polygon(p) => polygon(&mut out, p)?,
        Geometry::MultiPolygon(mp) => {
            let size: usize =
                mp.0.iter()
                    .map(|p| 9 + 4 * (1 + p.interiors().len()) + 16 * p.exterior().0.len())
                    .sum();
            out.reserve(9 + size);
            header(&mut out, 6);
            count(&mut out, mp.0.len())?;
            for p in &mp.0 {
                polygon(&mut out, p)?;
            }
        }
        _ => return Err("only points and polygons are written".into()),
    }
    Ok(out)
}
