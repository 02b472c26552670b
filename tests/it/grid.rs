//! The 3×3 grid of 1 km² squares: every figure below is computed by hand from
//! `tests/fixtures/grid/*.csv` (see the comments) — not copied from a previous run.

use std::path::Path;
use std::process::Command;

use gdal::vector::LayerAccess;

use crate::fixtures::{geojson, grid_dir, props};

fn run(dir: &Path) -> smartgap::pipeline::RunOutcome {
    let p = smartgap::pipeline::load(&dir.join("grid.toml")).expect("valid config");
    smartgap::pipeline::run(&p).expect("run succeeds")
}

#[test]
fn totals_balance_exactly_and_match_hand_computation() {
    let dir = grid_dir();
    let o = run(dir.path());
    let t = &o.report.totals;
    // points: 7 rows, amounts 100+200+300+400+600+700 (p5 empty); names: 6 rows,
    // 1000+2000+1500+3000+4000+5000; codes: 3 rows, 10000+20000+30000.
    assert_eq!(t.input_records, 16);
    assert_eq!(t.input_krw, 2300 + 16500 + 60000);
    // assigned: p1 p2 p3 p7 (1300), n1 n2 n4 n6 (11000), c1 c3 (40000)
    assert_eq!(t.assigned_records, 10);
    assert_eq!(t.assigned_krw, 52_300);
    // rejected: p4 outside (400), p5 empty (—), p1-again duplicate (600), n3 no 시도 (1500),
    // n5 unknown 강남구 (4000), c2 unknown code (20000)
    assert_eq!(t.rejected_records, 6);
    assert_eq!(t.rejected_krw, 26_500);
    let reasons: Vec<(&str, u64)> = o
        .report
        .rejects_by_reason
        .iter()
        .map(|(k, v)| (k.as_str(), v.count))
        .collect();
    assert_eq!(
        reasons,
        vec![
            ("amount_missing", 1),
            ("duplicate_id", 1),
            ("name_ambiguous", 1),
            ("name_not_found", 1),
            ("outside_all_regions", 1),
            ("unknown_code", 1),
        ]
    );
}

