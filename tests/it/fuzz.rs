//! Property tests on the readers: random and mutated CSV, GeoJSON and amount texts must end in
//! records, rejects or a clear error — never a panic. `make test` runs a few hundred cases;
//! `make fuzz` runs many more (`SMARTGAP_FUZZ_CASES`).

use smartgap::config::{AmountUnit, FundingSpec, InputKind, InputSpec, Locate, ValueSpec};
use smartgap::indicators::spatial::Rng;
use smartgap::model::{FundingSource, RejectReason};
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
        fallback: Vec::new(),
        code_name_mismatch: Default::default(),
        stream: false,
        skip_rows: Vec::new(),
        funding_labels: Default::default(),
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

/// An amount in 억원 built from random parts, with the exact KRW it stands for (computed from
/// the parts in `i128`, not from the text) or the reject it must get.
fn random_amount(rng: &mut Rng) -> (String, Result<i128, RejectReason>) {
    let int_len = rng.below(14);
    let int_digits: Vec<u8> = (0..int_len).map(|_| rng.below(10) as u8).collect();
    let frac_len = if rng.below(3) == 0 {
        0
    } else {
        1 + rng.below(11)
    };
    let frac_digits: Vec<u8> = (0..frac_len).map(|_| rng.below(10) as u8).collect();
    let sign = ["", "", "", "-", "+", "－"][rng.below(6)];
    let full_width = rng.below(4) == 0;
    let grouped = rng.below(3) == 0;
    let digit = |d: u8| {
        if full_width {
            char::from_u32('０' as u32 + u32::from(d)).unwrap()
        } else {
            char::from(b'0' + d)
        }
    };
    let mut text = String::from(sign);
    for (i, d) in int_digits.iter().enumerate() {
        if grouped && i > 0 && (int_len - i).is_multiple_of(3) {
            text.push(if full_width { '，' } else { ',' });
        }
        text.push(digit(*d));
    }
    if frac_len > 0 {
        text.push(if full_width { '．' } else { '.' });
        text.extend(frac_digits.iter().map(|d| digit(*d)));
    }
    if rng.below(4) == 0 {
        text = format!("  {text} ");
    }
    let int: i128 = int_digits.iter().fold(0, |v, d| v * 10 + i128::from(*d));
    // 1 억원 = 10^8 KRW: the first eight fraction digits are whole won, the rest must be 0.
    let mut krw = int * 100_000_000;
    let mut scale = 10_000_000i128;
    let mut below_one_won = false;
    for d in &frac_digits {
        if scale == 0 {
            below_one_won |= *d != 0;
        } else {
            krw += i128::from(*d) * scale;
            scale /= 10;
        }
    }
    let expected = if int_len == 0 && frac_len == 0 {
        Err(if sign.is_empty() {
            RejectReason::AmountMissing
        } else {
            RejectReason::AmountInvalid
        })
    } else if below_one_won || krw > i128::from(i64::MAX) {
        Err(RejectReason::AmountInvalid)
    } else if !sign.is_empty() && sign != "+" && krw != 0 {
        Err(RejectReason::AmountNegative)
    } else {
        Ok(krw)
    };
    (text, expected)
}

#[test]
fn random_amount_texts_parse_exactly_or_are_rejected() {
    // Well-formed amounts of random length, precision, sign, grouping and width: the exact
    // value, or the one reject reason that fits.
    let mut rng = Rng::new(3);
    let (mut exact, mut rejected) = (0, 0);
    for _ in 0..cases() * 20 {
        let (text, expected) = random_amount(&mut rng);
        let got = smartgap::read::amount::parse_amount(&text, AmountUnit::HundredMillionKrw)
            .map(i128::from)
            .map_err(|(reason, _)| reason);
        assert_eq!(got, expected, "{text:?}");
        if got.is_ok() {
            exact += 1;
        } else {
            rejected += 1;
        }
    }
    assert!(
        exact > 0 && rejected > 0,
        "{exact} parsed, {rejected} rejected"
    );
    // Random junk around numbers: whatever parses was a number all along, so it parses the same
    // with the junk-free characters only, and a text holding a letter never parses.
    let mut rng = Rng::new(5);
    for _ in 0..cases() * 20 {
        let t = random_text(&mut rng, 5);
        if let Ok(v) = smartgap::read::amount::parse_amount(&t, AmountUnit::HundredMillionKrw) {
            assert!(!t.chars().any(|c| c.is_alphabetic()), "{t:?} parsed as {v}");
            let bare: String = t
                .chars()
                .filter(|c| !c.is_whitespace() && *c != ',')
                .collect();
            assert_eq!(
                smartgap::read::amount::parse_amount(&bare, AmountUnit::HundredMillionKrw),
                Ok(v),
                "{t:?}"
            );
        }
    }
}
