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
            "SELECT lisa_quadrant IS NULL, lisa_p_sim IS NULL, lisa_note, gi_star_z IS NULL \
             FROM emd WHERE code = '26010101'",
            None,
            gdal::vector::sql::Dialect::DEFAULT,
        )
        .unwrap()
        .unwrap();
    let f = rs.features().next().unwrap();
    let i = |k: usize| f.field_as_integer(k).unwrap();
    assert_eq!((i(0), i(1), i(3)), (Some(1), Some(1), Some(1)));
    assert_eq!(
        f.field_as_string(2).unwrap().as_deref(),
        Some("zero among zeros")
    );
}
