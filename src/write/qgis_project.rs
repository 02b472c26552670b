//! `smartgap.qgs`: a QGIS project (plain XML) beside `smartgap.gpkg` that opens every region
//! layer in EPSG:5179 with its default style (the same renderer as the `layer_styles` row
//! with `useAsDefault`) and its other styles in the layer's style list, the GeoPackage named
//! by a relative path so the run's folder can move.
//!
//! Deterministic: layer ids are the table names, the extent comes from the features, and no
//! date, user or absolute path is written.

use std::fmt::Write as _;
use std::path::Path;

use geo::BoundingRect;

use super::OutLayer;
use super::qml::{QGIS_VERSION, esc};
use super::styles::LayerStyle;
use crate::error::Error;

/// The file name, beside `smartgap.gpkg`.
pub const FILE_NAME: &str = "smartgap.qgs";

/// The layer QGIS shows when the project opens; the others are listed, unchecked.
const VISIBLE: &str = "sigungu";

/// EPSG:5179 as QGIS 3.22 writes it (PROJ 9's definition), so the project needs no lookup to
/// know its CRS.
const EPSG_5179: &str = "<spatialrefsys nativeFormat=\"Wkt\">\
<wkt>PROJCRS[\"Korea 2000 / Unified CS\",BASEGEOGCRS[\"Korea 2000\",DATUM[\"Geocentric datum of Korea\",\
ELLIPSOID[\"GRS 1980\",6378137,298.257222101,LENGTHUNIT[\"metre\",1]]],PRIMEM[\"Greenwich\",0,\
ANGLEUNIT[\"degree\",0.0174532925199433]],ID[\"EPSG\",4737]],CONVERSION[\"Korea Unified Belt\",\
METHOD[\"Transverse Mercator\",ID[\"EPSG\",9807]],PARAMETER[\"Latitude of natural origin\",38,\
ANGLEUNIT[\"degree\",0.0174532925199433],ID[\"EPSG\",8801]],PARAMETER[\"Longitude of natural origin\",127.5,\
ANGLEUNIT[\"degree\",0.0174532925199433],ID[\"EPSG\",8802]],PARAMETER[\"Scale factor at natural origin\",0.9996,\
SCALEUNIT[\"unity\",1],ID[\"EPSG\",8805]],PARAMETER[\"False easting\",1000000,LENGTHUNIT[\"metre\",1],\
ID[\"EPSG\",8806]],PARAMETER[\"False northing\",2000000,LENGTHUNIT[\"metre\",1],ID[\"EPSG\",8807]]],\
CS[Cartesian,2],AXIS[\"northing (X)\",north,ORDER[1],LENGTHUNIT[\"metre\",1]],AXIS[\"easting (Y)\",east,\
ORDER[2],LENGTHUNIT[\"metre\",1]],USAGE[SCOPE[\"Topographic mapping (small scale).\"],\
AREA[\"Republic of Korea (South Korea) - onshore and offshore.\"],BBOX[28.6,122.71,40.27,134.28]],ID[\"EPSG\",5179]]</wkt>\
<proj4>+proj=tmerc +lat_0=38 +lon_0=127.5 +k=0.9996 +x_0=1000000 +y_0=2000000 +ellps=GRS80 +towgs84=0,0,0,0,0,0,0 +units=m +no_defs</proj4>\
<srsid>28043</srsid><srid>5179</srid><authid>EPSG:5179</authid><description>Korea 2000 / Unified CS</description>\
<projectionacronym>tmerc</projectionacronym><ellipsoidacronym>EPSG:7019</ellipsoidacronym>\
<geographicflag>false</geographicflag></spatialrefsys>";

/// A map extent in EPSG:5179 metres.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Extent {
    min: (f64, f64),
    max: (f64, f64),
}

fn extent(l: &OutLayer) -> Option<Extent> {
    l.features
        .iter()
        .filter_map(|f| f.geometry.as_ref()?.bounding_rect())
        .map(|r| Extent {
            min: (r.min().x, r.min().y),
            max: (r.max().x, r.max().y),
        })
        .reduce(|a, b| Extent {
            min: (a.min.0.min(b.min.0), a.min.1.min(b.min.1)),
            max: (a.max.0.max(b.max.0), a.max.1.max(b.max.1)),
        })
}

