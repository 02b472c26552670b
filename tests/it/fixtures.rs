//! Builders for fixtures that are easier to describe in code than to commit as binaries.

use std::path::{Path, PathBuf};

use gdal::DriverManager;
use gdal::spatial_ref::SpatialRef;
use gdal::vector::{
    Feature, FieldValue, Geometry, LayerAccess, LayerOptions, OGRFieldType, OGRwkbGeometryType,
};

/// Origin of the grid in EPSG:5179 (metres); squares are 1 km.
pub const X0: f64 = 1_000_000.0;
pub const Y0: f64 = 2_000_000.0;

/// Copies `tests/fixtures/grid` into a fresh temp dir and builds `grid.gpkg` there:
/// 3×3 읍면동 squares of 1 km²; column 0 = 시군구 11010 중구, column 1 = 11020 종로구
/// (both 시도 11 서울특별시), column 2 = 26010 중구 (시도 26 부산광역시).
/// 읍면동 code = 시군구 code + `10` + row (1-based): 11010101 is column 0, row 0.
pub fn grid_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/grid");
    for e in std::fs::read_dir(&src).expect("fixture dir") {
        let e = e.expect("entry");
        std::fs::copy(e.path(), dir.path().join(e.file_name())).expect("copy");
    }
    build_grid(&dir.path().join("grid.gpkg"));
    dir
}

fn square(x0: f64, y0: f64, w: f64, h: f64) -> String {
    format!(
        "MULTIPOLYGON((({x0} {y0},{x1} {y0},{x1} {y1},{x0} {y1},{x0} {y0})))",
        x1 = x0 + w,
        y1 = y0 + h
    )
}

/// code, name, full name, parent code, WKT
type GridFeature = (String, String, String, Option<String>, String);

pub fn build_grid(path: &PathBuf) {
    let driver = DriverManager::get_driver_by_name("GPKG").unwrap();
    let mut ds = driver.create_vector_only(path).unwrap();
    let srs = SpatialRef::from_epsg(5179).unwrap();
    let sigungu = [
        ("11010", "중구", "11"),
        ("11020", "종로구", "11"),
        ("26010", "중구", "26"),
    ];
    let sido_name = |c: &str| {
        if c == "11" {
            "서울특별시"
        } else {
            "부산광역시"
        }
    };
    let mut rows: Vec<(&str, Vec<GridFeature>)> = Vec::new();
    rows.push((
        "sido",
        vec![
            (
                "11".into(),
                "서울특별시".into(),
                "서울특별시".into(),
                None,
                square(X0, Y0, 2000.0, 3000.0),
            ),
            (
                "26".into(),
                "부산광역시".into(),
                "부산광역시".into(),
                None,
                square(X0 + 2000.0, Y0, 1000.0, 3000.0),
            ),
        ],
    ));
    rows.push((
        "sigungu",
        sigungu
            .iter()
            .enumerate()
            .map(|(col, (code, name, sido))| {
                (
                    code.to_string(),
                    name.to_string(),
                    format!("{} {name}", sido_name(sido)),
                    Some(sido.to_string()),
                    square(X0 + 1000.0 * col as f64, Y0, 1000.0, 3000.0),
                )
            })
            .collect(),
    ));
    let mut emd = Vec::new();
    for (col, (code, name, sido)) in sigungu.iter().enumerate() {
        for row in 0..3 {
            let e = format!("{code}10{}", row + 1);
            let ename = format!("동{}{}", col + 1, row + 1);
            emd.push((
                e,
                ename.clone(),
                format!("{} {name} {ename}", sido_name(sido)),
                Some(code.to_string()),
                square(
                    X0 + 1000.0 * col as f64,
                    Y0 + 1000.0 * row as f64,
                    1000.0,
                    1000.0,
                ),
            ));
        }
    }
    rows.push(("emd", emd));
    for (layer_name, features) in rows {
        let layer = ds
            .create_layer(LayerOptions {
                name: layer_name,
                srs: Some(&srs),
                ty: OGRwkbGeometryType::wkbMultiPolygon,
                options: None,
            })
            .unwrap();
        layer
            .create_defn_fields(&[
                ("code", OGRFieldType::OFTString),
                ("name", OGRFieldType::OFTString),
                ("full_name", OGRFieldType::OFTString),
                ("parent_code", OGRFieldType::OFTString),
            ])
            .unwrap();
        for (code, name, full, parent, wkt) in features {
            let mut f = Feature::new(layer.defn()).unwrap();
            f.set_field(0, &FieldValue::StringValue(code)).unwrap();
            f.set_field(1, &FieldValue::StringValue(name)).unwrap();
            f.set_field(2, &FieldValue::StringValue(full)).unwrap();
            match parent {
                Some(p) => f.set_field(3, &FieldValue::StringValue(p)).unwrap(),
                None => f.set_field_null(3).unwrap(),
            }
            f.set_geometry(Geometry::from_wkt(&wkt).unwrap()).unwrap();
            f.create(&layer).unwrap();
        }
    }
    ds.close().unwrap();
}

