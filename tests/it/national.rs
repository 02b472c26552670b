//! The national pipeline end to end, on the bundled boundaries, the report's records and the
//! programme awards. The report's expected totals are summed by hand from the seed report
//! (Table 2 and the text), not taken from a previous run: see data/investments/README.md for the
//! same sums; the awards' share is summed from `awards.csv` by the tests' own CSV reader
//! (`awards.rs`, which checks the awards themselves).

use gdal::vector::LayerAccess;

use crate::awards::awards_krw;
use crate::fixtures::{geojson, props};

fn national() -> (tempfile::TempDir, smartgap::pipeline::RunOutcome) {
    crate::fixtures::run_repo_pipeline("pipelines/national.toml")
}

/// 억원 → KRW.
fn eok(x10: i128) -> i128 {
    x10 * 10_000_000
}

#[test]
fn national_run_matches_the_reports_tables() {
    let (out, o) = national();
    let t = &o.report.totals;
    // Table 2 amounts (억원): 서울 36 + 53 + 22.6 + 5 + 5 = 121.6; 인천 96.4 + 22.6 = 119;
    // 대구 511 + 15 + 388 = 914; 부산 12 + 247 + 148.5 + 10.2 = 417.7; 세종 8.
    // Text: 인천 fee-funded 3,500. Total 5,080.3 억원, plus the awards beyond the report.
    let report_input = o
        .report
        .inputs
        .iter()
        .find(|i| i.name == "report_projects")
        .unwrap();
    assert_eq!(
        (report_input.assigned, report_input.amount_krw),
        (16, eok(50_803))
    );
    assert_eq!(t.assigned_krw, eok(50_803) + awards_krw(None, None));
    assert_eq!(t.rejected_krw, 0);
    assert_eq!(t.rejected_records, 0, "{:?}", o.report.rejects_by_reason);
    let regions: Vec<(String, usize)> = o
        .report
        .levels
        .iter()
        .map(|l| (l.level.clone(), l.regions))
        .collect();
    assert_eq!(regions[0], ("sido".into(), 17));
    // The 12 cities with 일반구 of the 2013 boundaries (수원 … 창원), derived from the 구 codes.
    assert_eq!(regions[1], ("city".into(), 12));
    assert_eq!(regions[4], ("region_group".into(), 9));

    let sido = geojson(out.path(), "sido");
    let by_name = |name: &str| {
        sido["features"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["properties"]["name"] == name)
            .map(|f| f["properties"]["amount_krw"].as_i64().unwrap() as i128)
            .unwrap_or_else(|| panic!("no 시도 {name}"))
    };
    let awards_in = |sido: &str| awards_krw(Some(sido), None);
    assert_eq!(by_name("서울특별시"), eok(1_216) + awards_in("서울특별시"));
    assert_eq!(
        by_name("인천광역시"),
        eok(1_190) + eok(35_000) + awards_in("인천광역시")
    );
    assert_eq!(by_name("대구광역시"), eok(9_140) + awards_in("대구광역시"));
    assert_eq!(by_name("부산광역시"), eok(4_177) + awards_in("부산광역시"));
    assert_eq!(
        by_name("세종특별자치시"),
        eok(80) + awards_in("세종특별자치시")
    );
    // Census 2020 population rolls up from 시군구 to the nation: 51,829,136 (data/population.md).
    let pop: i64 = sido["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["properties"]["population"].as_i64().unwrap())
        .sum();
    assert_eq!(pop, 51_829_136);

    // 마포구 holds 53 억 (시범사업); 은평구 22.6; 영등포구 5; 서대문구 5; and their awards.
    let sigungu = geojson(out.path(), "sigungu");
    let gu = |code: &str| props(&sigungu, code)["amount_krw"].as_i64().unwrap() as i128;
    let seoul = |gu: &str| awards_krw(Some("서울특별시"), Some(gu));
    assert_eq!(gu("11440"), eok(530) + seoul("마포구"));
    assert_eq!(gu("11380"), eok(226) + seoul("은평구"));
    assert_eq!(gu("11560"), eok(50) + seoul("영등포구"));
    assert_eq!(gu("11410"), eok(50) + seoul("서대문구"));
    // 은평구 and 서대문구 won awards after the report (2019 통합플랫폼, 2021 도시재생 스마트기술).
    assert_eq!(seoul("은평구"), eok(60));
    assert_eq!(seoul("서대문구"), eok(50));
    // The region groups hold everything: 수도권 = 서울 + 인천.
    let groups = geojson(out.path(), "region_group");
    let total: i64 = groups["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["properties"]["amount_krw"].as_i64().unwrap())
        .sum();
    assert_eq!(i128::from(total), eok(50_803) + awards_krw(None, None));
}

#[test]
fn figure_1_tiers_land_on_every_listed_municipality() {
    let (out, o) = national();
    assert_eq!(
        o.report
            .inputs
            .iter()
            .find(|i| i.name == "report_figure1_tiers")
            .map(|i| i.assigned),
        Some(69)
    );
    let sigungu = geojson(out.path(), "sigungu");
    let tiers: Vec<&serde_json::Value> = sigungu["features"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| !f["properties"]["report_tier"].is_null())
        .collect();
    // 69 entries: 7 are whole 광역시/특별시 (서울, 인천, 대구, 부산, 울산, 대전, 광주 … and 세종)
    // and land on the 시도 layer; cities with 일반구 spread over their 구.
    assert!(
        tiers.len() >= 55,
        "{} sigungu carry a report tier",
        tiers.len()
    );
    let sido = geojson(out.path(), "sido");
    let seoul = sido["features"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["properties"]["name"] == "서울특별시")
        .unwrap();
    assert_eq!(seoul["properties"]["report_tier"], "1");
}

#[test]
fn no_region_without_records_has_a_tier_or_class_and_the_legend_counts_every_region() {
    let (out, _) = national();
    let ds = gdal::Dataset::open(out.path().join("smartgap.gpkg")).unwrap();
    let mut reported_without_records = 0;
    for layer in ["sido", "sigungu", "emd", "region_group"] {
        let fc = geojson(out.path(), layer);
        let features = fc["features"].as_array().unwrap();
        for f in features {
            let p = &f["properties"];
            let code = &p["code"];
            if p["record_count"] == 0 {
                assert_eq!(p["tier_label"], "자료 없음", "{layer} {code}");
                for col in [
                    "tier",
                    "rank",
                    "rank_ties",
                    "percentile",
                    "class_quantile",
                    "class_equal_interval",
                    "class_fisher_jenks",
                    "amount_per_km2_krw",
                    "amount_per_capita_krw",
                    "share_of_national",
                    "deficit_krw",
                ] {
                    assert!(p[col].is_null(), "{layer} {code} {col}: {}", p[col]);
                }
                // The report's own tier (an attribute input) is not ours to withhold.
                if !p["report_tier"].is_null() {
                    reported_without_records += 1;
                }
            } else {
                assert!(p["tier"].is_i64(), "{layer} {code}");
                assert!(p["rank_ties"].as_i64().unwrap() >= 1, "{layer} {code}");
                assert!(p["class_fisher_jenks"].is_i64(), "{layer} {code}");
            }
            // An island has no lag: no quadrant, and says why.
            if p["neighbor_count"] == 0 {
                assert!(p["lisa_quadrant"].is_null(), "{layer} {code}");
                assert_eq!(p["lisa_note"], "no neighbours", "{layer} {code}");
            }
            if p["lisa_note"] == "zero among zeros" {
                assert_eq!(p["amount_krw"], 0, "{layer} {code}");
                assert!(p["lisa_p_sim"].is_null() && p["gi_star_z"].is_null());
            }
        }
        // Every (layer, method) of the legend counts each region of the layer once.
        let mut rs = ds
            .execute_sql(
                format!(
                    "SELECT method, SUM(count), COUNT(*) FROM legend WHERE layer = '{layer}' \
                     GROUP BY method ORDER BY method"
                ),
                None,
                gdal::vector::sql::Dialect::DEFAULT,
            )
            .unwrap()
            .unwrap();
        let sums: Vec<(String, i64)> = rs
            .features()
            .map(|f| {
                (
                    f.field_as_string(0).unwrap().unwrap(),
                    f.field_as_integer64(1).unwrap().unwrap(),
                )
            })
            .collect();
        let n = features.len() as i64;
        assert_eq!(
            sums,
            ["equal_interval", "fisher_jenks", "quantile", "tier"]
                .map(|m| (m.to_string(), n))
                .to_vec(),
            "{layer}"
        );
    }
    assert!(
        reported_without_records > 0,
        "some Figure 1 municipalities have no record here but keep the report's tier"
    );
}
