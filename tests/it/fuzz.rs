//! Property tests on the readers: random and mutated CSV, GeoJSON and amount texts must end in
//! records, rejects or a clear error — never a panic. `make test` runs a few hundred cases;
//! `make fuzz` runs many more (`SMARTGAP_FUZZ_CASES`).

use smartgap::config::{AmountUnit, FundingSpec, InputKind, InputSpec, Locate, ValueSpec};
use smartgap::indicators::spatial::Rng;
use smartgap::model::FundingSource;
use smartgap::read::encoding::Encoding;

fn cases() -> usize {
    std::env::var("SMARTGAP_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(150)
}

fn spec(path: std::path::PathBuf, locate: Locate) -> InputSpec {
    InputSpec {
        name: "fuzz".into(),
        path,
        layer: None,
        max_vertices: 10_000,
        header_row: 1,
        encoding: Encoding::Auto,
        kind: InputKind::Investments,
        id_field: Some("id".into()),
        amount: Some(smartgap::config::AmountSpec {
            field: "amount".into(),
            unit: AmountUnit::HundredMillionKrw,
        }),
        program: ValueSpec::None,
        funding: FundingSpec::Const(FundingSource::Unspecified),
        date: ValueSpec::None,
        locate,
        stream: false,
    }
}

const PIECES: [&str; 24] = [
    "1",
    "22.6",
    "-3",
    "",
    " ",
    ",",
    "\"",
    "\"\"",
    "1,000",
    "１２",
    "abc",
    "NaN",
    "inf",
    "1e5",
    "서울",
    "중구",
    "\n",
    "\r\n",
    "=SUM(A1)",
    "@cmd",
    "+1",
    "0.00000001",
    "99999999999999999999",
    "\u{FFFD}",
];

fn random_text(rng: &mut Rng, max: usize) -> String {
    (0..rng.below(max))
        .map(|_| PIECES[rng.below(PIECES.len())])
        .collect()
}

#[test]
fn random_csv_files_never_panic_the_reader() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng::new(7);
    for k in 0..cases() {
        let mut text = String::from("id,x,y,amount\n");
        for _ in 0..rng.below(6) {
            text.push_str(&format!(
                "{},{},{},{}\n",
                random_text(&mut rng, 3),
                random_text(&mut rng, 3),
                random_text(&mut rng, 3),
                random_text(&mut rng, 4)
            ));
        }
        let mut bytes = text.into_bytes();
        // Some cases get raw bytes (CP949 lead bytes, invalid UTF-8) spliced in.
        if k % 3 == 0 {
            let at = rng.below(bytes.len().max(1));
            bytes.splice(at..at, [0xB0, 0xA1, 0xFF, 0x80]);
        }
        let path = dir.path().join(format!("f{k}.csv"));
        std::fs::write(&path, &bytes).unwrap();
        let s = spec(
            path,
            Locate::Point {
                x: "x".into(),
                y: "y".into(),
                crs: "EPSG:4326".into(),
            },
        );
        // Ok (records and rejects) or a clear error: both fine; a panic fails the test.
        if let Ok(r) = smartgap::read::records(0, &s) {
            assert_eq!(
                r.records.len() + r.rejects.len(),
                r.file.rows as usize,
                "case {k}"
            );
        }
    }
}

#[test]
fn random_geojson_features_never_panic_the_reader() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng::new(11);
    let geoms = [
        r#"{"type":"Point","coordinates":[127.5,37.5]}"#,
        r#"{"type":"Point","coordinates":[]}"#,
        r#"{"type":"Polygon","coordinates":[[[127,37],[127.1,37],[127.1,37.1],[127,37]]]}"#,
        r#"{"type":"Polygon","coordinates":[[[127,37],[127.1,37.1],[127.1,37],[127,37.1],[127,37]]]}"#,
        r#"{"type":"Polygon","coordinates":[]}"#,
        r#"{"type":"LineString","coordinates":[[127,37],[128,38]]}"#,
        r#"{"type":"MultiPolygon","coordinates":[[[[127,37],[127,37],[127,37],[127,37]]]]}"#,
        "null",
    ];
    for k in 0..cases() {
        let features: Vec<String> = (0..1 + rng.below(4))
            .map(|i| {
                format!(
                    r#"{{"type":"Feature","properties":{{"id":"{}","amount":"{}"}},"geometry":{}}}"#,
                    i,
                    random_text(&mut rng, 3).replace(['"', '\\', '\n', '\r'], ""),
                    geoms[rng.below(geoms.len())]
                )
            })
            .collect();
        let mut bytes = format!(
            r#"{{"type":"FeatureCollection","features":[{}]}}"#,
            features.join(",")
        )
        .into_bytes();
        if k % 4 == 0 {
            // Truncate anywhere, even inside a character: an error, not a panic.
            let cut = rng.below(bytes.len());
            bytes.truncate(cut);
        }
        let path = dir.path().join(format!("f{k}.geojson"));
        std::fs::write(&path, bytes).unwrap();
        let _ = smartgap::read::records(0, &spec(path, Locate::Geometry { crs: None }));
    }
}

#[test]
fn random_amount_texts_parse_exactly_or_are_rejected() {
    let mut rng = Rng::new(3);
    for _ in 0..cases() * 20 {
        let t = random_text(&mut rng, 5);
        if let Ok(v) = smartgap::read::amount::parse_amount(&t, AmountUnit::HundredMillionKrw) {
            // Whatever parsed is a whole multiple of 1 KRW and non-negative.
            assert!(v >= 0, "{t:?} → {v}");
        }
    }
}