#[test]
fn point_on_shared_edge_and_corner_is_counted_once_in_the_lowest_code() {
    let dir = grid_dir();
    run(dir.path());
    let out = dir.path().join("out");
    let emd = geojson(&out, "emd");
    // p1 inside 11010101, p2 on the edge 11010101|11020101, p3 on the corner of
    // 11010101, 11010102, 11020101, 11020102: all three go to 11010101 (lowest code).
    assert_eq!(props(&emd, "11010101")["amount_krw"], 600);
    assert_eq!(props(&emd, "11010101")["record_count"], 3);
    for neighbour in ["11010102", "11020101", "11020102"] {
        assert_eq!(props(&emd, neighbour)["amount_krw"], 0, "{neighbour}");
    }
    assert_eq!(props(&emd, "26010103")["amount_krw"], 700);
    assert_eq!(props(&emd, "11020103")["amount_krw"], 30_000);
    // emd total 31,300; the rest (21,000) is held at 시군구 or 시도 level.
    let sum: i64 = emd["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["properties"]["amount_krw"].as_i64().unwrap())
        .sum();
    assert_eq!(sum, 31_300);
}

#[test]
fn levels_roll_up_exactly_with_names_resolved_within_their_sido() {
    let dir = grid_dir();
    let o = run(dir.path());
    let out = dir.path().join("out");
    let sigungu = geojson(&out, "sigungu");
    // 11010 중구 (서울): p1+p2+p3 600 + n1 1000; 26010 중구 (부산): p7 700 + n2 2000;
    // 11020 종로구: n6 "서울시 종로" 5000 + c1 10000 + c3 30000.
    assert_eq!(props(&sigungu, "11010")["amount_krw"], 1_600);
    assert_eq!(props(&sigungu, "26010")["amount_krw"], 2_700);
    assert_eq!(props(&sigungu, "11020")["amount_krw"], 45_000);
    assert_eq!(props(&sigungu, "11020")["amount_held_here_krw"], 15_000);
    let sido = geojson(&out, "sido");
    // 11: 1600 + 45000 + n4 (서울, no 시군구) 3000 held at the 시도.
    assert_eq!(props(&sido, "11")["amount_krw"], 49_600);
    assert_eq!(props(&sido, "11")["amount_held_here_krw"], 3_000);
    assert_eq!(props(&sido, "26")["amount_krw"], 2_700);
    let levels: Vec<(String, i128, i128)> = o
        .report
        .levels
        .iter()
        .map(|l| (l.level.clone(), l.amount_krw, l.held_above_krw))
        .collect();
    assert_eq!(
        levels,
        vec![
            ("sido".into(), 52_300, 0),
            ("sigungu".into(), 49_300, 3_000),
            ("emd".into(), 31_300, 21_000),
            ("region_group".into(), 52_300, 0),
        ]
    );
}

#[test]
fn indicators_per_km2_share_rank_and_tier() {
    let dir = grid_dir();
    run(dir.path());
    let out = dir.path().join("out");
    let sido = geojson(&out, "sido");
    let s11 = props(&sido, "11");
    // 6 squares of 1 km²; 49,600 / 6 = 8,266.666…; share 49,600 / 52,300.
    assert!((s11["area_km2"].as_f64().unwrap() - 6.0).abs() < 1e-9);
    assert!((s11["amount_per_km2_krw"].as_f64().unwrap() - 49_600.0 / 6.0).abs() < 1e-6);
    assert!((s11["share_of_national"].as_f64().unwrap() - 49_600.0 / 52_300.0).abs() < 1e-12);
    assert_eq!(s11["rank"], 1);
    assert_eq!(s11["tier_label"], "high");
    let s26 = props(&sido, "26");
    assert_eq!(s26["rank"], 2);
    // Target = national mean per km² = 52,300 / 9 km²; 26 (3 km², 2,700 KRW) lacks
    // 3 · 52,300 / 9 − 2,700 = 14,733.33 → 14,733 KRW; 11 is above its target.
    assert_eq!(s26["deficit_krw"], 14_733);
    assert_eq!(s11["deficit_krw"], 0);
    assert_eq!(s11["percentile"], 100.0);
    assert_eq!(s26["percentile"], 50.0);
    assert_eq!(s26["tier_label"], "mid");
    // by funding source: 11 has national_program 300 (p1 100 + p2 200) and development_fee 300.
    assert_eq!(s11["amount_national_program_krw"], 300);
    assert_eq!(s11["amount_development_fee_krw"], 300);
    assert_eq!(s11["amount_program_prog_a_krw"], 300);
    // Periods: only the points are dated (2010): 시도 11 holds p1+p2+p3 = 600 of them.
    assert_eq!(s11["amount_period_2003_2012_krw"], 600);
    assert_eq!(s11["amount_period_2013_2018_krw"], 0);
    assert_eq!(props(&sido, "26")["amount_period_2003_2012_krw"], 700);
    let groups = geojson(&out, "region_group");
    assert_eq!(props(&groups, "west")["amount_krw"], 49_600);
    assert_eq!(props(&groups, "east")["amount_krw"], 2_700);
    assert!((props(&groups, "west")["area_km2"].as_f64().unwrap() - 6.0).abs() < 1e-9);
}

#[test]
fn geopackage_has_every_layer_in_epsg_5179_and_rejects_name_their_row() {
    let dir = grid_dir();
    run(dir.path());
    let gpkg = dir.path().join("out/smartgap.gpkg");
    let ds = gdal::Dataset::open(&gpkg).unwrap();
    let mut names: Vec<String> = ds.layers().map(|l| l.name()).collect();
    names.sort();
    assert_eq!(
        names,
        [
            "assignments",
            "emd",
            "layer_styles",
            "legend",
            "lorenz",
            "region_group",
            "rejects",
            "sido",
            "sigungu",
            "summary"
        ]
    );
    for l in ["sido", "sigungu", "emd", "region_group", "rejects"] {
        let layer = ds.layer_by_name(l).unwrap();
        assert_eq!(
            layer.spatial_ref().unwrap().auth_code().unwrap(),
            5179,
            "{l}"
        );
    }
    assert_eq!(ds.layer_by_name("emd").unwrap().feature_count(), 9);
    let mut rejects = ds.layer_by_name("rejects").unwrap();
    let (ii, ri, si) = {
        let d = rejects.defn();
        let idx = |n: &str| d.field_index(n).unwrap();
        (idx("input"), idx("row"), idx("reason"))
    };
    let rows: Vec<(String, i64, String)> = rejects
        .features()
        .map(|f| {
            (
                f.field_as_string(ii).unwrap().unwrap(),
                f.field_as_integer64(ri).unwrap().unwrap(),
                f.field_as_string(si).unwrap().unwrap(),
            )
        })
        .collect();
    assert!(rows.contains(&("points".into(), 4, "outside_all_regions".into())));
    assert!(rows.contains(&("points".into(), 6, "duplicate_id".into())));
    assert!(rows.contains(&("codes".into(), 2, "unknown_code".into())));
    // GeoPackage 1.2: application_id GPKG, user_version 10200.
    let mut rs = ds
        .execute_sql(
            "PRAGMA user_version",
            None,
            gdal::vector::sql::Dialect::DEFAULT,
        )
        .unwrap()
        .unwrap();
    let v = rs.features().next().unwrap().field_as_integer(0).unwrap();
    assert_eq!(v, Some(10200));
}

#[test]
fn a_second_run_gives_byte_identical_geojson() {
    let dir = grid_dir();
    run(dir.path());
    let out = dir.path().join("out");
    let first: Vec<Vec<u8>> = ["sido", "sigungu", "emd", "region_group", "rejects"]
        .iter()
        .map(|l| std::fs::read(out.join("geojson").join(format!("{l}.geojson"))).unwrap())
        .collect();
    std::thread::sleep(std::time::Duration::from_millis(1100));
    run(dir.path());
    for (i, l) in ["sido", "sigungu", "emd", "region_group", "rejects"]
        .iter()
        .enumerate()
    {
        let again = std::fs::read(out.join("geojson").join(format!("{l}.geojson"))).unwrap();
        assert_eq!(first[i], again, "{l}.geojson differs between runs");
    }
}

#[test]
fn geojson_is_rfc7946_lon_lat_with_counter_clockwise_exteriors() {
    let dir = grid_dir();
    run(dir.path());
    let emd = geojson(&dir.path().join("out"), "emd");
    assert!(emd.get("crs").is_none());
    for f in emd["features"].as_array().unwrap() {
        let ring = &f["geometry"]["coordinates"][0][0];
        let pts: Vec<(f64, f64)> = ring
            .as_array()
            .unwrap()
            .iter()
            .map(|c| (c[0].as_f64().unwrap(), c[1].as_f64().unwrap()))
            .collect();
        assert_eq!(pts.first(), pts.last());
        let twice: f64 = pts
            .windows(2)
            .map(|w| w[0].0 * w[1].1 - w[1].0 * w[0].1)
            .sum();
        assert!(twice > 0.0, "exterior must be counter-clockwise");
        for (lon, lat) in pts {
            assert!(
                (124.0..132.0).contains(&lon) && (33.0..39.0).contains(&lat),
                "{lon} {lat}"
            );
        }
    }
}

#[test]
fn a_failed_run_leaves_the_previous_outputs_untouched() {
    let dir = grid_dir();
    run(dir.path());
    let out = dir.path().join("out");
    let before = std::fs::read(out.join("geojson/sido.geojson")).unwrap();
    let before_target = std::fs::read_link(out.join("current")).unwrap();
    // Tighten the reject threshold: 6 of 16 rejected is now too many, so the run fails.
    let cfg = std::fs::read_to_string(dir.path().join("grid.toml")).unwrap();
    std::fs::write(
        dir.path().join("grid.toml"),
        cfg.replace("max_reject_share = 0.5", "max_reject_share = 0.1"),
    )
    .unwrap();
    let status = Command::new(env!("CARGO_BIN_EXE_smartgap"))
        .args(["run", "grid.toml"])
        .current_dir(dir.path())
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(1));
    assert_eq!(
        std::fs::read_link(out.join("current")).unwrap(),
        before_target
    );
    assert_eq!(
        std::fs::read(out.join("geojson/sido.geojson")).unwrap(),
        before
    );
}

