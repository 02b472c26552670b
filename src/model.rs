//! The nouns of the pipeline: administrative levels, regions, investment records and rejects.
//!
//! Everything here is plain data in EPSG:5179 (Korea 2000 / Unified CS, metres); the readers
//! convert into these types and the writers convert out of them.

use std::collections::BTreeMap;
use std::fmt;

use geo::{MultiPolygon, Point};
use serde::Serialize;

/// An administrative level of the Korean hierarchy, coarsest first.
///
/// `Ord` follows the hierarchy: `Sido < City < Sigungu < Emd < Ri`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AdminLevel {
    /// 시도: provinces and metropolitan cities (17).
    Sido,
    /// 시 with 일반구 (수원시 = 장안구 + 권선구 + 팔달구 + 영통구): a level derived from the 시군구
    /// codes of the boundaries (module `city`), covering only those cities, as KOSTAT publishes
    /// them between 시도 and 구. A city without 구 is a 시군구 and has no city-level duplicate.
    City,
    /// 시군구: cities, counties and autonomous districts (~250).
    Sigungu,
    /// 읍면동: towns, townships and neighbourhoods (~5,000).
    Emd,
    /// 리: villages of 읍 and 면 (~15,000; 동 have none, so the level covers only part of the
    /// country and points elsewhere are held at 읍면동).
    Ri,
}

impl AdminLevel {
    pub(crate) const ALL: [AdminLevel; 5] = [
        AdminLevel::Sido,
        AdminLevel::City,
        AdminLevel::Sigungu,
        AdminLevel::Emd,
        AdminLevel::Ri,
    ];

    /// The name used in config, layer names and file names.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            AdminLevel::Sido => "sido",
            AdminLevel::City => "city",
            AdminLevel::Sigungu => "sigungu",
            AdminLevel::Emd => "emd",
            AdminLevel::Ri => "ri",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<AdminLevel> {
        AdminLevel::ALL.into_iter().find(|l| l.as_str() == s)
    }
}

impl fmt::Display for AdminLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An administrative code as the boundary data spells it (e.g. `11`, `11110`, `11110515`).
pub(crate) type RegionCode = String;

/// One polygon of one administrative level.
#[derive(Debug, Clone)]
pub struct Region {
    pub(crate) level: AdminLevel,
    pub code: RegionCode,
    /// The unit's own name, e.g. `종로구`.
    pub name: String,
    /// Space-joined chain of names, e.g. `서울특별시 종로구`.
    pub full_name: String,
    /// Code of the containing region one level up; `None` for 시도.
    pub parent_code: Option<RegionCode>,
    /// Geometry in EPSG:5179 (metres).
    pub geometry: MultiPolygon<f64>,
    /// Planar area of `geometry` in EPSG:5179.
    ///
    /// # Units
    /// km².
    pub area_km2: f64,
}

/// Where the money came from, as the report distinguishes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FundingSource {
    /// Central-government programmes, mostly competitive grants (표 1).
    NationalProgram,
    /// Infrastructure construction fees of land development (기반시설 조성비).
    DevelopmentFee,
    /// Local-government budgets.
    Local,
    /// The record does not say.
    Unspecified,
}

impl FundingSource {
    pub(crate) const ALL: [FundingSource; 4] = [
        FundingSource::NationalProgram,
        FundingSource::DevelopmentFee,
        FundingSource::Local,
        FundingSource::Unspecified,
    ];

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            FundingSource::NationalProgram => "national_program",
            FundingSource::DevelopmentFee => "development_fee",
            FundingSource::Local => "local",
            FundingSource::Unspecified => "unspecified",
        }
    }

    /// Parses the values accepted in data and config; empty text is `Unspecified`.
    pub(crate) fn parse(s: &str) -> Option<FundingSource> {
        match s.trim() {
            "" => Some(FundingSource::Unspecified),
            t => FundingSource::ALL.into_iter().find(|f| f.as_str() == t),
        }
    }
    /// The category of a Korean funding label as budgets write it (`국비`, `지방비`, `시비`,
    /// `민간`, `LH`, …: [`FUNDING_LABELS`]), compared without spaces or a trailing `(…)`.
    pub(crate) fn from_label(s: &str) -> Option<FundingSource> {
        let key = funding_key(s);
        FUNDING_LABELS
            .iter()
            .find(|(l, _)| funding_key(l) == key)
            .map(|(_, f)| *f)
    }
}

