//! GeoPackage 1.2 output through GDAL: one transaction per layer, EPSG:5179, fixed timestamps
//! so reruns on the same inputs give the same content.

use std::path::Path;

use gdal::spatial_ref::SpatialRef;
use gdal::vector::{
    Feature, FieldValue, LayerAccess, LayerOptions, OGRFieldType, OGRwkbGeometryType, ToGdal,
};
use gdal::{Dataset, DriverManager};

use super::{FieldType, GeomKind, OutLayer, Value};

/// GDAL stamps `last_change` in `gpkg_contents`; a fixed date keeps reruns identical.
pub const FIXED_TIMESTAMP: &str = "2000-01-01T00:00:00.000Z";

/// Writes `layers` into a new GeoPackage at `path` (which must not exist).
pub fn write(path: &Path, layers: &[OutLayer]) -> Result<(), String> {
    gdal::config::set_config_option("OGR_CURRENT_DATE", FIXED_TIMESTAMP)
        .map_err(|e| e.to_string())?;
    let driver = DriverManager::get_driver_by_name("GPKG").map_err(|e| e.to_string())?;
    let options = gdal::raster::RasterCreationOptions::from_iter(["VERSION=1.2"]);
    let mut ds = driver
        .create_with_band_type_with_options::<u8, _>(path, 0, 0, 0, &options)
        .map_err(|e| format!("creating GeoPackage: {e}"))?;
    let srs = SpatialRef::from_epsg(5179).map_err(|e| e.to_string())?;
    for l in layers {
        write_layer(&mut ds, l, &srs).map_err(|e| format!("layer {}: {e}", l.name))?;
    }
    ds.close().map_err(|e| format!("closing GeoPackage: {e}"))
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
        for f in &l.features {
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
            if let Some(g) = &f.geometry {
                let g = g.to_gdal().map_err(|e| e.to_string())?;
                feature.set_geometry(g).map_err(|e| e.to_string())?;
            }
            feature.create(&layer).map_err(|e| e.to_string())?;
        }
    }
    txn.commit().map_err(|e| e.to_string())
}
