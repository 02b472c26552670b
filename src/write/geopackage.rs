//! GeoPackage 1.2 output through GDAL: one transaction per layer, EPSG:5179, fixed timestamps
//! so reruns on the same inputs give the same content.

use std::path::Path;

use gdal::errors::GdalError;
use gdal::spatial_ref::SpatialRef;
use gdal::vector::{Feature, Layer, LayerAccess, LayerOptions, OGRFieldType, OGRwkbGeometryType};
use gdal::{Dataset, DriverManager};
use geo::{Geometry, Polygon};
use thiserror::Error;

use super::{FieldType, GeomKind, OutFeature, OutLayer, Value};

/// GDAL stamps `last_change` in `gpkg_contents`; a fixed date keeps reruns identical.
pub const FIXED_TIMESTAMP: &str = "2000-01-01T00:00:00.000Z";

/// Why a GeoPackage cannot be written, with GDAL's error as the source.
#[derive(Debug, Error)]
pub enum GeoPackageError {
    /// Setting GDAL up for the file (options, driver, CRS) failed.
    #[error("{0}")]
    Setup(#[source] GdalError),
    #[error("creating GeoPackage: {0}")]
    Create(#[source] GdalError),
    /// GDAL refused a layer, its fields or a feature.
    #[error("layer {layer}: {source}")]
    Layer {
        layer: String,
        #[source]
        source: GdalError,
    },
    /// A feature's geometry has no WKB.
    #[error("layer {layer}: {source}")]
    Wkb {
        layer: String,
        #[source]
        source: WkbError,
    },
    /// Closing (building the spatial indexes, flushing SQLite) failed.
    #[error("closing GeoPackage: {0}")]
    Close(#[source] GdalError),
    /// A failure on which GDAL's error handler said the disk (or the SQLite database on it)
    /// is full; `gdal` is its message, clipped.
    #[error("disk full: {source} (GDAL: {gdal})")]
    DiskFull {
        #[source]
        source: Box<GeoPackageError>,
        gdal: String,
    },
    /// A failure with the first message GDAL's error handler raised meanwhile, clipped.
    #[error("{source} (GDAL: {gdal})")]
    Raised {
        #[source]
        source: Box<GeoPackageError>,
        gdal: String,
    },
}

/// Why a geometry has no WKB.
#[derive(Debug, Error)]
pub enum WkbError {
    /// More rings, points or polygons than WKB's 32-bit counts hold.
    #[error("{0} parts do not fit WKB")]
    TooManyParts(usize),
    /// A geometry other than a point, polygon or multipolygon.
    #[error("only points and polygons are written")]
    Unsupported,
}

/// Writes `layers` into a new GeoPackage at `path` (which must not exist), each as soon as the
/// iterator yields it (a channel's receiver lets the caller hand over layers as they are ready).
///
/// # Errors
/// What GDAL said, with "disk full" first when the disk (or SQLite's database on it) is full.
pub fn write<L: std::ops::Deref<Target = OutLayer>>(
    path: &Path,
    layers: impl IntoIterator<Item = L>,
) -> Result<(), GeoPackageError> {
    crate::gdal_log::take();
    write_all(path, layers).map_err(|e| {
        let raised = crate::gdal_log::take();
        let source = Box::new(e);
        match crate::gdal_log::disk_full(&raised) {
            Some(gdal) => GeoPackageError::DiskFull { source, gdal },
            None => match raised.first() {
                Some(m) => GeoPackageError::Raised {
                    source,
                    gdal: crate::gdal_log::clip(m),
                },
                None => *source,
            },
        }
    })
}

fn write_all<L: std::ops::Deref<Target = OutLayer>>(
    path: &Path,
    layers: impl IntoIterator<Item = L>,
) -> Result<(), GeoPackageError> {
    gdal::config::set_config_option("OGR_CURRENT_DATE", FIXED_TIMESTAMP)
        .map_err(GeoPackageError::Setup)?;
    // GDAL 3.6 builds an R-tree at close, by inserting every row's box into SQLite's rtree
    // (~9 µs a row: W5's 15,188 리 and 10,000 rejects took 175 ms of a 720 ms write). For
    // one layer of the file (the second created, in 3.6.2) it can instead feed the boxes to a
    // thread of its own as the rows are written, into a temporary database beside the file,
    // and copy that R-tree's tables in at close; by default only past 100,000 rows. This
    // option starts that thread at the first rows. The R-tree is built by the same inserts
    // in the same order, so its tables are byte for byte the same (checked with sqlite3
    // .dump); the temporary database is removed at close. Thread-local: this thread only.
    gdal::config::set_thread_local_config_option("OGR_GPKG_THREADED_RTREE_AT_FIRST_FEATURE", "YES")
        .map_err(GeoPackageError::Setup)?;
    let driver = DriverManager::get_driver_by_name("GPKG").map_err(GeoPackageError::Setup)?;
    let options = gdal::raster::RasterCreationOptions::from_iter(["VERSION=1.2"]);
    let mut ds = driver
        .create_with_band_type_with_options::<u8, _>(path, 0, 0, 0, &options)
        .map_err(GeoPackageError::Create)?;
    let srs = SpatialRef::from_epsg(5179).map_err(GeoPackageError::Setup)?;
    let cpu = crate::progress::thread_cpu_ms;
    for l in layers {
        let (t, c) = (std::time::Instant::now(), cpu());
        let l = &*l;
        write_layer(&mut ds, l, &srs)?;
        tracing::debug!(layer = %l.name, rows = l.features.len(), fields = l.fields.len(), ms = t.elapsed().as_millis() as u64, cpu_ms = cpu().saturating_sub(c), "GeoPackage layer");
    }
    // Closing builds the spatial indexes (GDAL defers them to the end).
    let (t, c) = (std::time::Instant::now(), cpu());
    let closed = ds.close().map_err(GeoPackageError::Close);
    tracing::debug!(
        ms = t.elapsed().as_millis() as u64,
        cpu_ms = cpu().saturating_sub(c),
        "GeoPackage closed"
    );
    closed
}

fn write_layer(ds: &mut Dataset, l: &OutLayer, srs: &SpatialRef) -> Result<(), GeoPackageError> {
    let gdal = |source| GeoPackageError::Layer {
        layer: l.name.clone(),
        source,
    };
    let ty = match l.geom {
        GeomKind::MultiPolygon => OGRwkbGeometryType::wkbMultiPolygon,
        GeomKind::Point => OGRwkbGeometryType::wkbPoint,
        GeomKind::None => OGRwkbGeometryType::wkbNone,
    };
    let options: &[&str] = match l.geom {
        GeomKind::None => &["FID=fid"],
        _ => &["FID=fid", "GEOMETRY_NAME=geom", "SPATIAL_INDEX=YES"],
    };
    let mut txn = ds.start_transaction().map_err(gdal)?;
    {
        let layer = txn
            .create_layer(LayerOptions {
                name: &l.name,
                srs: (l.geom != GeomKind::None).then_some(srs),
                ty,
                options: Some(options),
            })
            .map_err(gdal)?;
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
        layer.create_defn_fields(&fields).map_err(gdal)?;
        // Each geometry is encoded as WKB into one reused buffer and handed to GDAL whole (one
        // parse per feature instead of one call per vertex). On this thread, not on rayon's
        // pool: the GeoJSON writer keeps that pool busy meanwhile, and a job injected from
        // outside it waited there behind the GeoJSON's (issue #20).
        let mut buf = Vec::new();
        for f in &l.features {
            let wkb = match &f.geometry {
                Some(g) => {
                    wkb_into(g, &mut buf).map_err(|source| GeoPackageError::Wkb {
                        layer: l.name.clone(),
                        source,
                    })?;
                    Some(buf.as_slice())
                }
                None => None,
            };
            write_feature(&layer, f, wkb).map_err(gdal)?;
        }
    }
    txn.commit().map_err(gdal)
}

fn write_feature(layer: &Layer, f: &OutFeature, wkb: Option<&[u8]>) -> Result<(), GdalError> {
    let mut feature = Feature::new(layer.defn())?;
    for (i, v) in f.values.iter().enumerate() {
        let r = match v {
            Value::Null => feature.set_field_null(i),
            Value::Text(s) => feature.set_field_string(i, s),
            Value::Int(n) => feature.set_field_integer64(i, *n),
            Value::Real(x) => feature.set_field_double(i, *x),
        };
        r?;
    }
    if let Some(wkb) = wkb {
        let g = gdal::vector::Geometry::from_wkb(wkb)?;
        feature.set_geometry(g)?;
    }
    feature.create(layer)
}

/// ISO WKB (little endian, 2D) of a point, polygon or multipolygon.
///
/// # Errors
/// Another kind of geometry, or more parts than WKB counts.
pub fn wkb(g: &Geometry<f64>) -> Result<Vec<u8>, WkbError> {
    let mut out = Vec::new();
    wkb_into(g, &mut out)?;
    Ok(out)
}

/// [`wkb`] into `out`, which is cleared first (one buffer serves a whole layer).
///
/// # Errors
/// Another kind of geometry, or more parts than WKB counts.
fn wkb_into(g: &Geometry<f64>, out: &mut Vec<u8>) -> Result<(), WkbError> {
    fn header(out: &mut Vec<u8>, ty: u32) {
        out.push(1);
        out.extend_from_slice(&ty.to_le_bytes());
    }
    fn count(out: &mut Vec<u8>, n: usize) -> Result<(), WkbError> {
        let n = u32::try_from(n).map_err(|_| WkbError::TooManyParts(n))?;
        out.extend_from_slice(&n.to_le_bytes());
        Ok(())
    }
    fn polygon(out: &mut Vec<u8>, p: &Polygon<f64>) -> Result<(), WkbError> {
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
    out.clear();
    match g {
        Geometry::Point(p) => {
            header(out, 1);
            out.extend_from_slice(&p.x().to_le_bytes());
            out.extend_from_slice(&p.y().to_le_bytes());
        }
        Geometry::Polygon(p) => polygon(out, p)?,
        Geometry::MultiPolygon(mp) => {
            let size: usize =
                mp.0.iter()
                    .map(|p| 9 + 4 * (1 + p.interiors().len()) + 16 * p.exterior().0.len())
                    .sum();
            out.reserve(9 + size);
            header(out, 6);
            count(out, mp.0.len())?;
            for p in &mp.0 {
                polygon(out, p)?;
            }
        }
        _ => return Err(WkbError::Unsupported),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_disk_reads_as_before_and_keeps_gdal_s_error_as_the_source() {
        let e = GeoPackageError::DiskFull {
            source: Box::new(GeoPackageError::Layer {
                layer: "sido".into(),
                source: GdalError::OgrError {
                    err: 6,
                    method_name: "OGR_L_CreateFeature",
                },
            }),
            gdal: "sqlite3_exec(COMMIT) failed: database or disk is full".into(),
        };
        assert_eq!(
            e.to_string(),
            "disk full: layer sido: OGR method 'OGR_L_CreateFeature' returned error: '6' \
             (GDAL: sqlite3_exec(COMMIT) failed: database or disk is full)"
        );
        let layer = std::error::Error::source(&e).unwrap();
        let gdal = layer.source().unwrap();
        assert!(gdal.downcast_ref::<GdalError>().is_some());
    }
}
