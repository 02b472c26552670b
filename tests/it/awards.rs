//! The programme awards (`data/investments/awards*.csv`, described in `data/README.md`): the files'
//! integrity, the rule that keeps awards already inside a report record out of the pipeline, and
//! the national pipeline end to end on a handful of hand-checked awards.
//!
//! Expected sums are computed here from the CSV files with a reader of this file's own (RFC 4180,
//! exact integer amounts), not with the pipeline's readers.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use gdal::vector::LayerAccess;

use crate::fixtures::{geojson, props};

/// Awards with a national amount: the pipeline's `programme_awards` input.
pub const AWARDS: &str = "data/investments/awards.csv";
/// Awards without an amount (`basis = unknown`): the count-only `programme_awards_unpriced` input.
pub const UNPRICED: &str = "data/investments/awards_unpriced.csv";
/// Awards already inside a record of the report (`duplicate_of`): not read by the pipeline.
pub const IN_REPORT: &str = "data/investments/awards_in_report.csv";

const COLUMNS: [&str; 19] = [
    "record_id",
    "program_id",
    "program_name_ko",
    "year",
    "stage",
    "government_as_announced",
    "sido",
    "sigungu",
    "national_krw",
    "local_match_krw",
    "amount_as_written",
    "basis",
    "basis_note",
    "source_url",
    "source_title",
    "source_publisher",
    "source_date",
    "quote",
    "note",
];

/// The report's base period ends in 2018: a report record covers awards up to then.
const REPORT_LAST_YEAR: u32 = 2018;

type Row = BTreeMap<String, String>;

/// Reads a UTF-8, LF, RFC 4180 CSV with one header row into rows keyed by column name.
pub fn read_csv(rel: &str) -> (Vec<String>, Vec<Row>) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(rel);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{rel}: {e}"));
    assert!(!text.starts_with('\u{feff}'), "{rel}: BOM");
    assert!(!text.contains('\r'), "{rel}: CR line endings");
    let mut records: Vec<Vec<String>> = Vec::new();
    let mut record: Vec<String> = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') => {
                assert!(
                    field.is_empty(),
                    "{rel}: quote inside an unquoted field {field:?}"
                );
                quoted = true;
            }
            (false, ',') => record.push(std::mem::take(&mut field)),
            (false, '\n') => {
                record.push(std::mem::take(&mut field));
                records.push(std::mem::take(&mut record));
            }
            (false, c) => field.push(c),
        }
    }
    assert!(!quoted, "{rel}: unterminated quote");
    assert!(
        field.is_empty() && record.is_empty(),
        "{rel}: no final newline"
    );
    let header = records.remove(0);
    let rows = records
        .into_iter()
        .enumerate()
        .map(|(i, r)| {
            assert_eq!(r.len(), header.len(), "{rel} row {}: field count", i + 2);
            header.iter().cloned().zip(r).collect()
        })
        .collect();
    (header, rows)
}

/// An exact whole number of KRW: ASCII digits only, no sign, no separator, no leading zero.
pub fn krw(s: &str) -> i128 {
    assert!(
        !s.is_empty()
            && s.bytes().all(|b| b.is_ascii_digit())
            && !(s.len() > 1 && s.starts_with('0')),
        "not an exact whole KRW amount: {s:?}"
    );
    s.bytes().fold(0i128, |n, b| {
        n.checked_mul(10)
            .and_then(|n| n.checked_add(i128::from(b - b'0')))
            .expect("amount overflows")
    })
}

fn opt_krw(s: &str) -> Option<i128> {
    (!s.is_empty()).then(|| krw(s))
}

/// Σ `national_krw` of `awards.csv` (what the pipeline books), optionally within one 시도 (as
/// written in the file) and one 시군구.
pub fn awards_krw(sido: Option<&str>, sigungu: Option<&str>) -> i128 {
    read_csv(AWARDS)
        .1
        .iter()
        .filter(|r| sido.is_none_or(|s| r["sido"] == s))
        .filter(|r| sigungu.is_none_or(|s| r["sigungu"] == s))
        .map(|r| krw(&r["national_krw"]))
        .sum()
}

