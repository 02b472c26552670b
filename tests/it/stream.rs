//! Streamed point inputs: the same money in the same regions as the materialising reader,
//! GeoParquet written by GeoPandas read with hand-known results, the source-CRS grid equal to
//! reprojecting and testing exactly, and rejects beyond the listed ones still counted.

use std::fmt::Write as _;
use std::path::Path;

use smartgap::crs::Transformer;
use smartgap::indicators::spatial::Rng;
use smartgap::locate::{GridError, Locator, Settled, SourceGrid};
use smartgap::model::AdminLevel;
use smartgap::sealed::SealedError;

use crate::fixtures::{
    X0, Y0, assert_same_geojson, brute_force, geojson, grid_dir, national_boundaries, props,
    run_on_grid, run_plain_and_streamed,
};

fn uniform(rng: &mut Rng) -> f64 {
    rng.next_u64() as f64 / u64::MAX as f64
}

/// A CSV of `n` seeded points around the 3×3 grid in EPSG:4326 (some outside it), with
/// programmes, years, funding and a few bad rows of every kind the readers reject.
fn messy_points_csv(path: &Path, n: usize) {
    let to_lonlat = Transformer::new("EPSG:5179", "EPSG:4326").unwrap();
    let mut rng = Rng::new(7);
    let mut text = String::from("id,lon,lat,amount,program,year,funding\n");
    for i in 1..=n {
        let mut c = [geo::Coord {
            x: X0 - 300.0 + 3600.0 * uniform(&mut rng),
            y: Y0 - 300.0 + 3600.0 * uniform(&mut rng),
        }];
        to_lonlat.convert(&mut c).unwrap();
        let amount = match i % 97 {
            0 => String::new(),       // amount_missing
            1 => "-5".to_string(),    // amount_negative
            2 => "12x".to_string(),   // amount_invalid
            3 => "1,234".to_string(), // separators
            _ => (1000 + i * 7).to_string(),
        };
        let (lon, lat) = match i % 89 {
            0 => ("nan".to_string(), format!("{}", c[0].y)),
            1 => (format!("{}", c[0].y), format!("{}", c[0].x)), // swapped
            _ => (format!("{}", c[0].x), format!("{}", c[0].y)),
        };
        let program = ["u_city", "living_lab", ""][i % 3];
        let year = match i % 83 {
            0 => "20x".to_string(),
            _ => (2003 + i % 16).to_string(),
        };
        let funding = match i % 79 {
            0 => "grant",
            k if k % 2 == 0 => "national_program",
            _ => "development_fee",
        };
        writeln!(text, "{i},{lon},{lat},{amount},{program},{year},{funding}").unwrap();
    }
    std::fs::write(path, text).unwrap();
}

const INPUT: &str = r#"[[inputs]]
name = "points"
path = "points.csv"
id = "id"
amount = { field = "amount" }
program = { field = "program" }
date = { field = "year" }
funding = { field = "funding" }
locate = { by = "point", x = "lon", y = "lat", crs = "EPSG:4326" }
"#;

const PERIODS: &str = r#"
[indicators]
periods = [
  { label = "2003-2012", from_year = 2003, to_year = 2012 },
  { label = "2013-2018", from_year = 2013, to_year = 2018 },
]
"#;

#[test]
fn streamed_points_give_the_materialised_run_byte_for_byte() {
    let dir = grid_dir();
    messy_points_csv(&dir.path().join("points.csv"), 3000);
    let (plain, streamed, plain_out) = run_plain_and_streamed(dir.path(), INPUT, PERIODS);
    let (a, b) = (&plain.report.totals, &streamed.report.totals);
    assert_eq!(
        (a.input_records, a.assigned_records, a.rejected_records),
        (b.input_records, b.assigned_records, b.rejected_records)
    );
    assert_eq!(
        (a.input_krw, a.assigned_krw, a.rejected_krw),
        (b.input_krw, b.assigned_krw, b.rejected_krw)
    );
    assert_eq!(a.input_records, 3000);
    // Every kind of reject occurs.
    let reasons: Vec<&str> = plain
        .report
        .rejects_by_reason
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        reasons,
        [
            "amount_invalid",
            "amount_missing",
            "amount_negative",
            "coordinate_invalid",
            "date_invalid",
            "funding_invalid",
            "outside_all_regions"
        ]
    );
    assert_eq!(
        format!("{:?}", plain.report.rejects_by_reason),
        format!("{:?}", streamed.report.rejects_by_reason)
    );
    assert_same_geojson(
        &plain_out,
        &dir.path().join("out"),
        &["sido", "sigungu", "emd", "rejects"],
    );
}

