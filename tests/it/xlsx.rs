//! An Excel workbook as ministries send it: the data on a named sheet below a title row, the
//! unit in the header (`사업비(억원)`), amounts as numbers, text with separators and full-width
//! digits, a negative, a blank and a formula without a value.
//! The fixture was written by openpyxl 3.1.5 (rows printed in its commit message).

use std::path::Path;

use crate::fixtures::{geojson, grid_dir, props};

const NAME: &str = "xlsx";
const MAX_REJECT_SHARE: f64 = 0.9;
const INPUTS: &str = r#"
[[inputs]]
name = "ministry_sheet"
path = "projects.xlsx"
layer = "사업비"
header_row = 4
id = "연번"
amount = { field = "사업비(억원)", unit = "from_header" }
locate = { by = "name", sido = "시도", sigungu = "시군구" }
"#;

#[test]
fn a_sheet_below_a_title_with_the_unit_in_its_header_is_read_exactly() {
    let dir = grid_dir();
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/xlsx/projects.xlsx"),
        dir.path().join("projects.xlsx"),
    )
    .unwrap();
    let o = crate::fixtures::run_on_grid(dir.path(), NAME, MAX_REJECT_SHARE, INPUTS);
    let sigungu = geojson(&dir.path().join("out"), "sigungu");
    // 22.6억 → 2,260,000,000; "1,000"억 → 100,000,000,000; "１２"억 → 1,200,000,000.
    assert_eq!(props(&sigungu, "11010")["amount_krw"], 2_260_000_000i64);
    assert_eq!(props(&sigungu, "26010")["amount_krw"], 100_000_000_000i64);
    assert_eq!(props(&sigungu, "11020")["amount_krw"], 1_200_000_000i64);
    let r = &o.report.rejects_by_reason;
    assert_eq!(
        r.get("amount_negative").map(|s| (s.count, s.amount_krw)),
        Some((1, -300_000_000))
    );
    // The negative amount is kept apart from the other rejected money.
    let totals = &o.report.totals;
    assert_eq!(totals.rejected_negative_krw, -300_000_000);
    assert!(totals.rejected_krw >= 0);
    assert_eq!(
        totals.assigned_krw + totals.rejected_krw + totals.rejected_negative_krw,
        totals.input_krw
    );
    // The blank cell and the formula without a cached value (openpyxl wrote `<f>SUM(1,2)</f>
    // <v />` in D10) both have no amount; the formula's reject says what the cell holds.
    assert_eq!(r.get("amount_missing").map(|s| s.count), Some(2));
    assert_eq!(o.report.totals.input_records, 6);
    let details = reject_details(&dir.path().join("out/smartgap.gpkg"));
    assert_eq!(details.len(), 3, "{details:?}");
    assert!(
        details.contains(&("x5".into(), "column `사업비(억원)`: amount is empty".into())),
        "{details:?}"
    );
    let x6 = &details.iter().find(|d| d.0 == "x6").unwrap().1;
    assert!(
        x6.starts_with(
            "column `사업비(억원)`: amount is a formula without a cached value (cell D10: `=SUM(1,2)`): the workbook was saved without calculating it"
        ),
        "{x6}"
    );
}

/// (record id, detail) of every reject.
fn reject_details(gpkg: &Path) -> Vec<(String, String)> {
    use gdal::vector::LayerAccess;
    let ds = gdal::Dataset::open(gpkg).unwrap();
    let mut l = ds.layer_by_name("rejects").unwrap();
    let d = l.defn();
    let (ii, di) = (
        d.field_index("record_id").unwrap(),
        d.field_index("detail").unwrap(),
    );
    l.features()
        .map(|f| {
            (
                f.field_as_string(ii).unwrap().unwrap(),
                f.field_as_string(di).unwrap().unwrap(),
            )
        })
        .collect()
}

#[test]
fn a_header_without_a_unit_is_a_config_error() {
    let dir = grid_dir();
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/xlsx/projects.xlsx"),
        dir.path().join("projects.xlsx"),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("xlsx.toml"),
        crate::fixtures::grid_pipeline(
            NAME,
            MAX_REJECT_SHARE,
            &INPUTS.replace("field = \"사업비(억원)\"", "field = \"시도\""),
        ),
    )
    .unwrap();
    let e = smartgap::pipeline::load(&dir.path().join("xlsx.toml")).unwrap_err();
    assert!(
        e.problems
            .iter()
            .any(|p| p.message.contains("names no unit")),
        "{e:?}"
    );
}