/// The short form shared by a 시도's spellings: 부산광역시 → 부산, 충청북도 → 충북.
fn sido_short(sido: &str) -> String {
    let mut s = sido;
    for suffix in ["특별자치시", "특별자치도", "특별시", "광역시", "도"] {
        if let Some(t) = s.strip_suffix(suffix) {
            s = t;
            break;
        }
    }
    match s {
        "충청북" => "충북",
        "충청남" => "충남",
        "전라북" => "전북",
        "전라남" => "전남",
        "경상북" => "경북",
        "경상남" => "경남",
        other => other,
    }
    .to_string()
}

/// Governments announced under a name that is not a form of their `sido` / `sigungu`, as listed
/// in data/README.md ("Name normalisations"): (announced, sido, sigungu).
const DOCUMENTED_NAMES: [(&str, &str, &str); 5] = [
    // 인천경제자유구역청 is an agency of 인천광역시; IFEZ spans 연수구, 중구 and 서구.
    ("인천경제자유구역청", "인천광역시", ""),
    ("인천경제자유구역(IFEZ)", "인천광역시", ""),
    ("인천 송도국제도시", "인천광역시", ""),
    // A joint award of two 시군, held at their 시도.
    ("공주·부여", "충청남도", ""),
    ("공주시·부여군", "충청남도", ""),
];

/// Whether `announced` names the government of `sido` / `sigungu`: its name, the name without
/// its 시/군/구 suffix (고창), the 시도's short form in front (부산 수영구), the 시도's short form
/// alone or with 시/도 (부산, 부산시, 제주도, 충북), or a documented name.
fn names_government(announced: &str, sido: &str, sigungu: &str) -> bool {
    if DOCUMENTED_NAMES.contains(&(announced, sido, sigungu)) {
        return true;
    }
    let short = sido_short(sido);
    if sigungu.is_empty() {
        return [
            sido.to_string(),
            short.clone(),
            format!("{short}시"),
            format!("{short}도"),
        ]
        .iter()
        .any(|n| n == announced);
    }
    let stem = sigungu
        .strip_suffix(['시', '군', '구'])
        .filter(|s| s.chars().count() >= 1)
        .unwrap_or(sigungu);
    announced == sigungu || announced == stem || announced == format!("{short} {sigungu}")
}

/// `YYYY-MM-DD` with a plausible month and day.
fn is_date(s: &str) -> bool {
    let p: Vec<&str> = s.split('-').collect();
    let num = |x: &str, n: usize| x.len() == n && x.bytes().all(|b| b.is_ascii_digit());
    p.len() == 3
        && num(p[0], 4)
        && num(p[1], 2)
        && num(p[2], 2)
        && (1..=12).contains(&p[1].parse::<u32>().unwrap())
        && (1..=31).contains(&p[2].parse::<u32>().unwrap())
}

/// Every award row of the three files, with the file it is in.
fn all_awards() -> Vec<(&'static str, Row)> {
    [AWARDS, UNPRICED, IN_REPORT]
        .into_iter()
        .flat_map(|f| read_csv(f).1.into_iter().map(move |r| (f, r)))
        .collect()
}

