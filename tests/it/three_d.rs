//! 3D geometries (issue #15, class 4): Point Z / Polygon Z GeoJSON and a PointZ Shapefile are
//! read in 2D on both paths, which agree, with a note that Z was dropped. A NaN point says so
//! (class 11).

use gdal::DriverManager;
use gdal::spatial_ref::SpatialRef;
use gdal::vector::{
    Feature, Geometry, LayerAccess, LayerOptions, OGRFieldType, OGRwkbGeometryType,
};

use crate::fixtures::{geojson, grid_dir, props};

/// A PointZ Shapefile written by GDAL, EPSG:5179, amounts 1 and 2 in 11010 and 26010.
fn point_z_shapefile(path: &std::path::Path) {
    let driver = DriverManager::get_driver_by_name("ESRI Shapefile").unwrap();
    let mut ds = driver.create_vector_only(path).unwrap();
    let srs = SpatialRef::from_epsg(5179).unwrap();
    let layer = ds
        .create_layer(LayerOptions {
            name: "pz",
            srs: Some(&srs),
            ty: OGRwkbGeometryType::wkbPoint25D,
            options: None,
        })
        .unwrap();
    layer
        .create_defn_fields(&[("amount", OGRFieldType::OFTInteger64)])
        .unwrap();
    for (wkt, amount) in [
        ("POINT Z (1000500 2000500 35.5)", 1i64),
        ("POINT Z (1002500 2000500 12)", 2),
    ] {
        let mut f = Feature::new(layer.defn()).unwrap();
        f.set_field_integer64(0, amount).unwrap();
        f.set_geometry(Geometry::from_wkt(wkt).unwrap()).unwrap();
        f.create(&layer).unwrap();
    }
    ds.close().unwrap();
}

const POINTS_Z: &str = r#"{"type":"FeatureCollection",
"crs":{"type":"name","properties":{"name":"urn:ogc:def:crs:EPSG::5179"}},
"features":[
{"type":"Feature","properties":{"amount":4},"geometry":{"type":"Point","coordinates":[1000500,2000500,20]}},
{"type":"Feature","properties":{"amount":8},"geometry":{"type":"Point","coordinates":[1001500,2001500,20]}}
]}"#;

#[test]
fn point_z_inputs_are_read_in_2d_and_both_paths_agree() {
    for (file, input) in [
        ("pz.shp", "path = \"pz.shp\"\n"),
        ("pz.geojson", "path = \"pz.geojson\"\n"),
    ] {
        let dir = grid_dir();
        if file.ends_with(".shp") {
            point_z_shapefile(&dir.path().join(file));
        } else {
            std::fs::write(dir.path().join(file), POINTS_Z).unwrap();
        }
        let input = format!(
            "[[inputs]]\nname = \"z\"\n{input}amount = {{ field = \"amount\" }}\nlocate = {{ by = \"geometry\" }}\n"
        );
        let (plain, streamed, plain_out) =
            crate::fixtures::run_plain_and_streamed(dir.path(), &input, "");
        for o in [&plain, &streamed] {
            let t = &o.report.totals;
            assert_eq!(
                t.rejected_records, 0,
                "{file}: {:?}",
                o.report.rejects_by_reason
            );
            assert_eq!(t.assigned_records, 2, "{file}");
            assert!(
                o.report.inputs[0]
                    .file
                    .warnings
                    .iter()
                    .any(|w| w.starts_with("2 geometr(y/ies) with Z or M coordinates")),
                "{file}: {:?}",
                o.report.inputs[0].file.warnings
            );
        }
        crate::fixtures::assert_same_geojson(
            &plain_out,
            &dir.path().join("out"),
            &["sigungu", "emd"],
        );
    }
}

#[test]
fn a_polygon_z_is_apportioned_in_2d_and_bad_points_say_what_they_are() {
    let dir = grid_dir();
    std::fs::write(
        dir.path().join("mixed.geojson"),
        r#"{"type":"FeatureCollection",
"crs":{"type":"name","properties":{"name":"urn:ogc:def:crs:EPSG::5179"}},
"features":[
{"type":"Feature","properties":{"amount":100},"geometry":{"type":"Polygon","coordinates":[[[1000100,2000100,5],[1000900,2000100,5],[1000900,2000900,5],[1000100,2000900,5],[1000100,2000100,5]]]}},
{"type":"Feature","properties":{"amount":2},"geometry":{"type":"Point","coordinates":[NaN,NaN]}}
]}"#,
    )
    .unwrap();
    let o = crate::fixtures::run_on_grid(
        dir.path(),
        "mixed",
        0.9,
        "[[inputs]]\nname = \"m\"\npath = \"mixed.geojson\"\namount = { field = \"amount\" }\nlocate = { by = \"geometry\" }\n",
    );
    let sigungu = geojson(&dir.path().join("out"), "sigungu");
    assert_eq!(props(&sigungu, "11010")["amount_krw"], 100);
    let rejects = smartgap_rejects(&dir.path().join("out"));
    assert!(
        rejects
            .iter()
            .any(|d| d == "empty geometry: POINT without coordinates" || d == "no geometry"),
        "{rejects:?}"
    );
    assert!(
        !rejects.iter().any(|d| d.contains("found Point")),
        "{rejects:?}"
    );
    assert_eq!(o.report.totals.rejected_records, 1);
}

/// The `detail` of every row of the published `rejects` layer.
fn smartgap_rejects(out: &std::path::Path) -> Vec<String> {
    let ds = gdal::Dataset::open(out.join("smartgap.gpkg")).unwrap();
    let mut l = ds.layer_by_name("rejects").unwrap();
    let i = l.defn().field_index("detail").unwrap();
    l.features()
        .map(|f| f.field_as_string(i).unwrap().unwrap_or_default())
        .collect()
}