/// The built-in Korean funding labels and their categories. Private and developer money
/// (민간, 민자, 공기업/LH, 사업시행자, 개발부담금) is `development_fee`, the category of money that
/// comes with land development rather than from a budget; 기금 (national funds) is a
/// `national_program` source.
const FUNDING_LABELS: [(&str, FundingSource); 31] = [
    ("국비", FundingSource::NationalProgram),
    ("국고", FundingSource::NationalProgram),
    ("국고보조금", FundingSource::NationalProgram),
    ("국비보조금", FundingSource::NationalProgram),
    ("정부", FundingSource::NationalProgram),
    ("중앙정부", FundingSource::NationalProgram),
    ("국가", FundingSource::NationalProgram),
    ("기금", FundingSource::NationalProgram),
    ("균특", FundingSource::NationalProgram),
    ("균특회계", FundingSource::NationalProgram),
    ("지방비", FundingSource::Local),
    ("지자체", FundingSource::Local),
    ("자체", FundingSource::Local),
    ("자체재원", FundingSource::Local),
    ("시비", FundingSource::Local),
    ("도비", FundingSource::Local),
    ("군비", FundingSource::Local),
    ("구비", FundingSource::Local),
    ("시도비", FundingSource::Local),
    ("시군비", FundingSource::Local),
    ("시군구비", FundingSource::Local),
    ("민간", FundingSource::DevelopmentFee),
    ("민자", FundingSource::DevelopmentFee),
    ("민간자본", FundingSource::DevelopmentFee),
    ("공기업", FundingSource::DevelopmentFee),
    ("LH", FundingSource::DevelopmentFee),
    ("공기업/LH", FundingSource::DevelopmentFee),
    ("한국토지주택공사", FundingSource::DevelopmentFee),
    ("사업시행자", FundingSource::DevelopmentFee),
    ("개발부담금", FundingSource::DevelopmentFee),
    ("기반시설부담금", FundingSource::DevelopmentFee),
];

/// A funding label as compared: no spaces or middle dots, no trailing `(…)`, ASCII upper-case.
pub(crate) fn funding_key(s: &str) -> String {
    let t: String = s
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '·' && *c != 'ㆍ')
        .collect::<String>()
        .to_ascii_uppercase();
    match t.find('(') {
        Some(i) if i > 0 && t.ends_with(')') => t[..i].to_string(),
        _ => t,
    }
}

/// Where a record says it is, before assignment.
#[derive(Debug, Clone, PartialEq)]
pub enum Location {
    /// An administrative code of any level.
    Code(String),
    /// A KOSTAT statistical code (of the population table's census year).
    KostatCode(String),
    /// Names, coarsest first; finer ones may be empty.
    Names {
        sido: String,
        sigungu: String,
        emd: String,
    },
    /// A point in EPSG:5179 metres.
    Point(Point<f64>),
    /// A polygon (e.g. a development district) in EPSG:5179, already validated or repaired;
    /// its money is apportioned by intersected area.
    Area(MultiPolygon<f64>),
}

/// One row of an investment input, read but not yet assigned.
#[derive(Debug, Clone)]
pub struct Investment {
    /// Index of the input in the pipeline's `inputs` list.
    pub input: usize,
    /// 1-based data row (feature) number within the input, header not counted.
    pub row: u64,
    /// The record's own id, or `row` as text when the input has no id column.
    pub record_id: String,
    /// Exact amount in KRW; `None` for count-only inputs.
    pub amount_krw: Option<i64>,
    pub program: String,
    pub funding: FundingSource,
    pub location: Location,
    /// Attribute values copied onto the resolved region (attribute inputs only).
    pub attributes: BTreeMap<String, String>,
    /// The record's date (`yyyymmdd`) when the input has one: codes and names are as of it.
    pub date: Option<u32>,
    /// The row's other location when its input's `locate` chain has both a code and names and
    /// the row gives both: assign resolves it too, and if it names another region, applies
    /// the input's `code_name_mismatch` policy.
    pub check: Option<Check>,
}

