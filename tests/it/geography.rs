//! `[boundaries] as_of`: the units in force on a date, derived from the bundled 읍면동 and the
//! dated changes. Expected values are the changes themselves (data/admin_changes.csv), the census
//! unit counts of data/population.csv and GEOS (through GDAL) for validity and areas.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use gdal::vector::ToGdal;
use geo::Area;
use smartgap::geography::{self, Derived, Unions};
use smartgap::model::{AdminLevel, Boundaries, parse_date};

fn repo(p: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(p)
}

fn derive(date: &str, b: &Boundaries) -> Derived {
    let events_path = repo("data/admin_changes.csv");
    let events = smartgap::read::change_events(&events_path).unwrap();
    let successions = smartgap::read::successions(&repo("data/emd_changes.csv")).unwrap();
    geography::derive(
        b,
        parse_date(date).unwrap(),
        &events,
        &successions,
        &events_path,
        &Unions::new(),
    )
    .unwrap()
}

fn codes(b: &Boundaries, level: AdminLevel) -> Vec<String> {
    b.level(level)
        .unwrap()
        .regions
        .iter()
        .map(|r| r.code.clone())
        .collect()
}

#[test]
fn every_change_to_2024_shows_in_the_derived_units_which_nest_cover_and_are_valid() {
    let b = crate::fixtures::national_boundaries(&[
        AdminLevel::Sido,
        AdminLevel::Sigungu,
        AdminLevel::Emd,
    ]);
    let d = derive("2024-01-18", &b);
    let n = &d.boundaries;
    let sigungu = codes(n, AdminLevel::Sigungu);
    // 251 bundled units: 청주 2014 (상당·흥덕·청원군 → four 구) +1; 부천 2016 (three 구 → the
    // city) −2; 부천 2024 (the city → three 구) +2.
    assert_eq!(sigungu.len(), 252);
    for now in [
        "43111", "43112", "43113", "43114", "41192", "41194", "41196", "28177", "27720", "41670",
        "51110", "51830", "52111", "52113", "52800",
    ] {
        assert!(sigungu.contains(&now.to_string()), "{now} missing");
    }
    for gone in [
        "43710", "41730", "28170", "47720", "41195", "41190", "42110", "45111", "45800",
    ] {
        assert!(!sigungu.contains(&gone.to_string()), "{gone} still there");
    }
    let sido = codes(n, AdminLevel::Sido);
    assert_eq!(sido.len(), 17);
    assert!(sido.contains(&"51".into()) && sido.contains(&"52".into()));
    assert!(!sido.contains(&"42".into()) && !sido.contains(&"45".into()));
    let sgg = n.level(AdminLevel::Sigungu).unwrap();
    let gunwi = sgg.get("27720").unwrap();
    assert_eq!(gunwi.parent_code.as_deref(), Some("27"));
    assert_eq!(gunwi.full_name, "대구광역시 군위군");
    assert_eq!(
        sgg.get("43114").unwrap().full_name,
        "충청북도 청주시 청원구"
    );
    let sido_l = n.level(AdminLevel::Sido).unwrap();
    assert_eq!(sido_l.get("52").unwrap().name, "전북특별자치도");

    // 청원군's 13 읍면 went whole to the four 구 of 청주 (MOIS legal-dong table): its 읍면동
    // area is in 43111..43114 and nowhere else.
    let emd_b = b.level(AdminLevel::Emd).unwrap();
    let cheongwon: f64 = emd_b
        .regions
        .iter()
        .filter(|r| r.parent_code.as_deref() == Some("43710"))
        .map(|r| r.area_km2)
        .sum();
    let shares = &d.sigungu_shares["43710"];
    assert!(
        shares.iter().all(|(c, _)| c.starts_with("4311")),
        "{shares:?}"
    );
    assert!((shares.iter().map(|s| s.1).sum::<f64>() - 1.0).abs() < 1e-12);
    assert!(cheongwon > 700.0, "{cheongwon}");

    // Areas add up exactly: 시도 = Σ 시군구 = Σ 읍면동 = Σ bundled 읍면동 + the gaps filled.
    let sum =
        |l: AdminLevel| -> f64 { n.level(l).unwrap().regions.iter().map(|r| r.area_km2).sum() };
    let bundled: f64 = emd_b.regions.iter().map(|r| r.area_km2).sum();
    let (s1, s2, s3) = (
        sum(AdminLevel::Sido),
        sum(AdminLevel::Sigungu),
        sum(AdminLevel::Emd),
    );
    assert!(
        (s1 - s2).abs() / s2 < 1e-9 && (s2 - s3).abs() / s3 < 1e-9,
        "{s1} {s2} {s3}"
    );
    let filled = bundled + d.vintage.gaps_filled_km2;
    assert!((s3 - filled).abs() / filled < 1e-9, "{s3} vs {filled}");
    assert!(d.vintage.gaps_filled > 1000 && d.vintage.gaps_filled_km2 < 0.5 * 1000.0);

    // Each derived polygon is valid for GEOS, and its own area is its area_km2 (to 0.1 %, the
    // 1 mm grid and the holes under 1 m² dropped).
    for level in [AdminLevel::Sido, AdminLevel::Sigungu, AdminLevel::Emd] {
        let mut invalid = Vec::new();
        for r in &n.level(level).unwrap().regions {
            let g = r.geometry.to_gdal().unwrap();
            if !g.is_valid() {
                invalid.push(r.code.clone());
            }
            let a = r.geometry.unsigned_area() / 1e6;
            assert!(
                (a - r.area_km2).abs() <= 1e-3 * r.area_km2 + 1e-6,
                "{level} {}: polygon {a} km² vs {} km²",
                r.code,
                r.area_km2
            );
        }
        assert!(invalid.is_empty(), "{level}: invalid {invalid:?}");
    }

    // The levels cover each other: the 시도 polygons' total area equals the 시군구's and the
    // 읍면동's (a 시도 is the union of its 시군구, a 시군구 of its 읍면동).
    let geom = |l: AdminLevel| -> f64 {
        n.level(l)
            .unwrap()
            .regions
            .iter()
            .map(|r| r.geometry.unsigned_area())
            .sum::<f64>()
            / 1e6
    };
    let (g1, g2, g3) = (
        geom(AdminLevel::Sido),
        geom(AdminLevel::Sigungu),
        geom(AdminLevel::Emd),
    );
    assert!(
        (g1 - g2).abs() < 0.01 && (g2 - g3).abs() < 0.01,
        "{g1} {g2} {g3}"
    );

    // Sliver holes are gone: the bundled 시도 have 5,216 holes under 100 m²; the derived ones
    // keep only holes another 시도 fills or that an outline of two 시도 encloses.
    let small_holes: usize = n
        .level(AdminLevel::Sido)
        .unwrap()
        .regions
        .iter()
        .flat_map(|r| r.geometry.0.iter())
        .flat_map(|p| p.interiors())
        .filter(|h| geo::Polygon::new((*h).clone(), vec![]).unsigned_area() < 100.0)
        .count();
    assert!(small_holes < 20, "{small_holes} sliver holes");

    // 목포 (46110): its bundled polygon takes in sea (104 km²); today's unit is its legal
    // dongs' land (≈ 51 km², KOSIS gives 51.7 km²).
    let mokpo = sgg.get("46110").unwrap();
    let bundled_mokpo = b
        .level(AdminLevel::Sigungu)
        .unwrap()
        .get("46110")
        .unwrap()
        .area_km2;
    assert!(bundled_mokpo > 100.0, "{bundled_mokpo}");
    assert!((45.0..60.0).contains(&mokpo.area_km2), "{}", mokpo.area_km2);

    // Every effective event up to the date is applied; the future ones are not due yet.
    assert_eq!(d.vintage.as_of, "2024-01-18");
    assert!(d.vintage.events_skipped.is_empty());
}

