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

#[test]
fn kostat_codes_map_through_the_population_tables_units_with_exact_splits() {
    // data/population.csv, census 2020: KOSTAT 11010 → 11110 종로구 (1:1); 23090 → 28170
    // 남구 (today's 미추홀구); 31050 부천시 → 원미구 0.5064, 소사구 0.2931, 오정구 0.2005.
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("k.csv"),
        "id,kcode,amount\n1,11010,1000000\n2,31050,10000\n3,23090,7\n4,99999,5\n5,31050,1\n",
    )
    .unwrap();
    let toml = format!(
        "[pipeline]\nname = \"k\"\noutput_dir = \"out\"\nmax_reject_share = 0.5\nroots = [\".\", \"{root}\"]\n\n\
         [boundaries]\npath = \"{root}/data/boundaries.gpkg\"\nlevels = [\"sido\", \"sigungu\"]\n\n\
         [population]\npath = \"{root}/data/population.csv\"\nyear = 2020\n\n\
         [[inputs]]\nname = \"k\"\npath = \"k.csv\"\nid = \"id\"\namount = {{ field = \"amount\" }}\n\
         locate = {{ by = \"kostat_code\", field = \"kcode\" }}\n",
        root = root.display()
    );
    std::fs::write(dir.path().join("k.toml"), toml).unwrap();
    let p =
        smartgap::pipeline::load(&dir.path().join("k.toml")).unwrap_or_else(|e| panic!("{e:?}"));
    let o = smartgap::pipeline::run(&p).unwrap();
    let t = &o.report.totals;
    assert_eq!((t.assigned_records, t.assigned_krw), (4, 1_010_008));
    assert_eq!((t.rejected_records, t.rejected_krw), (1, 5));
    assert_eq!(o.report.rejects_by_reason["unknown_code"].count, 1);
    let sg = crate::fixtures::geojson(&dir.path().join("out"), "sigungu");
    let krw = |c: &str| {
        crate::fixtures::props(&sg, c)["amount_krw"]
            .as_i64()
            .unwrap()
    };
    assert_eq!(krw("11110"), 1_000_000);
    assert_eq!(krw("28170"), 7);
    // 10,000 splits exactly 5,064 / 2,931 / 2,005; the single won goes to the largest share.
    assert_eq!(
        (krw("41195"), krw("41197"), krw("41199")),
        (5_065, 2_931, 2_005)
    );
}