fn extent_xml(out: &mut String, pad: &str, e: Extent) {
    let _ = writeln!(
        out,
        "{pad}<extent><xmin>{}</xmin><ymin>{}</ymin><xmax>{}</xmax><ymax>{}</ymax></extent>",
        e.min.0, e.min.1, e.max.0, e.max.1
    );
}

/// The layer's title in the layer tree: its Korean / English title, else its table name.
fn title(name: &str) -> String {
    super::metadata::layer_title(name).map_or_else(|| name.to_string(), |(t, _)| t.to_string())
}

/// The project text for `layers` (the region layers, in the tree's order) with the default
/// style of each among `styles`; layers without a default style are left out.
pub fn project(layers: &[&OutLayer], styles: &[LayerStyle]) -> String {
    // Each layer's extent is taken once: a pass over every vertex (5,025 읍면동 included).
    let styled: Vec<(&OutLayer, &LayerStyle, Option<Extent>)> = layers
        .iter()
        .filter_map(|l| {
            let s = styles.iter().find(|s| s.layer == l.name && s.default)?;
            Some((*l, s, extent(l)))
        })
        .collect();
    let mut out = String::from("<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n");
    let _ = writeln!(
        out,
        "<qgis projectname=\"smartgap\" version=\"{QGIS_VERSION}\">\n  <homePath path=\"\"/>\n  <title>smartgap</title>"
    );
    let _ = writeln!(out, "  <projectCrs>{EPSG_5179}</projectCrs>");
    out.push_str("  <layer-tree-group>\n    <customproperties/>\n");
    for (l, _, _) in &styled {
        let checked = if l.name == VISIBLE {
            "Qt::Checked"
        } else {
            "Qt::Unchecked"
        };
        let _ = writeln!(
            out,
            "    <layer-tree-layer id=\"{0}\" name=\"{1}\" source=\"./smartgap.gpkg|layername={0}\" providerKey=\"ogr\" checked=\"{checked}\" expanded=\"1\">\n      <customproperties/>\n    </layer-tree-layer>",
            esc(&l.name),
            esc(&title(&l.name))
        );
    }
    out.push_str("  </layer-tree-group>\n  <projectlayers>\n");
    for (l, s, e) in &styled {
        let others: Vec<&LayerStyle> = styles
            .iter()
            .filter(|o| o.layer == l.name && !o.default)
            .collect();
        map_layer(&mut out, l, s, &others, *e);
    }
    out.push_str("  </projectlayers>\n  <layerorder>\n");
    for (l, _, _) in &styled {
        let _ = writeln!(out, "    <layer id=\"{}\"/>", esc(&l.name));
    }
    out.push_str("  </layerorder>\n  <properties>\n");
    out.push_str("    <Paths>\n      <Absolute type=\"bool\">false</Absolute>\n    </Paths>\n");
    out.push_str("    <SpatialRefSys>\n      <ProjectionsEnabled type=\"int\">1</ProjectionsEnabled>\n    </SpatialRefSys>\n");
    out.push_str("  </properties>\n");
    let all = styled
        .iter()
        .filter_map(|(_, _, e)| *e)
        .reduce(|a, b| Extent {
            min: (a.min.0.min(b.min.0), a.min.1.min(b.min.1)),
            max: (a.max.0.max(b.max.0), a.max.1.max(b.max.1)),
        });
    if let Some(e) = all {
        let _ = writeln!(
            out,
            "  <ProjectViewSettings UseProjectScales=\"0\" rotation=\"0\">\n    <Scales/>\n    \
             <DefaultViewExtent xmin=\"{}\" ymin=\"{}\" xmax=\"{}\" ymax=\"{}\">{EPSG_5179}</DefaultViewExtent>\n  </ProjectViewSettings>",
            e.min.0, e.min.1, e.max.0, e.max.1
        );
    }
    out.push_str("</qgis>\n");
    out
}