#[test]
fn census_dates_give_the_census_unit_counts_and_keep_every_person() {
    let b = crate::fixtures::national_boundaries(&[
        AdminLevel::Sido,
        AdminLevel::Sigungu,
        AdminLevel::Emd,
    ]);
    // KOSTAT units per census year, from the population table's source units.
    let mut units: BTreeMap<String, std::collections::BTreeSet<String>> = BTreeMap::new();
    let mut given: BTreeMap<String, HashMap<String, i64>> = BTreeMap::new();
    let mut rdr = csv::Reader::from_path(repo("data/population.csv")).unwrap();
    for r in rdr.records() {
        let r = r.unwrap();
        let year = r[2].to_string();
        for t in r[5].split_whitespace() {
            let k = t.split(':').next().unwrap().to_string();
            units.entry(year.clone()).or_default().insert(k);
        }
        given
            .entry(year)
            .or_default()
            .insert(r[0].to_string(), r[3].parse().unwrap());
    }
    for (year, date) in [
        ("2015", "2015-11-01"),
        ("2020", "2020-11-01"),
        ("2025", "2025-11-01"),
    ] {
        let d = derive(date, &b);
        let n = codes(&d.boundaries, AdminLevel::Sigungu).len();
        assert_eq!(n, units[year].len(), "{year}: derived {n} 시군구");
        let g = geography::Geography {
            vintage: d.vintage.clone(),
            sigungu_shares: d.sigungu_shares.clone(),
            crosswalk: Default::default(),
        };
        let moved = g.remap_counts(&given[year]);
        let before: i64 = given[year].values().sum();
        assert_eq!(moved.values().sum::<i64>(), before, "{year}");
        let sgg = d.boundaries.level(AdminLevel::Sigungu).unwrap();
        assert!(moved.keys().all(|c| sgg.get(c).is_some()), "{year}");
        if year == "2020" {
            assert_eq!(before, 51_829_136);
            // 부천 had no 구 in 2020: one unit with the three old 구's people.
            let bucheon: i64 = ["41195", "41197", "41199"]
                .iter()
                .map(|c| given[year][*c])
                .sum();
            assert_eq!(moved["41190"], bucheon);
        }
    }
    // 2025-11-01 is after the 화성 구 (2026-02-01) are due: none of them.
    let d = derive("2026-03-01", &b);
    let sigungu = codes(&d.boundaries, AdminLevel::Sigungu);
    assert!(sigungu.contains(&"41590".to_string()));
    assert_eq!(
        d.vintage.events_skipped.len(),
        4,
        "{:?}",
        d.vintage.events_skipped
    );
}