/// Reads a GeoJSON file of a run.
pub fn geojson(dir: &Path, layer: &str) -> serde_json::Value {
    let text =
        std::fs::read_to_string(dir.join("geojson").join(format!("{layer}.geojson"))).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// The properties of the feature whose `code` is `code`.
pub fn props<'a>(fc: &'a serde_json::Value, code: &str) -> &'a serde_json::Value {
    fc["features"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["properties"]["code"] == code)
        .map(|f| &f["properties"])
        .unwrap_or_else(|| panic!("no feature {code}"))
}

/// Writes a pipeline over the grid boundaries with the given `[[inputs]]` tables into `dir`
/// (as `<name>.toml`) and runs it, publishing into `dir/out`.
pub fn run_on_grid(
    dir: &Path,
    name: &str,
    max_reject_share: f64,
    inputs: &str,
) -> smartgap::pipeline::RunOutcome {
    let toml = grid_pipeline(name, max_reject_share, inputs);
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, toml).unwrap();
    let p = smartgap::pipeline::load(&path).unwrap_or_else(|e| panic!("{e:?}"));
    smartgap::pipeline::run(&p).expect("run succeeds")
}

/// The text of a pipeline over the grid boundaries with the given `[[inputs]]` tables.
pub fn grid_pipeline(name: &str, max_reject_share: f64, inputs: &str) -> String {
    format!(
        "[pipeline]\nname = \"{name}\"\noutput_dir = \"out\"\nmax_reject_share = {max_reject_share}\n\n\
         [boundaries]\npath = \"grid.gpkg\"\nlevels = [\"sido\", \"sigungu\", \"emd\"]\nfull_name_field = \"full_name\"\n\n{inputs}"
    )
}

/// Runs a pipeline file of the repository (path relative to its root) with its outputs
/// redirected to a fresh temp dir, which is returned with the outcome.
pub fn run_repo_pipeline(rel: &str) -> (tempfile::TempDir, smartgap::pipeline::RunOutcome) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut p =
        smartgap::pipeline::load(&root.join(rel)).unwrap_or_else(|e| panic!("{rel}: {e:?}"));
    let out = tempfile::tempdir().unwrap();
    p.output_dir = out.path().to_path_buf();
    let o = smartgap::pipeline::run(&p).unwrap_or_else(|e| panic!("{rel}: {e:?}"));
    (out, o)
}

/// The region holding `c` by testing every region of the level with `geo`: interior wins, else
/// the lowest code among those whose closed polygon holds it (regions are sorted by code).
pub fn brute_force(level: &smartgap::model::LevelRegions, c: geo::Coord<f64>) -> Option<usize> {
    use geo::{CoordinatePosition, coordinate_position::CoordPos};
    let mut inside = None;
    let mut boundary = None;
    for (i, r) in level.regions.iter().enumerate() {
        match r.geometry.coordinate_position(&c) {
            CoordPos::Inside if inside.is_none() => inside = Some(i),
            CoordPos::OnBoundary if boundary.is_none() => boundary = Some(i),
            _ => {}
        }
    }
    inside.or(boundary)
}

/// Asserts that two runs published byte-identical GeoJSON for `layers`.
pub fn assert_same_geojson(a: &Path, b: &Path, layers: &[&str]) {
    for layer in layers {
        let read = |d: &Path| std::fs::read(d.join("geojson").join(format!("{layer}.geojson")));
        assert!(
            read(a).unwrap() == read(b).unwrap(),
            "{layer}.geojson differs between {} and {}",
            a.display(),
            b.display()
        );
    }
}

/// The bundled national boundaries (`data/boundaries.gpkg`) at the given levels.
pub fn national_boundaries(levels: &[smartgap::model::AdminLevel]) -> smartgap::model::Boundaries {
    let spec = smartgap::config::BoundariesSpec {
        path: Path::new(env!("CARGO_MANIFEST_DIR")).join("data/boundaries.gpkg"),
        levels: levels.to_vec(),
        code_field: "code".into(),
        name_field: "name".into(),
        full_name_field: None,
        parent_field: "parent_code".into(),
        as_of: None,
        successions: None,
    };
    smartgap::read::boundaries(&spec).unwrap()
}

/// Runs the grid pipeline with `inputs` as given, then again with `stream = true` appended to
/// the (single) input table; `extra` follows the inputs both times. Returns both outcomes and
/// the folder holding the first run's outputs (the second publishes into `dir/out`).
pub fn run_plain_and_streamed(
    dir: &Path,
    input: &str,
    extra: &str,
) -> (
    smartgap::pipeline::RunOutcome,
    smartgap::pipeline::RunOutcome,
    PathBuf,
) {
    let plain = run_on_grid(dir, "plain", 1.0, &format!("{input}{extra}"));
    let plain_out = dir.join("plain_out");
    std::fs::rename(dir.join("out"), &plain_out).unwrap();
    let streamed = run_on_grid(
        dir,
        "streamed",
        1.0,
        &format!("{input}stream = true\n{extra}"),
    );
    assert!(streamed.report.inputs[0].streamed);
    assert!(!plain.report.inputs[0].streamed);
    (plain, streamed, plain_out)
}