#[test]
fn a_second_run_while_the_lock_is_held_exits_with_a_clear_message() {
    let dir = grid_dir();
    let out = dir.path().join("out");
    let _held = smartgap::publish::lock(&out).unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_smartgap"))
        .args(["run", "grid.toml"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("another smartgap run holds the lock"), "{err}");
}

#[test]
fn summary_gini_of_the_two_sido_matches_hand_computation() {
    let dir = grid_dir();
    run(dir.path());
    let text = std::fs::read_to_string(dir.path().join("out/summary.json")).unwrap();
    let rows: serde_json::Value = serde_json::from_str(&text).unwrap();
    let value = |level: &str, ind: &str, w: &str| {
        rows.as_array()
            .unwrap()
            .iter()
            .find(|r| {
                r["level"] == level
                    && r["indicator"] == ind
                    && r["weighting"] == w
                    && r["partition"] == ""
            })
            .and_then(|r| r["value"].as_f64())
            .unwrap()
    };
    // Per km²: 시도 11 = 49,600 / 6, 시도 26 = 2,700 / 3 = 900. Unweighted Gini of two values
    // = |a − b| / (2 (a + b)) = (22,100/3) / (2 · 27,500/3) = 0.40181818…
    assert!((value("sido", "gini", "none") - 22_100.0 / 55_000.0).abs() < 1e-12);
    // Area-weighted (6 and 3 km²): 2·6·3·|a − b| / (2 · 9² · 52,300/9) = 265,200 / 941,400.
    assert!((value("sido", "gini", "area") - 265_200.0 / 941_400.0).abs() < 1e-12);
    // Hoover of amount vs area at 시도 level: ½(|49,600/52,300 − 6/9| + |2,700/52,300 − 3/9|).
    let h = 0.5
        * ((49_600.0 / 52_300.0 - 6.0 / 9.0_f64).abs()
            + (2_700.0 / 52_300.0 - 3.0 / 9.0_f64).abs());
    assert!((value("sido", "hoover_vs_area", "none") - h).abs() < 1e-12);
}

/// GDAL's own GeoPackage validator (shipped with python3-gdal, a dependency of gdal-bin).
const VALIDATE_GPKG: &str = "/usr/lib/python3/dist-packages/osgeo_utils/samples/validate_gpkg.py";

#[test]
fn gdal_validate_gpkg_accepts_the_output() {
    let dir = grid_dir();
    run(dir.path());
    assert!(
        Path::new(VALIDATE_GPKG).exists(),
        "{VALIDATE_GPKG} missing: install gdal-bin (python3-gdal)"
    );
    let o = Command::new("/usr/bin/python3")
        .arg(VALIDATE_GPKG)
        .arg(dir.path().join("out/smartgap.gpkg"))
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn per_capita_figures_name_their_census_year_and_roll_up_population() {
    let dir = grid_dir();
    run(dir.path());
    let out = dir.path().join("out");
    let sido = geojson(&out, "sido");
    // 2020 population: 11010 100 + 11020 300 = 400 for 시도 11; 26010 50 for 시도 26.
    assert_eq!(props(&sido, "11")["population"], 400);
    assert_eq!(props(&sido, "11")["population_year"], 2020);
    assert_eq!(props(&sido, "11")["amount_per_capita_krw"], 124.0); // 49,600 / 400
    assert_eq!(props(&sido, "26")["amount_per_capita_krw"], 54.0); // 2,700 / 50
    let sigungu = geojson(&out, "sigungu");
    assert_eq!(props(&sigungu, "11020")["amount_per_capita_krw"], 150.0); // 45,000 / 300
    let emd = geojson(&out, "emd");
    assert!(props(&emd, "11010101")["population"].is_null());
    let groups = geojson(&out, "region_group");
    assert_eq!(props(&groups, "west")["population"], 400);
    // Population-weighted Gini of per-capita at 시도 level: y = 124 (w 400), 54 (w 50):
    // 2·400·50·70 / (2 · 450² · (52,300/450)) = 2,800,000 / 47,070,000.
    let text = std::fs::read_to_string(out.join("summary.json")).unwrap();
    let rows: serde_json::Value = serde_json::from_str(&text).unwrap();
    let g = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|r| {
            r["level"] == "sido"
                && r["variable"] == "amount_per_capita_krw"
                && r["indicator"] == "gini"
                && r["weighting"] == "population"
        })
        .and_then(|r| r["value"].as_f64())
        .unwrap();
    assert!((g - 2_800_000.0 / 47_070_000.0).abs() < 1e-12, "{g}");
}

/// 읍면동 of the grid (row, column as in `fixtures::grid_dir`): only three received records,
/// 11010101 (p1 p2 p3: 600), 11020103 (c3: 30,000) and 26010103 (p7: 700).
const EMD_WITH_DATA: [&str; 3] = ["11010101", "11020103", "26010103"];

#[test]
fn regions_without_records_have_no_tier_rank_or_class_and_the_others_are_ranked_among_themselves() {
    let dir = grid_dir();
    run(dir.path());
    let out = dir.path().join("out");
    let emd = geojson(&out, "emd");
    for f in emd["features"].as_array().unwrap() {
        let p = &f["properties"];
        if EMD_WITH_DATA.contains(&p["code"].as_str().unwrap()) {
            continue;
        }
        assert_eq!(p["record_count"], 0);
        assert_eq!(p["amount_krw"], 0, "money is exact: 0 stays 0");
        assert_eq!(p["tier_label"], "자료 없음");
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
            assert!(p[col].is_null(), "{} {col}: {}", p["code"], p[col]);
        }
    }
    // Ranked among the three with data: 30,000 > 700 > 600; weak percentiles 3/3, 2/3, 1/3.
    let (a, b, c) = (
        props(&emd, "11020103"),
        props(&emd, "26010103"),
        props(&emd, "11010101"),
    );
    assert_eq!(
        (&a["rank"], &b["rank"], &c["rank"]),
        (&1.into(), &2.into(), &3.into())
    );
    for p in [a, b, c] {
        assert_eq!(p["rank_ties"], 1);
    }
    assert_eq!(a["percentile"], 100.0);
    assert!((b["percentile"].as_f64().unwrap() - 200.0 / 3.0).abs() < 1e-12);
    assert!((c["percentile"].as_f64().unwrap() - 100.0 / 3.0).abs() < 1e-12);
    // Tiers (high ≥ 10,000, mid ≥ 1,000, low): 30,000 high; 700 and 600 low.
    assert_eq!((&a["tier"], &a["tier_label"]), (&1.into(), &"high".into()));
    assert_eq!((&b["tier"], &c["tier"]), (&3.into(), &3.into()));
    // Classes (k = 5) of y = 600, 700, 30,000 per km² (1 km² each).
    // Quantiles: numpy.percentile at 20…100 % of [600, 700, 30,000] = 640, 680, 6,560,
    // 18,280, 30,000 → classes 1, 3, 5.
    assert_eq!(
        (
            &c["class_quantile"],
            &b["class_quantile"],
            &a["class_quantile"]
        ),
        (&1.into(), &3.into(), &5.into())
    );
    // Equal interval: width (30,000 − 600) / 5 = 5,880 → 600 and 700 in 1, 30,000 in 5.
    assert_eq!(
        (
            &c["class_equal_interval"],
            &b["class_equal_interval"],
            &a["class_equal_interval"]
        ),
        (&1.into(), &1.into(), &5.into())
    );
    // Fisher–Jenks: 3 values, at most 3 classes, one each.
    assert_eq!(
        (
            &c["class_fisher_jenks"],
            &b["class_fisher_jenks"],
            &a["class_fisher_jenks"]
        ),
        (&1.into(), &2.into(), &3.into())
    );
    // 시도 both have data: ranks as before, one region per rank.
    let sido = geojson(&out, "sido");
    assert_eq!(props(&sido, "11")["rank_ties"], 1);
    assert_eq!(props(&sido, "26")["rank_ties"], 1);
}