/// One `maplayer`: the GeoPackage table by relative path, EPSG:5179, the style's renderer.
fn map_layer(
    out: &mut String,
    l: &OutLayer,
    s: &LayerStyle,
    others: &[&LayerStyle],
    e: Option<Extent>,
) {
    let _ = writeln!(
        out,
        "    <maplayer type=\"vector\" geometry=\"Polygon\" wkbType=\"MultiPolygon\" styleCategories=\"AllStyleCategories\" labelsEnabled=\"0\" hasScaleBasedVisibilityFlag=\"0\" minScale=\"100000000\" maxScale=\"0\" readOnly=\"0\">"
    );
    if let Some(e) = e {
        extent_xml(out, "      ", e);
    }
    let _ = writeln!(
        out,
        "      <id>{0}</id>\n      <datasource>./smartgap.gpkg|layername={0}</datasource>\n      <layername>{1}</layername>",
        esc(&l.name),
        esc(&title(&l.name))
    );
    let _ = writeln!(out, "      <srs>{EPSG_5179}</srs>");
    out.push_str("      <provider encoding=\"UTF-8\">ogr</provider>\n");
    style_manager(out, s, others);
    out.push_str(&s.renderer.xml("      "));
    out.push_str("      <blendMode>0</blendMode>\n      <featureBlendMode>0</featureBlendMode>\n      <layerOpacity>1</layerOpacity>\n");
    let _ = writeln!(
        out,
        "      <previewExpression>{}</previewExpression>",
        esc("\"name\"")
    );
    out.push_str("    </maplayer>\n");
}

/// The layer's named styles (QGIS's style drop-down): the default, current, as the layer's own
/// renderer; each other one as its QML document.
fn style_manager(out: &mut String, default: &LayerStyle, others: &[&LayerStyle]) {
    let _ = writeln!(
        out,
        "      <map-layer-style-manager current=\"{0}\">\n        <map-layer-style name=\"{0}\"/>",
        esc(&default.name)
    );
    for s in others {
        let qml = super::qml::qml(&s.renderer);
        let body = qml.split_once('\n').map_or(qml.as_str(), |(_, rest)| rest);
        let _ = write!(
            out,
            "        <map-layer-style name=\"{}\">\n{body}        </map-layer-style>\n",
            esc(&s.name)
        );
    }
    out.push_str("      </map-layer-style-manager>\n");
}

/// Writes [`project`] as `dir/smartgap.qgs`.
///
/// # Errors
/// The file cannot be written.
pub fn write(dir: &Path, layers: &[&OutLayer], styles: &[LayerStyle]) -> Result<(), Error> {
    let path = dir.join(FILE_NAME);
    std::fs::write(&path, project(layers, styles)).map_err(|e| Error::write_io(&path, &e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::write::qml::{Category, Filter, NO_DATA_GREY, Renderer};
    use crate::write::{GeomKind, OutFeature};
    use geo::{Geometry, polygon};

    #[test]
    fn the_project_names_the_geopackage_relatively_in_epsg_5179_with_the_default_style() {
        let l = OutLayer {
            name: "sigungu".into(),
            geom: GeomKind::MultiPolygon,
            fields: Vec::new(),
            features: vec![OutFeature {
                geometry: Some(Geometry::Polygon(
                    polygon![(x: 1.0, y: 2.0), (x: 3.0, y: 2.0), (x: 3.0, y: 5.0)],
                )),
                values: Vec::new(),
            }],
        };
        let style = |default, value: &str| LayerStyle {
            layer: "sigungu".into(),
            name: value.into(),
            description: String::new(),
            default,
            renderer: Renderer::Categorized {
                expression: "tier_label".into(),
                categories: vec![Category {
                    value: value.into(),
                    label: value.into(),
                    color: NO_DATA_GREY,
                }],
                filters: vec![Filter::Else],
            },
        };
        let styles = [style(false, "other"), style(true, "default")];
        let p = project(&[&l], &styles);
        assert!(p.contains("<datasource>./smartgap.gpkg|layername=sigungu</datasource>"));
        assert!(p.contains("<authid>EPSG:5179</authid>"));
        // The default is the layer's renderer; the other style is in the style manager.
        let (manager, renderer) = p.split_once("</map-layer-style-manager>").unwrap();
        assert!(renderer.contains("value=\"default\"") && !renderer.contains("value=\"other\""));
        assert!(manager.contains("<map-layer-style-manager current=\"default\">"));
        assert!(manager.contains("<map-layer-style name=\"other\">\n<qgis "));
        assert!(p.contains("<xmin>1</xmin><ymin>2</ymin><xmax>3</xmax><ymax>5</ymax>"));
        assert!(p.contains("<Absolute type=\"bool\">false</Absolute>"));
        assert_eq!(p, project(&[&l], &styles));
    }
}