#[test]
fn award_files_are_complete_sourced_and_exact() {
    for f in [AWARDS, UNPRICED] {
        assert_eq!(read_csv(f).0, COLUMNS, "{f} columns");
    }
    let (in_report_header, _) = read_csv(IN_REPORT);
    assert_eq!(in_report_header[..19], COLUMNS, "{IN_REPORT} columns");
    assert_eq!(in_report_header[19..], ["duplicate_of"]);

    let rows = all_awards();
    // The 210 awards found (awards_search_log.md), each in exactly one of the three files.
    assert_eq!(rows.len(), 210);
    let ids: BTreeSet<&str> = rows.iter().map(|(_, r)| r["record_id"].as_str()).collect();
    assert_eq!(
        ids.len(),
        rows.len(),
        "record ids repeat across the award files"
    );

    let (_, programs) = read_csv("data/investments/programs.csv");
    let table1: BTreeSet<&str> = programs.iter().map(|p| p["program_id"].as_str()).collect();
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("data/README.md"))
            .unwrap();
    let mut total = 0i128;
    for (file, r) in &rows {
        let id = &r["record_id"];
        let at = format!("{file} {id}");
        assert!(
            id.starts_with(&format!("AW-{}-", r["year"])),
            "{at}: id and year"
        );
        let year: u32 = r["year"].parse().unwrap();
        assert!((2009..=2026).contains(&year), "{at}: year {year}");
        for col in [
            "program_id",
            "program_name_ko",
            "stage",
            "government_as_announced",
            "sido",
        ] {
            assert!(!r[col].is_empty(), "{at}: empty {col}");
        }
        let p = r["program_id"].as_str();
        assert!(
            table1.contains(p) || readme.contains(&format!("`{p}`")),
            "{at}: programme {p} is neither in programs.csv nor listed in data/README.md"
        );
        // Source: address, title, publisher, date, verbatim quote naming the government.
        assert!(
            r["source_url"].starts_with("https://") || r["source_url"].starts_with("http://"),
            "{at}: source_url {:?}",
            r["source_url"]
        );
        assert!(
            !r["source_title"].is_empty() && !r["source_publisher"].is_empty(),
            "{at}"
        );
        assert!(
            is_date(&r["source_date"]),
            "{at}: source_date {:?}",
            r["source_date"]
        );
        let announced = r["government_as_announced"].as_str();
        assert!(
            r["quote"].contains(announced),
            "{at}: the quote does not contain {announced}"
        );
        assert!(
            names_government(announced, &r["sido"], &r["sigungu"]),
            "{at}: {announced} is not a form of {} {}",
            r["sido"],
            r["sigungu"]
        );
        // 시도 names as of the selection date.
        let date = r["source_date"].as_str();
        match r["sido"].as_str() {
            "강원특별자치도" => {
                assert!(date >= "2023-06-11", "{at}: 강원특별자치도 on {date}")
            }
            "강원도" => assert!(date < "2023-06-11", "{at}: 강원도 on {date}"),
            "전북특별자치도" => {
                assert!(date >= "2024-01-18", "{at}: 전북특별자치도 on {date}")
            }
            "전라북도" => assert!(date < "2024-01-18", "{at}: 전라북도 on {date}"),
            _ => {}
        }
        // Amounts: exact integers, present exactly when the basis gives one.
        let national = opt_krw(&r["national_krw"]);
        let _local = opt_krw(&r["local_match_krw"]);
        match r["basis"].as_str() {
            "stated" | "rule" | "rule_max" => {
                let n =
                    national.unwrap_or_else(|| panic!("{at}: basis {} without amount", r["basis"]));
                assert!(n > 0, "{at}: amount {n}");
                total += n;
            }
            "unknown" => assert!(national.is_none(), "{at}: basis unknown with an amount"),
            other => panic!("{at}: basis {other:?}"),
        }
        match *file {
            AWARDS => assert!(
                national.is_some(),
                "{at}: awards.csv holds priced awards only"
            ),
            UNPRICED => assert_eq!(r["basis"], "unknown", "{at}"),
            _ => assert!(!r["duplicate_of"].is_empty(), "{at}: no duplicate_of"),
        }
    }
    // No award repeats within or across the files.
    let keys: BTreeSet<(&str, &str, &str, &str)> = rows
        .iter()
        .map(|(_, r)| {
            (
                r["program_id"].as_str(),
                r["year"].as_str(),
                r["sido"].as_str(),
                r["sigungu"].as_str(),
            )
        })
        .collect();
    assert_eq!(
        keys.len(),
        rows.len(),
        "an award repeats (programme, year, 시도, 시군구)"
    );
    // 3,680억 national found in all (search log, "Totals").
    assert_eq!(total, 368_000_000_000);

    // awards_coverage.csv counts and sums exactly these rows, per programme, year and stage.
    let mut found: BTreeMap<(String, String, String), (u64, i128)> = BTreeMap::new();
    for (_, r) in &rows {
        let e = found
            .entry((
                r["program_id"].clone(),
                r["year"].clone(),
                r["stage"].clone(),
            ))
            .or_default();
        e.0 += 1;
        e.1 += opt_krw(&r["national_krw"]).unwrap_or(0);
    }
    let (_, coverage) = read_csv("data/investments/awards_coverage.csv");
    for c in &coverage {
        let key = (
            c["program_id"].clone(),
            c["year"].clone(),
            c["stage"].clone(),
        );
        let (n, krw_found) = found.remove(&key).unwrap_or_default();
        assert_eq!(
            n,
            c["awards_found"].parse::<u64>().unwrap(),
            "coverage {key:?}"
        );
        assert_eq!(krw_found, krw(&c["national_krw_found"]), "coverage {key:?}");
    }
    assert!(
        found.is_empty(),
        "awards missing from the coverage table: {found:?}"
    );
}