#[test]
fn zero_among_zeros_has_no_quadrant_and_nulls_are_nulls_in_both_formats() {
    let dir = grid_dir();
    run(dir.path());
    let out = dir.path().join("out");
    let emd = geojson(&out, "emd");
    // Queen neighbours on the 3×3 grid: 26010101 (top right, row 0 col 2) touches 11020101,
    // 11020102 and 26010102, which like itself hold nothing; every other empty cell touches
    // 11010101 (600) or 11020103 (30,000).
    for f in emd["features"].as_array().unwrap() {
        let p = &f["properties"];
        if p["code"] == "26010101" {
            assert_eq!(p["lisa_note"], "zero among zeros");
            for col in ["lisa_quadrant", "lisa_p_sim", "gi_star_z", "gi_star_p_norm"] {
                assert!(p[col].is_null(), "{col}: {}", p[col]);
            }
            // Local Moran's I itself is still given (esda's value).
            assert!(p["lisa_i"].is_f64());
        } else {
            assert!(p["lisa_note"].is_null(), "{}", p["code"]);
            assert!(p["lisa_quadrant"].is_string(), "{}", p["code"]);
            assert!(p["gi_star_z"].is_f64(), "{}", p["code"]);
        }
    }
    // The GeoPackage holds SQL NULLs, not empty strings or zeros.
    let ds = gdal::Dataset::open(out.join("smartgap.gpkg")).unwrap();
    let mut rs = ds
        .execute_sql(
            "SELECT lisa_quadrant IS NULL, lisa_p_sim IS NULL, lisa_note, tier IS NULL, \
             tier_label, rank IS NULL, class_fisher_jenks IS NULL FROM emd WHERE code = '26010101'",
            None,
            gdal::vector::sql::Dialect::DEFAULT,
        )
        .unwrap()
        .unwrap();
    let f = rs.features().next().unwrap();
    let i = |k: usize| f.field_as_integer(k).unwrap();
    assert_eq!(
        (i(0), i(1), i(3), i(5), i(6)),
        (Some(1), Some(1), Some(1), Some(1), Some(1))
    );
    assert_eq!(
        f.field_as_string(2).unwrap().as_deref(),
        Some("zero among zeros")
    );
    assert_eq!(f.field_as_string(4).unwrap().as_deref(), Some("자료 없음"));
}

