//! Names as people write them (issue #15, class 5): decomposed jamo from macOS (NFD), the 시도
//! inside the 시군구 column in every spelling, and abbreviated 시도.

use crate::fixtures::{geojson, grid_dir, props};

const INPUTS: &str = r#"
[[inputs]]
name = "mac_utf8"
path = "mac.csv"
id = "id"
amount = { field = "amount_krw" }
locate = { by = "name", sido = "sido", sigungu = "sigungu" }

[[inputs]]
name = "cp949_sido_in_sigungu"
path = "joined_cp949.csv"
id = "id"
amount = { field = "amount_krw" }
locate = { by = "name", sido = "sido", sigungu = "sigungu" }
"#;

/// `s` decomposed into conjoining jamo, as macOS writes Hangul file contents and names.
fn nfd(s: &str) -> String {
    s.chars()
        .flat_map(|c| {
            let u = c as u32;
            if !(0xAC00..0xAC00 + 11172).contains(&u) {
                return vec![c];
            }
            let i = u - 0xAC00;
            let mut v = vec![
                char::from_u32(0x1100 + i / 588).unwrap(),
                char::from_u32(0x1161 + (i % 588) / 28).unwrap(),
            ];
            if !i.is_multiple_of(28) {
                v.push(char::from_u32(0x11A7 + i % 28).unwrap());
            }
            v
        })
        .collect()
}

#[test]
fn decomposed_jamo_and_the_sido_inside_the_sigungu_column_resolve() {
    let dir = grid_dir();
    let mac = format!(
        "id,sido,sigungu,amount_krw\nm1,{},{},1\nm2,{},{},2\n",
        nfd("서울특별시"),
        nfd("종로구"),
        nfd("부산"),
        nfd("중구")
    );
    assert!(
        !mac.contains("종로구"),
        "the fixture must really be decomposed"
    );
    std::fs::write(dir.path().join("mac.csv"), mac).unwrap();
    let (csv, _, _) = encoding_rs::EUC_KR.encode(
        "id,sido,sigungu,amount_krw\n\
         j1,,서울특별시 종로구,10\n\
         j2,,서울시종로구,20\n\
         j3,,서울  종로구,40\n\
         j4,서울,서울특별시 중구,80\n\
         j5,,부산광역시 중구,160\n\
         j6,,중구,320\n",
    );
    std::fs::write(dir.path().join("joined_cp949.csv"), &csv).unwrap();
    let o = crate::fixtures::run_on_grid(dir.path(), "names", 0.5, INPUTS);
    let sigungu = geojson(&dir.path().join("out"), "sigungu");
    assert_eq!(props(&sigungu, "11020")["amount_krw"], 1 + 10 + 20 + 40);
    assert_eq!(props(&sigungu, "11010")["amount_krw"], 80);
    assert_eq!(props(&sigungu, "26010")["amount_krw"], 2 + 160);
    // A bare 중구 names no 시도: still refused, saying what was tried.
    let r = &o.report.rejects_by_reason["name_ambiguous"];
    assert_eq!((r.count, r.amount_krw), (1, 320));
    assert_eq!(o.report.totals.rejected_records, 1);
}
