//! Old codes and names, as of their dates, reach the right regions of the bundled boundaries
//! (2012-07 – 2013-09 codes) through `data/admin_changes.csv`; money is never lost.

use std::path::Path;

use gdal::vector::LayerAccess;

fn run() -> (tempfile::TempDir, smartgap::pipeline::RunOutcome) {
    crate::fixtures::run_repo_pipeline("tests/fixtures/crosswalk/crosswalk.toml")
}

/// (record_id, code, amount part) rows of the `assignments` table.
fn assignments(out: &Path) -> Vec<(String, String, i64, String)> {
    let ds = gdal::Dataset::open(out.join("smartgap.gpkg")).unwrap();
    let mut l = ds.layer_by_name("assignments").unwrap();
    let idx = |n: &str| l.defn().field_index(n).unwrap();
    let (ri, ci, ai, ru) = (
        idx("record_id"),
        idx("code"),
        idx("amount_krw"),
        idx("rule"),
    );
    l.features()
        .map(|f| {
            (
                f.field_as_string(ri).unwrap().unwrap(),
                f.field_as_string(ci).unwrap().unwrap(),
                f.field_as_integer64(ai).unwrap().unwrap(),
                f.field_as_string(ru).unwrap().unwrap(),
            )
        })
        .collect()
}

fn area(code: &str) -> f64 {
    let ds =
        gdal::Dataset::open(Path::new(env!("CARGO_MANIFEST_DIR")).join("data/boundaries.gpkg"))
            .unwrap();
    let mut l = ds.layer_by_name("sigungu").unwrap();
    l.set_attribute_filter(&format!("code = '{code}'")).unwrap();
    let f = l.features().next().unwrap();
    f.geometry().unwrap().area()
}

#[test]
fn records_before_each_code_change_land_in_the_right_region() {
    let (out, o) = run();
    let rows = assignments(out.path());
    let to = |id: &str| -> Vec<(String, i64)> {
        rows.iter()
            .filter(|r| r.0 == id)
            .map(|r| (r.1.clone(), r.2))
            .collect()
    };
    // Present in these boundaries as they were: 청원군 (2013), 인천 남구 (2015), 군위군 under 경북 (2020).
    assert_eq!(to("cheongwon"), vec![("43710".into(), 1000)]);
    assert_eq!(to("incheon_nam"), vec![("28170".into(), 4000)]);
    assert_eq!(to("gunwi"), vec![("47720".into(), 5000)]);
    // 연기군 (2011) became 세종 36110 on 2012-07-01, by code and by name.
    assert_eq!(to("yeongi"), vec![("36110".into(), 3000)]);
    assert_eq!(to("yeongi_by_name"), vec![("36110".into(), 9000)]);
    // Newer codes map back: 미추홀구 28177 → 28170; 강원특별자치도 춘천시 51110 → 42110.
    assert_eq!(to("michuhol"), vec![("28170".into(), 6000)]);
    assert_eq!(to("gangwon_new"), vec![("42110".into(), 7000)]);
    // 마산시 (2009) split on 2010-07-01 into 마산합포구 48125 and 마산회원구 48127, by area.
    let (a, b) = (area("48125"), area("48127"));
    let expect_a = (2000.0 * a / (a + b)).round() as i64;
    assert_eq!(
        to("masan"),
        vec![
            ("48125".into(), expect_a),
            ("48127".into(), 2000 - expect_a)
        ]
    );
    let by_name = to("masan_by_name");
    assert_eq!(by_name.iter().map(|p| p.1).sum::<i64>(), 8000);
    assert_eq!(by_name[0].0, "48125");
    assert!(
        rows.iter()
            .any(|r| r.0 == "masan" && r.3.contains("split 2010-07-01")),
        "{rows:?}"
    );
    // 인천 "남구" by name (2015) is the 남구 of these boundaries.
    assert_eq!(to("nam_gu_incheon"), vec![("28170".into(), 4000)]);

    // Σ money unchanged: everything but the unknown code is assigned, which is rejected.
    let t = &o.report.totals;
    assert_eq!(
        t.input_krw,
        1000 + 2000 + 3000 + 4000 + 5000 + 6000 + 7000 + 10000 + 8000 + 9000 + 4000
    );
    assert_eq!(t.rejected_krw, 10_000);
    assert_eq!(t.assigned_krw + t.rejected_krw, t.input_krw);
    assert_eq!(
        o.report
            .rejects_by_reason
            .get("crosswalk_unmapped")
            .map(|r| r.count),
        Some(1)
    );
}