#[test]
fn the_legend_gives_the_breaks_of_the_class_columns_and_counts_every_region() {
    let dir = grid_dir();
    run(dir.path());
    let out = dir.path().join("out");
    assert!(
        !out.join("geojson/legend.geojson").exists(),
        "a table has no GeoJSON"
    );
    let ds = gdal::Dataset::open(out.join("smartgap.gpkg")).unwrap();
    let mut legend = ds.layer_by_name("legend").unwrap();
    type Row = (
        String,
        String,
        String,
        Option<i64>,
        Option<f64>,
        Option<f64>,
        String,
        i64,
    );
    let rows: Vec<Row> = legend
        .features()
        .map(|f| {
            let i = |n: &str| f.field_index(n).unwrap();
            let s = |n: &str| f.field_as_string(i(n)).unwrap().unwrap_or_default();
            let r = |n: &str| f.field_as_double(i(n)).unwrap();
            (
                s("layer"),
                s("variable"),
                s("method"),
                f.field_as_integer64(i("class")).unwrap(),
                r("lower"),
                r("upper"),
                s("label"),
                f.field_as_integer64(i("count")).unwrap().unwrap(),
            )
        })
        .collect();
    let of = |layer: &str, method: &str| -> Vec<&Row> {
        rows.iter()
            .filter(|r| r.0 == layer && r.2 == method)
            .collect()
    };
    // emd quantiles: bins 640, 680, 6,560, 18,280, 30,000 from the smallest value 600.
    let q = of("emd", "quantile");
    // (numpy's interpolation is not exact in binary: 6,559.999999999999; compared to 1e-9.)
    let near = |v: Option<f64>| v.map(|v| (v * 1e6).round() as i64);
    let bounds: Vec<_> = q.iter().map(|r| (r.3, near(r.4), near(r.5), r.7)).collect();
    let krw = |v: i64| Some(v * 1_000_000);
    assert_eq!(
        bounds,
        vec![
            (Some(1), krw(600), krw(640), 1),
            (Some(2), krw(640), krw(680), 0),
            (Some(3), krw(680), krw(6_560), 1),
            (Some(4), krw(6_560), krw(18_280), 0),
            (Some(5), krw(18_280), krw(30_000), 1),
            (None, None, None, 6),
        ]
    );
    assert_eq!(q[0].1, "amount_per_km2_krw");
    assert_eq!(q[0].6, "600 – 640/km²");
    assert_eq!(q[4].6, "1.83만 – 3만/km²");
    assert_eq!(q[5].6, "자료 없음");
    // Tiers of amount_krw: from the tier's minimum to the next higher one's.
    let t: Vec<_> = of("emd", "tier")
        .iter()
        .map(|r| (r.3, r.4, r.5, r.6.as_str(), r.7))
        .collect();
    assert_eq!(
        t,
        vec![
            (Some(1), Some(10_000.0), None, "high", 1),
            (Some(2), Some(1_000.0), Some(10_000.0), "mid", 0),
            (Some(3), Some(0.0), Some(1_000.0), "low", 2),
            (None, None, None, "자료 없음", 6),
        ]
    );
    assert!(of("emd", "tier").iter().all(|r| r.1 == "amount_krw"));
    // Every (layer, method) counts each region of the layer once.
    for (layer, n) in [("sido", 2), ("sigungu", 3), ("emd", 9), ("region_group", 2)] {
        for method in ["quantile", "equal_interval", "fisher_jenks", "tier"] {
            let sum: i64 = of(layer, method).iter().map(|r| r.7).sum();
            assert_eq!(sum, n, "{layer} {method}");
        }
    }
}

