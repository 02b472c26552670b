//! Polygon inputs at the vertex limit (issue #15, class 9): validation is GEOS IsValid, once
//! per polygon (O(n log n)), so a polygon of hundreds of thousands of vertices is read and
//! apportioned; a feature above `max_vertices`, or one that cannot be made valid, rejects that
//! record alone, named by its feature number, and the run goes on.

use std::io::Write;

use gdal::vector::LayerAccess;
use std::path::Path;

use crate::fixtures::{X0, Y0, grid_dir, run_on_grid};

const HEAD: &str = r#"{"type":"FeatureCollection","crs":{"type":"name","properties":{"name":"urn:ogc:def:crs:EPSG::5179"}},"features":["#;

/// A point feature with `amount` at (x, y) metres from the grid's origin.
fn point(amount: i64, x: f64, y: f64) -> String {
    format!(
        r#"{{"type":"Feature","properties":{{"amount":{amount}}},"geometry":{{"type":"Point","coordinates":[{},{}]}}}}"#,
        X0 + x,
        Y0 + y
    )
}

/// A polygon feature with `amount` and one ring (closed here).
fn polygon(amount: i64, ring: &[(f64, f64)]) -> String {
    let mut s = format!(
        r#"{{"type":"Feature","properties":{{"amount":{amount}}},"geometry":{{"type":"Polygon","coordinates":[["#
    );
    for (i, (x, y)) in ring.iter().chain(ring.first()).enumerate() {
        if i > 0 {
            s.push(',');
        }
        s.push_str(&format!("[{:.6},{:.6}]", X0 + x, Y0 + y));
    }
    s.push_str("]]}}");
    s
}

fn write_geojson(dir: &Path, features: &[String]) {
    let mut f = std::fs::File::create(dir.join("districts.geojson")).unwrap();
    write!(f, "{HEAD}{}]}}", features.join(",")).unwrap();
}

const INPUT: &str = "[[inputs]]\nname = \"districts\"\npath = \"districts.geojson\"\nmax_vertices = 1000000\namount = { field = \"amount\" }\nlocate = { by = \"geometry\" }\n";

/// The rejects layer's (row, reason, detail) of input `input`.
fn rejects(dir: &Path, input: &str) -> Vec<(i64, String, String)> {
    let ds = gdal::Dataset::open(dir.join("out/smartgap.gpkg")).unwrap();
    let mut l = ds.layer_by_name("rejects").unwrap();
    let (ii, ri, si, di) = {
        let d = l.defn();
        let idx = |n: &str| d.field_index(n).unwrap();
        (idx("input"), idx("row"), idx("reason"), idx("detail"))
    };
    l.features()
        .filter(|f| f.field_as_string(ii).unwrap().as_deref() == Some(input))
        .map(|f| {
            (
                f.field_as_integer64(ri).unwrap().unwrap(),
                f.field_as_string(si).unwrap().unwrap(),
                f.field_as_string(di).unwrap().unwrap(),
            )
        })
        .collect()
}

/// A district of 200,001 vertices over two 읍면동 (x 500–1500 m, y 100–900 m: half in column 0,
/// half in column 1): its bottom edge is a sawtooth of 0.5 mm teeth, up and down in turn, so
/// it adds no area and each half holds whole periods. By hand: 1,000 KRW split 500 / 500
/// between 11010101 and 11020101.
#[test]
fn a_polygon_of_200k_vertices_is_validated_once_and_apportioned() {
    let dir = grid_dir();
    let n = 200_000usize;
    let mut ring: Vec<(f64, f64)> = (0..=n)
        .map(|i| {
            let x = 500.0 + 1000.0 * i as f64 / n as f64;
            let tooth = [0.0, 0.0005, 0.0, -0.0005][i % 4];
            (x, 100.0 + tooth)
        })
        .collect();
    ring.extend([(1500.0, 900.0), (500.0, 900.0)]);
    assert_eq!(ring.len(), 200_003);
    write_geojson(dir.path(), &[polygon(1000, &ring)]);
    let o = run_on_grid(dir.path(), "big_polygon", 0.0, INPUT);
    assert_eq!(o.report.totals.assigned_krw, 1000);
    assert_eq!(o.report.totals.rejected_records, 0);
    let emd = crate::fixtures::geojson(&dir.path().join("out"), "emd");
    let krw = |code: &str| {
        crate::fixtures::props(&emd, code)["amount_krw"]
            .as_i64()
            .unwrap()
    };
    assert_eq!((krw("11010101"), krw("11020101")), (500, 500));
    assert!(
        o.report.inputs[0]
            .file
            .warnings
            .iter()
            .all(|w| !w.contains("repaired"))
    );
}

