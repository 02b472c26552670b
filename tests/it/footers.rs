//! Subtotal and footer rows as spreadsheets carry them (issue #15, class 3): `합계` / `합 계` /
//! `소계` rows and `※ …` notes in a CP949 CSV and in an XLSX workbook are skipped and counted,
//! never money; a label named in `skip_rows` is skipped too.

use std::path::Path;

use gdal::DriverManager;
use gdal::vector::{Feature, FieldValue, LayerAccess, LayerOptions, OGRFieldType};

use crate::fixtures::{geojson, grid_dir, props};

const INPUTS: &str = r#"
[[inputs]]
name = "cp949_table"
path = "table_cp949.csv"
id = "id"
amount = { field = "amount_krw" }
locate = { by = "name", sido = "sido", sigungu = "sigungu" }
skip_rows = ["전년도 이월"]

[[inputs]]
name = "sheet"
path = "sheet.xlsx"
id = "연번"
amount = { field = "금액" }
locate = { by = "name", sido = "시도", sigungu = "시군구" }
"#;

/// A workbook written by GDAL's XLSX driver: two records, a `소계` row and a `총 계` row.
pub fn sheet(path: &Path, rows: &[(&str, &str, &str, i64)]) {
    let driver = DriverManager::get_driver_by_name("XLSX").unwrap();
    let mut ds = driver.create_vector_only(path).unwrap();
    let layer = ds
        .create_layer(LayerOptions {
            name: "사업",
            ..Default::default()
        })
        .unwrap();
    layer
        .create_defn_fields(&[
            ("연번", OGRFieldType::OFTString),
            ("시도", OGRFieldType::OFTString),
            ("시군구", OGRFieldType::OFTString),
            ("금액", OGRFieldType::OFTInteger64),
        ])
        .unwrap();
    for (id, sido, sigungu, amount) in rows {
        let mut f = Feature::new(layer.defn()).unwrap();
        for (i, v) in [id, sido, sigungu].into_iter().enumerate() {
            if !v.is_empty() {
                f.set_field(i, &FieldValue::StringValue((*v).into()))
                    .unwrap();
            }
        }
        f.set_field_integer64(3, *amount).unwrap();
        f.create(&layer).unwrap();
    }
    ds.close().unwrap();
}

#[test]
fn subtotal_and_note_rows_are_skipped_and_counted_never_money() {
    let dir = grid_dir();
    let (csv, _, _) = encoding_rs::EUC_KR.encode(
        "id,sido,sigungu,amount_krw\n\
         k1,서울특별시,중구,10\n\
         k2,부산광역시,중구,20\n\
         ,합 계,,30\n\
         k9,전년도 이월,,500\n\
         ※ 자료: 행정안전부 (2020)\n",
    );
    std::fs::write(dir.path().join("table_cp949.csv"), &csv).unwrap();
    sheet(
        &dir.path().join("sheet.xlsx"),
        &[
            ("1", "서울특별시", "종로구", 5),
            ("2", "서울특별시", "종로구", 7),
            ("", "소계", "", 12),
            ("총 계", "", "", 42),
        ],
    );
    let o = crate::fixtures::run_on_grid(dir.path(), "footers", 0.0, INPUTS);
    let t = &o.report.totals;
    assert_eq!(t.rejected_records, 0, "{:?}", o.report.rejects_by_reason);
    assert_eq!((t.input_krw, t.assigned_krw, t.rejected_krw), (42, 42, 0));
    assert_eq!((t.input_records, t.skipped_records), (4, 5));
    let csv_in = &o.report.inputs[0].file;
    assert_eq!((csv_in.rows, csv_in.skipped_rows), (5, 3));
    assert!(
        csv_in.warnings.iter().any(|w| w.starts_with(
            "3 subtotal/footer row(s) skipped, their amounts not counted: row 3 `합 계`, row 4 `전년도 이월`, row 5 `※ 자료: 행정안전부 (2020)`"
        )),
        "{:?}",
        csv_in.warnings
    );
    assert_eq!(o.report.inputs[1].file.skipped_rows, 2);
    let sigungu = geojson(&dir.path().join("out"), "sigungu");
    assert_eq!(props(&sigungu, "11010")["amount_krw"], 10);
    assert_eq!(props(&sigungu, "11020")["amount_krw"], 12);
    assert_eq!(props(&sigungu, "26010")["amount_krw"], 20);
}

#[test]
fn a_streamed_csv_skips_its_total_row() {
    let dir = grid_dir();
    std::fs::write(
        dir.path().join("points.csv"),
        "id,x,y,amount\n\
         p1,1000500,2000500,100\n\
         합계,,,100\n",
    )
    .unwrap();
    let input = r#"
[[inputs]]
name = "points"
path = "points.csv"
id = "id"
amount = { field = "amount" }
locate = { by = "point", x = "x", y = "y", crs = "EPSG:5179" }
"#;
    let (plain, streamed, _) = crate::fixtures::run_plain_and_streamed(dir.path(), input, "");
    for o in [&plain, &streamed] {
        let t = &o.report.totals;
        assert_eq!((t.input_records, t.skipped_records), (1, 1));
        assert_eq!((t.input_krw, t.rejected_krw), (100, 0));
    }
}

#[test]
fn a_blank_skip_rows_label_is_a_config_error() {
    let dir = grid_dir();
    std::fs::write(dir.path().join("t.csv"), "id,sido,amount\n").unwrap();
    let inputs = r#"
[[inputs]]
name = "t"
path = "t.csv"
amount = { field = "amount" }
locate = { by = "name", sido = "sido" }
skip_rows = [" "]
"#;
    std::fs::write(
        dir.path().join("f.toml"),
        crate::fixtures::grid_pipeline("f", 0.0, inputs),
    )
    .unwrap();
    let e = smartgap::pipeline::load(&dir.path().join("f.toml")).unwrap_err();
    assert!(
        e.problems
            .iter()
            .any(|p| p.message.contains("blank row label")),
        "{e:?}"
    );
}