/// A second location of a record, to be checked against the one it is assigned by.
#[derive(Debug, Clone)]
pub struct Check {
    pub(crate) location: Location,
    pub(crate) policy: Mismatch,
}

/// What a record whose code and names point at different regions becomes
/// (`code_name_mismatch` of an input).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Mismatch {
    /// A `code_name_mismatch` reject naming both regions.
    #[default]
    Reject,
    /// Assigned by the location that comes first in the chain, with a warning per input.
    Warn,
}

/// Why a record could not be assigned. The text of `code()` is stable and lands in the
/// `reason` column of the rejects layer.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RejectReason {
    AmountMissing,
    AmountInvalid,
    AmountNegative,
    DuplicateId,
    FundingInvalid,
    LocationMissing,
    CoordinateInvalid,
    OutsideAllRegions,
    UnknownCode,
    NameNotFound,
    NameAmbiguous,
    /// A name that named no unit on the record's date and whose meanings differ (부천시 원미구
    /// in 2018: its 구 was abolished 2016-07-04 and a new one made 2024-01-01).
    NameNotInForce,
    /// An undated record whose name named different territories over time (창원시 before and
    /// after 2010-07-01).
    NameNeedsDate,
    AttributeConflict,
    CrosswalkUnmapped,
    DateInvalid,
    GeometryInvalid,
    GeometryTooComplex,
    /// A CSV row with fewer fields than the header: a file cut mid-row (a writer that died).
    RowMalformed,
    /// The row's code and its names point at different regions (`code_name_mismatch`).
    CodeNameMismatch,
}

impl RejectReason {
    pub(crate) fn code(&self) -> &'static str {
        match self {
            RejectReason::AmountMissing => "amount_missing",
            RejectReason::AmountInvalid => "amount_invalid",
            RejectReason::AmountNegative => "amount_negative",
            RejectReason::DuplicateId => "duplicate_id",
            RejectReason::FundingInvalid => "funding_invalid",
            RejectReason::LocationMissing => "location_missing",
            RejectReason::CoordinateInvalid => "coordinate_invalid",
            RejectReason::OutsideAllRegions => "outside_all_regions",
            RejectReason::UnknownCode => "unknown_code",
            RejectReason::NameNotFound => "name_not_found",
            RejectReason::NameAmbiguous => "name_ambiguous",
            RejectReason::NameNotInForce => "name_not_in_force",
            RejectReason::NameNeedsDate => "name_needs_date",
            RejectReason::AttributeConflict => "attribute_conflict",
            RejectReason::CrosswalkUnmapped => "crosswalk_unmapped",
            RejectReason::DateInvalid => "date_invalid",
            RejectReason::GeometryInvalid => "geometry_invalid",
            RejectReason::GeometryTooComplex => "geometry_too_complex",
            RejectReason::RowMalformed => "row_malformed",
            RejectReason::CodeNameMismatch => "code_name_mismatch",
        }
    }
}

impl fmt::Display for RejectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// A record that was not assigned, with everything needed to find and fix it.
#[derive(Debug, Clone)]
pub struct Reject {
    pub(crate) input: usize,
    pub row: u64,
    pub(crate) record_id: String,
    pub reason: RejectReason,
    /// Human-readable detail: the offending value, candidates, ...
    pub detail: String,
    /// The amount when it could be read; rejected money is still accounted for.
    pub(crate) amount_krw: Option<i64>,
    /// Where the record is, when known (EPSG:5179).
    pub(crate) point: Option<Point<f64>>,
}