#[test]
fn the_summary_says_how_much_each_level_describes() {
    let dir = grid_dir();
    run(dir.path());
    let text = std::fs::read_to_string(dir.path().join("out/summary.json")).unwrap();
    let rows: serde_json::Value = serde_json::from_str(&text).unwrap();
    let row = |level: &str, ind: &str| {
        rows.as_array()
            .unwrap()
            .iter()
            .find(|r| r["level"] == level && r["indicator"] == ind)
            .unwrap_or_else(|| panic!("{level} {ind}"))
            .clone()
    };
    // Regions reached by a record: both 시도, all three 시군구, 3 of 9 읍면동.
    assert_eq!(row("sido", "regions_with_data")["value"], 2.0);
    assert_eq!(row("sigungu", "regions_with_data")["value"], 3.0);
    assert_eq!(row("emd", "regions_with_data")["value"], 3.0);
    // Money described: 52,300 of 52,300 at 시도; 49,300 at 시군구 (n4's 3,000 held at 서울);
    // 31,300 at 읍면동 (21,000 held above).
    assert_eq!(row("sido", "money_share_described")["value"], 1.0);
    let sg = row("sigungu", "money_share_described")["value"]
        .as_f64()
        .unwrap();
    assert!((sg - 49_300.0 / 52_300.0).abs() < 1e-15);
    let e = row("emd", "money_share_described");
    assert!((e["value"].as_f64().unwrap() - 31_300.0 / 52_300.0).abs() < 1e-15);
    assert_eq!(
        e["note"],
        "31300 of 52300 KRW assigned; 21000 KRW held above this level"
    );
}

