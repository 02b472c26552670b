//! Issue #15, items 1 and 2: names as of the record's date, and the city (시 with 일반구) as a
//! level between 구 and 시도, on the bundled boundaries (2012-07 – 2013-09 codes) and
//! `data/admin_changes.csv`.

use std::collections::BTreeMap;
use std::path::Path;

use gdal::vector::LayerAccess;

use smartgap::assign::{Assignment, Resolution};
use smartgap::model::{AdminLevel, Boundaries, FundingSource, Investment, Location};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The bundled boundaries with the city level, names as the pipelines read them.
fn boundaries() -> Boundaries {
    boundaries_at(&[AdminLevel::Sido, AdminLevel::City, AdminLevel::Sigungu])
}

fn boundaries_at(levels: &[AdminLevel]) -> Boundaries {
    let spec = smartgap::config::BoundariesSpec {
        path: root().join("data/boundaries.gpkg"),
        levels: levels.to_vec(),
        code_field: "code".into(),
        name_field: "name".into(),
        full_name_field: Some("full_name".into()),
        parent_field: "parent_code".into(),
        as_of: None,
        successions: None,
    };
    smartgap::read::boundaries(&spec).unwrap()
}

fn record(i: usize, location: Location, date: Option<u32>) -> Investment {
    Investment {
        input: 0,
        row: i as u64 + 1,
        record_id: i.to_string(),
        amount_krw: Some(1_000_000),
        program: String::new(),
        funding: FundingSource::Unspecified,
        location,
        attributes: BTreeMap::new(),
        date,
        check: None,
    }
}

/// Each record's resolution, or its reject reason, by record index.
fn outcomes(a: &Assignment, n: usize) -> Vec<Result<Resolution, String>> {
    let mut out: Vec<Result<Resolution, String>> = vec![Err("missing".into()); n];
    for x in &a.assigned {
        out[x.record] = Ok(x.resolution.clone());
    }
    for r in &a.rejects {
        out[r.row as usize - 1] = Err(format!("{}: {}", r.reason, r.detail));
    }
    out
}

/// `2010-07-01` → (20100630, 20100701): the day before and the day, by the calendar, written
/// here independently of the library's.
fn dates(iso: &str) -> (u32, u32) {
    let p: Vec<u32> = iso.split('-').map(|x| x.parse().unwrap()).collect();
    let (y, m, d) = (p[0], p[1], p[2]);
    let day = y * 10_000 + m * 100 + d;
    let before = if d > 1 {
        day - 1
    } else {
        let (py, pm) = if m == 1 { (y - 1, 12) } else { (y, m - 1) };
        let days = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
        let leap = py % 4 == 0 && (py % 100 != 0 || py % 400 == 0);
        let last = if pm == 2 && leap {
            29
        } else {
            days[pm as usize - 1]
        };
        py * 10_000 + pm * 100 + last
    };
    (before, day)
}