/// The report records (`projects.csv`, `listed_projects.csv`) that already hold `award`: same
/// programme, same 시도, the same 시군구 or either held at the 시도 (a 시도-wide or joint record
/// holds its 시도's awards; a 시도 award holds a project sited in one 시군구), and the award year
/// within the record's years up to the report's last year (listed projects take their
/// programme's years from programs.csv).
fn report_records_holding(award: &Row) -> Vec<String> {
    let (_, programs) = read_csv("data/investments/programs.csv");
    let programme = |id: &str| programs.iter().find(|p| p["program_id"] == id).cloned();
    let year: u32 = award["year"].parse().unwrap();
    let mut out = Vec::new();
    for file in [
        "data/investments/projects.csv",
        "data/investments/listed_projects.csv",
    ] {
        for rec in read_csv(file).1 {
            let p = rec["program_id"].as_str();
            if p.is_empty() || p != award["program_id"] || rec["sido"] != award["sido"] {
                continue;
            }
            if !(rec["sigungu"] == award["sigungu"]
                || rec["sigungu"].is_empty()
                || award["sigungu"].is_empty())
            {
                continue;
            }
            let prog = programme(p).expect("report programme in programs.csv");
            let pick = |own: Option<&String>, of_programme: &str| {
                own.filter(|s| !s.is_empty())
                    .map_or(of_programme.to_string(), Clone::clone)
            };
            let from: u32 = pick(rec.get("year_start"), &prog["start_year"])
                .parse()
                .unwrap();
            let to = pick(rec.get("year_end"), &prog["end_year"])
                .parse::<u32>()
                .map_or(REPORT_LAST_YEAR, |y| y.min(REPORT_LAST_YEAR));
            if (from..=to).contains(&year) {
                out.push(rec["record_id"].clone());
            }
        }
    }
    out
}

#[test]
fn awards_inside_a_report_record_are_kept_out_of_the_pipeline() {
    for f in [AWARDS, UNPRICED] {
        for r in read_csv(f).1 {
            let held = report_records_holding(&r);
            assert!(
                held.is_empty(),
                "{f} {}: already held by the report's {held:?}; move it to {IN_REPORT}",
                r["record_id"]
            );
        }
    }
    let (_, in_report) = read_csv(IN_REPORT);
    assert_eq!(in_report.len(), 18);
    for r in &in_report {
        assert_eq!(
            report_records_holding(r),
            [r["duplicate_of"].clone()],
            "{IN_REPORT} {}",
            r["record_id"]
        );
    }
    // 534억 of national money found in the awards is inside the report's Table 2 amounts.
    let inside: i128 = in_report
        .iter()
        .filter_map(|r| opt_krw(&r["national_krw"]))
        .sum();
    assert_eq!(inside, 53_400_000_000);
}

/// (input, record id, level, code, amount) of a row of the `assignments` table.
type Assignment = (String, String, String, String, Option<i64>);

/// The rows of the `assignments` table.
fn assignments(out: &Path) -> Vec<Assignment> {
    let ds = gdal::Dataset::open(out.join("smartgap.gpkg")).unwrap();
    let mut l = ds.layer_by_name("assignments").unwrap();
    let idx = |n: &str| l.defn().field_index(n).unwrap();
    let (ii, ri, li, ci, ai) = (
        idx("input"),
        idx("record_id"),
        idx("level"),
        idx("code"),
        idx("amount_krw"),
    );
    l.features()
        .map(|f| {
            (
                f.field_as_string(ii).unwrap().unwrap(),
                f.field_as_string(ri).unwrap().unwrap(),
                f.field_as_string(li).unwrap().unwrap(),
                f.field_as_string(ci).unwrap().unwrap(),
                f.field_as_integer64(ai).unwrap(),
            )
        })
        .collect()
}