#[test]
fn a_level_no_record_reaches_publishes_no_inequality() {
    let dir = grid_dir();
    // Only a code record for 시도 11: nothing reaches 시군구 or 읍면동. (Not 26: the grid's 부산
    // has one 시군구, so like 세종 it is single-tier and its code lands on 26010.)
    std::fs::write(
        dir.path().join("only_sido.csv"),
        "id,code,amount_krw\nx1,11,5000\n",
    )
    .unwrap();
    crate::fixtures::run_on_grid(
        dir.path(),
        "only_sido",
        0.0,
        "[[inputs]]\nname = \"codes\"\npath = \"only_sido.csv\"\nid = \"id\"\n\
         amount = { field = \"amount_krw\" }\nlocate = { by = \"code\", field = \"code\" }\n",
    );
    let text = std::fs::read_to_string(dir.path().join("out/summary.json")).unwrap();
    let rows: serde_json::Value = serde_json::from_str(&text).unwrap();
    let rows = rows.as_array().unwrap();
    let of = |level: &str| -> Vec<&serde_json::Value> {
        rows.iter().filter(|r| r["level"] == level).collect()
    };
    for level in ["sigungu", "emd"] {
        let ineq: Vec<&serde_json::Value> = of(level)
            .into_iter()
            .filter(|r| {
                r["variable"] == "amount_per_km2_krw"
                    && !r["indicator"].as_str().unwrap().starts_with("moran")
                    && r["indicator"] != "islands"
                    || r["indicator"] == "hoover_vs_area"
            })
            .collect();
        assert!(ineq.len() > 20, "{level}: {}", ineq.len());
        for r in ineq {
            assert!(r["value"].is_null(), "{level} {}", r["indicator"]);
            assert_eq!(
                r["note"], "no record reaches this level",
                "{level} {}",
                r["indicator"]
            );
        }
        let with_data = of(level)
            .into_iter()
            .find(|r| r["indicator"] == "regions_with_data")
            .unwrap();
        assert_eq!(with_data["value"], 0.0);
    }
    // The 시도 level has its figures: Gini of 0 and 5,000 / 3 per km² over two 시도 = ½.
    let gini = of("sido")
        .into_iter()
        .find(|r| r["indicator"] == "gini" && r["weighting"] == "none" && r["partition"] == "")
        .unwrap();
    assert_eq!(gini["value"], 0.5);
}