/// The regions of every configured level, each level sorted by code.
#[derive(Debug, Clone, Default)]
pub struct Boundaries {
    pub levels: Vec<LevelRegions>,
}

#[derive(Debug, Clone)]
pub struct LevelRegions {
    pub(crate) level: AdminLevel,
    pub regions: Vec<Region>,
    pub(crate) by_code: std::collections::HashMap<RegionCode, usize>,
}

impl LevelRegions {
    pub(crate) fn new(level: AdminLevel, mut regions: Vec<Region>) -> LevelRegions {
        regions.sort_by(|a, b| a.code.cmp(&b.code));
        let by_code = regions
            .iter()
            .enumerate()
            .map(|(i, r)| (r.code.clone(), i))
            .collect();
        LevelRegions {
            level,
            regions,
            by_code,
        }
    }

    pub fn get(&self, code: &str) -> Option<&Region> {
        self.by_code.get(code).map(|&i| &self.regions[i])
    }
}

impl Boundaries {
    pub fn level(&self, level: AdminLevel) -> Option<&LevelRegions> {
        self.levels.iter().find(|l| l.level == level)
    }

    /// The finest configured level.
    pub(crate) fn finest(&self) -> Option<&LevelRegions> {
        self.levels.last()
    }

    /// The region with this code at any level.
    pub fn find(&self, code: &str) -> Option<&Region> {
        self.levels.iter().find_map(|l| l.get(code))
    }

    /// `code` at `level` and its ancestors, finest first, following `parent_code`.
    pub(crate) fn lineage(&self, level: AdminLevel, code: &str) -> Vec<(AdminLevel, RegionCode)> {
        let mut out = Vec::new();
        let mut cur = self.level(level).and_then(|l| l.get(code));
        while let Some(r) = cur {
            out.push((r.level, r.code.clone()));
            cur = self.parent(r);
        }
        out
    }

    /// The region `r.parent_code` names, at the nearest coarser level that has it: a 구's
    /// parent is its city when the city level is configured, any other 시군구's is its 시도.
    pub(crate) fn parent(&self, r: &Region) -> Option<&Region> {
        let p = r.parent_code.as_deref()?;
        self.levels
            .iter()
            .rev()
            .filter(|l| l.level < r.level)
            .find_map(|l| l.get(p))
    }

    /// The configured level just above `level`.
    pub(crate) fn coarser(&self, level: AdminLevel) -> Option<&LevelRegions> {
        self.levels.iter().rev().find(|l| l.level < level)
    }
}

/// A regional group of 시도 (the report's 9 groups), defined in data.
#[derive(Debug, Clone)]
pub(crate) struct RegionGroup {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) sido_codes: Vec<String>,
}

/// A date as `yyyymmdd`.
pub(crate) type Date = u32;

/// Parses `YYYY`, `YYYY-MM`, `YYYY-MM-DD` (also with `.` or `/`), or `YYYYMMDD`. A year alone
/// means 1 January, a month alone its 1st: the record is taken to predate any change later in
/// its period, which is the reading that finds the change.
pub fn parse_date(s: &str) -> Option<Date> {
    let t = s.trim();
    let parts: Vec<&str> = t.split(['-', '.', '/']).filter(|p| !p.is_empty()).collect();
    let (y, m, d): (u32, u32, u32) = match parts.as_slice() {
        [ymd] if ymd.len() == 8 => (
            ymd[..4].parse().ok()?,
            ymd[4..6].parse().ok()?,
            ymd[6..].parse().ok()?,
        ),
        [y] => (y.parse().ok()?, 1, 1),
        [y, m] => (y.parse().ok()?, m.parse().ok()?, 1),
        [y, m, d] => (y.parse().ok()?, m.parse().ok()?, d.parse().ok()?),
        _ => return None,
    };
    let ok = (1900..=2100).contains(&y) && (1..=12).contains(&m) && (1..=31).contains(&d);
    ok.then_some(y * 10_000 + m * 100 + d)
}

/// `yyyy-mm-dd`.
pub(crate) fn show_date(d: Date) -> String {
    format!("{:04}-{:02}-{:02}", d / 10_000, d / 100 % 100, d % 100)
}

