//! Boundaries: the administrative layers (시도, 시군구, 읍면동, ...) read into EPSG:5179
//! regions, each naming its parent one level up.

use std::path::Path;

use gdal::vector::{Geometry, LayerAccess};
use geo::{Area, MultiPolygon};

use super::{field_index, geometry_kind, layer, open, text};
use crate::config::BoundariesSpec;
use crate::error::Error;
use crate::model::{Boundaries, LevelRegions, Region};

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
            Some(srs) => Some(gdal_transform(&srs).map_err(|e| err(0, e.to_string()))?),
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
                to_multipolygon(&g).map_err(|e| err(fid, format!("region {code}: {e}")))?;
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
) -> Result<gdal::spatial_ref::CoordTransform, gdal::errors::GdalError> {
    use gdal::spatial_ref::{AxisMappingStrategy, CoordTransform, SpatialRef};
    let mut target = SpatialRef::from_epsg(5179)?;
    target.set_axis_mapping_strategy(AxisMappingStrategy::TraditionalGisOrder);
    let mut src = srs.clone();
    src.set_axis_mapping_strategy(AxisMappingStrategy::TraditionalGisOrder);
    CoordTransform::new(&src, &target)
}

/// Why a boundary feature's geometry is not a polygon smartgap can use.
#[derive(Debug, thiserror::Error)]
enum ShapeError {
    #[error("{0}")]
    Gdal(#[from] gdal::errors::GdalError),
    #[error("expected a polygon, found {0}")]
    NotPolygon(&'static str),
}

fn to_multipolygon(g: &Geometry) -> Result<MultiPolygon<f64>, ShapeError> {
    match g.to_geo()? {
        geo::Geometry::Polygon(p) => Ok(MultiPolygon::new(vec![p])),
        geo::Geometry::MultiPolygon(mp) => Ok(mp),
        other => Err(ShapeError::NotPolygon(geometry_kind(&other))),
    }
}