#[test]
fn an_effective_change_without_its_dong_list_is_an_error_naming_the_row() {
    let b = crate::fixtures::national_boundaries(&[
        AdminLevel::Sido,
        AdminLevel::Sigungu,
        AdminLevel::Emd,
    ]);
    let events_path = repo("data/admin_changes.csv");
    let mut events = smartgap::read::change_events(&events_path).unwrap();
    // The 2026 화성 구, marked effective: the succession table has no dong list for them.
    for e in events.iter_mut().filter(|e| e.new_code == "41591") {
        e.status = "effective".into();
    }
    let successions = smartgap::read::successions(&repo("data/emd_changes.csv")).unwrap();
    let err = geography::derive(
        &b,
        parse_date("2026-03-01").unwrap(),
        &events,
        &successions,
        &events_path,
        &Unions::new(),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("admin_changes.csv"), "{err}");
    assert!(err.contains("41590 → 41591"), "{err}");
    assert!(err.contains("no unit 41591 on 2026-03-01"), "{err}");
}

#[test]
fn a_national_run_as_of_a_date_says_so_and_a_second_run_uses_the_cache() {
    let dir = tempfile::tempdir().unwrap();
    let mut p = smartgap::pipeline::load(&repo("pipelines/national.toml")).unwrap();
    p.output_dir = dir.path().to_path_buf();
    p.boundaries.as_of = Some(geography::AsOf::Date(parse_date("2020-11-01").unwrap()));
    smartgap::pipeline::run(&p).unwrap();
    let cached = std::fs::read_dir(dir.path().join("cache"))
        .unwrap()
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("geography-2020_11_01-")
        })
        .count();
    assert_eq!(cached, 1);
    smartgap::pipeline::run(&p).unwrap();
    let report: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("current/run.json")).unwrap(),
    )
    .unwrap();
    let v = &report["boundaries"]["vintage"];
    assert_eq!(v["as_of"], "2020-11-01");
    assert_eq!(v["units"]["sigungu"], 250);
    assert_eq!(report["boundaries"]["regions"]["sigungu"], 250);
    let html = std::fs::read_to_string(dir.path().join("current/report.html")).unwrap();
    assert!(html.contains("<strong>2020-11-01</strong>"));
    // The GeoPackage's manifest names the vintage too.
    let ds = gdal::Dataset::open(dir.path().join("current/smartgap.gpkg")).unwrap();
    let mut rs = ds
        .execute_sql(
            "SELECT metadata FROM gpkg_metadata WHERE id = 1",
            None,
            gdal::vector::sql::Dialect::SQLITE,
        )
        .unwrap()
        .unwrap();
    use gdal::vector::LayerAccess;
    let f = rs.features().next().unwrap();
    let text = f.field_as_string(0).unwrap().unwrap();
    assert!(
        text.contains("\"as_of\":\"2020-11-01\""),
        "{}",
        &text[..200.min(text.len())]
    );
}

#[test]
fn a_succession_row_with_a_short_code_is_an_error_naming_the_row_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("emd_changes.csv");
    std::fs::write(
        &path,
        "date,level,old_code,old_name,new_code,new_name,sigungu,rule\n\
         2018-07-01,emd,28170101,남구 숭의동,28177101,미추홀구 숭의동,28177,same name\n\
         2018-07-01,emd,28170102,남구 용현동,281,미추홀구 용현동,28177,same name\n",
    )
    .unwrap();
    let err = smartgap::read::successions(&path).unwrap_err().to_string();
    assert!(err.contains("row 2"), "{err}");
    assert!(err.contains("new_code (8 digits, or empty)"), "{err}");
    assert!(err.contains("`281`"), "{err}");
}
