//! A `locate` chain (issue #15, class 6): a file whose code column is sometimes blank is located
//! by its code where it has one and by its names elsewhere; where a row gives both and they
//! name different regions, `code_name_mismatch` decides: a reject naming both (default) or a
//! warning. Streamed inputs, located by their point alone, refuse a chain at `check`.

use std::path::Path;

use crate::fixtures::{geojson, grid_dir, props, run_on_grid};

/// Seven rows as a ministry list has them (CP949 would read the same; UTF-8 here). By hand:
/// 1 code only → 11010; 2 names only → 11020; 3 both, agreeing → 11020; 4 a 읍면동 code and
/// its 시군구's names → 11010101; 5 code 11010 but names of 부산 중구 → mismatch; 6 neither →
/// location_missing; 7 code 11010 and a 구 that does not exist → mismatch.
const CSV: &str = "사업번호,행정코드,시도,시군구,사업비\n\
                   1,11010,,,10\n\
                   2,,서울특별시,종로구,20\n\
                   3,11020,서울,종로구,40\n\
                   4,11010101,서울특별시,중구,80\n\
                   5,11010,부산광역시,중구,160\n\
                   6,,,,320\n\
                   7,11010,서울특별시,없는구,640\n";

fn input(extra: &str) -> String {
    format!(
        "[[inputs]]\nname = \"list\"\npath = \"list.csv\"\nid = \"사업번호\"\namount = {{ field = \"사업비\" }}\n{extra}\
         locate = {{ by = \"code\", field = \"행정코드\", then = {{ by = \"name\", sido = \"시도\", sigungu = \"시군구\" }} }}\n"
    )
}

/// (row, reason, detail) of the rejects layer.
fn rejects(dir: &Path) -> Vec<(i64, String, String)> {
    use gdal::vector::LayerAccess;
    let ds = gdal::Dataset::open(dir.join("out/smartgap.gpkg")).unwrap();
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
fn code_then_names_locates_every_row_and_a_disagreement_is_rejected() {
    let dir = grid_dir();
    std::fs::write(dir.path().join("list.csv"), CSV).unwrap();
    let o = run_on_grid(dir.path(), "chain", 0.9, &input(""));
    let t = &o.report.totals;
    assert_eq!((t.assigned_krw, t.rejected_krw), (150, 160 + 320 + 640));
    let sigungu = geojson(&dir.path().join("out"), "sigungu");
    assert_eq!(props(&sigungu, "11010")["amount_krw"], 10 + 80);
    assert_eq!(props(&sigungu, "11020")["amount_krw"], 20 + 40);
    assert_eq!(props(&sigungu, "26010")["amount_krw"], 0);
    let r = rejects(dir.path());
    let reasons: Vec<(i64, &str)> = r.iter().map(|(row, re, _)| (*row, re.as_str())).collect();
    assert_eq!(
        reasons,
        [
            (5, "code_name_mismatch"),
            (6, "location_missing"),
            (7, "code_name_mismatch")
        ]
    );
    assert!(
        r[0].2.contains("code 11010 is 서울특별시 중구 (11010)")
            && r[0].2.contains("부산광역시 중구 (26010)"),
        "{}",
        r[0].2
    );
    assert_eq!(r[1].2, "no location: code is empty; no 시도 or 시군구 name");
    assert!(r[2].2.contains("name_not_found"), "{}", r[2].2);
}

#[test]
fn code_name_mismatch_warn_assigns_by_the_code_and_says_so() {
    let dir = grid_dir();
    std::fs::write(dir.path().join("list.csv"), CSV).unwrap();
    let o = run_on_grid(
        dir.path(),
        "chain_warn",
        0.9,
        &input("code_name_mismatch = \"warn\"\n"),
    );
    let t = &o.report.totals;
    assert_eq!((t.assigned_krw, t.rejected_krw), (150 + 160 + 640, 320));
    let sigungu = geojson(&dir.path().join("out"), "sigungu");
    assert_eq!(props(&sigungu, "11010")["amount_krw"], 10 + 80 + 160 + 640);
    assert_eq!(props(&sigungu, "26010")["amount_krw"], 0);
    let w = &o.report.inputs[0].file.warnings;
    assert!(
        w.iter().any(
            |w| w.starts_with("2 record(s) whose code and names disagree")
                && w.contains("row 5: code 11010 is 서울특별시 중구 (11010)")
                && w.contains("row 7:")
        ),
        "{w:?}"
    );
}

#[test]
fn a_chain_on_a_streamed_input_and_a_policy_without_names_are_config_errors() {
    let dir = grid_dir();
    std::fs::write(
        dir.path().join("list.csv"),
        "id,x,y,code,amount\n1,1,1,11010,5\n",
    )
    .unwrap();
    let toml = crate::fixtures::grid_pipeline(
        "bad",
        0.0,
        "[[inputs]]\nname = \"s\"\npath = \"list.csv\"\nstream = true\namount = { field = \"amount\" }\n\
         locate = { by = \"point\", x = \"x\", y = \"y\", crs = \"EPSG:5179\", then = { by = \"code\", field = \"code\" } }\n\
         [[inputs]]\nname = \"c\"\npath = \"list.csv\"\namount = { field = \"amount\" }\ncode_name_mismatch = \"warn\"\n\
         locate = { by = \"code\", field = \"code\" }\n",
    );
    let path = dir.path().join("bad.toml");
    std::fs::write(&path, toml).unwrap();
    let e = format!("{:?}", smartgap::pipeline::load(&path).unwrap_err());
    assert!(
        e.contains("a streamed input is located by its point alone"),
        "{e}"
    );
    assert!(
        e.contains("code_name_mismatch needs a code and names"),
        "{e}"
    );
}
