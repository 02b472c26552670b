//! Messy and hostile inputs: swapped or projected coordinates declared as EPSG:4326, NaN and
//! infinities, SQL quote characters in column names, and paths that reach outside plain local
//! files. Each ends in a reject with its reason or a config error, never a panic.

use std::path::Path;
use std::process::Command;

use crate::fixtures::grid_dir;

fn messy_dir() -> tempfile::TempDir {
    let dir = grid_dir();
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/messy");
    for e in std::fs::read_dir(&src).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), dir.path().join(e.file_name())).unwrap();
    }
    dir
}

#[test]
fn bad_coordinates_are_rejected_with_their_reason_and_quoted_columns_work() {
    let dir = messy_dir();
    let mut p = smartgap::pipeline::load(&dir.path().join("messy.toml")).expect("valid config");
    p.output_dir = dir.path().join("out");
    let o = smartgap::pipeline::run(&p).expect("run succeeds");
    let ds = gdal::Dataset::open(dir.path().join("out/smartgap.gpkg")).unwrap();
    let mut rejects = ds.layer_by_name("rejects").unwrap();
    use gdal::vector::LayerAccess;
    let d = rejects.defn();
    let (ii, ri, di) = (
        d.field_index("record_id").unwrap(),
        d.field_index("reason").unwrap(),
        d.field_index("detail").unwrap(),
    );
    let rows: Vec<(String, String, String)> = rejects
        .features()
        .map(|f| {
            (
                f.field_as_string(ii).unwrap().unwrap(),
                f.field_as_string(ri).unwrap().unwrap(),
                f.field_as_string(di).unwrap().unwrap(),
            )
        })
        .collect();
    let find = |id: &str| {
        rows.iter()
            .find(|r| r.0 == id)
            .unwrap_or_else(|| panic!("{id} not rejected: {rows:?}"))
    };
    assert_eq!(find("swapped").1, "coordinate_invalid");
    assert!(find("swapped").2.contains("swapped"));
    assert_eq!(find("projected").1, "coordinate_invalid");
    assert!(find("projected").2.contains("projected"));
    assert_eq!(find("nan").1, "coordinate_invalid");
    assert_eq!(find("inf").1, "coordinate_invalid");
    assert_eq!(find("blank").1, "coordinate_invalid");
    assert_eq!(rows.len(), 5);
    // The good WGS 84 point lands in 11010101; the quoted-column records resolve by name.
    let emd = crate::fixtures::geojson(&dir.path().join("out"), "emd");
    assert_eq!(crate::fixtures::props(&emd, "11010101")["amount_krw"], 100);
    let sigungu = crate::fixtures::geojson(&dir.path().join("out"), "sigungu");
    assert_eq!(crate::fixtures::props(&sigungu, "26010")["amount_krw"], 20);
    assert_eq!(o.report.totals.assigned_krw, 130);
    assert_eq!(o.report.totals.rejected_krw, 200 + 300 + 400 + 500 + 600);
}

#[test]
fn network_virtual_archive_and_stdin_paths_are_refused_before_anything_is_read() {
    let dir = messy_dir();
    let base = std::fs::read_to_string(dir.path().join("messy.toml")).unwrap();
    for bad in [
        "/vsicurl/http://example.invalid/x.csv",
        "/vsizip/bomb.zip/x.csv",
        "https://example.invalid/x.csv",
        "bomb.zip",
        "points.csv.gz",
        "-",
        "/vsistdin/",
    ] {
        let toml = base.replace("path = \"points_4326.csv\"", &format!("path = \"{bad}\""));
        std::fs::write(dir.path().join("bad.toml"), toml).unwrap();
        let o = Command::new(env!("CARGO_BIN_EXE_smartgap"))
            .args(["check", "bad.toml"])
            .current_dir(dir.path())
            .env("NO_COLOR", "1")
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2), "{bad}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains("bad.toml:"), "{bad}: {err}");
    }
}

#[test]
fn an_input_above_max_input_mib_is_refused_with_its_size() {
    let dir = messy_dir();
    let mut big = String::from("id,lon,lat,amount_krw\n");
    while big.len() < 2 * 1024 * 1024 + 10 {
        big.push_str("x,127.5,37.5,1\n");
    }
    std::fs::write(dir.path().join("points_4326.csv"), big).unwrap();
    let toml = std::fs::read_to_string(dir.path().join("messy.toml"))
        .unwrap()
        .replace(
            "max_reject_share = 0.9",
            "max_reject_share = 0.9\nmax_input_mib = 1",
        );
    std::fs::write(dir.path().join("big.toml"), toml).unwrap();
    let e = smartgap::pipeline::load(&dir.path().join("big.toml")).unwrap_err();
    assert!(
        e.problems
            .iter()
            .any(|p| p.message.contains("2 MiB, above max_input_mib 1")),
        "{e:?}"
    );
}

#[test]
fn paths_outside_the_pipeline_folders_are_refused_unless_listed_in_roots() {
    // Layout: <tmp>/a/b/pipe.toml; the default roots are <tmp>/a/b and <tmp>/a.
    let top = tempfile::tempdir().unwrap();
    let b = top.path().join("a").join("b");
    std::fs::create_dir_all(&b).unwrap();
    let grid = crate::fixtures::grid_dir();
    std::fs::copy(grid.path().join("grid.gpkg"), top.path().join("grid.gpkg")).unwrap();
    std::fs::copy(grid.path().join("points.csv"), b.join("points.csv")).unwrap();
    // A symbolic link inside the folder that leads outside it.
    std::os::unix::fs::symlink(top.path().join("grid.gpkg"), b.join("link.gpkg")).unwrap();
    let input = "[[inputs]]\nname = \"p\"\npath = \"points.csv\"\nid = \"id\"\namount = { field = \"amount_krw\" }\nlocate = { by = \"point\", x = \"x\", y = \"y\", crs = \"EPSG:5179\" }\n";
    let load = |boundaries: &str, extra: &str, out: &str| {
        let toml = format!(
            "[pipeline]\nname = \"t\"\noutput_dir = \"{out}\"\n{extra}\n[boundaries]\npath = \"{boundaries}\"\nlevels = [\"sido\"]\n\n{input}"
        );
        std::fs::write(b.join("pipe.toml"), toml).unwrap();
        smartgap::pipeline::load(&b.join("pipe.toml")).map_err(|e| format!("{e:?}"))
    };
    let outside = |r: Result<smartgap::config::Pipeline, String>| {
        let e = r.expect_err("must be refused");
        assert!(
            e.contains("outside the folders this pipeline may use"),
            "{e}"
        );
        e
    };
    let e = outside(load("../../grid.gpkg", "", "out"));
    assert!(
        e.contains(
            &top.path()
                .canonicalize()
                .unwrap()
                .join("grid.gpkg")
                .display()
                .to_string()
        ),
        "{e}"
    );
    outside(load("link.gpkg", "", "out"));
    outside(load("../../../../../../../../etc/hostname", "", "out"));
    // The output folder too, even when it does not exist yet.
    outside(load(
        "link.gpkg",
        "roots = [\"../..\"]",
        "../../../elsewhere/out",
    ));
    // Listed roots allow it.
    load("../../grid.gpkg", "roots = [\".\", \"../..\"]", "out").expect("allowed by roots");
    load("link.gpkg", "roots = [\"../..\"]", "../out").expect("allowed by roots");
}