/// Σ of a numeric property over a layer's features (null = 0).
fn layer_sum(fc: &serde_json::Value, key: &str) -> i128 {
    fc["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| i128::from(f["properties"][key].as_i64().unwrap_or(0)))
        .sum()
}

fn prop(fc: &serde_json::Value, code: &str, key: &str) -> i64 {
    props(fc, code)[key]
        .as_i64()
        .unwrap_or_else(|| panic!("{code}: {key} is not a number"))
}

#[test]
fn national_run_books_every_award_once_where_it_was_won() {
    let (out, o) = crate::fixtures::run_repo_pipeline("pipelines/national.toml");
    let (_, awards) = read_csv(AWARDS);
    let (_, unpriced) = read_csv(UNPRICED);
    let (_, in_report) = read_csv(IN_REPORT);
    let (_, projects) = read_csv("data/investments/projects.csv");
    let (_, listed) = read_csv("data/investments/listed_projects.csv");
    let (_, tiers) = read_csv("data/investments/figure1_tiers.csv");

    // Nothing rejected; every input row read and assigned.
    let t = &o.report.totals;
    assert_eq!(t.rejected_records, 0, "{:?}", o.report.rejects_by_reason);
    let input = |name: &str| {
        o.report
            .inputs
            .iter()
            .find(|i| i.name == name)
            .unwrap_or_else(|| panic!("no input {name}"))
    };
    let awards_sum: i128 = awards.iter().map(|r| krw(&r["national_krw"])).sum();
    let projects_sum: i128 = projects.iter().map(|r| krw(&r["amount_krw"])).sum();
    assert_eq!(
        projects_sum, 508_030_000_000,
        "Table 2 and the text: 5,080.3억"
    );
    assert_eq!(
        awards_sum, 314_600_000_000,
        "3,680억 found less 534억 inside the report"
    );
    assert_eq!(input("programme_awards").assigned, awards.len() as u64);
    assert_eq!(input("programme_awards").amount_krw, awards_sum);
    assert_eq!(
        input("programme_awards_unpriced").assigned,
        unpriced.len() as u64
    );
    assert_eq!(input("programme_awards_unpriced").amount_krw, 0);
    assert_eq!(
        t.assigned_records as usize,
        projects.len() + listed.len() + tiers.len() + awards.len() + unpriced.len()
    );
    assert_eq!(t.assigned_krw, projects_sum + awards_sum);

    // Each priced or unpriced award is one assignment of its own input, whole; the awards
    // inside a report record are not read at all.
    let rows = assignments(out.path());
    let by_id: BTreeMap<&str, Vec<&Assignment>> = rows.iter().fold(BTreeMap::new(), |mut m, r| {
        m.entry(r.1.as_str()).or_default().push(r);
        m
    });
    for (name, file) in [
        ("programme_awards", &awards),
        ("programme_awards_unpriced", &unpriced),
    ] {
        for r in file {
            let a = &by_id[r["record_id"].as_str()];
            assert_eq!(a.len(), 1, "{}", r["record_id"]);
            assert_eq!(a[0].0, name);
            assert_eq!(a[0].4.map(i128::from), opt_krw(&r["national_krw"]));
        }
    }
    for r in &in_report {
        assert!(
            !by_id.contains_key(r["record_id"].as_str()),
            "{} was read",
            r["record_id"]
        );
    }

    // Hand-checked awards: record → (level, code, national KRW).
    let checked: [(&str, &str, &str, Option<i64>); 9] = [
        // 2018 통합플랫폼, 6억 of a 12억 project, to 고창군 (전라북도 45790; 52790 since 2024-01-18).
        ("AW-2018-PLAT-10", "sigungu", "52790", Some(600_000_000)),
        // 2023 거점형 to 울산광역시: a 광역 government, held at its 시도.
        ("AW-2023-HUB-01", "sido", "31", Some(20_000_000_000)),
        // 2019 통합플랫폼 to 강원도: 강원특별자치도 (51) on the national pipeline's date.
        ("AW-2019-PLAT-06", "sido", "51", Some(600_000_000)),
        // 2024 확산 to 정선군 under 강원특별자치도 (the name since 2023-06-11).
        ("AW-2024-DIFF-03", "sigungu", "51770", Some(1_250_000_000)),
        // 2020 통합플랫폼 to 여주시 (41670; the bundled 여주군 41730 was upgraded 2013-09-23).
        ("AW-2020-PLAT-23", "sigungu", "41670", Some(600_000_000)),
        // 2018 R&D 실증 to 시흥시: 정부예산 263억.
        ("AW-2018-RND-02", "sigungu", "41390", Some(26_300_000_000)),
        // 2011 U-City 시범도시 to 여수시 (not 여주시, as two papers print): 2억.
        ("AW-2011-PILOT-03", "sigungu", "46130", Some(200_000_000)),
        // 2025 거점형 to 전주시 under 전북특별자치도: a city with 일반구, held at the city 52110
        // (완산구 + 덕진구; 45110 before 2024-01-18), not at its 시도.
        ("AW-2025-HUB-01", "city", "52110", Some(16_000_000_000)),
        // 2012 U-City 시범도시 to 양산시, amount unknown: counted, no money.
        ("AW-2012-PILOT-04", "sigungu", "48330", None),
    ];
    for (id, level, code, amount) in checked {
        let a = by_id[id][0];
        assert_eq!(
            (a.2.as_str(), a.3.as_str(), a.4),
            (level, code, amount),
            "{id}"
        );
    }

    // The same awards on the map layers.
    let sido = geojson(out.path(), "sido");
    let sigungu = geojson(out.path(), "sigungu");
    // 고창군: 2018 통합플랫폼 6억 + 2020 생활밀착형 도시재생 5억, one per period.
    assert_eq!(prop(&sigungu, "52790", "amount_krw"), 1_100_000_000);
    assert_eq!(prop(&sigungu, "52790", "record_count"), 2);
    assert_eq!(
        prop(&sigungu, "52790", "amount_program_molit_platform_krw"),
        600_000_000
    );
    assert_eq!(
        prop(&sigungu, "52790", "amount_period_2013_2018_krw"),
        600_000_000
    );
    assert_eq!(
        prop(&sigungu, "52790", "amount_period_2019_2026_krw"),
        500_000_000
    );
    // 울산광역시 holds its own 거점형 200억; none of it is on a 울산 시군구.
    assert_eq!(prop(&sido, "31", "amount_held_here_krw"), 20_000_000_000);
    assert_eq!(
        prop(&sido, "31", "amount_program_hub_smart_city_krw"),
        20_000_000_000
    );
    assert_eq!(
        prop(&sigungu, "41670", "amount_period_2019_2026_krw"),
        600_000_000
    );
    // 전주시's 160억 is on neither of its 구.
    assert_eq!(prop(&sigungu, "52111", "amount_krw"), 0);
    assert_eq!(prop(&sigungu, "52113", "amount_krw"), 0);
    // 양산시: two unpriced U-City awards (2012, 2013).
    assert_eq!(prop(&sigungu, "48330", "record_count"), 2);
    assert_eq!(prop(&sigungu, "48330", "amount_krw"), 0);
    // 마포구 keeps the report's 53억: its 2009 award (20억) and 2018 통합플랫폼 (6억, in the
    // report's joint 36억) are inside the report's records, not booked again.
    assert_eq!(prop(&sigungu, "11440", "amount_krw"), 5_300_000_000);

    // National totals by programme, funding and period equal the CSV sums.
    let mut by_program: BTreeMap<String, i128> = BTreeMap::new();
    let mut by_period: BTreeMap<&str, i128> = BTreeMap::new();
    let period = |y: &str| match y.parse::<u32>() {
        Ok(2003..=2012) => Some("2003_2012"),
        Ok(2013..=2018) => Some("2013_2018"),
        Ok(2019..=2026) => Some("2019_2026"),
        _ => None,
    };
    let mut national_program = 0i128;
    for r in &projects {
        let a = krw(&r["amount_krw"]);
        if !r["program_id"].is_empty() {
            *by_program.entry(r["program_id"].clone()).or_default() += a;
        }
        if let Some(p) = period(&r["year_start"]) {
            *by_period.entry(p).or_default() += a;
        }
        if r["funding_source"] == "national_program" {
            national_program += a;
        }
    }
    for r in &awards {
        let a = krw(&r["national_krw"]);
        *by_program.entry(r["program_id"].clone()).or_default() += a;
        *by_period.entry(period(&r["year"]).unwrap()).or_default() += a;
        national_program += a;
    }
    for (p, want) in &by_program {
        assert_eq!(
            layer_sum(&sido, &format!("amount_program_{p}_krw")),
            *want,
            "{p}"
        );
    }
    for (p, want) in &by_period {
        assert_eq!(
            layer_sum(&sido, &format!("amount_period_{p}_krw")),
            *want,
            "{p}"
        );
    }
    assert_eq!(
        layer_sum(&sido, "amount_national_program_krw"),
        national_program
    );
    assert_eq!(layer_sum(&sido, "amount_krw"), projects_sum + awards_sum);
    assert_eq!(
        layer_sum(&sido, "record_count") as usize,
        projects.len() + listed.len() + awards.len() + unpriced.len()
    );
}

/// Issue #21, item 4: the summary's share of programme money won by incumbents, per period,
/// recomputed here from the published 시군구 and 시도 layers: a 시군구 is an incumbent when it or
/// its 시도 carries the report's Figure 1 top tier (`report_tier` = 1) or its fee-funded money
/// reaches 50억. The per-period programme money is the layer's `amount_national_program_krw`
/// for every record, and for a period the awards' own rows (`awards.csv`, the only programme
/// records dated in 2019–2026 besides the report's) are summed by year.
#[test]
fn summary_answers_who_won_the_competitive_money_by_period() {
    let (out, _) = crate::fixtures::run_repo_pipeline("pipelines/national.toml");
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.path().join("summary.json")).unwrap())
            .unwrap();
    let sido = geojson(out.path(), "sido");
    let sigungu = geojson(out.path(), "sigungu");
    let tier1 = |p: &serde_json::Value| p["report_tier"].as_str() == Some("1");
    let mut total = 0i64;
    let mut won = 0i64;
    for f in sigungu["features"].as_array().unwrap() {
        let p = &f["properties"];
        let program = p["amount_national_program_krw"].as_i64().unwrap();
        // The 시도 (a 구's parent is its city): the code's first two digits.
        let parent = props(&sido, &p["code"].as_str().unwrap()[..2]);
        let incumbent = tier1(p)
            || tier1(parent)
            || p["amount_development_fee_krw"].as_i64().unwrap() >= 5_000_000_000;
        total += program;
        if incumbent {
            won += program;
        }
    }
    let row = |indicator: &str, variable: &str, period: &str| {
        summary
            .as_array()
            .unwrap()
            .iter()
            .find(|r| {
                r["level"] == "sigungu"
                    && r["indicator"] == indicator
                    && r["variable"] == variable
                    && r["period"] == period
            })
            .unwrap_or_else(|| panic!("no row {indicator} {variable} {period}"))
            .clone()
    };
    let all = row("program_share_in_incumbents", "program_krw", "");
    assert!(total > 0);
    assert!(
        (all["value"].as_f64().unwrap() - won as f64 / total as f64).abs() < 1e-12,
        "{all}"
    );
    assert!(
        all["note"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{won} of {total} KRW")),
        "{all}"
    );
    // Every period has its share and both Gini figures, and the period totals add up to the
    // programme money of dated records.
    let mut period_total = 0i64;
    for period in ["2003-2012", "2013-2018", "2019-2026"] {
        let r = row("program_share_in_incumbents", "program_krw", period);
        let v = r["value"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&v), "{r}");
        let note = r["note"].as_str().unwrap();
        let of: i64 = note
            .split(" of ")
            .nth(1)
            .unwrap()
            .split(' ')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        period_total += of;
        for variable in ["program_per_km2_krw", "program_per_capita_krw"] {
            let g = row("gini", variable, period)["value"].as_f64().unwrap();
            assert!(g > 0.0 && g < 1.0, "{variable} {period}: {g}");
        }
    }
    assert!(period_total <= total && period_total > 0);
}
