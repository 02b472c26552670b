//! The GeoParquet reader's plain runs (`stream::plain`) give exactly what its general per-row
//! path gives: two files with the same rows, one whose columns allow plain runs and one whose
//! year column (UInt16, read through its text) does not, run to byte-identical layers, with
//! every kind of row that ends a run mixed in, over more than one chunk and row group.

use std::path::Path;
use std::sync::Arc;

use arrow_array::types::Int32Type;
use arrow_array::{
    ArrayRef, BinaryArray, DictionaryArray, Int16Array, Int32Array, Int64Array, RecordBatch,
    StringArray, UInt16Array,
};
use arrow_schema::{DataType, Field, Schema};
use parquet::arrow::ArrowWriter;
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;
use smartgap::crs::Transformer;
use smartgap::indicators::spatial::Rng;

use crate::fixtures::{X0, Y0, assert_same_geojson, grid_dir, run_on_grid};

/// Rows: more than two chunks of 65,536, in row groups of 50,000.
const N: usize = 140_000;

/// One row's values; `None` is null.
struct Row {
    id: Option<i64>,
    amount: Option<i64>,
    program: Option<i32>,
    year: Option<u16>,
    wkb: Option<Vec<u8>>,
}

/// ISO WKB of a 2D point, little- or big-endian.
fn wkb(x: f64, y: f64, little: bool) -> Vec<u8> {
    let mut b = vec![u8::from(little)];
    if little {
        b.extend(1u32.to_le_bytes());
        b.extend(x.to_le_bytes());
        b.extend(y.to_le_bytes());
    } else {
        b.extend(1u32.to_be_bytes());
        b.extend(x.to_be_bytes());
        b.extend(y.to_be_bytes());
    }
    b
}

/// Seeded rows over the 3×3 grid (some outside it), with a row that ends a plain run every
/// few dozen: null ids, amounts, programmes, years and geometries, negative amounts, years
/// that are not dates, swapped coordinates, big-endian WKB, EWKB with an SRID, POINT EMPTY.
fn rows() -> Vec<Row> {
    let to_lonlat = Transformer::new("EPSG:5179", "EPSG:4326").unwrap();
    let mut rng = Rng::new(11);
    let mut u = || rng.next_u64() as f64 / u64::MAX as f64;
    (1..=N)
        .map(|i| {
            let mut c = [geo::Coord {
                x: X0 - 300.0 + 3600.0 * u(),
                y: Y0 - 300.0 + 3600.0 * u(),
            }];
            to_lonlat.convert(&mut c).unwrap();
            let (x, y) = (c[0].x, c[0].y);
            let wkb = match i {
                _ if i % 71 == 0 => None,
                _ if i % 67 == 0 => Some(wkb(y, x, true)), // swapped: coordinate_invalid
                _ if i % 61 == 0 => Some(wkb(x, y, false)),
                _ if i % 59 == 0 => {
                    // EWKB with SRID 4326.
                    let mut b = vec![1u8];
                    b.extend(0x2000_0001u32.to_le_bytes());
                    b.extend(4326u32.to_le_bytes());
                    b.extend(x.to_le_bytes());
                    b.extend(y.to_le_bytes());
                    Some(b)
                }
                _ if i % 53 == 0 => Some(wkb(f64::NAN, f64::NAN, true)), // POINT EMPTY
                _ => Some(wkb(x, y, true)),
            };
            Row {
                id: (i % 113 != 0).then_some(i as i64),
                amount: match i {
                    _ if i % 97 == 0 => None,
                    _ if i % 101 == 0 => Some(-(i as i64)),
                    _ => Some(1000 + 7 * i as i64),
                },
                program: (i % 131 != 0).then_some((i % 3) as i32),
                year: match i {
                    _ if i % 83 == 0 => None,
                    _ if i % 89 == 0 => Some(3000),
                    _ => Some(2003 + (i % 16) as u16),
                },
                wkb,
            }
        })
        .collect()
}

