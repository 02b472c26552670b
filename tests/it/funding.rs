//! Korean funding labels as budgets write them (issue #15, class 7): `국비`, `지방비`, `시비`,
//! `민간`, `공기업/LH`, … in a CP949 CSV map onto the funding categories by the built-in table
//! and the input's `funding_labels`; an unmapped label is a reject naming it, and listed.

use crate::fixtures::{geojson, grid_dir, props};

const INPUTS: &str = r#"
[[inputs]]
name = "budget"
path = "budget_cp949.csv"
id = "id"
amount = { field = "amount_krw" }
funding = { field = "재원" }
funding_labels = { "특교세" = "national_program" }
locate = { by = "name", sido = "sido", sigungu = "sigungu" }
"#;

#[test]
fn korean_funding_labels_map_to_categories_and_unmapped_ones_are_named() {
    let dir = grid_dir();
    let (csv, _, _) = encoding_rs::EUC_KR.encode(
        "id,sido,sigungu,amount_krw,재원\n\
         a,서울특별시,중구,1,국비\n\
         b,서울특별시,중구,2,지방비\n\
         c,서울특별시,중구,4, 시 비 \n\
         d,서울특별시,중구,8,민간\n\
         e,서울특별시,중구,16,공기업/LH\n\
         f,서울특별시,중구,32,특교세\n\
         g,서울특별시,중구,64,매칭\n\
         h,서울특별시,중구,128,local\n",
    );
    std::fs::write(dir.path().join("budget_cp949.csv"), &csv).unwrap();
    let o = crate::fixtures::run_on_grid(dir.path(), "funding", 0.5, INPUTS);
    let sigungu = geojson(&dir.path().join("out"), "sigungu");
    let p = props(&sigungu, "11010");
    assert_eq!(p["amount_national_program_krw"], 1 + 32);
    assert_eq!(p["amount_local_krw"], 2 + 4 + 128);
    assert_eq!(p["amount_development_fee_krw"], 8 + 16);
    let r = &o.report.rejects_by_reason["funding_invalid"];
    assert_eq!((r.count, r.amount_krw), (1, 64));
    let file = &o.report.inputs[0].file;
    assert!(
        file.warnings
            .iter()
            .any(|w| w.starts_with("funding labels not mapped to a category")
                && w.contains("`매칭` (1 rows)")),
        "{:?}",
        file.warnings
    );
}

#[test]
fn a_funding_label_mapped_to_an_unknown_category_is_a_config_error() {
    let dir = grid_dir();
    std::fs::write(
        dir.path().join("budget_cp949.csv"),
        "id,sido,sigungu,amount_krw,재원\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("f.toml"),
        crate::fixtures::grid_pipeline(
            "f",
            0.0,
            &INPUTS.replace("= \"national_program\"", "= \"nationl\""),
        ),
    )
    .unwrap();
    let e = smartgap::pipeline::load(&dir.path().join("f.toml")).unwrap_err();
    assert!(
        e.problems
            .iter()
            .any(|p| p.message.contains("unknown funding source `nationl`")),
        "{e:?}"
    );
}