/// Three features: a point (5 KRW), a polygon of 2,001 vertices above `max_vertices = 1000`
/// (7 KRW), a point (11 KRW). Only feature 2 is rejected, as `geometry_too_complex` naming its
/// count; the other two are assigned.
#[test]
fn a_too_big_geojson_feature_rejects_only_that_record_with_its_feature_number() {
    let dir = grid_dir();
    let ring: Vec<(f64, f64)> = (0..2000)
        .map(|i| {
            let a = std::f64::consts::TAU * i as f64 / 2000.0;
            (500.0 + 300.0 * a.cos(), 500.0 + 300.0 * a.sin())
        })
        .collect();
    write_geojson(
        dir.path(),
        &[
            point(5, 500.0, 500.0),
            polygon(7, &ring),
            point(11, 1500.0, 500.0),
        ],
    );
    let o = run_on_grid(
        dir.path(),
        "too_big",
        0.5,
        &INPUT.replace("1000000", "1000"),
    );
    assert_eq!(o.report.totals.assigned_krw, 16);
    assert_eq!(o.report.totals.rejected_krw, 7);
    let r = rejects(dir.path(), "districts");
    assert_eq!(r.len(), 1, "{r:?}");
    assert_eq!((r[0].0, r[0].1.as_str()), (2, "geometry_too_complex"));
    assert!(r[0].2.contains("2001 vertices"), "{}", r[0].2);
}

/// A polygon that is a line walked there and back (no area, not repairable into one) between
/// two good districts: only it is rejected, as `geometry_invalid` with GEOS's reason; a
/// bow-tie is repaired and kept, and the repair warning names its feature; a bow-tie out at sea
/// is repaired too but then rejected (`outside_all_regions`), and the warning says so.
#[test]
fn an_unrepairable_polygon_rejects_only_its_record_and_a_bow_tie_is_repaired() {
    let dir = grid_dir();
    let square = [
        (100.0, 100.0),
        (900.0, 100.0),
        (900.0, 900.0),
        (100.0, 900.0),
    ];
    // Bow-tie over 11020101: two triangles meeting at (1500, 500), wholly in column 1, so all
    // 13 KRW go to 11020101 whatever MakeValid keeps.
    let bow_tie = [
        (1100.0, 100.0),
        (1900.0, 900.0),
        (1900.0, 100.0),
        (1100.0, 900.0),
    ];
    let line = [
        (2100.0, 100.0),
        (2900.0, 900.0),
        (2100.0, 100.0),
        (2900.0, 900.0),
    ];
    let at_sea = bow_tie.map(|(x, y)| (x + 9000.0, y));
    write_geojson(
        dir.path(),
        &[
            polygon(3, &square),
            polygon(13, &bow_tie),
            polygon(17, &line),
            polygon(19, &at_sea),
        ],
    );
    let o = run_on_grid(dir.path(), "bad_polygons", 0.9, INPUT);
    assert_eq!(o.report.totals.assigned_krw, 16);
    let r = rejects(dir.path(), "districts");
    let reasons: Vec<(i64, &str)> = r.iter().map(|(row, re, _)| (*row, re.as_str())).collect();
    assert_eq!(
        reasons,
        [(3, "geometry_invalid"), (4, "outside_all_regions")]
    );
    assert!(
        r[0].2
            .contains("invalid (Self-intersection at or near point"),
        "{}",
        r[0].2
    );
    let emd = crate::fixtures::geojson(&dir.path().join("out"), "emd");
    let krw = |code: &str| {
        crate::fixtures::props(&emd, code)["amount_krw"]
            .as_i64()
            .unwrap()
    };
    assert_eq!((krw("11010101"), krw("11020101")), (3, 13));
    let w = &o.report.inputs[0].file.warnings;
    assert!(
        w.iter().any(|w| w.contains(
            "2 invalid polygon(s) repaired with GEOS MakeValid (structure method), rows 2, 4 (then rejected: outside_all_regions); 1 of them rejected all the same"
        )),
        "{w:?}"
    );
}
