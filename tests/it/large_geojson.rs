//! A GeoJSON feature above GDAL's default object-size limit (`OGR_GEOJSON_MAX_OBJ_SIZE`, 200 MB;
//! issue #15, class 8) is read: the file is bounded by `max_input_mib` and its geometry by
//! `max_vertices`, which rejects that one record, not the run.

use std::io::Write;

use crate::fixtures::grid_dir;

#[test]
fn a_feature_above_200_mb_is_read_and_its_vertices_limited() {
    let dir = grid_dir();
    let path = dir.path().join("big.geojson");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    write!(
        f,
        r#"{{"type":"FeatureCollection","crs":{{"type":"name","properties":{{"name":"urn:ogc:def:crs:EPSG::5179"}}}},"features":[{{"type":"Feature","properties":{{"amount":5}},"geometry":{{"type":"Point","coordinates":[1000500,2000500]}}}},{{"type":"Feature","properties":{{"amount":7}},"geometry":{{"type":"Polygon","coordinates":[[[1000100.000000000001,2000100.000000000001]"#
    )
    .unwrap();
    // 5.6 M vertices of ~38 bytes: a 210 MB feature.
    let n = 5_600_000u64;
    for i in 1..n {
        let x = 1_000_100.0 + 800.0 * (i as f64 / n as f64);
        write!(f, ",[{x:.12},2000100.000000000001]").unwrap();
    }
    write!(f, ",[1000100.000000000001,2000100.000000000001]]]}}}}]}}").unwrap();
    f.flush().unwrap();
    drop(f);
    assert!(std::fs::metadata(&path).unwrap().len() > 200 << 20);
    let o = crate::fixtures::run_on_grid(
        dir.path(),
        "big",
        0.9,
        "[[inputs]]\nname = \"big\"\npath = \"big.geojson\"\nmax_vertices = 1000\namount = { field = \"amount\" }\nlocate = { by = \"geometry\" }\n",
    );
    assert_eq!(o.report.totals.assigned_krw, 5);
    let r = &o.report.rejects_by_reason["geometry_too_complex"];
    assert_eq!((r.count, r.amount_krw), (1, 7));
}