#[test]
fn grids_from_the_cache_and_from_a_damaged_cache_give_the_same_outputs() {
    let dir = grid_dir();
    messy_points_csv(&dir.path().join("points.csv"), 3000);
    let (_, _, plain_out) = run_plain_and_streamed(dir.path(), INPUT, PERIODS);
    let out = dir.path().join("out");
    let grids = |out: &Path| -> Vec<std::path::PathBuf> {
        let mut g: Vec<_> = std::fs::read_dir(out.join("cache"))
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with("grid-"))
            })
            .collect();
        g.sort();
        g
    };
    // One grid per level, in the CSV's CRS.
    let saved = grids(&out);
    assert_eq!(saved.len(), 3, "{saved:?}");
    let streamed = dir.path().join("streamed.toml");
    let p = smartgap::pipeline::load(&streamed).unwrap();
    // From the cache: the same bytes.
    smartgap::pipeline::run(&p).unwrap();
    assert_same_geojson(&plain_out, &out, &["sido", "sigungu", "emd", "rejects"]);
    // A damaged cache file is rebuilt, never trusted.
    let mut bytes = std::fs::read(&saved[1]).unwrap();
    let k = bytes.len() / 2;
    bytes[k] ^= 0x40;
    std::fs::write(&saved[1], &bytes).unwrap();
    smartgap::pipeline::run(&p).unwrap();
    assert_same_geojson(&plain_out, &out, &["sido", "sigungu", "emd", "rejects"]);
    assert_ne!(
        std::fs::read(&saved[1]).unwrap(),
        bytes,
        "rebuilt and saved again"
    );
    assert_eq!(grids(&out), saved);
}

const PARQUET_4326: &str = r#"[[inputs]]
name = "points"
path = "points_4326.parquet"
id = "id"
amount = { field = "amount_krw" }
program = { field = "program" }
date = { field = "year" }
locate = { by = "geometry" }
"#;

const PARQUET_5179: &str = r#"[[inputs]]
name = "points"
path = "points_5179.parquet"
id = "id"
amount = { field = "amount_eok", unit = "hundred_million_krw" }
program = { field = "program" }
date = { field = "year" }
locate = { by = "geometry" }
"#;

#[test]
fn geoparquet_written_by_geopandas_lands_where_its_expect_column_says() {
    // tests/fixtures/stream/make_parquet.py: rows 1–7, amounts 100…700 KRW; row 5 lies 5 km
    // west of the grid, row 6 has no geometry. In the 5179 file the amounts are 억원 text.
    for (file, input) in [
        ("points_4326.parquet", PARQUET_4326),
        ("points_5179.parquet", PARQUET_5179),
    ] {
        let dir = grid_dir();
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/stream");
        std::fs::copy(src.join(file), dir.path().join(file)).unwrap();
        let o = run_on_grid(dir.path(), "pq", 1.0, &format!("{input}{PERIODS}"));
        let t = &o.report.totals;
        assert_eq!((t.input_records, t.input_krw), (7, 2800), "{file}");
        assert_eq!((t.assigned_records, t.assigned_krw), (5, 1700), "{file}");
        assert_eq!((t.rejected_records, t.rejected_krw), (2, 1100), "{file}");
        let profile = o.report.inputs[0]
            .stream_profile
            .as_ref()
            .expect("streamed");
        assert_eq!(profile.rows, 7, "{file}");
        assert!(profile.reprojected <= 7, "{file}");
        let reasons: Vec<(&str, u64)> = o
            .report
            .rejects_by_reason
            .iter()
            .map(|(k, v)| (k.as_str(), v.count))
            .collect();
        assert_eq!(
            reasons,
            [("location_missing", 1), ("outside_all_regions", 1)],
            "{file}"
        );
        let emd = geojson(&dir.path().join("out"), "emd");
        for (code, krw, n) in [
            ("11010101", 100, 1),
            ("11020103", 200, 1),
            ("26010102", 700, 2),
            ("11010103", 700, 1),
            ("11010102", 0, 0),
        ] {
            let p = props(&emd, code);
            assert_eq!(p["amount_krw"], krw, "{file} {code}");
            assert_eq!(p["record_count"], n, "{file} {code}");
        }
        // Periods from the int64 `year` column: 2003–2012 has rows 1, 3, 7; 2013–2018 rows 2, 4.
        let sido = geojson(&dir.path().join("out"), "sido");
        assert_eq!(
            props(&sido, "11")["amount_period_2003_2012_krw"],
            800,
            "{file}"
        );
        assert_eq!(
            props(&sido, "11")["amount_period_2013_2018_krw"],
            200,
            "{file}"
        );
        assert_eq!(
            props(&sido, "26")["amount_period_2003_2012_krw"],
            300,
            "{file}"
        );
        assert_eq!(
            props(&sido, "26")["amount_period_2013_2018_krw"],
            400,
            "{file}"
        );
    }
}