/// How many characters of a value read from an input a message, warning or reject detail
/// quotes: a cell or a header can be megabytes long.
pub(crate) const QUOTED_CHARS: usize = 100;

/// At most `chars` characters of `text`, `…` marking a cut.
pub(crate) fn clip(text: &str, chars: usize) -> String {
    match text.char_indices().nth(chars) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_string(),
    }
}

/// Column (or layer) names for a message: at most 20, each clipped to 64 characters, then how
/// many more there are. A header can hold thousands of names, or one of megabytes.
pub(crate) fn name_list(names: &[String]) -> String {
    const LISTED: usize = 20;
    let mut list: Vec<String> = names.iter().take(LISTED).map(|n| clip(n, 64)).collect();
    if names.len() > LISTED {
        list.push(format!("… and {} more", names.len() - LISTED));
    }
    list.join(", ")
}

/// The columns of every region layer that neither the data nor the config name, and the
/// GeoPackage's own `fid` and `geom`. SQLite compares column names without case, so an
/// attribute column may take none of these names in any case (`NAME` beside `name` fails the
/// write), nor begin with `amount_`, where the funding, programme and period columns live.
const FIXED_REGION_COLUMNS: [&str; 28] = [
    "fid",
    "geom",
    "code",
    "name",
    "full_name",
    "parent_code",
    "area_km2",
    "record_count",
    "population",
    "population_year",
    "share_of_national",
    "rank",
    "rank_ties",
    "percentile",
    "tier",
    "tier_label",
    "target_per_km2_krw",
    "deficit_krw",
    "class_quantile",
    "class_equal_interval",
    "class_fisher_jenks",
    "neighbor_count",
    "lisa_i",
    "lisa_quadrant",
    "lisa_p_sim",
    "gi_star_z",
    "gi_star_p_norm",
    "lisa_note",
];

/// The region layer's own column that an attribute column `name` would collide with (compared
/// without case, as SQLite does), if any: one of [`FIXED_REGION_COLUMNS`], `area_method`, or
/// the `amount_…` family.
pub(crate) fn fixed_column_clash(name: &str) -> Option<String> {
    let lower = name.to_lowercase();
    if lower.starts_with("amount_") {
        return Some("amount_… (the money columns)".into());
    }
    FIXED_REGION_COLUMNS
        .iter()
        .chain(&["area_method"])
        .find(|c| **c == lower)
        .map(|c| (*c).to_string())
}

/// An output column name made from data or config text: `amount_<kind>_<id>_krw` with the id
/// reduced to lower-case ASCII letters, digits and `_`.
pub(crate) fn amount_column(kind: &str, id: &str) -> String {
    let clean: String = id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    format!("amount_{kind}_{clean}_krw")
}

/// The output column of each programme id, in the order of `programs`, and the ids renamed.
///
/// A column is `amount_program_<id>_krw` ([`amount_column`]): the id reduced to lower-case ASCII letters, digits and `_`.
/// Ids that reduce to the same column (`Smart City` beside `smart-city`; Korean ids of one
/// length, which reduce to as many `_`) would make a layer with two equal columns, which the
/// GeoPackage refuses mid-write. So every id of such a group except the one already written
/// in reduced form gets the first 8 hex digits of its id's sha256 before `_krw`
/// (`Smart City` → `amount_program_smart_city_0f1b7ba5_krw`): the name depends on the id alone, the same
/// every night, and `renamed` lists (id, column) for the run's warnings. (Longer digests are
/// taken in the unlikely case that a renamed column meets another.)
pub(crate) fn program_columns(programs: &[String]) -> (Vec<String>, Vec<(String, String)>) {
    use sha2::Digest;
    let plain: Vec<String> = programs
        .iter()
        .map(|p| amount_column("program", p))
        .collect();
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    for c in &plain {
        *seen.entry(c.as_str()).or_default() += 1;
    }
    let mut columns = plain.clone();
    let mut renamed = Vec::new();
    for (i, id) in programs.iter().enumerate() {
        let reduced = id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if seen[plain[i].as_str()] == 1 || reduced {
            continue;
        }
        let digest = hex_digest(&sha2::Sha256::digest(id.as_bytes()));
        let stem = &plain[i][..plain[i].len() - "_krw".len()];
        let mut len = 8;
        let column = loop {
            let c = format!("{stem}_{}_krw", &digest[..len]);
            if !plain.contains(&c) || len == digest.len() {
                break c;
            }
            len += 8;
        };
        renamed.push((id.clone(), column.clone()));
        columns[i] = column;
    }
    (columns, renamed)
}

