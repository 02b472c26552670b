//! Issue #14: the national run opens styled in QGIS. `tests/qgis_styles.py` (python3-qgis,
//! installed by scripts/setup.sh; headless with `QT_QPA_PLATFORM=offscreen`) loads every style
//! of `layer_styles` on its layer (graduated or categorised, every feature in a class), opens
//! each region layer with its default style, renders the 시군구 layer to a PNG with several
//! colours, and reads `smartgap.qgs` with every layer valid in EPSG:5179. The styles and the
//! project are the same bytes on a second run.

use std::path::Path;
use std::process::Command;

use gdal::Dataset;
use gdal::vector::LayerAccess;
use gdal::vector::sql::Dialect;

/// Debian's Python, which python3-qgis installs into (not a pyenv or venv `python3`).
const PYTHON: &str = "/usr/bin/python3";

/// Every column of `layer_styles`, one string per row, in id order.
fn style_rows(gpkg: &Path) -> Vec<String> {
    let ds = Dataset::open(gpkg).unwrap();
    let mut rs = ds
        .execute_sql(
            "SELECT id || '|' || f_table_catalog || '|' || f_table_schema || '|' || f_table_name \
             || '|' || f_geometry_column || '|' || styleName || '|' || useAsDefault || '|' || \
             description || '|' || owner || '|' || coalesce(ui, 'NULL') || '|' || update_time \
             || '|' || styleQML || '|' || styleSLD FROM layer_styles ORDER BY id",
            None,
            Dialect::DEFAULT,
        )
        .unwrap()
        .unwrap();
    rs.features()
        .map(|f| f.field_as_string(0).unwrap().unwrap_or_default())
        .collect()
}

#[test]
fn qgis_opens_every_region_layer_styled_and_renders_the_national_map() {
    let (out, _) = crate::fixtures::run_repo_pipeline("pipelines/national.toml");
    let current = out.path().join("current");
    let gpkg = current.join("smartgap.gpkg");
    let qgs = current.join("smartgap.qgs");
    let rows = style_rows(&gpkg);
    // 시도, 시군구, 읍면동 and 권역, each with its default first.
    for layer in ["sido", "sigungu", "emd", "region_group"] {
        let mine: Vec<&String> = rows
            .iter()
            .filter(|r| r.split('|').nth(3) == Some(layer))
            .collect();
        let defaults = mine
            .iter()
            .filter(|r| r.split('|').nth(6) == Some("1"))
            .count();
        assert_eq!(defaults, 1, "{layer}: {} styles", mine.len());
        assert!(mine[0].contains("면적당 투자액"), "{layer}: {}", mine[0]);
    }
    assert!(rows.iter().any(|r| r.contains("보고서 그림 1 등급")));
    assert!(rows.iter().any(|r| r.contains("이웃 없음 / no neighbours")));

    let png = Path::new(env!("CARGO_TARGET_TMPDIR")).join("qgis_sigungu.png");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/qgis_styles.py");
    let o = Command::new(PYTHON)
        .arg(&script)
        .arg(&gpkg)
        .arg(&qgs)
        .arg(&png)
        .env("QT_QPA_PLATFORM", "offscreen")
        .output()
        .unwrap_or_else(|e| panic!("{PYTHON}: {e} (scripts/setup.sh installs python3-qgis)"));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{}: {stdout}{} (python3-qgis missing? run scripts/setup.sh)",
        script.display(),
        String::from_utf8_lossy(&o.stderr)
    );
    let seen: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert!(seen["render_fill_colours"].as_u64().unwrap() >= 5, "{seen}");
    // 시도, city (시 with 일반구), 시군구, 읍면동, 권역.
    assert_eq!(
        seen["project_layers"].as_object().unwrap().len(),
        5,
        "{seen}"
    );
    assert!(
        seen["project_layers"]
            .as_object()
            .unwrap()
            .contains_key("시 (일반구) / Cities with districts (city)"),
        "{seen}"
    );
    println!("rendered {} ({seen})", png.display());

    // A second run writes the same styles and the same project, byte for byte.
    let (again, _) = crate::fixtures::run_repo_pipeline("pipelines/national.toml");
    let again = again.path().join("current");
    assert!(rows == style_rows(&again.join("smartgap.gpkg")));
    assert!(std::fs::read(&qgs).unwrap() == std::fs::read(again.join("smartgap.qgs")).unwrap());
}