/// Writes `rows` as GeoParquet (CRS84 WKB points), the year as Int16 or as UInt16.
fn write(path: &Path, rows: &[Row], year_u16: bool) {
    let year_type = if year_u16 {
        DataType::UInt16
    } else {
        DataType::Int16
    };
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, true),
        Field::new("amount_krw", DataType::Int64, true),
        Field::new(
            "program",
            DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8)),
            true,
        ),
        Field::new("year", year_type, true),
        Field::new("geometry", DataType::Binary, true),
    ]));
    let year: ArrayRef = if year_u16 {
        Arc::new(UInt16Array::from_iter(rows.iter().map(|r| r.year)))
    } else {
        Arc::new(Int16Array::from_iter(
            rows.iter().map(|r| r.year.map(|y| y as i16)),
        ))
    };
    let program = DictionaryArray::<Int32Type>::try_new(
        Int32Array::from_iter(rows.iter().map(|r| r.program)),
        Arc::new(StringArray::from(vec!["u_city", "living_lab", ""])),
    )
    .unwrap();
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from_iter(rows.iter().map(|r| r.id))),
        Arc::new(Int64Array::from_iter(rows.iter().map(|r| r.amount))),
        Arc::new(program),
        year,
        Arc::new(BinaryArray::from_iter(
            rows.iter().map(|r| r.wkb.as_deref()),
        )),
    ];
    let batch = RecordBatch::try_new(schema.clone(), columns).unwrap();
    let geo = r#"{"version":"1.0.0","primary_column":"geometry","columns":{"geometry":{"encoding":"WKB","geometry_types":["Point"]}}}"#;
    let props = WriterProperties::builder()
        .set_max_row_group_row_count(Some(50_000))
        .set_key_value_metadata(Some(vec![KeyValue::new("geo".into(), geo.to_string())]))
        .build();
    let mut w =
        ArrowWriter::try_new(std::fs::File::create(path).unwrap(), schema, Some(props)).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
}

const INPUT: &str = r#"[[inputs]]
name = "points"
path = "points.parquet"
id = "id"
amount = { field = "amount_krw", unit = "krw" }
program = { field = "program" }
date = { field = "year" }
locate = { by = "geometry" }

[indicators]
periods = [
  { label = "2003-2012", from_year = 2003, to_year = 2012 },
  { label = "2013-2018", from_year = 2013, to_year = 2018 },
]
"#;

#[test]
fn plain_runs_give_what_the_general_path_gives() {
    let dir = grid_dir();
    let rows = rows();
    // The same path for both files: the rejects name it.
    let file = dir.path().join("points.parquet");
    write(&file, &rows, false);
    let plain = run_on_grid(dir.path(), "plain", 1.0, INPUT);
    let plain_out = dir.path().join("plain_out");
    std::fs::rename(dir.path().join("out"), &plain_out).unwrap();
    write(&file, &rows, true);
    let general = run_on_grid(dir.path(), "general", 1.0, INPUT);

    let profile = |o: &smartgap::pipeline::RunOutcome| {
        o.report.inputs[0].stream_profile.clone().expect("streamed")
    };
    // The runs really took different paths: most rows plain in one, none in the other.
    let (p, g) = (profile(&plain), profile(&general));
    assert_eq!((p.rows, g.rows), (N as u64, N as u64));
    assert!(
        p.plain_rows > N as u64 * 3 / 4,
        "{} plain rows",
        p.plain_rows
    );
    assert_eq!(g.plain_rows, 0);

    // Every readable amount is accounted for, negative ones with their rejects.
    let read: i128 = rows.iter().filter_map(|r| r.amount).map(i128::from).sum();
    let (a, b) = (&plain.report.totals, &general.report.totals);
    assert_eq!((a.input_records, a.input_krw), (N as u64, read));
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
    assert_eq!(a.assigned_records + a.rejected_records, N as u64);
    let reasons: Vec<&str> = plain
        .report
        .rejects_by_reason
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        reasons,
        [
            "amount_missing",
            "amount_negative",
            "coordinate_invalid",
            "date_invalid",
            "duplicate_id",
            "location_missing",
            "outside_all_regions"
        ]
    );
    assert_eq!(
        format!("{:?}", plain.report.rejects_by_reason),
        format!("{:?}", general.report.rejects_by_reason)
    );
    assert_same_geojson(
        &plain_out,
        &dir.path().join("out"),
        &["sido", "sigungu", "emd", "rejects"],
    );
}