#[test]
fn rejects_beyond_the_listed_ones_are_counted_and_summed() {
    let dir = grid_dir();
    let mut text = String::from("id,x,y,amount\n");
    // 10,050 points 50 km west of the grid (outside), amounts 1..=10,050; one inside.
    for i in 1..=10_050u64 {
        writeln!(text, "{i},{},{},{i}", X0 - 50_000.0, Y0 + 500.0).unwrap();
    }
    writeln!(text, "10051,{},{},7", X0 + 500.0, Y0 + 500.0).unwrap();
    std::fs::write(dir.path().join("many.csv"), text).unwrap();
    let input = r#"[[inputs]]
name = "many"
path = "many.csv"
stream = true
id = "id"
amount = { field = "amount" }
locate = { by = "point", x = "x", y = "y", crs = "EPSG:5179" }
"#;
    let o = run_on_grid(dir.path(), "many", 1.0, input);
    let t = &o.report.totals;
    let outside: i128 = (1..=10_050).sum();
    assert_eq!((t.rejected_records, t.rejected_krw), (10_050, outside));
    assert_eq!((t.assigned_records, t.assigned_krw), (1, 7));
    assert_eq!(t.input_krw, outside + 7);
    let r = &o.report.rejects_by_reason["outside_all_regions"];
    assert_eq!((r.count, r.amount_krw), (10_050, outside));
    // The rejects layer lists the first 10,000 rows.
    let rejects = geojson(&dir.path().join("out"), "rejects");
    let rows: Vec<u64> = rejects["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["properties"]["row"].as_u64().unwrap())
        .collect();
    assert_eq!(rows.len(), 10_000);
    assert_eq!((rows[0], rows[9_999]), (1, 10_000));
}

#[test]
fn source_crs_grid_settles_points_exactly_as_reprojecting_and_testing() {
    let b = national_boundaries(&[AdminLevel::Sido, AdminLevel::Sigungu]);
    let sigungu = b.level(AdminLevel::Sigungu).unwrap();
    let locator = Locator::new(sigungu);
    // A coarse grid (fewer, larger cells) puts more points next to boundaries.
    let grid = SourceGrid::new(&locator, "EPSG:4326", 200_000)
        .unwrap()
        .expect("a grid");
    let to_lonlat = Transformer::new("EPSG:5179", "EPSG:4326").unwrap();
    let to_5179 = Transformer::new("EPSG:4326", "EPSG:5179").unwrap();
    let mut rng = Rng::new(11);
    let mut points: Vec<geo::Coord<f64>> = (0..4000)
        .map(|_| geo::Coord {
            x: 124.5 + 7.5 * uniform(&mut rng),
            y: 33.0 + 5.7 * uniform(&mut rng),
        })
        .collect();
    // Within a few metres of real boundary vertices, where a wrong cell would show.
    let mut near: Vec<geo::Coord<f64>> = Vec::new();
    for r in sigungu.regions.iter().step_by(3) {
        for c in r.geometry.0[0].exterior().0.iter().step_by(97).take(8) {
            near.push(geo::Coord {
                x: c.x + 4.0 * (uniform(&mut rng) - 0.5),
                y: c.y + 4.0 * (uniform(&mut rng) - 0.5),
            });
        }
    }
    to_lonlat.convert(&mut near).unwrap();
    points.extend(near);
    let (mut settled, mut inside) = (0, 0);
    for p in &points {
        let mut q = [*p];
        to_5179.convert(&mut q).unwrap();
        let truth = brute_force(sigungu, q[0]);
        inside += usize::from(truth.is_some());
        if let Some(i) = grid.settle(*p) {
            settled += 1;
            assert_eq!(Some(i), truth, "lon/lat {p:?} (EPSG:5179 {:?})", q[0]);
        }
    }
    assert!(settled > 500, "only {settled} of {} settled", points.len());
    assert!(inside > 1000, "only {inside} inside");
}

#[test]
fn refined_boundary_cells_settle_points_near_borders_exactly() {
    let b = national_boundaries(&[AdminLevel::Sigungu]);
    let sigungu = b.level(AdminLevel::Sigungu).unwrap();
    let locator = Locator::new(sigungu);
    let to_lonlat = Transformer::new("EPSG:5179", "EPSG:4326").unwrap();
    let to_5179 = Transformer::new("EPSG:4326", "EPSG:5179").unwrap();
    let mut rng = Rng::new(23);
    // Within a kilometre of border vertices: in refined cells, some in sub-cells a border
    // crosses (left to the exact test), most not.
    let mut near: Vec<geo::Coord<f64>> = Vec::new();
    for r in sigungu.regions.iter() {
        for c in r.geometry.0[0].exterior().0.iter().step_by(41).take(12) {
            near.push(geo::Coord {
                x: c.x + 2000.0 * (uniform(&mut rng) - 0.5),
                y: c.y + 2000.0 * (uniform(&mut rng) - 0.5),
            });
        }
    }
    to_lonlat.convert(&mut near).unwrap();
    // Cells of ~1.4 km: every cell a border crosses is refined into 16 × 16 sub-cells of
    // ~88 m, or, with no room for those, 8 × 8 of ~175 m (the same sub-cells halved).
    let mut settled_by_side = Vec::new();
    for (budget, side) in [(usize::MAX, 16), (0, 8)] {
        let grid = SourceGrid::within(&locator, "EPSG:4326", 200_000, budget)
            .unwrap()
            .expect("a grid");
        assert_eq!(grid.sub_side(), side);
        assert!(grid.blocks() > 1000, "{} refined cells", grid.blocks());
        let (mut refined, mut settled) = (0, 0);
        for p in &near {
            if !grid.refined(*p) {
                continue;
            }
            refined += 1;
            let mut q = [*p];
            to_5179.convert(&mut q).unwrap();
            match grid.classify(*p) {
                Settled::In(i) => {
                    settled += 1;
                    assert_eq!(Some(i), brute_force(sigungu, q[0]), "{side}: lon/lat {p:?}");
                }
                Settled::Out => {
                    settled += 1;
                    assert_eq!(None, brute_force(sigungu, q[0]), "{side}: lon/lat {p:?}");
                }
                Settled::Unsure => {}
            }
        }
        assert!(refined > 1000, "only {refined} points in refined cells");
        // The batched lookup gives what the lookup point by point gives, beyond the grid too.
        let mut all = near.clone();
        all.push(geo::Coord { x: 0.0, y: 0.0 });
        all.push(geo::Coord {
            x: f64::NAN,
            y: 37.0,
        });
        let mut batched = vec![Settled::Unsure; all.len()];
        grid.classify_all(&all, &mut batched);
        let one_by_one: Vec<Settled> = all.iter().map(|p| grid.classify(*p)).collect();
        assert_eq!(batched, one_by_one);
        // Sub-cells an eighth of the cell's side or less: a border crosses well under half.
        assert!(
            settled * 2 > refined,
            "{side}: {settled} of {refined} points in refined cells settled"
        );
        settled_by_side.push(settled);
    }
    // Smaller sub-cells leave fewer points to the exact test.
    assert!(
        settled_by_side[0] > settled_by_side[1],
        "settled by 16 × 16 and 8 × 8 sub-cells: {settled_by_side:?}"
    );
}

#[test]
fn a_saved_grid_loads_as_it_was_and_a_damaged_one_is_refused() {
    let b = national_boundaries(&[AdminLevel::Sigungu]);
    let sigungu = b.level(AdminLevel::Sigungu).unwrap();
    let locator = Locator::new(sigungu);
    let grid = SourceGrid::new(&locator, "EPSG:4326", 100_000)
        .unwrap()
        .expect("a grid");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("grid.bin");
    grid.save(&path).unwrap();
    let n = sigungu.regions.len();
    assert_eq!(SourceGrid::load(&path, n).unwrap(), grid);
    // A level with fewer regions than the grid names.
    assert!(matches!(
        SourceGrid::load(&path, 3),
        Err(GridError::Region { regions: 3 })
    ));
    let bytes = std::fs::read(&path).unwrap();
    // One flipped bit in the cells, a truncated file, a trailing byte, another format.
    let mut flipped = bytes.clone();
    flipped[bytes.len() / 2] ^= 1;
    std::fs::write(&path, &flipped).unwrap();
    assert!(matches!(
        SourceGrid::load(&path, n),
        Err(GridError::Sealed(SealedError::ChecksumMismatch))
    ));
    std::fs::write(&path, &bytes[..bytes.len() - 5]).unwrap();
    assert!(SourceGrid::load(&path, n).is_err());
    std::fs::write(&path, [&bytes[..], &[0u8]].concat()).unwrap();
    assert!(matches!(
        SourceGrid::load(&path, n),
        Err(GridError::Sealed(SealedError::TrailingBytes))
    ));
    let mut other = bytes.clone();
    other[7] = b'9';
    std::fs::write(&path, &other).unwrap();
    assert!(matches!(SourceGrid::load(&path, n), Err(GridError::Format)));
}

/// The CSV of [`messy_points_csv`] as a FlatGeobuf of EPSG:4326 points, written with GDAL (rows
/// whose coordinates do not parse get no geometry, and FlatGeobuf then drops them).
fn messy_points_fgb(csv: &Path, fgb: &Path) {
    use gdal::vector::{
        Feature, FieldValue, Geometry, LayerAccess, LayerOptions, OGRFieldType, OGRwkbGeometryType,
    };
    let driver = gdal::DriverManager::get_driver_by_name("FlatGeobuf").unwrap();
    let mut ds = driver.create_vector_only(fgb).unwrap();
    let srs = gdal::spatial_ref::SpatialRef::from_epsg(4326).unwrap();
    let layer = ds
        .create_layer(LayerOptions {
            name: "points",
            srs: Some(&srs),
            ty: OGRwkbGeometryType::wkbPoint,
            options: None,
        })
        .unwrap();
    let names = ["id", "amount", "program", "year", "funding"];
    layer
        .create_defn_fields(&names.map(|n| (n, OGRFieldType::OFTString)))
        .unwrap();
    let text = std::fs::read_to_string(csv).unwrap();
    for line in text.lines().skip(1) {
        let v: Vec<&str> = line.split(',').collect();
        let mut f = Feature::new(layer.defn()).unwrap();
        for (k, i) in [(0, 0), (1, 3), (2, 4), (3, 5), (4, 6)] {
            f.set_field(k, &FieldValue::StringValue(v[i].to_string()))
                .unwrap();
        }
        if let (Ok(x), Ok(y)) = (v[1].parse::<f64>(), v[2].parse::<f64>())
            && x.is_finite()
            && y.is_finite()
        {
            f.set_geometry(Geometry::from_wkt(&format!("POINT ({x} {y})")).unwrap())
                .unwrap();
        }
        f.create(&layer).unwrap();
    }
    ds.close().unwrap();
}

#[test]
fn streamed_flatgeobuf_through_gdal_gives_the_materialised_run() {
    let dir = grid_dir();
    messy_points_csv(&dir.path().join("points.csv"), 1500);
    messy_points_fgb(
        &dir.path().join("points.csv"),
        &dir.path().join("points.fgb"),
    );
    let input = r#"[[inputs]]
name = "points"
path = "points.fgb"
id = "id"
amount = { field = "amount" }
program = { field = "program" }
date = { field = "year" }
funding = { field = "funding" }
locate = { by = "geometry" }
"#;
    let (plain, streamed, plain_out) = run_plain_and_streamed(dir.path(), input, PERIODS);
    let (a, b) = (&plain.report.totals, &streamed.report.totals);
    // FlatGeobuf keeps no feature without a geometry: the 16 rows with unparsable
    // coordinates (every 89th) are not in the file.
    assert_eq!((a.input_records, b.input_records), (1484, 1484));
    assert_eq!(
        format!("{:?}", plain.report.rejects_by_reason),
        format!("{:?}", streamed.report.rejects_by_reason)
    );
    // Swapped latitude/longitude, bad amounts, dates and funding all occur.
    assert_eq!(plain.report.rejects_by_reason.len(), 7);
    assert_eq!(
        (
            a.assigned_records,
            a.assigned_krw,
            a.rejected_records,
            a.rejected_krw
        ),
        (
            b.assigned_records,
            b.assigned_krw,
            b.rejected_records,
            b.rejected_krw
        )
    );
    assert_same_geojson(
        &plain_out,
        &dir.path().join("out"),
        &["sido", "sigungu", "emd", "rejects"],
    );
}

/// A streamed CSV past its 4 MiB sample (read as UTF-8): a non-UTF-8 byte in a column the
/// input does not use is no error, while a configured column that is not UTF-8 is one naming
/// the row and column, even when its bytes and the next field's happen to form a character
/// together (the reader checks a record whole, then slices whole characters out of it).
#[test]
fn a_streamed_csv_s_late_bytes_that_are_not_utf8_fail_only_in_a_configured_column() {
    let input = r#"[[inputs]]
name = "late"
path = "late.csv"
stream = true
id = "id"
amount = { field = "amount" }
program = { field = "program" }
locate = { by = "point", x = "x", y = "y", crs = "EPSG:5179" }
"#;
    let write = |dir: &Path, last: &[u8]| -> usize {
        let mut bytes = b"id,x,y,program,note,amount\n".to_vec();
        let mut n = 0;
        while bytes.len() < (4 << 20) + 4096 {
            n += 1;
            let row = format!("{n},{},{},u_city,ok,1000\n", X0 + 500.0, Y0 + 500.0);
            bytes.extend(row.as_bytes());
        }
        bytes.extend(last);
        std::fs::write(dir.join("late.csv"), bytes).unwrap();
        n + 1
    };
    // 0xFF in the unused `note` column: read, the row counted like the others.
    let dir = grid_dir();
    let x = format!("{},{}", X0 + 500.0, Y0 + 500.0);
    let last = [b"999999999,".as_slice(), x.as_bytes(), b",u_city,\xFF,7\n"].concat();
    let rows = write(dir.path(), &last);
    let o = run_on_grid(dir.path(), "late", 1.0, input);
    assert_eq!(o.report.totals.input_records, rows as u64);
    assert_eq!(o.report.totals.assigned_records, rows as u64);
    // The programme ends with the first byte of `€` (E2 82 AC), the next field starts with
    // the other two: an error naming the row and the programme column.
    let dir = grid_dir();
    let last = [
        b"999999999,".as_slice(),
        x.as_bytes(),
        b",u_city\xE2,\x82\xACnote,7\n",
    ]
    .concat();
    let rows = write(dir.path(), &last);
    let toml = crate::fixtures::grid_pipeline("late", 1.0, input);
    let path = dir.path().join("late.toml");
    std::fs::write(&path, toml).unwrap();
    let p = smartgap::pipeline::load(&path).unwrap();
    let err = smartgap::pipeline::run(&p).expect_err("not UTF-8");
    let text = format!("{err}");
    assert!(
        text.contains(&format!("row {rows}, column `program`: not UTF-8")),
        "{text}"
    );
}
