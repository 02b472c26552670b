//! Development-district polygons apportioned by intersected area over the 3×3 grid: halves
//! split by a straight border, a district inside one region, a half outside every region, an
//! invalid bow-tie repaired, one far away and one vertex bomb rejected. Every share is computed
//! by hand from the squares.

use std::path::Path;

use gdal::DriverManager;
use gdal::spatial_ref::SpatialRef;
use gdal::vector::{
    Feature, FieldValue, Geometry, LayerAccess, LayerOptions, OGRFieldType, OGRwkbGeometryType,
};

use crate::fixtures::{X0, Y0, geojson, grid_dir, props};

/// A rectangle in km offsets from the grid origin, as WKT in EPSG:5179 metres.
fn rect(x0: f64, y0: f64, x1: f64, y1: f64) -> String {
    let (a, b, c, d) = (
        X0 + x0 * 1000.0,
        Y0 + y0 * 1000.0,
        X0 + x1 * 1000.0,
        Y0 + y1 * 1000.0,
    );
    format!("POLYGON(({a} {b},{c} {b},{c} {d},{a} {d},{a} {b}))")
}

fn districts(path: &Path) {
    let driver = DriverManager::get_driver_by_name("GPKG").unwrap();
    let mut ds = driver.create_vector_only(path).unwrap();
    let srs = SpatialRef::from_epsg(5179).unwrap();
    let layer = ds
        .create_layer(LayerOptions {
            name: "districts",
            srs: Some(&srs),
            ty: OGRwkbGeometryType::wkbPolygon,
            options: None,
        })
        .unwrap();
    layer
        .create_defn_fields(&[
            ("id", OGRFieldType::OFTString),
            ("amount_krw", OGRFieldType::OFTInteger64),
        ])
        .unwrap();
    let (bx, by) = (X0 + 1200.0, Y0 + 1200.0);
    let bowtie = format!(
        "POLYGON(({bx} {by},{} {},{} {by},{bx} {},{bx} {by}))",
        bx + 600.0,
        by + 600.0,
        bx + 600.0,
        by + 600.0
    );
    let bomb: String = {
        let n = 5000;
        let pts: Vec<String> = (0..=n)
            .map(|k| {
                let t = std::f64::consts::TAU * (k % n) as f64 / n as f64;
                format!(
                    "{} {}",
                    X0 + 2500.0 + 300.0 * t.cos(),
                    Y0 + 1500.0 + 300.0 * t.sin()
                )
            })
            .collect();
        format!("POLYGON(({}))", pts.join(","))
    };
    let rows: Vec<(&str, i64, String)> = vec![
        ("d_half", 1001, rect(0.5, 0.2, 1.5, 0.8)),
        ("d_inside", 700, rect(2.1, 1.1, 2.9, 1.9)),
        ("d_out_half", 1000, rect(-0.5, 2.2, 0.5, 2.8)),
        ("d_bowtie", 300, bowtie),
        ("d_far", 50, rect(50.0, 50.0, 51.0, 51.0)),
        ("d_bomb", 60, bomb),
    ];
    for (id, amount, wkt) in rows {
        let mut f = Feature::new(layer.defn()).unwrap();
        f.set_field(0, &FieldValue::StringValue(id.into())).unwrap();
        f.set_field_integer64(1, amount).unwrap();
        f.set_geometry(Geometry::from_wkt(&wkt).unwrap()).unwrap();
        f.create(&layer).unwrap();
    }
    ds.close().unwrap();
}

const NAME: &str = "districts";
const MAX_REJECT_SHARE: f64 = 0.9;
const INPUTS: &str = r#"
[[inputs]]
name = "districts"
path = "districts.gpkg"
id = "id"
max_vertices = 1000
amount = { field = "amount_krw" }
locate = { by = "geometry" }
"#;

#[test]
fn districts_are_apportioned_by_area_and_every_won_is_accounted_for() {
    let dir = grid_dir();
    districts(&dir.path().join("districts.gpkg"));
    let o = crate::fixtures::run_on_grid(dir.path(), NAME, MAX_REJECT_SHARE, INPUTS);
    let emd = geojson(&dir.path().join("out"), "emd");
    let got = |c: &str| props(&emd, c)["amount_krw"].as_i64().unwrap();
    // d_half: 0.5 km on each side of x = 1 km → 500.5 each; the odd won goes to the first.
    assert_eq!(got("11010101"), 501);
    assert_eq!(got("11020101"), 500);
    // d_inside lies in 26010102 only.
    assert_eq!(got("26010102"), 700);
    // d_out_half: the half at x < 0 lies outside every region; the other half in 11010103.
    assert_eq!(got("11010103"), 500);
    // The bow-tie is repaired (two triangles) and lies in 11020102.
    assert_eq!(got("11020102"), 300);
    let emd_level = o.report.levels.iter().find(|l| l.level == "emd").unwrap();
    assert_eq!(emd_level.outside_krw, 500);
    let r = &o.report.rejects_by_reason;
    assert_eq!(
        r.get("outside_all_regions")
            .map(|s| (s.count, s.amount_krw)),
        Some((1, 50))
    );
    assert_eq!(
        r.get("geometry_too_complex")
            .map(|s| (s.count, s.amount_krw)),
        Some((1, 60))
    );
    let t = &o.report.totals;
    assert_eq!(t.input_krw, 1001 + 700 + 1000 + 300 + 50 + 60);
    assert_eq!(t.assigned_krw + t.rejected_krw, t.input_krw);
    assert!(
        o.report.inputs[0]
            .file
            .warnings
            .iter()
            .any(|w| w.contains("repaired")),
        "{:?}",
        o.report.inputs[0].file.warnings
    );
}