/// Every name of every effective row of `admin_changes.csv` is tested on the day it was in
/// force around its change: the old name the day before (it then named the old code), the new
/// name that day (it names the new code). A name record must resolve exactly as a record with
/// that code and date does — to the same regions with the same weights — and where the code is
/// rejected the name must be rejected too: never today's unit of the same name in silence.
#[test]
fn every_name_in_the_change_table_resolves_as_its_code_did_on_its_dates() {
    let b = boundaries();
    let cw = smartgap::read::crosswalk(&root().join("data/admin_changes.csv")).unwrap();
    let mut rdr = csv::Reader::from_path(root().join("data/admin_changes.csv")).unwrap();
    let mut cases: Vec<(String, String, String, u32, String)> = Vec::new();
    for row in rdr.records() {
        let row = row.unwrap();
        if &row[7] != "effective" {
            continue;
        }
        let (before, day) = dates(&row[0]);
        for (name, code, date) in [(&row[3], &row[2], before), (&row[5], &row[4], day)] {
            if code.is_empty() {
                continue;
            }
            // `경상남도 창원시(2010년 이전)`: the table's note on the name is not part of it.
            let name = match name.find('(') {
                Some(i) => &name[..i],
                None => name,
            };
            let (sido, sigungu) = name.trim().split_once(' ').unwrap_or((name.trim(), ""));
            cases.push((
                sido.to_string(),
                sigungu.to_string(),
                code.to_string(),
                date,
                row[1].to_string(),
            ));
        }
    }
    let territorial = cases
        .iter()
        .filter(|c| ["merge", "split", "transfer", "abolish_district"].contains(&c.4.as_str()))
        .count();
    // 94 effective rows, two names each, none without a code; 100 of these names belong to
    // the 50 rows that moved territory (merge, split, transfer, abolish_district).
    assert_eq!(cases.len(), 188);
    assert_eq!(territorial, 100);
    let mut records = Vec::new();
    for (i, (sido, sigungu, code, date, _)) in cases.iter().enumerate() {
        records.push(record(
            2 * i,
            Location::Names {
                sido: sido.clone(),
                sigungu: sigungu.clone(),
                emd: String::new(),
            },
            Some(*date),
        ));
        records.push(record(2 * i + 1, Location::Code(code.clone()), Some(*date)));
    }
    let a = smartgap::assign::assign(&b, &cw, None, &records);
    let out = outcomes(&a, records.len());
    let mut failures = Vec::new();
    let mut resolved = 0;
    for (i, (sido, sigungu, code, date, kind)) in cases.iter().enumerate() {
        let (by_name, by_code) = (&out[2 * i], &out[2 * i + 1]);
        match (by_name, by_code) {
            (Ok(n), Ok(c)) if n == c => resolved += 1,
            (Err(_), Err(_)) => {}
            _ => failures.push(format!(
                "{sido} {sigungu} on {date} ({kind}, code {code}): name {by_name:?}, code {by_code:?}"
            )),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // Most names resolve (the rest are newer units the 2013 boundaries cannot hold, such as
    // 청주시 청원구 or today's 부천시 원미구, rejected by name and by code alike).
    assert!(resolved >= 170, "{resolved}");
}

/// Hand-computed: 창원시 before 2010-07-01 is the old city (의창구 + 성산구 by area), after it the
/// merged city; 부천시 원미구 in 2018 named nothing; an undated 창원시 cannot be placed.
#[test]
fn changwon_is_the_old_city_in_2009_and_the_merged_city_in_2011() {
    let b = boundaries();
    let cw = smartgap::read::crosswalk(&root().join("data/admin_changes.csv")).unwrap();
    let names = |sido: &str, sigungu: &str| Location::Names {
        sido: sido.into(),
        sigungu: sigungu.into(),
        emd: String::new(),
    };
    let records = vec![
        record(0, names("경상남도", "창원시"), Some(20090501)),
        record(1, names("경상남도", "창원시"), Some(20110101)),
        record(2, names("경상남도", "창원시"), None),
        record(3, names("경기도", "부천시 원미구"), Some(20180301)),
        record(4, names("경기도", "부천시"), Some(20180301)),
        record(5, names("경남", "진해시"), Some(20090501)),
        record(6, names("강원도", "춘천시"), Some(20240101)),
        record(7, names("세종특별자치시", ""), Some(20200101)),
        record(8, Location::Code("36".into()), Some(20200101)),
    ];
    let a = smartgap::assign::assign(&b, &cw, None, &records);
    let out = outcomes(&a, records.len());
    let area = |c: &str| b.find(c).unwrap().area_km2;
    let (ui, su) = (area("48121"), area("48123"));
    match &out[0] {
        Ok(Resolution::Split { parts, outside }) => {
            assert_eq!(*outside, 0.0);
            let codes: Vec<&str> = parts.iter().map(|p| p.1.as_str()).collect();
            assert_eq!(codes, ["48121", "48123"]);
            assert!((parts[0].2 - ui / (ui + su)).abs() < 1e-12, "{parts:?}");
        }
        other => panic!("창원시 2009: {other:?}"),
    }
    let city = |code: &str| {
        Ok(Resolution::Region {
            level: AdminLevel::City,
            code: code.into(),
        })
    };
    assert_eq!(out[1], city("48120"));
    assert!(
        out[2].as_ref().unwrap_err().starts_with("name_needs_date"),
        "{:?}",
        out[2]
    );
    assert!(
        out[2].as_ref().unwrap_err().contains("48110")
            && out[2].as_ref().unwrap_err().contains("48120"),
        "{:?}",
        out[2]
    );
    assert!(
        out[3]
            .as_ref()
            .unwrap_err()
            .starts_with("name_not_in_force"),
        "{:?}",
        out[3]
    );
    // 부천시 had no 구 from 2016-07-04 to 2024-01-01: the whole city, held at the city.
    assert_eq!(out[4], city("41190"));
    // 진해시 merged into 창원시 and became its 진해구 the same day: the 구, not the city.
    assert_eq!(
        out[5],
        Ok(Resolution::Region {
            level: AdminLevel::Sigungu,
            code: "48129".into()
        })
    );
    // A renamed 시도 written with its old name after the change: one meaning, 42110.
    assert_eq!(
        out[6],
        Ok(Resolution::Region {
            level: AdminLevel::Sigungu,
            code: "42110".into()
        })
    );
    // Single-tier 세종: the 시도 by name or code is its only 시군구.
    let sejong = Ok(Resolution::Region {
        level: AdminLevel::Sigungu,
        code: "36110".into(),
    });
    assert_eq!(out[7], sejong);
    assert_eq!(out[8], sejong);
}

/// Without the city level a city is held at its 시도 as before, also when it is written with a
/// 시도 name newer than the boundaries (전주시 under 전북특별자치도 in 2025: 52110 → 45110).
#[test]
fn without_the_city_level_a_city_is_held_at_its_sido_under_any_name_of_its_date() {
    let b = boundaries_at(&[AdminLevel::Sido, AdminLevel::Sigungu]);
    let cw = smartgap::read::crosswalk(&root().join("data/admin_changes.csv")).unwrap();
    let names = |sido: &str, sigungu: &str| Location::Names {
        sido: sido.into(),
        sigungu: sigungu.into(),
        emd: String::new(),
    };
    let records = vec![
        record(0, names("전북특별자치도", "전주시"), Some(20250101)),
        record(1, names("전라북도", "전주시"), Some(20200101)),
        record(2, names("경상남도", "창원시"), Some(20110101)),
    ];
    let a = smartgap::assign::assign(&b, &cw, None, &records);
    let out = outcomes(&a, records.len());
    for (i, sido, gus) in [(0, "45", 2), (1, "45", 2), (2, "48", 5)] {
        match &out[i] {
            Ok(Resolution::City {
                sido_code,
                gu_codes,
                ..
            }) => assert_eq!((sido_code.as_str(), gu_codes.len()), (sido, gus)),
            other => panic!("record {i}: {other:?}"),
        }
    }
}

/// The city layer on a run of the bundled boundaries, every amount computed by hand: a record
/// naming a city with 구 is held at the city, a 구's record rolls up 구 → city → 시도, and every
/// level is its regions + held above + uncovered = the assigned total, exactly once.
#[test]
fn a_city_with_gu_holds_its_money_and_every_level_counts_it_once() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("r.csv"),
        "id,sido,sigungu,emd,date,amount_krw\n\
         goyang,경기도,고양시,,2020-01-01,1000\n\
         ilsandong,경기도,고양시 일산동구,,2020-01-01,200\n\
         changwon_2011,경상남도,창원시,,2011-01-01,5000\n\
         changwon_emd_2009,경상남도,창원시,중동,2009-05-01,80\n\
         changwon_masan_emd_2009,경상남도,창원시,구암동,2009-05-01,7\n\
         bucheon_2018,경기도,부천시,,2018-03-01,400\n\
         sejong,세종특별자치시,,,2020-01-01,50\n\
         jongno,서울특별시,종로구,,2020-01-01,60\n\
         gyeonggi,경기도,,,2020-01-01,3\n\
         changwon_undated,경상남도,창원시,,,700\n",
    )
    .unwrap();
    let data = root().join("data");
    let toml = format!(
        "[pipeline]\nname = \"cities\"\noutput_dir = \"out\"\nmax_reject_share = 0.5\nroots = [\".\", {data:?}]\n\n\
         [boundaries]\npath = {:?}\nlevels = [\"sido\", \"city\", \"sigungu\", \"emd\"]\nfull_name_field = \"full_name\"\n\n\
         [crosswalk]\npath = {:?}\n\n\
         [[inputs]]\nname = \"named\"\npath = \"r.csv\"\nid = \"id\"\namount = {{ field = \"amount_krw\" }}\n\
         date = {{ field = \"date\" }}\nlocate = {{ by = \"name\", sido = \"sido\", sigungu = \"sigungu\", emd = \"emd\" }}\n",
        data.join("boundaries.gpkg"),
        data.join("admin_changes.csv"),
    );
    let path = dir.path().join("cities.toml");
    std::fs::write(&path, toml).unwrap();
    let p = smartgap::pipeline::load(&path).unwrap_or_else(|e| panic!("{e:?}"));
    let o = smartgap::pipeline::run(&p).expect("run succeeds");
    let out = dir.path().join("out");
    let amount = |layer: &str, code: &str| -> i64 {
        let fc = crate::fixtures::geojson(&out, layer);
        crate::fixtures::props(&fc, code)["amount_krw"]
            .as_i64()
            .unwrap()
    };
    // 고양시 1000 held at the city + 일산동구 200 below it.
    assert_eq!(amount("city", "41280"), 1200);
    assert_eq!(amount("sigungu", "41285"), 200);
    assert_eq!(amount("sigungu", "41281"), 0);
    // 창원시 2011 (the merged city, 5000) + 중동 of 의창구 in 2009 (old 창원시, 80); 구암동 lies in
    // 마산회원구, which the old 창원시 did not hold: rejected.
    assert_eq!(amount("city", "48120"), 5080);
    assert_eq!(amount("sigungu", "48121"), 80);
    assert_eq!(amount("city", "41190"), 400);
    assert_eq!(amount("sigungu", "36110"), 50);
    assert_eq!(amount("sido", "41"), 1000 + 200 + 400 + 3);
    assert_eq!(amount("sido", "48"), 5080);
    assert_eq!(amount("sido", "36"), 50);
    assert_eq!(amount("sido", "11"), 60);
    let assigned: i128 = 1000 + 200 + 5000 + 80 + 400 + 50 + 60 + 3;
    let r = &o.report;
    assert_eq!(r.totals.assigned_krw, assigned);
    assert_eq!(r.totals.rejected_krw, 700 + 7);
    assert_eq!(r.rejects_by_reason["name_needs_date"].amount_krw, 700);
    assert_eq!(r.rejects_by_reason["name_not_in_force"].amount_krw, 7);
    let level = |name: &str| r.levels.iter().find(|l| l.level == name).unwrap();
    let city = level("city");
    // Cities: 1200 + 5080 + 400; above them: 경기도's 3; outside every city: 세종 50, 종로구 60.
    assert_eq!(
        (city.amount_krw, city.held_above_krw, city.uncovered_krw),
        (6680, 3, 110)
    );
    let sigungu = level("sigungu");
    // Held above the 시군구: the cities' own 1000 + 5000 + 400 and 경기도's 3.
    assert_eq!(
        (
            sigungu.amount_krw,
            sigungu.held_above_krw,
            sigungu.uncovered_krw
        ),
        (200 + 80 + 50 + 60, 6403, 0)
    );
    for l in &r.levels {
        assert_eq!(
            l.amount_krw + l.held_above_krw + l.uncovered_krw + l.outside_krw,
            assigned,
            "{}",
            l.level
        );
    }
    // The city layer is in the GeoPackage with its title, and 12 cities in these boundaries.
    let ds = gdal::Dataset::open(out.join("smartgap.gpkg")).unwrap();
    let n = ds.layer_by_name("city").unwrap().feature_count();
    assert_eq!(n, 12);
}