fn hex_digest(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_quote_little_of_what_an_input_holds() {
        assert_eq!(clip("abc", 3), "abc");
        assert_eq!(clip("가나다라", 2), "가나…");
        let names: Vec<String> = (0..5000).map(|i| format!("c{i}")).collect();
        let list = name_list(&names);
        assert!(list.starts_with("c0, c1, "), "{list}");
        assert!(list.ends_with("c19, … and 4980 more"), "{list}");
        assert_eq!(
            name_list(&["x".repeat(1 << 20)]),
            format!("{}…", "x".repeat(64))
        );
        assert_eq!(name_list(&["a".into(), "b".into()]), "a, b");
    }
}

/// `s` with decomposed Hangul (conjoining jamo, as macOS file names and some exports write
/// them) composed into syllables, as Unicode NFC does for Hangul (The Unicode Standard,
/// §3.12): L + V → LV, LV + T → LVT. Other text is kept as it is.
pub(crate) fn compose_hangul(s: &str) -> String {
    const S_BASE: u32 = 0xAC00;
    const L_BASE: u32 = 0x1100;
    const V_BASE: u32 = 0x1161;
    const T_BASE: u32 = 0x11A7;
    const L_COUNT: u32 = 19;
    const V_COUNT: u32 = 21;
    const T_COUNT: u32 = 28;
    const S_COUNT: u32 = L_COUNT * V_COUNT * T_COUNT;
    if !s.chars().any(|c| ('\u{1100}'..='\u{11FF}').contains(&c)) {
        return s.to_string();
    }
    let mut out: Vec<char> = Vec::with_capacity(s.len());
    for c in s.chars() {
        let u = c as u32;
        let composed = out.last().and_then(|&last| {
            let l = last as u32;
            if (L_BASE..L_BASE + L_COUNT).contains(&l) && (V_BASE..V_BASE + V_COUNT).contains(&u) {
                char::from_u32(S_BASE + ((l - L_BASE) * V_COUNT + (u - V_BASE)) * T_COUNT)
            } else if (S_BASE..S_BASE + S_COUNT).contains(&l)
                && (l - S_BASE).is_multiple_of(T_COUNT)
                && (T_BASE + 1..T_BASE + T_COUNT).contains(&u)
            {
                char::from_u32(l + (u - T_BASE))
            } else {
                None
            }
        });
        match composed {
            Some(c) => {
                out.pop();
                out.push(c);
            }
            None => out.push(c),
        }
    }
    out.into_iter().collect()
}

#[cfg(test)]
mod hangul_tests {
    use super::compose_hangul;

    #[test]
    fn decomposed_jamo_compose_into_syllables() {
        // 성북구 as macOS writes it: ᄉ ᅥ ᆼ ᄇ ᅮ ᆨ ᄀ ᅮ.
        let nfd = "\u{1109}\u{1165}\u{11BC}\u{1107}\u{116E}\u{11A8}\u{1100}\u{116E}";
        assert_eq!(compose_hangul(nfd), "성북구");
        assert_eq!(compose_hangul("서울 성북구"), "서울 성북구");
        assert_eq!(compose_hangul("a\u{1100}"), "a\u{1100}", "a lone L stays");
        // An LVT syllable takes no second T.
        assert_eq!(compose_hangul("각\u{11A8}"), "각\u{11A8}");
    }
}
