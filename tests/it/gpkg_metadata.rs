//! Issue #14: the national run's GeoPackage carries its manifest, licences, layer and column
//! titles, and passes GDAL's own validator (`validate_gpkg.py`, from python3-gdal, which
//! scripts/setup.sh installs) with warnings as errors.

use std::path::Path;

use gdal::Dataset;
use gdal::vector::LayerAccess;
use gdal::vector::sql::Dialect;

/// Where Debian's python3-gdal puts GDAL's GeoPackage validator.
const VALIDATE_GPKG: &str = "/usr/lib/python3/dist-packages/osgeo_utils/samples/validate_gpkg.py";

fn strings(ds: &Dataset, sql: &str) -> Vec<String> {
    let mut rs = ds
        .execute_sql(sql, None, Dialect::DEFAULT)
        .unwrap()
        .unwrap();
    rs.features()
        .map(|f| f.field_as_string(0).unwrap().unwrap_or_default())
        .collect()
}

#[test]
fn the_national_geopackage_carries_its_metadata_and_validates() {
    let (out, o) = crate::fixtures::run_repo_pipeline("pipelines/national.toml");
    let gpkg = out.path().join("current").join("smartgap.gpkg");

    // GDAL's validator, warnings as errors. Missing after setup is a failure, not a skip.
    assert!(
        std::path::Path::new(VALIDATE_GPKG).exists(),
        "{VALIDATE_GPKG} missing: run scripts/setup.sh (python3-gdal)"
    );
    let v = std::process::Command::new("python3")
        .arg(VALIDATE_GPKG)
        .arg("--warning-as-error")
        .arg(&gpkg)
        .output()
        .unwrap();
    assert!(
        v.status.success(),
        "validate_gpkg.py: {}{}",
        String::from_utf8_lossy(&v.stdout),
        String::from_utf8_lossy(&v.stderr)
    );

    let ds = Dataset::open(&gpkg).unwrap();
    // The manifest: version, commit, config and every input's sha256, as in run.json.
    let manifest = strings(
        &ds,
        "SELECT metadata FROM gpkg_metadata WHERE mime_type = 'application/json'",
    );
    assert_eq!(manifest.len(), 1);
    let m: serde_json::Value = serde_json::from_str(&manifest[0]).unwrap();
    assert_eq!(m["smartgap_version"], o.report.smartgap_version);
    assert_eq!(m["git_commit"], o.report.git_commit);
    assert_eq!(m["pipeline"]["name"], "national");
    let inputs = m["inputs"].as_array().unwrap();
    assert_eq!(inputs.len(), o.report.inputs.len());
    for (j, r) in inputs.iter().zip(&o.report.inputs) {
        assert_eq!(j["sha256"], r.file.sha256.as_str());
        assert_eq!(j["rows"], r.file.rows);
    }
    assert_eq!(m["totals"]["input_records"], o.report.totals.input_records);
    // Licences and attribution, each referenced at GeoPackage scope with the data's date: the
    // newest modification time of the files read, also every layer's last_change.
    let licence = strings(
        &ds,
        "SELECT metadata FROM gpkg_metadata WHERE mime_type = 'text/plain'",
    );
    assert!(licence[0].contains("NGII") && licence[0].contains("KRIHS"));
    let newest = [
        "data/boundaries.gpkg",
        "data/region_groups.csv",
        "data/admin_changes.csv",
        "data/population.csv",
    ]
    .iter()
    .map(|f| Path::new(env!("CARGO_MANIFEST_DIR")).join(f))
    .chain(o.report.inputs.iter().map(|i| i.file.path.clone()))
    .map(|f| std::fs::metadata(&f).unwrap().modified().unwrap())
    .max()
    .unwrap();
    let secs = newest
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let out = std::process::Command::new("date")
        .args(["-u", "-d", &format!("@{secs}"), "+%Y-%m-%dT%H:%M:%S"])
        .output()
        .unwrap();
    let stamp = smartgap::write::metadata::data_timestamp(&o.report);
    assert!(
        stamp.starts_with(String::from_utf8_lossy(&out.stdout).trim()),
        "{stamp}"
    );
    assert_eq!(
        strings(
            &ds,
            "SELECT DISTINCT reference_scope || ' ' || timestamp FROM gpkg_metadata_reference"
        ),
        vec![format!("geopackage {stamp}")]
    );
    assert_eq!(
        strings(
            &ds,
            "SELECT DISTINCT strftime('%Y-%m-%dT%H:%M:%fZ', last_change) FROM gpkg_contents"
        ),
        vec![stamp.clone()]
    );
    // Layer titles in Korean and English; column titles and units.
    assert_eq!(
        strings(
            &ds,
            "SELECT identifier FROM gpkg_contents WHERE table_name = 'sigungu'"
        ),
        vec!["시군구 / Municipalities (sigungu)".to_string()]
    );
    let title = strings(
        &ds,
        "SELECT title || ' | ' || description FROM gpkg_data_columns \
         WHERE table_name = 'sigungu' AND column_name = 'amount_per_km2_krw'",
    );
    assert_eq!(
        title,
        vec!["면적당 투자액 / Investment per km² | 단위 원/km² / unit KRW per km²".to_string()]
    );
    let ext = strings(
        &ds,
        "SELECT DISTINCT extension_name FROM gpkg_extensions ORDER BY 1",
    );
    assert!(ext.contains(&"gpkg_metadata".into()) && ext.contains(&"gpkg_schema".into()));
}
