//! An empty or incomplete point says so, the same on both paths (issue #15, class 11): CSV x/y
//! columns left blank, and a GeoJSON point without coordinates, read whole and streamed. GDAL
//! reads `"coordinates": []` as no geometry, whose NULL pointer made GDAL raise on the next
//! call and failed the whole input; now only that record is rejected.

use std::path::Path;

use gdal::vector::LayerAccess;

use crate::fixtures::{X0, Y0, grid_dir, run_plain_and_streamed};

/// (row, reason, detail) of the rejects layer under `out`.
fn rejects(out: &Path) -> Vec<(i64, String, String)> {
    let ds = gdal::Dataset::open(out.join("smartgap.gpkg")).unwrap();
    let mut l = ds.layer_by_name("rejects").unwrap();
    let d = l.defn();
    let (ri, si, di) = (
        d.field_index("row").unwrap(),
        d.field_index("reason").unwrap(),
        d.field_index("detail").unwrap(),
    );
    l.features()
        .map(|f| {
            (
                f.field_as_integer64(ri).unwrap().unwrap(),
                f.field_as_string(si).unwrap().unwrap(),
                f.field_as_string(di).unwrap().unwrap(),
            )
        })
        .collect()
}

#[test]
fn blank_coordinates_say_the_point_is_empty_on_both_paths() {
    let dir = grid_dir();
    let (x, y) = (X0 + 500.0, Y0 + 500.0);
    std::fs::write(
        dir.path().join("pts.csv"),
        format!("id,x,y,amount\n1,{x},{y},5\n2,,,7\n3,,{y},11\n"),
    )
    .unwrap();
    let input = "[[inputs]]\nname = \"pts\"\npath = \"pts.csv\"\nid = \"id\"\namount = { field = \"amount\" }\nlocate = { by = \"point\", x = \"x\", y = \"y\", crs = \"EPSG:5179\" }\n";
    let (plain, streamed, plain_out) = run_plain_and_streamed(dir.path(), input, "");
    let expected = [
        (
            2,
            "coordinate_invalid".to_string(),
            "the point is empty: x and y are empty".to_string(),
        ),
        (
            3,
            "coordinate_invalid".to_string(),
            format!("the point is incomplete: x is empty (y=`{y}`)"),
        ),
    ];
    assert_eq!(rejects(&plain_out), expected);
    assert_eq!(rejects(&dir.path().join("out")), expected);
    for o in [&plain, &streamed] {
        assert_eq!(o.report.totals.assigned_krw, 5);
        assert_eq!(o.report.totals.rejected_krw, 18);
    }
}

#[test]
fn a_geojson_point_without_coordinates_rejects_only_its_record_on_both_paths() {
    let dir = grid_dir();
    std::fs::write(
        dir.path().join("pts.geojson"),
        format!(
            r#"{{"type":"FeatureCollection","crs":{{"type":"name","properties":{{"name":"urn:ogc:def:crs:EPSG::5179"}}}},"features":[
{{"type":"Feature","properties":{{"amount":5}},"geometry":{{"type":"Point","coordinates":[{},{}]}}}},
{{"type":"Feature","properties":{{"amount":7}},"geometry":{{"type":"Point","coordinates":[]}}}}]}}"#,
            X0 + 500.0,
            Y0 + 500.0
        ),
    )
    .unwrap();
    let input = "[[inputs]]\nname = \"pts\"\npath = \"pts.geojson\"\namount = { field = \"amount\" }\nlocate = { by = \"geometry\" }\n";
    let (plain, streamed, plain_out) = run_plain_and_streamed(dir.path(), input, "");
    let expected = [(2, "location_missing".to_string(), "no geometry".to_string())];
    assert_eq!(rejects(&plain_out), expected);
    assert_eq!(rejects(&dir.path().join("out")), expected);
    for o in [&plain, &streamed] {
        assert_eq!(o.report.totals.assigned_krw, 5);
    }
}
